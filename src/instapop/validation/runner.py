"""The protocol: every approach's row at every N, trained in threads, read from checkpoints when
their inputs are unchanged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from instapop.config import Config
from instapop.cv_rows import CVRow, MeanStd
from instapop.datasets import Dataset, MediaSet
from instapop.errors import InstapopError
from instapop.media_types import IMAGE, VIDEO
from instapop.models import training_threads
from instapop.models.approaches import Problem, approach, approaches_for
from instapop.models.crossval import DatasetTensors, Outcome, Split
from instapop.runtime import resolve_threads
from instapop.validation.checkpoints import RowCheckpoints
from instapop.validation.files import SCHEMA_VERSION
from instapop.validation.folds import MediaPlan, plan_media
from instapop.validation.metrics import (
    BOOTSTRAP_RESAMPLES,
    intervals,
    mean_std,
    per_fold_numbers,
    post_resamples,
    repeat_metrics,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One row of the table to compute: ``run()`` trains and returns its Outcome."""

    media: str
    approach: str
    n_classes: int
    split: Split
    run: Callable[[], Outcome]


def skipped_row(media: str, approach: str, n_classes: int, n_items: int, reason: str) -> dict[str, Any]:
    """The table row of an approach that could not run: no metrics, the reason under ``skipped``."""
    return CVRow(media, approach, n_classes, n_items, skipped=reason).to_dict()


def _entries(data: Dataset, plans: dict[str, MediaPlan], config: Config, n: int) -> list[Job | dict]:
    """Every row of one N in the table's order: a Job to run, or the row of a skipped approach."""
    t = DatasetTensors(data, n)
    entries: list[Job | dict] = []
    for media, plan in plans.items():
        split = None
        if plan.folds is not None:
            split = Split.from_folds(plan.folds, plan.items, n, config, with_callback=plan.inner is None)
        problem = Problem(data, t, media, n, config, split)
        for candidate in approaches_for(media, config.approaches):
            reason = plan.skip_reason(candidate.name)
            if reason is None:
                run = partial(candidate.cross_validate, problem)
                entries.append(Job(media, candidate.name, n, split, run))
            else:
                entries.append(skipped_row(media, candidate.name, n, len(plan.items), reason))
    return entries


def _run_timed(job: Job) -> Outcome:
    start = time.perf_counter()
    outcome = job.run()
    log.info("N=%d %s %s: %.1f s", job.n_classes, job.media, job.approach, time.perf_counter() - start)
    return outcome


def run_jobs(
    jobs: list[Job],
    workers: int,
    progress: bool,
    on_done: Callable[[int, Outcome], None] | None = None,
    reused: int = 0,
    desc: str = "cross-validation",
) -> list[Outcome]:
    """Run every job, ``workers`` at a time in threads; outcomes in the jobs' order.

    Threads help although the trainings are Python loops: torch releases the GIL inside each
    operation, and these small models spend about half their time there (measured 1.5x on 2
    cores). Each training draws from its own generator, so outcomes do not depend on
    ``workers`` or on scheduling. ``on_done(index, outcome)`` is called, in this thread, as
    each job finishes; the progress bar counts ``reused`` rows (from checkpoints) as done.
    """
    # Rows start most costly first (the CNN-RNNs), so that parallel workers finish together.
    order = sorted(range(len(jobs)), key=lambda i: -approach(jobs[i].approach).cost)
    outcomes: list[Outcome | None] = [None] * len(jobs)
    desc = f"{desc} ({reused} rows from checkpoints)" if reused else desc
    quiet = not progress or not jobs
    bar = tqdm(total=len(jobs) + reused, initial=reused, desc=desc, unit="approach", disable=quiet)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = {pool.submit(_run_timed, jobs[i]): i for i in order}
        for done in as_completed(running):
            index = running[done]
            outcomes[index] = done.result()
            if on_done is not None:
                on_done(index, outcomes[index])
            bar.set_postfix_str(f"done: N={jobs[index].n_classes} {jobs[index].media} {jobs[index].approach}")
            bar.update()
    bar.close()
    return outcomes


def summarise(job: Job, outcome: Outcome, items: MediaSet, folds: np.ndarray) -> dict[str, Any]:
    """One table row: metrics mean/std over repeats, plus each repeat's and each fold's numbers
    (its intervals come later, from its predictions: :func:`with_intervals`)."""
    labels = items.labels[job.n_classes]
    scores = outcome.item_scores()
    repeats = [
        repeat_metrics(outcome.probs[r], scores[r], labels, items.percentile, folds[r])
        for r in range(len(folds))
    ]
    fold_numbers = per_fold_numbers(outcome, outcome.probs, labels, folds, job.split)
    return CVRow(
        job.media,
        job.approach,
        job.n_classes,
        len(items),
        metrics={key: MeanStd(**mean_std([r[key] for r in repeats])) for key in repeats[0]},
        repeats=repeats,
        folds=fold_numbers,
        # out-of-fold predictions, for cv_predictions.csv (not kept in cv_results.json)
        predictions={"score": scores.tolist(), "predicted": outcome.probs.argmax(axis=2).tolist()},
    ).to_dict()


def with_intervals(row: dict[str, Any], items: MediaSet, folds: np.ndarray, seed: int) -> dict[str, Any]:
    """The row with ``ci95`` beside each metric's mean and std, from its out-of-fold predictions
    (see :mod:`instapop.validation.metrics`).

    Every row gets them here, trained now or read from a checkpoint: checkpoints hold rows
    without intervals, so the interval's method can change without training anything again.
    Every row of a media type draws the same resamples of posts (``seed``), so two approaches'
    intervals are measured on the same samples.
    """
    predictions = row["predictions"]
    means = {key: value["mean"] for key, value in row.items() if isinstance(value, dict) and "mean" in value}
    found = intervals(
        means,
        np.asarray(predictions["score"], dtype=float),
        np.asarray(predictions["predicted"], dtype=np.int64),
        items.labels[row["n_classes"]],
        items.percentile,
        folds,
        post_resamples(items.groups, BOOTSTRAP_RESAMPLES, seed),
    )
    return {key: value | {"ci95": found[key]} if key in found else value for key, value in row.items()}


def _job_rows(
    jobs: list[Job],
    plans: dict[tuple[int, str], MediaPlan],
    dataset: Dataset,
    config: Config,
    progress: bool,
    checkpoints: Path | None,
) -> list[dict[str, Any]]:
    """Each job's table row: from its checkpoint when there is one, else trained (and saved);
    then its intervals."""
    store = RowCheckpoints(checkpoints, dataset, config) if checkpoints is not None else None
    keys = []
    if store is not None:
        keys = [store.key(j.media, j.approach, j.n_classes, plans[j.n_classes, j.media].folds) for j in jobs]
    rows = [store.load(key) for key in keys] if store else [None] * len(jobs)
    todo = [i for i, row in enumerate(rows) if row is None]
    log.info("cross-validation: %d of %d rows from %s", len(jobs) - len(todo), len(jobs), checkpoints)

    def finished(k: int, outcome: Outcome) -> None:
        job = jobs[todo[k]]
        plan = plans[job.n_classes, job.media]
        rows[todo[k]] = summarise(job, outcome, plan.items, plan.folds)
        if store is not None:
            store.save(keys[todo[k]], rows[todo[k]])

    # The intervals' small matrix products too run on train_threads: BLAS threads on a busy
    # machine made them 5-10 times slower (and the thread count can change a result's last bits).
    with training_threads(config.train_threads):
        pending = [jobs[i] for i in todo]
        run_jobs(pending, resolve_threads(config.train_workers), progress, finished, len(jobs) - len(todo))
        plans_of = [plans[job.n_classes, job.media] for job in jobs]
        rows = [
            with_intervals(row, plan.items, plan.folds, config.seed)
            for row, plan in zip(rows, plans_of, strict=True)
        ]
    if store is not None:
        store.keep_only(set(keys))
    return rows


def evaluate(
    dataset: Dataset, config: Config, progress: bool = True, checkpoints: Path | None = None
) -> dict[str, Any]:
    """Run the whole validation protocol: every approach and baseline, for each N.

    An approach whose media type cannot be split into stratified folds, or (neural models)
    whose training folds cannot be split again to pick the epoch, is skipped: its row holds
    the reason under ``skipped`` instead of metrics.

    Parameters
    ----------
    dataset : Dataset
        Items and features (see :func:`instapop.datasets.load_run_dataset`).
    config : Config
        ``n_classes``, ``n_splits``, ``n_repeats``, ``grouped_folds``, ``seed``, the models'
        settings, ``train_threads`` and ``train_workers``.
    progress : bool
        Show a progress bar.
    checkpoints : pathlib.Path, optional
        Folder of finished rows (see :class:`RowCheckpoints`): each row is saved there as it
        finishes, and a rerun after a kill reuses the rows whose inputs are unchanged.

    Returns
    -------
    dict
        JSON-serialisable results: ``rows`` (one per media x approach x N, with metrics
        ``{"mean", "std", "ci95"}`` over repeats (``ci95`` where the mean is defined, not for
        the confusion matrix), each repeat's metrics and each fold's numbers, and
        its out-of-fold ``predictions``, or ``skipped`` and its reason), ``folds`` (fold of
        each item per repeat), ``ids``, ``items`` (post, percentile and classes of each item)
        and ``skipped`` items.

    Raises
    ------
    InstapopError
        When an N is not labelled in the dataset.
    """
    missing = [n for n in config.n_classes if n not in dataset.n_classes]
    if missing:
        raise InstapopError(
            f"no class_{missing[0]} labels in the dataset; it has N in {list(dataset.n_classes)}"
        )
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "config": config.to_dict(),
        "backbone": dataset.backbone,
        "n_items": {IMAGE: len(dataset.images), VIDEO: len(dataset.videos)},
        "ids": {IMAGE: list(dataset.images.ids), VIDEO: list(dataset.videos.ids)},
        "items": {IMAGE: _item_facts(dataset.images), VIDEO: _item_facts(dataset.videos)},
        "folds": {IMAGE: {}, VIDEO: {}},
        "rows": [],
    }
    entries: list[Job | dict] = []
    plans: dict[tuple[int, str], MediaPlan] = {}
    sizes = {IMAGE: len(dataset.images), VIDEO: len(dataset.videos)}
    for n in config.n_classes:
        for media, items in ((IMAGE, dataset.images), (VIDEO, dataset.videos)):
            plans[n, media] = plan_media(items, media, n, config, sizes)
            if plans[n, media].folds is not None:
                results["folds"][media][str(n)] = plans[n, media].folds.tolist()
        entries.extend(_entries(dataset, {m: plans[n, m] for m in (IMAGE, VIDEO)}, config, n))
    jobs = [entry for entry in entries if isinstance(entry, Job)]
    job_rows = iter(_job_rows(jobs, plans, dataset, config, progress, checkpoints))  # in the jobs' order
    results["rows"] = [next(job_rows) if isinstance(entry, Job) else entry for entry in entries]
    results["skipped"] = list(dataset.skipped)
    return results


def _item_facts(items: MediaSet) -> dict[str, Any]:
    return {
        "post_id": items.groups.tolist(),
        "percentile": [None if not np.isfinite(p) else float(p) for p in items.percentile],
        "classes": {str(n): labels.tolist() for n, labels in items.labels.items()},
    }
