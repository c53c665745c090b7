"""The stages of a study, declared once: what each needs, reads and writes, and the function that runs it.

Every face runs a stage through :func:`run_stage`: ``instapop run`` and ``instapop batch`` (in
order, through :mod:`instapop.pipeline`), each CLI command (one stage, or two), and the tests'
run factory. So a model trained stage by stage is the model ``instapop run`` trains, file for
file: there is one implementation of each stage.

A stage function takes the run folder's typed readers (:class:`~instapop.datasets.RunData`),
the run's settings and the inputs that live outside the run folder (:class:`RunInputs`), and
writes its files into the run folder. :func:`run_stage` loads the run's ``config.json``, applies
and logs the overrides it is given, checks that the files the stage reads exist (naming the
command that writes a missing one), runs the stage and saves the settings it ran with.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instapop.config import Config, load_run_config, start_run_config, update_run_config
from instapop.datasets import RunData
from instapop.embed.cache import default_cache_dir, write_atomically
from instapop.errors import InstapopError
from instapop.sources.matching import ExportOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileInput:
    """Where ingest reads a profile from: the one input that is not in the run folder.

    Attributes
    ----------
    folder : Instaloader profile folder, manifest folder, Business Suite export or Graph API pages.
    followers : follower-history files.
    followers_date : date of the count in a profile JSON (default: its file time).
    export : an export's media folder, media mapping, time zone and date order.
    """

    folder: Path
    followers: tuple[Path, ...] = ()
    followers_date: str | None = None
    export: ExportOptions | None = None


@dataclass(frozen=True)
class RunInputs:
    """What stages need besides the run folder and its settings.

    Attributes
    ----------
    profile : what ingest reads (only ingest needs it).
    cache_dir : the content-addressed feature cache (default: :func:`default_cache_dir`).
    progress : show progress bars.
    """

    profile: ProfileInput | None = None
    cache_dir: Path | None = None
    progress: bool = True


StageFunction = Callable[[RunData, Config, RunInputs], Any]


@dataclass(frozen=True)
class Stage:
    """One stage: its name, the stages whose files it needs, the files it reads and writes.

    Attributes
    ----------
    name : also its CLI command (``instapop <name>``) where it has one.
    needs : stages that must have run before it in a study.
    reads : :class:`~instapop.runfolder.RunFolder` names of the files it cannot run without.
    writes : the names of the files it writes (removed when it cannot run, so that no later
        stage reads an earlier run's results as this run's).
    run : the function ``(run folder, config, inputs) -> what it made``.
    starts_run : it writes the run's settings afresh (ingest); later stages update them.
    required : the study cannot go on without it (nothing left to work on).
    """

    name: str
    needs: tuple[str, ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    run: StageFunction
    starts_run: bool = False
    required: bool = False


# --------------------------------------------------------------------------- the stage functions


def _ingest(run: RunData, config: Config, inputs: RunInputs):
    from instapop.context import write_context
    from instapop.ingest import read_profile

    if inputs.profile is None:
        raise InstapopError("ingest needs a profile folder (or export) to read")
    profile = inputs.profile
    result = read_profile(
        profile.folder, list(profile.followers), config, profile.followers_date, profile.export, config.target
    )
    # The run records the target ingest chose, so that relabelling keeps it unless told otherwise.
    result.config = dataclasses.replace(config, target=result.target["name"])
    start_run_config(run.root, result.config)
    result.write(run.root)
    write_context(run.root)
    return result


def _labels(run: RunData, config: Config, inputs: RunInputs) -> dict[str, Any]:
    from instapop.ingest import label_summary, write_tables
    from instapop.labels import follower_change, label_tables
    from instapop.targets import retarget

    summary = run.summary
    posts = run.posts
    if config.target and config.target != (summary.get("target") or {}).get("name"):
        posts, summary["target"] = retarget(posts, config.target, summary.get("target") or {})
    posts, media = label_tables(posts, run.media, config)
    write_tables(run.root, posts, media)
    summary.update(label_summary(media, config))
    summary["follower_change"] = follower_change(posts, config)
    run.folder.summary.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _embed(run: RunData, config: Config, inputs: RunInputs):
    from instapop.embed.extract import embed_media

    features = embed_media(
        run.media, inputs.cache_dir or default_cache_dir(), config, progress=inputs.progress
    )
    features.save(run.folder.features)
    return features


def _dedup(run: RunData, config: Config, inputs: RunInputs):
    from instapop.dedup import deduplicate

    result = deduplicate(run.media, run.features, config, exclude=list(config.exclude))
    result.write(run.root)
    return result


def _evaluate(run: RunData, config: Config, inputs: RunInputs) -> dict[str, Any]:
    from instapop.context import measure_drivers
    from instapop.validation import backtest, evaluate, write_cv_results

    results = evaluate(run.dataset, config, inputs.progress, checkpoints=run.folder.cv_checkpoints)
    results["backtest"] = backtest(run.dataset, config, inputs.progress)
    write_cv_results(results, run.root)
    # Fitted here, not in the report: the report only reads saved artefacts.
    drivers = measure_drivers(run.dataset, run.media, run.context)
    run.folder.context_drivers.write_text(json.dumps(drivers, indent=2) + "\n")
    return results


def _train(run: RunData, config: Config, inputs: RunInputs) -> dict[str, Any]:
    from instapop.context import write_context_defaults
    from instapop.training import train_final

    model = run.folder.model
    train_final(run.dataset, run.cv_results, config, config.model_n, model)
    write_context_defaults(run.root, model)
    return json.loads((model / "config.json").read_text())


def _explain(run: RunData, config: Config, inputs: RunInputs) -> Path | None:
    from instapop.explain.run import explain_if_missing

    return explain_if_missing(run.root, config, progress=inputs.progress)


def _report(run: RunData, config: Config, inputs: RunInputs) -> Path:
    from instapop.report import build_report

    return build_report(run.root)


# The table. Evaluate waits for dedup: duplicates on both sides of a split would flatter the
# scores. Explain needs only features (without a model: the map alone); the report whatever exists.
STAGES: tuple[Stage, ...] = (
    Stage(
        "ingest", needs=(), reads=(),
        writes=("media", "posts", "excluded", "followers", "summary", "context"),
        run=_ingest, starts_run=True, required=True,
    ),
    Stage(
        "labels", needs=("ingest",), reads=("posts", "media"), writes=("media", "posts", "summary"),
        run=_labels, required=True,
    ),
    Stage("embed", needs=("labels",), reads=("media",), writes=("features",), run=_embed),
    Stage(
        "dedup", needs=("embed",), reads=("media", "features"),
        writes=("dedup", "dedup_summary", "dedup_hist", "dedup_pairs"), run=_dedup,
    ),
    Stage(
        "evaluate", needs=("dedup",), reads=("media", "features"),
        writes=("cv_results", "cv_markdown", "cv_predictions", "context_drivers"), run=_evaluate,
    ),
    Stage("train", needs=("evaluate",), reads=("cv_results", "features"), writes=("model",), run=_train),
    Stage("explain", needs=("embed",), reads=(), writes=("explain",), run=_explain),
    Stage("report", needs=("labels",), reads=("media",), writes=("report",), run=_report),
)  # fmt: skip
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)


def get_stage(name: str) -> Stage:
    """The stage called ``name``; an unknown name is an error naming the stages there are."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise InstapopError(f"no stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")


def _writer_of(name: str) -> str:
    """The stage that writes the run-folder file called ``name``."""
    return next(stage.name for stage in STAGES if name in stage.writes)


def _check_reads(stage: Stage, run: RunData) -> None:
    for name in stage.reads:
        path = getattr(run.folder, name)
        if not path.exists():
            raise InstapopError(
                f"{stage.name} needs {path}: run `instapop {_writer_of(name)}` into {run.root} first"
            )


def run_stage(
    name: str,
    run_dir: Path,
    overrides: Mapping[str, Any] | None = None,
    inputs: RunInputs | None = None,
    config: Config | None = None,
) -> Any:
    """Run one stage on a run folder, with the run's settings and the given overrides.

    Parameters
    ----------
    name : a stage of :data:`STAGES`.
    run_dir : the run folder (created by ingest).
    overrides : settings to change for this stage and the ones after it (``{field: value}``);
        a change is saved in ``config.json`` and logged in ``config_overrides.json``.
    inputs : the profile to read (ingest), the feature cache, progress bars.
    config : the settings a new run starts from (ingest only; later stages read ``config.json``).

    Returns
    -------
    What the stage made (ingest: the ``IngestResult``; labels: the summary; embed: the
    ``FeatureSet``; dedup: the ``DedupResult``; evaluate: the results; train: the model card;
    explain and report: a path).

    Raises
    ------
    InstapopError
        When a file the stage reads is missing (naming the command that writes it), or the
        stage cannot run on this data.
    """
    stage = get_stage(name)
    run = RunData(Path(run_dir))
    if config is not None and not stage.starts_run:
        raise ValueError(f"{name} continues a run: it takes its settings from {run.folder.config}")
    base = config if config is not None else load_run_config(run.root)
    settings = dataclasses.replace(base, **dict(overrides or {}))
    if not stage.starts_run:
        _check_reads(stage, run)
    made = stage.run(run, settings, inputs or RunInputs())
    if not stage.starts_run:
        for field_name, change in update_run_config(run.root, settings, name).items():
            log.info("%s: %s changed from %r to %r", name, field_name, change["from"], change["to"])
    return made


def remove_outputs(stage: Stage, run_dir: Path) -> None:
    """Remove what ``stage`` writes from ``run_dir``: after it could not run, no later stage reads
    an earlier run's files as this run's."""
    import shutil

    run = RunData(Path(run_dir))
    for name in stage.writes:
        path = getattr(run.folder, name)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def write_stage_record(run_dir: Path, record: dict[str, dict[str, Any]]) -> None:
    """Save what each stage of a study did (``stages.json``)."""
    write_atomically(RunData(Path(run_dir)).folder.stages, (json.dumps(record, indent=2) + "\n").encode())


def run_stages(
    run_dir: Path, names: Sequence[str], inputs: RunInputs | None = None, config: Config | None = None
) -> Any:
    """Run the named stages in the table's order, each through :func:`run_stage`; returns what the last made.

    The plain runner for a script or a notebook: a stage that cannot run raises (``instapop run``
    goes on around it instead, see :func:`instapop.pipeline.run_study`).

    Parameters
    ----------
    run_dir : the run folder.
    names : stages to run, e.g. ``STAGE_NAMES[:STAGE_NAMES.index("train") + 1]``.
    inputs : the profile to read (when ingest is among them), the feature cache, progress bars.
    config : the settings a new run starts from (when ingest is among them).
    """
    made = None
    for stage in STAGES:
        if stage.name in names:
            made = run_stage(stage.name, run_dir, inputs=inputs, config=config if stage.starts_run else None)
    return made


def stages_upto(name: str) -> tuple[str, ...]:
    """The stages of a study up to ``name`` included, in order."""
    get_stage(name)
    return STAGE_NAMES[: STAGE_NAMES.index(name) + 1]
