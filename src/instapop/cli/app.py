"""The Typer app, the options several commands share, and the one way a command fails or runs a stage.

Heavy imports (torch, onnxruntime, PyAV) happen inside the commands so that
``instapop --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from instapop.errors import InstapopError

app = typer.Typer(
    help="Tell a brand which of its own images and videos its Instagram audience will like.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RUN_DEFAULT = "Default: the run folder's config.json (else the paper's)."
PAPER_HELP = "The paper's protocol only: its four approaches and the baselines (logreg C = 1), no ranker."

ProfileArg = Annotated[
    Path,
    typer.Argument(
        help="Instaloader profile folder, a folder with manifest.csv, a Meta Business Suite posts "
        "export (CSV), or a folder of Graph API media pages (JSON)."
    ),
]
RunArg = Annotated[Path, typer.Argument(help="Run folder (started by `instapop ingest` or `instapop run`).")]
MediaOpt = Annotated[
    Path | None,
    typer.Option(
        "--media",
        help="An export's media folder: files named by shortcode or Post ID (<key>.jpg, carousels "
        "<key>_1.jpg, <key>_2.mp4). Default: media/ beside the export, else its folder.",
    ),
]
MediaMapOpt = Annotated[
    Path | None,
    typer.Option("--media-map", help="CSV post_id,file[,position] naming each post's files (beats names)."),
]
TimezoneOpt = Annotated[
    str, typer.Option(help="Time zone of an export's Publish time (IANA name, e.g. Europe/Rome).")
]
DateOrderOpt = Annotated[
    str,
    typer.Option(
        help="An export's date order: 'auto' (English month first, other languages day first), 'mdy', 'dmy'."
    ),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        help="What popularity means: 'por' ((likes+comments)/followers, needs --followers), 'reach-rate' "
        "((likes+comments+shares+saves)/reach), 'reach', 'views' or 'views-rate' ((likes+comments)/views; "
        "PoR stands in where views are unknown). Default: reach-rate when every post has reach, else por."
    ),
]
FollowersOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--followers",
        "-f",
        help="Follower history: date,followers CSV, Social Blade CSV, Meta Business Suite export "
        "or an Instaloader profile JSON. Repeatable.",
    ),
]
FollowersDateOpt = Annotated[
    str | None, typer.Option(help="Date of the follower count in a profile JSON (default: its mtime).")
]
ClassesOpt = Annotated[list[int] | None, typer.Option("--classes", "-n", help="Class counts N (repeatable).")]
SeedOpt = Annotated[int, typer.Option(help="Random seed: same inputs and seed give the same outputs.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option(help="Feature cache folder (default: $XDG_CACHE_HOME/instapop or ~/.cache/instapop)."),
]
ExcludeOpt = Annotated[
    Path | None, typer.Option(help="Text file of media ids or paths to leave out (one a line).")
]


def fail(err: Exception) -> NoReturn:
    """End the command with the library's one-line message and exit status 2."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code=2)


def given(**options: Any) -> dict[str, Any]:
    """The options given on the command line (those not None), as settings overrides."""
    return {name: value for name, value in options.items() if value is not None}


def export_options(media: Path | None, media_map: Path | None, timezone: str, date_order: str):
    """An export's media folder, mapping, time zone and date order (``sources.ExportOptions``)."""
    from instapop.sources import ExportOptions

    return ExportOptions(media_dir=media, media_map=media_map, timezone=timezone, date_order=date_order)


def read_exclusions(path: Path | None) -> tuple[str, ...] | None:
    """The media ids or paths listed in an ``--exclude`` file, or None without one."""
    if path is None:
        return None
    from instapop.dedup import read_exclude_file

    return tuple(read_exclude_file(path))


def stage(name: str, run_dir: Path, overrides: dict[str, Any] | None = None, **inputs: Any) -> Any:
    """Run one stage through the stage table (:func:`instapop.stages.run_stage`); errors end the command."""
    from instapop.stages import RunInputs, run_stage

    try:
        return run_stage(name, run_dir, overrides, RunInputs(**inputs))
    except InstapopError as err:
        fail(err)
