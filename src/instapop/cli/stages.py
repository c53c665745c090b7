"""One command per stage: each parses its options, runs the stage through the stage table, prints.

Every command after ``ingest`` starts from the run folder's ``config.json``; the options
given change it for this stage and the later ones (logged in ``config_overrides.json``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from instapop.cli.app import (
    PAPER_HELP,
    RUN_DEFAULT,
    CacheOpt,
    ClassesOpt,
    DateOrderOpt,
    ExcludeOpt,
    FollowersDateOpt,
    FollowersOpt,
    MediaMapOpt,
    MediaOpt,
    ProfileArg,
    RunArg,
    TargetOpt,
    TimezoneOpt,
    app,
    export_options,
    fail,
    given,
    read_exclusions,
    stage,
)
from instapop.config import PAPER_APPROACHES, Config
from instapop.errors import InstapopError

WindowOpt = Annotated[
    float | None, typer.Option(help=f"Rolling label window, in days (paper: {Config.window_days:g}).")
]
MinWindowOpt = Annotated[
    int | None,
    typer.Option(help=f"Widen the window to hold this many posts (default {Config.min_window_posts})."),
]
ConfigFileOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Settings as JSON, as in a run folder's config.json (default: paper)."),
]


@app.command()
def ingest(
    profile_dir: ProfileArg,
    followers: FollowersOpt = None,
    followers_date: FollowersDateOpt = None,
    out: Annotated[Path, typer.Option(help="Run folder to write media.csv and friends into.")] = Path(
        "instapop-out"
    ),
    classes: ClassesOpt = None,
    window_days: WindowOpt = None,
    min_window_posts: MinWindowOpt = None,
    config_file: ConfigFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    media: MediaOpt = None,
    media_map: MediaMapOpt = None,
    timezone: TimezoneOpt = "UTC",
    date_order: DateOrderOpt = "auto",
    target: TargetOpt = None,
) -> None:
    """Read a profile (Instaloader download, manifest, Business Suite export, Graph API pages); label it.

    Starts the run: its settings go to OUT/config.json, where every later stage starts from.
    Runs the ingest and labels stages; `instapop labels` relabels later without reading the
    profile again.

    Example: instapop ingest my_brand --followers followers.csv --out run --json

    Example: instapop ingest export.csv --media brand_files --timezone Europe/Rome --out run
    """
    from instapop.stages import ProfileInput, RunInputs, run_stage

    try:
        config = dataclasses.replace(
            read_config_file(config_file) if config_file else Config(),
            **given(
                n_classes=tuple(classes) if classes else None,
                window_days=window_days,
                min_window_posts=min_window_posts,
                target=target,
            ),
        )
        export = export_options(media, media_map, timezone, date_order)
        profile = ProfileInput(profile_dir, tuple(followers or ()), followers_date, export)
        result = run_stage("ingest", out, inputs=RunInputs(profile=profile), config=config)
        summary = run_stage("labels", out)
    except InstapopError as err:
        fail(err)
    typer.echo(json.dumps(summary, indent=2) if as_json else result.describe())
    if not as_json:
        typer.echo(_class_lines(summary))


@app.command()
def labels(
    run_dir: RunArg,
    classes: ClassesOpt = None,
    window_days: WindowOpt = None,
    min_window_posts: MinWindowOpt = None,
    target: TargetOpt = None,
) -> None:
    """Label the run's posts again: another N, window or target, without reading the profile folder.

    Reads RUN_DIR/posts.csv and media.csv and rewrites their labels; the later stages pick
    the new labels up (their cross-validation checkpoints no longer match, so they recompute).

    Example: instapop labels run -n 4 --window-days 90 --target por
    """
    overrides = given(
        n_classes=tuple(classes) if classes else None,
        window_days=window_days,
        min_window_posts=min_window_posts,
        target=target,
    )
    summary = stage("labels", run_dir, overrides)
    typer.echo(_class_lines(summary))


def _class_lines(summary: dict) -> str:
    days = summary["labels"]["window_days"]
    target = summary["target"]
    lines = [f"target: {target['name']} ({target['formula']})"]
    if "fallback" in target:
        lines.append(f"fallback to PoR: {target['fallback']['reason']}")
    for media_type, by_n in summary["classes"].items():
        counts = "; ".join(
            f"N={n}: " + "/".join(str(c) for c in classes.values()) for n, classes in by_n.items()
        )
        lines.append(f"{media_type} classes (rolling {days:g} d): {counts}")
    return "\n".join(lines)


@app.command()
def embed(
    run_dir: RunArg,
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
    """Embed every image (clean + augmented views) and video (frames + thumbnail) into RUN_DIR/features.

    Features come from, and go to, the content-addressed cache: a rerun, or a run
    killed and started again, computes only what is missing.

    Example: instapop embed run --views 15
    """
    from instapop.runtime import configure_runtime

    configure_runtime()
    overrides = given(
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
    start = time.perf_counter()
    features = stage("embed", run_dir, overrides, cache_dir=cache)
    seconds = time.perf_counter() - start
    stats = features.stats
    typer.echo(
        f"{stats['images']} images, {stats['videos']} videos in {seconds:.1f}s "
        f"({stats['items'] / seconds:.1f} items/s); cache entries: "
        f"{stats['entries_computed']} computed, {stats['entries_reused']} reused"
    )
    for row in features.failed.itertuples():
        typer.echo(f"skipped {row.path}: {row.reason}")
    typer.echo(f"features: {run_dir / 'features'}")


@app.command()
def dedup(
    run_dir: RunArg,
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
    exclude: ExcludeOpt = None,
) -> None:
    """Find near-duplicate images and videos; decide which copy stays (nothing is deleted).

    Candidate pairs come from the embeddings (and framed pictures); each is verified by
    the pictures themselves. Writes dedup.csv (kept/removed, reason, partner, evidence),
    dedup.json (every candidate with its evidence), dedup_hist.png and dedup_pairs.png
    (removed pairs and, apart, the rejected near candidates) into RUN_DIR.

    Example: instapop dedup run --exclude logos.txt
    """
    from instapop.dedup import describe_summary

    try:
        excluded = read_exclusions(exclude)
    except InstapopError as err:
        fail(err)
    result = stage("dedup", run_dir, given(dup_threshold=dup_threshold, dup_verify=verify, exclude=excluded))
    typer.echo(describe_summary(result.summary()))
    typer.echo(f"wrote {run_dir / 'dedup.csv'}, dedup.json, dedup_hist.png, dedup_pairs.png")


@app.command()
def evaluate(
    run_dir: RunArg,
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
    paper: Annotated[bool, typer.Option("--paper", help=PAPER_HELP)] = False,
) -> None:
    """Cross-validate the paper's four approaches, the ranker and the baselines; print the table.

    Writes cv_results.json (every fold's numbers), cv_results.md and cv_predictions.csv into
    RUN_DIR. The classes are the run's labels: change N with `instapop labels`.

    Example: instapop evaluate run --repeats 3
    """
    from instapop.runtime import configure_runtime
    from instapop.validation import cv_markdown

    configure_runtime()
    overrides = given(
        grouped_folds=False if paper_folds else None,
        epoch_callback="fold" if paper_callback else None,
        seed=seed,
        epochs=epochs,
        n_repeats=repeats,
        n_splits=folds,
    )
    if paper:
        overrides |= {"approaches": PAPER_APPROACHES, "logreg_c": 1.0}
    results = stage("evaluate", run_dir, overrides)
    typer.echo(cv_markdown(results))
    typer.echo(f"wrote {run_dir / 'cv_results.json'} and cv_results.md")


@app.command()
def train(
    run_dir: RunArg,
    classes: Annotated[
        int | None, typer.Option("--classes", "-n", help="N of the saved model (default: largest evaluated).")
    ] = None,
) -> None:
    """Train the best cross-validated approach per media type on all data; save RUN_DIR/model/.

    The model is safetensors + config.json (classes and their boundaries, training dates,
    CV figures and why each approach was chosen) + context.json (the profile's typical
    timing, for candidates planned without one). Uses the settings the evaluation ran with.

    Example: instapop train run -n 3
    """
    from instapop.runtime import configure_runtime

    configure_runtime()
    card = stage("train", run_dir, given(model_classes=classes))
    for media, reason in card["choice"].items():
        typer.echo(f"{media}: {reason}")
    typer.echo(f"wrote {run_dir / 'model'}")


@app.command()
def report(
    run_dir: RunArg,
    progress: Annotated[bool, typer.Option(help="Show progress bars while explaining.")] = True,
) -> None:
    """Build RUN_DIR/report.html: the paper's figures, the explanations and data quality, in one file.

    Runs the explanations (t-SNE regions, Grad-CAM, video frame importance) first when
    they are missing or older than the run's features, model and settings. Prints the report's path.

    Example: instapop report run
    """
    stage("explain", run_dir, progress=progress)
    typer.echo(str(stage("report", run_dir)))


@app.command()
def run(
    profile_dir: ProfileArg,
    followers: FollowersOpt = None,
    out: Annotated[Path, typer.Option(help="Run folder for every stage's outputs.")] = Path("instapop-out"),
    cache: CacheOpt = None,
    exclude: ExcludeOpt = None,
    config_file: ConfigFileOpt = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (overrides --config's).")] = None,
    followers_date: FollowersDateOpt = None,
    media: MediaOpt = None,
    media_map: MediaMapOpt = None,
    timezone: TimezoneOpt = "UTC",
    date_order: DateOrderOpt = "auto",
    target: TargetOpt = None,
    paper: Annotated[bool, typer.Option("--paper", help=PAPER_HELP)] = False,
) -> None:
    """Run the whole study: ingest, labels, embed, dedup, evaluate, train, explain, report.

    Each stage runs exactly as its own command would. Resumable: rerun the same command after
    a crash or a kill; embeddings come back from the feature cache and finished
    cross-validation rows from RUN/checkpoints/.

    Example: instapop run my_brand --followers followers.csv --out run
    """
    from instapop.pipeline import run_study
    from instapop.runtime import configure_runtime

    configure_runtime()
    try:
        config = read_config_file(config_file) if config_file else Config()
        config = config.paper() if paper else config
        config = dataclasses.replace(
            config, **given(seed=seed, target=target, exclude=read_exclusions(exclude))
        )
        result = run_study(
            profile_dir,
            followers or [],
            out,
            config=config,
            cache_dir=cache,
            followers_date=followers_date,
            announce=typer.echo,
            export=export_options(media, media_map, timezone, date_order),
        )
    except InstapopError as err:
        fail(err)
    print_study(result)


def read_config_file(path: Path) -> Config:
    """Settings from a ``config.json``-style file; a file that cannot be read is an InstapopError."""
    try:
        return Config.load(path)
    except OSError as err:
        raise InstapopError(f"{path}: cannot read the settings ({err.strerror})") from None
    except (ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise InstapopError(f"{path}: not a settings file ({err})") from None


def print_study(result) -> None:
    """Each stage's wall time, the stages that did not run, the report; exit 1 after a bug."""
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.timings.items())
    typer.echo(f"done in {sum(result.timings.values()):.1f}s ({stages})")
    not_run = [f"{name} {e['status']}" for name, e in result.stages.items() if e["status"] != "done"]
    if not_run:
        typer.echo(f"did not run: {', '.join(not_run)} (why: above and in {result.run_dir / 'stages.json'})")
    typer.echo(f"report: {result.report or 'not built'}")
    if result.failed:  # an unexpected error, not a profile that is too small: the exit status says so
        raise typer.Exit(1)
