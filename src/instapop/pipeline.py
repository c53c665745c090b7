"""The whole study, stage after stage, into one run folder.

Each stage reads the previous stage's files and writes its own (see
docs/architecture.md), so a rerun is cheap: embeddings come back from the
content-addressed feature cache, finished cross-validation rows from the run
folder's checkpoints, and any stage can also be run alone from the CLI.

A stage that cannot run (too few items to validate, no image model to explain...)
does not end the study: it says which and why in one line, ``stages.json`` records it,
the report shows it, and the later stages run on what exists. Only a failed ingest
stops the study, as there is nothing to work on.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instapop.config import PAPER, Config, start_run_config
from instapop.embed.cache import default_cache_dir, write_atomically
from instapop.errors import InstapopError
from instapop.runfolder import RunFolder
from instapop.sources.matching import ExportOptions

if TYPE_CHECKING:
    from instapop.ingest import IngestResult

log = logging.getLogger(__name__)

STAGES = ("ingest", "embed", "dedup", "evaluate", "train", "explain", "report")
# The stages whose files each stage reads. Evaluate waits for dedup: duplicates on both sides of
# a split would flatter the scores. Explain needs only features (without a model: the map alone).
NEEDS = {
    "ingest": (),
    "embed": ("ingest",),
    "dedup": ("embed",),
    "evaluate": ("dedup",),
    "train": ("evaluate",),
    "explain": ("embed",),
    "report": ("ingest",),
}
# What each stage writes (RunFolder's names); removed when the stage cannot run, so that no later
# stage or report reads an earlier run's results as this one's.
OUTPUTS = {
    "ingest": (),
    "embed": ("features",),
    "dedup": ("dedup", "dedup_summary", "dedup_hist", "dedup_pairs"),
    "evaluate": ("cv_results", "cv_markdown", "cv_predictions"),
    "train": ("model",),
    "explain": ("explain",),
    "report": ("report",),
}


@dataclass
class StudyResult:
    """Where a study wrote its outputs, how long each stage took (seconds), and what each stage did.

    ``stages`` maps each stage to ``{"status": "done" | "skipped" | "failed", "reason": ...}``
    (as in ``stages.json``): skipped when its input could not support it, failed on an
    unexpected error. ``report`` is None when the report could not be built.
    """

    run_dir: Path
    report: Path | None
    timings: dict[str, float] = field(default_factory=dict)
    stages: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """Stages that stopped on an unexpected error."""
        return [stage for stage, entry in self.stages.items() if entry["status"] == "failed"]


class _Stages:
    """Runs the stages in order, each only when the stages it reads have run, and records them."""

    def __init__(self, run_dir: Path, announce: Callable[[str], None]) -> None:
        self.run_dir = run_dir
        self.announce = announce
        self.timings: dict[str, float] = {}
        self.record: dict[str, dict[str, str]] = {}

    def run(self, stage: str, action: Callable[[], Any]) -> None:
        title = f"[{STAGES.index(stage) + 1}/{len(STAGES)}] {stage}"
        start = time.perf_counter()
        missing = [need for need in NEEDS[stage] if self.record.get(need, {}).get("status") != "done"]
        if missing:
            entry = {"status": "skipped", "reason": f"needs {missing[0]}, which did not run"}
            self.announce(f"{title} skipped: {entry['reason']}")
        else:
            self.announce(title)
            entry = self._attempt(stage, action)
        if entry["status"] != "done":
            self._remove_outputs(stage)
        self.timings[stage] = round(time.perf_counter() - start, 2)
        self.record[stage] = entry
        log.info("%s took %.1f s", stage, self.timings[stage])
        write_atomically(RunFolder(self.run_dir).stages, (json.dumps(self.record, indent=2) + "\n").encode())

    def _attempt(self, stage: str, action: Callable[[], Any]) -> dict[str, str]:
        try:
            action()
        except InstapopError as err:
            if stage == "ingest":  # nothing to work on: the study ends here
                raise
            entry = {"status": "skipped", "reason": str(err)}
        except Exception as err:
            if stage == "ingest":
                raise
            log.exception("%s stage failed", stage)  # a bug: the traceback, and the stages that can still run
            entry = {"status": "failed", "reason": f"{type(err).__name__}: {err}"}
        else:
            return {"status": "done"}
        self.announce(f"{stage} {entry['status']}: {entry['reason']}")
        return entry

    def _remove_outputs(self, stage: str) -> None:
        for name in OUTPUTS[stage]:
            path = getattr(RunFolder(self.run_dir), name)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)


def ingest_stage(
    run_dir: Path,
    profile_dir: Path,
    followers: list[Path],
    config: Config,
    followers_date: str | None = None,
    export: ExportOptions | None = None,
    target: str | None = None,
) -> IngestResult:
    """Read the profile and follower history; write the labelled media table and the run's settings.

    The first stage: ``config`` becomes the run folder's ``config.json``, which every later
    stage starts from (:func:`instapop.config.load_run_config`).
    """
    from instapop.context import write_context
    from instapop.ingest import ingest_profile

    result = ingest_profile(profile_dir, followers, config, followers_date, export=export, target=target)
    start_run_config(run_dir, config)
    result.write(run_dir)
    write_context(run_dir)
    return result


def embed_stage(run_dir: Path, config: Config, cache_dir: Path, progress: bool = True) -> None:
    """Embed every media item (through the feature cache) into ``run_dir/features``."""
    from instapop.embed.extract import embed_media
    from instapop.ingest import load_media

    embed_media(load_media(run_dir), cache_dir, config, progress=progress).save(RunFolder(run_dir).features)


def dedup_stage(run_dir: Path, config: Config, exclude: list[str] | None = None) -> None:
    """Find near-duplicates and decide which copy stays."""
    from instapop.dedup import deduplicate
    from instapop.embed.extract import FeatureSet
    from instapop.ingest import load_media

    features = FeatureSet.load(RunFolder(run_dir).features)
    deduplicate(load_media(run_dir), features, config, exclude=exclude).write(run_dir)


def evaluate_stage(run_dir: Path, config: Config, progress: bool = True) -> None:
    """Repeated stratified k-fold of the four approaches and the baselines."""
    from instapop.datasets import load_run_dataset
    from instapop.validation import evaluate, write_cv_results

    checkpoints = RunFolder(run_dir).cv_checkpoints
    results = evaluate(load_run_dataset(run_dir), config, progress, checkpoints=checkpoints)
    write_cv_results(results, run_dir)


def train_stage(run_dir: Path, config: Config, n_classes: int | None = None) -> None:
    """Train the final models on all data into ``run_dir/model``, choosing approaches by CV."""
    from instapop.context import write_context_defaults
    from instapop.datasets import load_run_dataset
    from instapop.training import train_final

    run = RunFolder(run_dir)
    cv_results = json.loads(run.cv_results.read_text())
    n_classes = n_classes or max(config.n_classes)
    train_final(load_run_dataset(run_dir), cv_results, config, n_classes, run.model)
    write_context_defaults(run_dir, run.model)


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
    export: ExportOptions | None = None,
    target: str | None = None,
) -> StudyResult:
    """Run ingest -> labels -> embeddings -> dedup -> evaluate -> train -> explain -> report.

    Parameters
    ----------
    profile_dir : Instaloader profile folder (or a folder with a manifest.csv, a Business
        Suite export CSV, a folder of Graph API pages).
    followers : follower-history files (any format ``instapop.followers`` reads).
    run_dir : folder that receives every stage's outputs; created if missing.
    config : the study's settings; ``PAPER`` is the paper's configuration.
    cache_dir : content-addressed feature cache (default: :func:`default_cache_dir`).
    n_classes_model : N of the saved model (default: the largest of ``config.n_classes``).
    exclude : media ids or paths a person wants out of training (logos, product sheets).
    announce : called with a one-line title as each stage starts, and with one line naming a
        stage that cannot run and why (the CLI prints them).
    export : an export's media folder, media mapping, time zone and date order.
    target : what popularity means (``por``, ``reach-rate``, ``reach``; None: chosen from the data).

    Returns
    -------
    StudyResult with the report's path, each stage's wall time and what each stage did.

    Raises
    ------
    InstapopError
        When ingest fails: nothing else can run. A later stage that cannot run is recorded
        (``stages.json``, the report) and the stages that do not need it still run.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    stages = _Stages(run_dir, announce)

    def ingest() -> None:
        ingest_stage(run_dir, profile_dir, followers, config, followers_date, export, target)

    stages.run("ingest", ingest)
    stages.run("embed", lambda: embed_stage(run_dir, config, cache_dir, progress))
    stages.run("dedup", lambda: dedup_stage(run_dir, config, exclude))
    stages.run("evaluate", lambda: evaluate_stage(run_dir, config, progress))
    stages.run("train", lambda: train_stage(run_dir, config, n_classes_model))
    stages.run("explain", lambda: explain_stage(run_dir, config, progress))
    stages.run("report", lambda: report_stage(run_dir))

    RunFolder(run_dir).timings.write_text(json.dumps(stages.timings, indent=2))
    report = RunFolder(run_dir).report
    return StudyResult(
        run_dir=run_dir,
        report=report if stages.record["report"]["status"] == "done" else None,
        timings=stages.timings,
        stages=stages.record,
    )


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
