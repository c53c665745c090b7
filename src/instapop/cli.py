"""The ``instapop`` command line: one short command per stage over the library API.

Each command opens the library, calls one function and turns library errors
(``InstapopError``) into a one-line message and a non-zero exit code.
Heavy imports (torch, onnxruntime, PyAV) happen inside the commands so that
``instapop --help`` stays instant.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from instapop.config import Config, load_run_config, update_run_config
from instapop.errors import InstapopError
from instapop.runfolder import RunFolder

app = typer.Typer(
    help="Tell a brand which of its own images and videos its Instagram audience will like.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ProfileArg = Annotated[
    Path,
    typer.Argument(
        help="Instaloader profile folder, a folder with manifest.csv, a Meta Business Suite posts "
        "export (CSV), or a folder of Graph API media pages (JSON)."
    ),
]
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
        "((likes+comments+shares+saves)/reach) or 'reach'. Default: reach-rate when every post has reach, "
        "else por."
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
SeedOpt = Annotated[int, typer.Option(help="Random seed: same inputs and seed give the same outputs.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option(help="Feature cache folder (default: $XDG_CACHE_HOME/instapop or ~/.cache/instapop)."),
]


RUN_DEFAULT = "Default: the run folder's config.json (else the paper's)."


def _with_options(config: Config, **options) -> Config:
    """``config`` with the options given on the command line (those not None)."""
    return dataclasses.replace(config, **{name: v for name, v in options.items() if v is not None})


def _export_options(media: Path | None, media_map: Path | None, timezone: str, date_order: str):
    from instapop.sources import ExportOptions

    return ExportOptions(media_dir=media, media_map=media_map, timezone=timezone, date_order=date_order)


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
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="'instaloader' (a profile folder) or 'business-suite' (export.csv with planted reach "
            "+ media/ named by shortcode).",
        ),
    ] = "instaloader",
    weekend_factor: Annotated[
        float, typer.Option(help="PoR x this for posts on Saturdays and Sundays (UTC): a weekday effect.")
    ] = Config.synth_weekend_factor,
) -> None:
    """Generate a synthetic profile (Instaloader folder or Business Suite export) with a planted signal.

    Example: instapop synth demo-profile --posts 300 --seed 1 --weekend-factor 1.5

    Example: instapop synth demo-export --format business-suite
    """
    from instapop.synthetic import generate_profile

    try:
        profile = generate_profile(
            out_dir,
            n_posts=posts,
            seed=seed,
            signal=not no_signal,
            video_size=video_size,
            format=format,
            config=Config(synth_weekend_factor=weekend_factor),
        )
    except InstapopError as err:
        _fail(err)
    typer.echo(f"{'export' if format == 'business-suite' else 'profile'}: {profile.profile_dir}")
    typer.echo(f"followers: {profile.followers_csv}")
    typer.echo(f"ground truth: {profile.ground_truth}")


@app.command()
def ingest(
    profile_dir: ProfileArg,
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
    media: MediaOpt = None,
    media_map: MediaMapOpt = None,
    timezone: TimezoneOpt = "UTC",
    date_order: DateOrderOpt = "auto",
    target: TargetOpt = None,
) -> None:
    """Read a profile (Instaloader download, manifest, Business Suite export, Graph API pages); label it.

    Starts the run: its settings go to OUT/config.json, where every later stage starts from.

    Example: instapop ingest my_brand --followers followers.csv --out run --json

    Example: instapop ingest export.csv --media brand_files --timezone Europe/Rome --out run
    """
    from instapop.pipeline import ingest_stage

    config = Config(
        n_classes=tuple(classes or Config.n_classes),
        window_days=window_days,
        min_window_posts=min_window_posts,
    )
    try:
        export = _export_options(media, media_map, timezone, date_order)
        result = ingest_stage(out, profile_dir, followers or [], config, followers_date, export, target)
    except InstapopError as err:
        _fail(err)
    summary = result.summary()
    typer.echo(json.dumps(summary, indent=2) if as_json else result.describe())


@app.command()
def embed(
    profile_dir: ProfileArg,
    out: Annotated[Path, typer.Option(help="Run folder: its media.csv is used if present.")] = Path(
        "instapop-out"
    ),
    cache: CacheOpt = None,
    views: Annotated[
        int | None, typer.Option(help=f"Views per image: the clean one + augmented ones. {RUN_DEFAULT}")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help=f"'onnx' (fastest on CPU) or 'torch'. {RUN_DEFAULT}")
    ] = None,
    backbone: Annotated[
        str | None, typer.Option(help=f"'lite0' or the path of an .onnx model. {RUN_DEFAULT}")
    ] = None,
    input_size: Annotated[
        int | None, typer.Option(help="Input side in pixels (of an .onnx backbone).")
    ] = None,
    dim: Annotated[int | None, typer.Option(help="Features per image of an .onnx backbone.")] = None,
    offset: Annotated[
        float | None, typer.Option(help="An .onnx backbone's input is (pixel - offset) / scale.")
    ] = None,
    scale: Annotated[float | None, typer.Option(help="See --offset.")] = None,
    layout: Annotated[
        str | None, typer.Option(help="An .onnx backbone's input layout: 'nchw' or 'nhwc'.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help=f"Random seed (augmented views). {RUN_DEFAULT}")] = None,
) -> None:
    """Embed every image (clean + augmented views) and video (frames + thumbnail) into RUN/features.

    Features come from, and go to, the content-addressed cache: a rerun, or a run
    killed and started again, computes only what is missing. Settings start from
    OUT/config.json; the options given change it (logged in config_overrides.json).

    Example: instapop embed my_brand --out run --views 15
    """
    import time

    from instapop.embed.cache import default_cache_dir
    from instapop.embed.extract import embed_media
    from instapop.ingest import ingest_profile, load_media
    from instapop.runtime import configure_runtime

    config = _with_options(
        load_run_config(out),
        n_views=views,
        engine=engine,
        backbone=backbone,
        image_size=input_size,
        onnx_dim=dim,
        onnx_offset=offset,
        onnx_scale=scale,
        onnx_layout=layout,
        seed=seed,
    )
    configure_runtime(config.embed_threads)
    start = time.perf_counter()
    try:
        # Labels are not needed to embed, so a run folder without media.csv is ingested without followers.
        has_table = RunFolder(out).media.is_file()
        media = load_media(out) if has_table else ingest_profile(profile_dir, [], config).media
        features = embed_media(media, cache or default_cache_dir(), config, progress=True)
        features.save(RunFolder(out).features)
        update_run_config(out, config, "embed")
    except InstapopError as err:
        _fail(err)
    seconds = time.perf_counter() - start
    stats = features.stats
    typer.echo(
        f"{stats['images']} images x {config.n_views} views, "
        f"{stats['videos']} videos x {config.n_frames} frames "
        f"in {seconds:.1f}s ({stats['items'] / seconds:.1f} items/s); cache entries: "
        f"{stats['entries_computed']} computed, {stats['entries_reused']} reused"
    )
    for row in features.failed.itertuples():
        typer.echo(f"skipped {row.path}: {row.reason}")
    typer.echo(f"features: {RunFolder(out).features}")


@app.command()
def run(
    profile_dir: ProfileArg,
    followers: FollowersOpt = None,
    out: Annotated[Path, typer.Option(help="Run folder for every stage's outputs.")] = Path("instapop-out"),
    cache: CacheOpt = None,
    exclude: Annotated[
        Path | None, typer.Option(help="Text file of media ids or paths to leave out (one a line).")
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="Settings as JSON, as in a run folder's config.json (default: paper)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (overrides --config's).")] = None,
    media: MediaOpt = None,
    media_map: MediaMapOpt = None,
    timezone: TimezoneOpt = "UTC",
    date_order: DateOrderOpt = "auto",
    target: TargetOpt = None,
    paper: Annotated[bool, typer.Option("--paper", help=PAPER_HELP)] = False,
) -> None:
    """Run the whole study: ingest, labels, embeddings, dedup, evaluate, train, explain, report.

    Resumable: rerun the same command after a crash or a kill; embeddings come back from the
    feature cache and finished cross-validation rows from RUN/checkpoints/.

    Example: instapop run my_brand --followers followers.csv --out run
    """
    from instapop.dedup import read_exclude_file
    from instapop.pipeline import run_study
    from instapop.runtime import configure_runtime

    configure_runtime()
    try:
        config = _config_file(config_file) if config_file else Config()
        config = config.paper() if paper else config
        excluded = read_exclude_file(exclude) if exclude else None
        result = run_study(
            profile_dir,
            followers or [],
            out,
            config=config if seed is None else dataclasses.replace(config, seed=seed),
            cache_dir=cache,
            exclude=excluded,
            announce=typer.echo,
            export=_export_options(media, media_map, timezone, date_order),
            target=target,
        )
    except InstapopError as err:
        _fail(err)
    _print_study(result)


PAPER_HELP = "The paper's protocol only: its four approaches and the baselines (logreg C = 1), no ranker."


def _config_file(path: Path) -> Config:
    try:
        return Config.load(path)
    except OSError as err:
        raise InstapopError(f"{path}: cannot read the settings ({err.strerror})") from None
    except (ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise InstapopError(f"{path}: not a settings file ({err})") from None


@app.command()
def batch(
    profiles: Annotated[
        Path,
        typer.Argument(
            help="A folder of profile folders (each with its followers*.csv inside), or a profiles.csv "
            "(name, folder, followers [;-separated], optional followers_date)."
        ),
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder: profiles/<name>/ run folders, portfolio.html.")
    ] = Path("instapop-batch"),
    address: Annotated[
        str | None,
        typer.Option(help="Join a Ray cluster: 'auto' or 'ray://host:port' (default: start one here)."),
    ] = None,
    cpus: Annotated[int, typer.Option(help="CPUs of the Ray started here; 0 = every core.")] = 0,
    worker_cpus: Annotated[
        int, typer.Option(help="CPUs (threads) per embedding worker and per profile study.")
    ] = Config.batch_worker_cpus,
    shard_items: Annotated[
        int, typer.Option(help="Media items per embedding task.")
    ] = Config.batch_shard_items,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="Study settings from a config.json (default: paper's).")
    ] = None,
    cache: CacheOpt = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the config's).")] = None,
) -> None:
    """Study many profiles on Ray and write a sortable portfolio page with one row per profile.

    Embeddings run as Ray tasks over shards of media of all profiles, then one study per
    profile (the same stages as `instapop run`). Killed, the same command resumes where it
    stopped; a profile that fails is listed with its reason and the others finish.
    On a cluster, OUT, the cache and the profiles must be on a filesystem every node mounts.

    Example: instapop batch clients/ --out portfolio-2024-09 --cpus 8
    """
    from instapop.batch import read_profiles, run_batch
    from instapop.runtime import configure_runtime

    configure_runtime()
    try:
        config = Config.load(config_file) if config_file else Config()
        overrides = {"batch_worker_cpus": worker_cpus, "batch_shard_items": shard_items}
        if seed is not None:
            overrides["seed"] = seed
        config = dataclasses.replace(config, **overrides)
        result = run_batch(
            read_profiles(profiles), out, config, cache_dir=cache, address=address, cpus=cpus or None,
            announce=typer.echo,
        )
    except (InstapopError, ValueError) as err:
        _fail(err)
    stats, n_ok = result.stats, len(result.profiles) - len(result.failed)
    reused = sum(p.status == "reused" for p in result.profiles)
    typer.echo(
        f"done in {stats['seconds']:.1f}s: {n_ok} of {len(result.profiles)} profiles done"
        + (f" ({reused} unchanged since an earlier batch)" if reused else "")
        + "; "
        f"{stats['media_items']} media items, {stats['entries_computed']} embeddings computed, "
        f"{stats['entries_reused']} reused; {stats['shards_already_done']} of {stats['shards']} shards "
        "were already done"
    )
    for failed in result.failed:
        typer.echo(f"failed {failed.name}: {failed.reason}")
    typer.echo(f"portfolio: {result.portfolio}")
    if len(result.failed) == len(result.profiles):
        raise typer.Exit(code=1)


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
    from instapop.runtime import configure_runtime

    configure_runtime()
    try:
        result = run_demo(out, n_posts=posts, config=Config(seed=seed), announce=typer.echo)
    except InstapopError as err:
        _fail(err)
    _print_study(result)


@app.command()
def dedup(
    run_dir: Annotated[Path, typer.Argument(help="Run folder holding media.csv and features/.")],
    dup_threshold: Annotated[
        float | None,
        typer.Option(
            help="Embedding distance bounding the candidate pairs, each then verified by the pictures "
            "(with --no-verify: the duplicate threshold). Default: automatic."
        ),
    ] = None,
    verify: Annotated[
        bool | None,
        typer.Option(
            "--verify/--no-verify",
            help="Verify candidates by the pictures; --no-verify keeps the paper's distance rule. "
            + RUN_DEFAULT,
        ),
    ] = None,
    exclude: Annotated[
        Path | None, typer.Option(help="Text file of media ids or paths to leave out (one a line).")
    ] = None,
) -> None:
    """Find near-duplicate images and videos; decide which copy stays (nothing is deleted).

    Candidate pairs come from the embeddings (and framed pictures); each is verified by
    the pictures themselves. Writes dedup.csv (kept/removed, reason, partner, evidence),
    dedup.json (every candidate with its evidence), dedup_hist.png and dedup_pairs.png
    (removed pairs and, apart, the rejected near candidates) into RUN_DIR.

    Example: instapop dedup run --exclude logos.txt
    """
    from instapop.dedup import describe_summary, read_exclude_file
    from instapop.pipeline import dedup_stage

    try:
        excluded = read_exclude_file(exclude) if exclude is not None else None
        config = _with_options(load_run_config(run_dir), dup_threshold=dup_threshold, dup_verify=verify)
        dedup_stage(run_dir, config, excluded)
        update_run_config(run_dir, config, "dedup")
    except InstapopError as err:
        _fail(err)
    typer.echo(describe_summary(json.loads(RunFolder(run_dir).dedup_summary.read_text())))
    typer.echo(f"wrote {RunFolder(run_dir).dedup}, dedup.json, dedup_hist.png, dedup_pairs.png")


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="Run folder holding media.csv, features/ (and dedup.csv).")],
    paper_folds: Annotated[
        bool, typer.Option("--paper-folds", help="Plain stratified folds as in the paper (default: by post).")
    ] = False,
    paper_callback: Annotated[
        bool, typer.Option("--paper-callback", help="Pick the best epoch on the scored fold (optimistic).")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed (folds, initialisation, dropout).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per fold (paper: 15).")] = None,
    repeats: Annotated[int | None, typer.Option(help="Repeats of the k-fold split (paper: 3).")] = None,
    folds: Annotated[int | None, typer.Option(help="Folds k (paper: 5).")] = None,
    classes: Annotated[
        list[int] | None, typer.Option("--classes", "-n", help="Class counts N (repeatable).")
    ] = None,
    paper: Annotated[bool, typer.Option("--paper", help=PAPER_HELP)] = False,
) -> None:
    """Cross-validate the paper's four approaches, the ranker and the baselines; print the table.

    Settings start from RUN_DIR/config.json when present (else the paper's); the options
    given change it (logged in config_overrides.json). Writes cv_results.json (every fold's
    numbers) and cv_results.md into RUN_DIR.

    Example: instapop evaluate run --repeats 3 -n 2 -n 3
    """
    from instapop.datasets import load_run_dataset
    from instapop.runtime import configure_runtime
    from instapop.validation import cv_markdown, evaluate, write_cv_results

    configure_runtime()
    config = _with_options(
        load_run_config(run_dir),
        grouped_folds=False if paper_folds else None,
        epoch_callback="fold" if paper_callback else None,
        seed=seed,
        epochs=epochs,
        n_repeats=repeats,
        n_splits=folds,
        n_classes=tuple(classes) if classes else None,
    )
    config = config.paper() if paper else config
    try:
        checkpoints = RunFolder(run_dir).cv_checkpoints
        results = evaluate(load_run_dataset(run_dir), config, checkpoints=checkpoints)
        write_cv_results(results, run_dir)
        update_run_config(run_dir, config, "evaluate")
    except InstapopError as err:
        _fail(err)
    typer.echo(cv_markdown(results))
    typer.echo(f"wrote {RunFolder(run_dir).cv_results} and cv_results.md")


@app.command()
def train(
    run_dir: Annotated[Path, typer.Argument(help="Run folder after `instapop evaluate`.")],
    classes: Annotated[
        int | None, typer.Option("--classes", "-n", help="N of the saved model (default: largest evaluated).")
    ] = None,
) -> None:
    """Train the best cross-validated approach per media type on all data; save RUN_DIR/model/.

    The model is safetensors + config.json (classes and their PoR boundaries, training dates,
    CV figures and why each approach was chosen). Uses the settings the evaluation ran with.

    Example: instapop train run -n 3
    """
    from instapop.datasets import load_run_dataset
    from instapop.runtime import configure_runtime
    from instapop.training import train_final
    from instapop.validation import load_cv_results

    configure_runtime()
    try:
        cv_results = load_cv_results(run_dir)
        config = Config.from_dict(cv_results["config"])
        n_classes = classes or max(config.n_classes)
        model_dir = RunFolder(run_dir).model
        train_final(load_run_dataset(run_dir), cv_results, config, n_classes, model_dir)
    except InstapopError as err:
        _fail(err)
    card = json.loads((model_dir / "config.json").read_text())
    for media, reason in card["choice"].items():
        typer.echo(f"{media}: {reason}")
    typer.echo(f"wrote {model_dir}")


def _print_study(result) -> None:
    stages = ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in result.timings.items())
    typer.echo(f"done in {sum(result.timings.values()):.1f}s ({stages})")
    not_run = [f"{stage} {e['status']}" for stage, e in result.stages.items() if e["status"] != "done"]
    if not_run:
        why = RunFolder(result.run_dir).stages
        typer.echo(f"did not run: {', '.join(not_run)} (why: above and in {why})")
    typer.echo(f"report: {result.report or 'not built'}")
    if result.failed:  # an unexpected error, not a profile that is too small: the exit status says so
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (at least media.csv from `instapop ingest`).")],
    progress: Annotated[bool, typer.Option(help="Show progress bars while explaining.")] = True,
) -> None:
    """Build RUN_DIR/report.html: the paper's figures, the explanations and data quality, in one file.

    Runs the explanations (t-SNE regions, Grad-CAM, video frame importance) first when
    they are missing or older than the run's features and model. Prints the report's path.

    Example: instapop report run
    """
    from instapop.explain.run import explain_if_missing
    from instapop.report import build_report

    try:
        explain_if_missing(run_dir, progress=progress)
        path = build_report(run_dir)
    except InstapopError as err:
        _fail(err)
    typer.echo(str(path))


@app.command()
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A model/ folder written by `instapop train`.")],
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Candidate images and videos, or folders of them (a subfolder is one carousel)."),
    ],
    when: Annotated[
        str | None,
        typer.Option(help="Planned posting time, ISO 8601 (2025-06-01T19:00+09:00; no offset: UTC)."),
    ] = None,
    caption: Annotated[str | None, typer.Option(help="Planned caption (\"\" for none).")] = None,
    plan: Annotated[
        Path | None,
        typer.Option(help="CSV with columns file,when,caption: a time and caption per candidate."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ranking as JSON.")] = False,
    explain: Annotated[
        Path | None,
        typer.Option(help="Write a heatmap PNG per image and a filmstrip PNG per video into this folder."),
    ] = None,
    cache: CacheOpt = None,
) -> None:
    """Rank candidate posts, best first, by the popularity the model expects.

    Prints each candidate's media type, predicted class and score in [0, 1]: a
    classifier's expected class over N-1 (its probabilities beside the class), or a
    ranker's predicted percentile within the profile's window, with how much the
    picture and the context (timing, caption) moved it, in percentile points. A
    ranker reads --when and --caption (or a --plan row per file); what is not given
    is taken as the profile's typical, and the output says so. Files that cannot be
    scored are listed with the reason.

    Example: instapop predict run/model candidates/ --when 2025-06-01T19:00+09:00 --explain heatmaps
    """
    from instapop import runtime
    from instapop.predict import (
        Plan,
        Predictor,
        format_ranking,
        read_plan,
        unmatched_plans,
        write_explanations,
    )

    runtime.configure_runtime()
    try:
        predictor = Predictor.load(model_dir, cache_dir=cache)
        plans = read_plan(plan, predictor.limits) if plan is not None else None
        scored = predictor.score_paths(
            inputs, explain=explain is not None, plan=Plan(when, caption), plans=plans
        )
        ranked = predictor.rank(scored)
    except InstapopError as err:
        _fail(err)
    for name in unmatched_plans(plans or {}, [c.name for c in ranked]):
        typer.echo(f"warning: {plan}: {name} is not among the candidates", err=True)
    if explain is not None:
        written = write_explanations(ranked, explain)
        typer.echo(f"wrote {len(written)} explanation PNGs into {explain}", err=True)
    if as_json:
        typer.echo(json.dumps(predictor.ranking_json(ranked, heatmaps=False), indent=2))
    else:
        typer.echo(format_ranking(ranked, predictor.class_names))
    if not any(candidate.ok for candidate in ranked):
        raise typer.Exit(code=1)


@app.command()
def serve(
    model_dir: Annotated[Path, typer.Argument(help="A model/ folder written by `instapop train`.")],
    host: Annotated[
        str, typer.Option(help="Address to listen on; the default keeps the page on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    cache: CacheOpt = None,
) -> None:
    """Serve the ranking page and its JSON API (POST /api/predict, GET /api/model).

    Example: instapop serve run/model --port 8000
    """
    import uvicorn

    from instapop import runtime
    from instapop.web import create_app

    runtime.configure_runtime()
    try:
        web_app = create_app(model_dir, cache_dir=cache)
    except InstapopError as err:
        _fail(err)
    typer.echo(f"instapop: open http://{host}:{port}/ (Ctrl+C stops the server)")
    uvicorn.run(web_app, host=host, port=port, log_level="info")


def main() -> None:
    app()
