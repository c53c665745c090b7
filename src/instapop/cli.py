"""The ``instapop`` command line: one short command per stage over the library API.

Each command opens the library, calls one function and turns library errors
(``InstapopError``) into a one-line message and a non-zero exit code.
Heavy imports (torch, onnxruntime, PyAV) happen inside the commands so that
``instapop --help`` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from instapop.config import Config
from instapop.errors import InstapopError

app = typer.Typer(
    help="Tell a brand which of its own images and videos its Instagram audience will like.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

FollowersOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--followers",
        "-f",
        help="Follower history: date,followers CSV, Social Blade CSV, Meta Business Suite export "
        "or an Instaloader profile JSON. Repeatable.",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="Random seed: same inputs and seed give the same outputs.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option(help="Feature cache folder (default: $XDG_CACHE_HOME/instapop or ~/.cache/instapop)."),
]


def _fail(err: Exception) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code=2)


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the synthetic profile into.")],
    posts: Annotated[int, typer.Option(help="Number of posts.")] = 300,
    seed: SeedOpt = 0,
    no_signal: Annotated[bool, typer.Option("--no-signal", help="Popularity independent of pixels.")] = False,
    video_size: Annotated[str, typer.Option(help="'small' (fast) or '720p' (realistic).")] = "small",
) -> None:
    """Generate a synthetic Instaloader profile with a planted visual signal.

    Example: instapop synth demo-profile --posts 300 --seed 1
    """
    from instapop.synthetic import generate_profile

    try:
        profile = generate_profile(
            out_dir, n_posts=posts, seed=seed, signal=not no_signal, video_size=video_size
        )
    except InstapopError as err:
        _fail(err)
    typer.echo(f"profile: {profile.profile_dir}")
    typer.echo(f"followers: {profile.followers_csv}")
    typer.echo(f"ground truth: {profile.ground_truth}")


@app.command()
def ingest(
    profile_dir: Annotated[
        Path, typer.Argument(help="Instaloader profile folder, or a folder with manifest.csv.")
    ],
    followers: FollowersOpt = None,
    followers_date: Annotated[
        str | None, typer.Option(help="Date of the follower count in a profile JSON (default: its mtime).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Run folder to write media.csv and friends into.")] = Path(
        "instapop-out"
    ),
    classes: Annotated[
        list[int] | None, typer.Option("--classes", "-n", help="Class counts N (repeatable).")
    ] = None,
    window_days: Annotated[float, typer.Option(help="Rolling label window, in days.")] = Config.window_days,
    min_window_posts: Annotated[int, typer.Option(help="Widen the window to hold this many posts.")] = (
        Config.min_window_posts
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Read an Instaloader download and a follower history; label every media item.

    Example: instapop ingest my_brand --followers followers.csv --out run --json
    """
    from instapop.ingest import ingest_profile

    config = Config(
        n_classes=tuple(classes or Config.n_classes),
        window_days=window_days,
        min_window_posts=min_window_posts,
    )
    try:
        result = ingest_profile(profile_dir, followers or [], config=config, followers_date=followers_date)
        result.write(out)
    except InstapopError as err:
        _fail(err)
    summary = result.summary()
    typer.echo(json.dumps(summary, indent=2) if as_json else result.describe())


@app.command()
def run(
    profile_dir: Annotated[
        Path, typer.Argument(help="Instaloader profile folder, or a folder with manifest.csv.")
    ],
    followers: FollowersOpt = None,
    out: Annotated[Path, typer.Option(help="Run folder for every stage's outputs.")] = Path("instapop-out"),
    cache: CacheOpt = None,
    exclude: Annotated[
        Path | None, typer.Option(help="Text file of media ids or paths to leave out (one a line).")
    ] = None,
    seed: SeedOpt = Config.seed,
) -> None:
    """Run the whole study: ingest, labels, embeddings, dedup, evaluate, train, explain, report.

    Resumable: embeddings come back from the feature cache on a rerun.

    Example: instapop run my_brand --followers followers.csv --out run
    """
    from instapop.pipeline import run_study

    excluded = _read_exclude_file(exclude)
    try:
        result = run_study(
            profile_dir,
            followers or [],
            out,
            config=Config(seed=seed),
            cache_dir=cache,
            exclude=excluded,
            announce=typer.echo,
        )
    except InstapopError as err:
        _fail(err)
    typer.echo(_timings_line(result.timings))
    typer.echo(f"report: {result.report}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo profile, its run and its cache.")] = Path(
        "demo-out"
    ),
    posts: Annotated[int, typer.Option(help="Posts in the generated demo profile.")] = 300,
    seed: SeedOpt = Config.seed,
) -> None:
    """Generate a synthetic demo profile and run the whole study on it.

    Example: instapop demo --out demo-out
    """
    from instapop.pipeline import run_demo

    try:
        result = run_demo(out, n_posts=posts, config=Config(seed=seed), announce=typer.echo)
    except InstapopError as err:
        _fail(err)
    typer.echo(_timings_line(result.timings))
    typer.echo(f"report: {result.report}")


def _read_exclude_file(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        _fail(InstapopError(f"cannot read exclude file {path}: {err.strerror}"))
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _timings_line(timings: dict[str, float]) -> str:
    stages = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in timings.items())
    return f"done in {sum(timings.values()):.1f}s ({stages})"


def main() -> None:
    app()
