"""The whole study: every stage of :mod:`instapop.stages`, in order, into one run folder.

Each stage runs through :func:`instapop.stages.run_stage`, exactly as its CLI command runs
it, so a rerun is cheap: embeddings come back from the content-addressed feature cache,
finished cross-validation rows from the run folder's checkpoints.

A stage that cannot run (too few items to validate, no image model to explain...)
does not end the study: it says which and why in one line, ``stages.json`` records it,
the report shows it, and the later stages run on what exists. Only a failed ingest or
labels stage stops the study, as there is nothing to work on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instapop.config import PAPER, Config
from instapop.errors import InstapopError
from instapop.runfolder import RunFolder
from instapop.sources.matching import ExportOptions
from instapop.stages import (
    STAGE_NAMES,
    STAGES,
    ProfileInput,
    RunInputs,
    Stage,
    remove_outputs,
    run_stage,
    write_stage_record,
)

log = logging.getLogger(__name__)


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
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        """Stages that stopped on an unexpected error."""
        return [stage for stage, entry in self.stages.items() if entry["status"] == "failed"]


class _StudyRunner:
    """Runs stages in the table's order, each only when the stages it needs have run, and records them."""

    def __init__(self, run_dir: Path, inputs: RunInputs, announce: Callable[[str], None]) -> None:
        self.run_dir = run_dir
        self.inputs = inputs
        self.announce = announce
        self.timings: dict[str, float] = {}
        self.record: dict[str, dict[str, Any]] = {}

    def run(self, stage: Stage, config: Config | None = None) -> None:
        title = f"[{STAGE_NAMES.index(stage.name) + 1}/{len(STAGES)}] {stage.name}"
        start = time.perf_counter()
        missing = [need for need in stage.needs if self.record.get(need, {}).get("status") != "done"]
        if missing:
            entry = {"status": "skipped", "reason": f"needs {missing[0]}, which did not run"}
            self.announce(f"{title} skipped: {entry['reason']}")
        else:
            self.announce(title)
            entry = self._attempt(stage, config)
        if entry["status"] != "done":
            remove_outputs(stage, self.run_dir)
            entry["outputs"] = list(stage.writes)  # the report says why they are absent
        self.timings[stage.name] = round(time.perf_counter() - start, 2)
        self.record[stage.name] = entry
        log.info("%s took %.1f s", stage.name, self.timings[stage.name])
        write_stage_record(self.run_dir, self.record)

    def _attempt(self, stage: Stage, config: Config | None) -> dict[str, str]:
        try:
            run_stage(stage.name, self.run_dir, inputs=self.inputs, config=config)
        except InstapopError as err:
            if stage.required:  # nothing to work on: the study ends here
                raise
            entry = {"status": "skipped", "reason": str(err)}
        except Exception as err:
            if stage.required:
                raise
            # a bug: the traceback, and the stages that can still run
            log.exception("%s stage failed", stage.name)
            entry = {"status": "failed", "reason": f"{type(err).__name__}: {err}"}
        else:
            return {"status": "done"}
        self.announce(f"{stage.name} {entry['status']}: {entry['reason']}")
        return entry


def run_study(
    profile_dir: Path,
    followers: list[Path],
    run_dir: Path,
    config: Config = PAPER,
    cache_dir: Path | None = None,
    followers_date: str | None = None,
    progress: bool = True,
    announce: Callable[[str], None] = log.info,
    export: ExportOptions | None = None,
) -> StudyResult:
    """Run ingest -> labels -> embed -> dedup -> evaluate -> train -> explain -> report.

    Parameters
    ----------
    profile_dir : Instaloader profile folder (or a folder with a manifest.csv, a Business
        Suite export CSV, a folder of Graph API pages).
    followers : follower-history files (any format ``instapop.followers`` reads).
    run_dir : folder that receives every stage's outputs; created if missing.
    config : the study's settings; ``PAPER`` is the paper's configuration. Among them:
        ``target`` (what popularity means), ``exclude`` (media a person wants out of
        training), ``model_classes`` (N of the saved model).
    cache_dir : content-addressed feature cache (default: ``embed.cache.default_cache_dir``).
    followers_date : date of the count in a profile JSON (default: its file time).
    announce : called with a one-line title as each stage starts, and with one line naming a
        stage that cannot run and why (the CLI prints them).
    export : an export's media folder, media mapping, time zone and date order.

    Returns
    -------
    StudyResult with the report's path, each stage's wall time and what each stage did.

    Raises
    ------
    InstapopError
        When ingest or labels fail: nothing else can run. A later stage that cannot run is recorded
        (``stages.json``, the report) and the stages that do not need it still run.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    profile = ProfileInput(Path(profile_dir), tuple(followers), followers_date, export)
    runner = _StudyRunner(run_dir, RunInputs(profile, cache_dir, progress), announce)
    for stage in STAGES:
        runner.run(stage, config if stage.starts_run else None)

    folder = RunFolder(run_dir)
    folder.timings.write_text(json.dumps(runner.timings, indent=2))
    return StudyResult(
        run_dir=run_dir,
        report=folder.report if runner.record["report"]["status"] == "done" else None,
        timings=runner.timings,
        stages=runner.record,
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
