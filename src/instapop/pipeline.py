"""The whole study, stage after stage, into one run folder.

Each stage reads the previous stage's files and writes its own (see
docs/architecture.md), so a rerun is cheap: embeddings come back from the
content-addressed feature cache, and any stage can also be run alone from the CLI.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from instapop.config import PAPER, Config
from instapop.embed.cache import default_cache_dir

log = logging.getLogger(__name__)

STAGES = ("ingest", "embed", "dedup", "evaluate", "train", "explain", "report")
CV_CHECKPOINTS = Path("checkpoints") / "cv"  # finished cross-validation rows, for a rerun after a kill


@dataclass
class StudyResult:
    """Where a study wrote its outputs, and how long each stage took (seconds)."""

    run_dir: Path
    report: Path
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str, announce: Callable[[str], None]) -> Iterator[None]:
    announce(f"[{len(timings) + 1}/{len(STAGES)}] {stage}")
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 2)
    log.info("%s took %.1f s", stage, timings[stage])


def ingest_stage(
    run_dir: Path, profile_dir: Path, followers: list[Path], config: Config, followers_date: str | None = None
) -> None:
    """Read the profile and follower history; write the labelled media table."""
    from instapop.context import write_context
    from instapop.ingest import ingest_profile

    ingest_profile(profile_dir, followers, config=config, followers_date=followers_date).write(run_dir)
    write_context(run_dir)


def embed_stage(run_dir: Path, config: Config, cache_dir: Path, progress: bool = True) -> None:
    """Embed every media item (through the feature cache) into ``run_dir/features``."""
    from instapop.embed.extract import embed_media
    from instapop.ingest import load_media

    embed_media(load_media(run_dir), cache_dir, config, progress=progress).save(run_dir / "features")


def dedup_stage(run_dir: Path, config: Config, exclude: list[str] | None = None) -> None:
    """Find near-duplicates and decide which copy stays."""
    from instapop.dedup import deduplicate
    from instapop.embed.extract import FeatureSet
    from instapop.ingest import load_media

    features = FeatureSet.load(run_dir / "features")
    deduplicate(load_media(run_dir), features, config, exclude=exclude).write(run_dir)


def evaluate_stage(run_dir: Path, config: Config, progress: bool = True) -> None:
    """Repeated stratified k-fold of the four approaches and the baselines."""
    from instapop.datasets import load_run_dataset
    from instapop.validation import evaluate, write_cv_results

    results = evaluate(load_run_dataset(run_dir), config, progress, checkpoints=run_dir / CV_CHECKPOINTS)
    write_cv_results(results, run_dir)


def train_stage(run_dir: Path, config: Config, n_classes: int | None = None) -> None:
    """Train the final models on all data into ``run_dir/model``, choosing approaches by CV."""
    from instapop.context import write_context_defaults
    from instapop.datasets import load_run_dataset
    from instapop.training import train_final

    cv_results = json.loads((run_dir / "cv_results.json").read_text())
    n_classes = n_classes or max(config.n_classes)
    train_final(load_run_dataset(run_dir), cv_results, config, n_classes, run_dir / "model")
    write_context_defaults(run_dir, run_dir / "model")


def explain_stage(run_dir: Path, config: Config, progress: bool = True) -> None:
    """Grad-CAM, video frame importance, t-SNE regions."""
    from instapop.explain.run import explain_run

    explain_run(run_dir, config, progress=progress)


def report_stage(run_dir: Path) -> Path:
    """The self-contained HTML report, from run-folder files only."""
    from instapop.report import build_report

    return build_report(run_dir)


def run_study(
    profile_dir: Path,
    followers: list[Path],
    run_dir: Path,
    config: Config = PAPER,
    cache_dir: Path | None = None,
    n_classes_model: int | None = None,
    followers_date: str | None = None,
    exclude: list[str] | None = None,
    progress: bool = True,
    announce: Callable[[str], None] = log.info,
) -> StudyResult:
    """Run ingest -> labels -> embeddings -> dedup -> evaluate -> train -> explain -> report.

    Parameters
    ----------
    profile_dir : Instaloader profile folder (or a folder with a manifest.csv).
    followers : follower-history files (any format ``instapop.followers`` reads).
    run_dir : folder that receives every stage's outputs; created if missing.
    config : the study's settings; ``PAPER`` is the paper's configuration.
    cache_dir : content-addressed feature cache (default: :func:`default_cache_dir`).
    n_classes_model : N of the saved model (default: the largest of ``config.n_classes``).
    exclude : media ids or paths a person wants out of training (logos, product sheets).
    announce : called with a one-line title as each stage starts (the CLI prints it).

    Returns
    -------
    StudyResult with the report's path and each stage's wall time.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    config.save(run_dir / "config.json")
    timings: dict[str, float] = {}

    with _timed(timings, "ingest", announce):
        ingest_stage(run_dir, profile_dir, followers, config, followers_date)
    with _timed(timings, "embed", announce):
        embed_stage(run_dir, config, cache_dir, progress)
    with _timed(timings, "dedup", announce):
        dedup_stage(run_dir, config, exclude)
    with _timed(timings, "evaluate", announce):
        evaluate_stage(run_dir, config, progress)
    with _timed(timings, "train", announce):
        train_stage(run_dir, config, n_classes_model)
    with _timed(timings, "explain", announce):
        explain_stage(run_dir, config, progress)
    with _timed(timings, "report", announce):
        report = report_stage(run_dir)

    (run_dir / "timings.json").write_text(json.dumps(timings, indent=2))
    return StudyResult(run_dir=run_dir, report=report, timings=timings)


def run_demo(
    out_dir: Path,
    n_posts: int = 300,
    config: Config = PAPER,
    cache_dir: Path | None = None,
    progress: bool = True,
    announce: Callable[[str], None] = log.info,
) -> StudyResult:
    """Generate a synthetic profile under ``out_dir/data`` and run the whole study on it.

    The run folder is ``out_dir/run`` and the feature cache ``out_dir/cache``: the
    generator is deterministic, so a second demo finds every embedding cached.
    """
    from instapop.synthetic import generate_profile

    out_dir = Path(out_dir)
    announce(f"generating a {n_posts}-post synthetic profile (seed {config.seed})")
    start = time.perf_counter()
    profile = generate_profile(out_dir / "data", n_posts=n_posts, seed=config.seed)
    generate_s = round(time.perf_counter() - start, 2)
    result = run_study(
        profile.profile_dir,
        [profile.followers_csv],
        out_dir / "run",
        config=config,
        cache_dir=cache_dir or out_dir / "cache",
        progress=progress,
        announce=announce,
    )
    result.timings = {"generate": generate_s, **result.timings}
    return result
