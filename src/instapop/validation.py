"""Repeated stratified (grouped) k-fold for every registered approach and the baselines (§5.2-5.6).

For each N and each repeat, images and videos are split into k folds, stratified by class and, by
default, grouped by post, so carousel siblings and reposts kept in one post never sit on both
sides of a split (``Config.grouped_folds = False`` gives the paper's plain stratified folds).

The approaches (the paper's four, the ranker and two baselines) live in
:mod:`instapop.models.approaches`; ``Config.approaches`` says which run (``--paper``: the paper's
four and the baselines). Each is validated on its media type's folds.

No profile shape stops the protocol: every class needs at least k posts (items, with plain
folds) for the outer folds, and the neural approaches also need k posts of each class in every
training fold for the inner split that picks their epoch. An approach whose media type falls
short is skipped, and its row in the table holds the reason instead of metrics (the baselines
need only the outer folds).

The three video approaches and the video baselines share folds. A mixed approach never trains on
an image whose post has a video in the validation fold. All k x repeats trainings of one
approach run side by side as one stacked model (see ``models/layers.py``).

Epoch callback: each neural model keeps the weights of its best epoch, as the paper's callback
does. The paper picks that epoch on the very fold it then scores, which lets noise pass for
skill: on features that carry no signal at all, this reads 3-5 points above chance (measured,
1,000 items). By default (``Config.epoch_callback = "inner"``) the epoch is picked on a
grouped, stratified k-th of the training folds instead, and the scored fold stays unseen;
``"fold"`` (CLI ``--paper-callback``) reproduces the paper's choice.

Metrics per approach and N, computed on each repeat's out-of-fold predictions (all k folds
pooled, as the paper's "total accuracy over the 5 splits") and given as mean and standard
deviation (ddof = 0) over repeats: accuracy, top-2 accuracy (N >= 3), balanced accuracy,
macro-F1, the row-normalised confusion matrix, the Spearman correlation between an item's
score (a classifier's expected class sum_k p_k k; the ranker's predicted percentile) and its
within-window PoR percentile, and the pairwise accuracy: of two validation items of one fold
with different percentiles, how often the score orders them right (ties count one half).
Both are measured against the percentile, not raw PoR: across years raw PoR mostly follows
audience growth and the follower estimate, which no picture can predict.

Every out-of-fold prediction (item, repeat, N, approach) goes to ``cv_predictions.csv``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from tqdm.auto import tqdm

from instapop import __version__
from instapop.config import Config
from instapop.cv_rows import CVRow, MeanStd
from instapop.datasets import Dataset, MediaSet
from instapop.embed.cache import cache_key, write_atomically
from instapop.errors import InstapopError
from instapop.media_types import IMAGE, VIDEO
from instapop.models import training_threads
from instapop.models.approaches import (
    Problem,
    approach,
    approaches_for,
    logreg_linear,
    softmax_linear,
)
from instapop.models.crossval import DatasetTensors, Outcome, Split, derived_seed
from instapop.runfolder import RunFolder
from instapop.runtime import resolve_threads

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3  # 2: a skipped approach is a row with its reason; 3: Spearman vs the percentile
_DECIMALS = 6  # JSON floats are rounded: the file stays byte-identical and readable


# --------------------------------------------------------------------------- folds


def _posts_per_class(labels: np.ndarray, groups: np.ndarray, n_classes: int) -> np.ndarray:
    """Distinct posts (groups) of each class: what a grouped split can spread over folds."""
    pairs = np.unique(np.stack([labels, np.unique(groups, return_inverse=True)[1]]), axis=1)
    return np.bincount(pairs[0], minlength=n_classes)


def outer_shortfall(items: MediaSet, n_classes: int, config: Config, what: str) -> str | None:
    """Why ``items`` cannot make ``n_splits`` stratified folds, or None when they can.

    Each class needs at least ``n_splits`` posts (items, with plain folds), so that every
    validation fold holds every class; with fewer, stratification fails (sklearn raises when
    every class is short, and otherwise leaves folds without a class).
    """
    labels = items.labels[n_classes]
    if config.grouped_folds:
        counts, unit = _posts_per_class(labels, items.groups, n_classes), "posts"
    else:
        counts, unit = np.bincount(labels, minlength=n_classes), "items"
    short = int(np.argmin(counts))
    if counts[short] >= config.n_splits:
        return None
    return (
        f"{what}: class {short} has {counts[short]} {unit}, fewer than the {config.n_splits} folds "
        f"({unit} per class {counts.tolist()}); use fewer folds (--folds) or more posts"
    )


def inner_shortfall(
    items: MediaSet, folds: np.ndarray, n_classes: int, config: Config, what: str
) -> str | None:
    """Why the epoch callback's inner hold-out cannot be split from some training fold, or None.

    The hold-out is a grouped, stratified k-th of each training fold, so each class needs at
    least ``n_splits`` posts in every training fold. None when the epoch is picked on the
    scored fold (``epoch_callback = "fold"``), which needs no inner split.
    """
    if config.epoch_callback == "fold":
        return None
    labels = items.labels[n_classes]
    for repeat, fold in np.ndindex(folds.shape[0], int(folds.max()) + 1):
        rows = folds[repeat] != fold
        counts = _posts_per_class(labels[rows], items.groups[rows], n_classes)
        if counts.min() < config.n_splits:
            return (
                f"{what}: the inner split that picks the epoch needs {config.n_splits} posts of each "
                f"class in every training fold; repeat {repeat}, fold {fold} trains on posts per class "
                f"{counts.tolist()}; use fewer folds (--folds), more posts, or --paper-callback"
            )
    return None


def repeated_folds(items: MediaSet, n_classes: int, config: Config, what: str = "items") -> np.ndarray:
    """Fold index of every item for each repeat: stratified by class, grouped by post by default.

    Parameters
    ----------
    items : MediaSet
        Items with ``labels[n_classes]`` and ``groups`` (post ids).
    n_classes : int
        Which labels to stratify by.
    config : Config
        ``n_splits``, ``n_repeats``, ``grouped_folds`` and ``seed``.
    what : str
        Names the items in messages.

    Returns
    -------
    numpy.ndarray
        (n_repeats, n_items) fold of each item in each repeat.

    Raises
    ------
    InstapopError
        When a class is too small to be in every fold (see :func:`outer_shortfall`).
    """
    reason = outer_shortfall(items, n_classes, config, what)
    if reason is not None:
        raise InstapopError(reason)
    labels = items.labels[n_classes]
    folds = np.zeros((config.n_repeats, len(items)), dtype=np.int64)
    for repeat in range(config.n_repeats):
        random_state = int(np.random.SeedSequence([config.seed, repeat]).generate_state(1)[0])
        if config.grouped_folds:
            splitter = StratifiedGroupKFold(config.n_splits, shuffle=True, random_state=random_state)
            splits = splitter.split(np.zeros(len(items)), labels, items.groups)
        else:
            splitter = StratifiedKFold(config.n_splits, shuffle=True, random_state=random_state)
            splits = splitter.split(np.zeros(len(items)), labels)
        for fold, (_, val) in enumerate(splits):
            folds[repeat, val] = fold
    return folds


# --------------------------------------------------------------------------- metrics


def pairwise_accuracy(scores: np.ndarray, truth: np.ndarray) -> tuple[float, int]:
    """Correctly ordered pairs (ties of the score one half) among pairs whose ``truth`` differs,
    and their count."""
    i, j = np.triu_indices(len(truth), k=1)
    differ = truth[i] != truth[j]
    i, j = i[differ], j[differ]
    right = np.sign(truth[i] - truth[j])
    guess = np.sign(scores[i] - scores[j])
    return float((guess == right).sum() + 0.5 * (guess == 0).sum()), int(len(i))


def repeat_metrics(
    probs: np.ndarray, scores: np.ndarray, labels: np.ndarray, percentile: np.ndarray, folds: np.ndarray
) -> dict[str, Any]:
    """Metrics of one repeat's out-of-fold probabilities (n, N) and scores (n,)."""
    n_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    correct_pairs = n_pairs = 0.0
    known = np.isfinite(percentile)
    for fold in np.unique(folds):
        rows = (folds == fold) & known
        c, n = pairwise_accuracy(scores[rows], percentile[rows])
        correct_pairs, n_pairs = correct_pairs + c, n_pairs + n
    varies = known.sum() > 1 and np.ptp(scores[known]) > 0
    rho = spearmanr(scores[known], percentile[known]).statistic if varies else np.nan
    top2 = np.argsort(-probs, axis=1, kind="stable")[:, :2]
    return {
        "accuracy": float((predicted == labels).mean()),
        "top2_accuracy": float((top2 == labels[:, None]).any(axis=1).mean()) if n_classes >= 3 else None,
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, average="macro", labels=range(n_classes), zero_division=0)
        ),
        "spearman": None if np.isnan(rho) else float(rho),
        "pairwise_accuracy": correct_pairs / n_pairs if n_pairs else None,
        "confusion": np.nan_to_num(
            confusion_matrix(labels, predicted, labels=range(n_classes), normalize="true")
        ).tolist(),
    }


def _fold_numbers(outcome: Outcome, probs: np.ndarray, labels: np.ndarray, folds: np.ndarray, split: Split):
    n_folds = int(folds.max()) + 1
    numbers = []
    for member, (train, val) in enumerate(zip(split.train, split.val, strict=True)):
        repeat = member // n_folds
        rows = val.numpy()
        trained = outcome.best_epochs[member] is not None  # neural: fit and callback rows
        numbers.append(
            {
                "repeat": repeat,
                "fold": member % n_folds,
                "n_train": len(split.fit[member]) if trained else len(train),
                "n_callback": len(split.callback[member]) if trained else 0,
                "n_val": len(rows),
                "accuracy": float((probs[repeat, rows].argmax(axis=1) == labels[rows]).mean()),
                "best_epoch": outcome.best_epochs[member],
            }
        )
    return numbers


def _mean_std(values: list) -> dict[str, Any]:
    if any(v is None for v in values):
        return {"mean": None, "std": None}
    array = np.asarray(values, dtype=float)
    return {"mean": array.mean(axis=0).tolist(), "std": array.std(axis=0).tolist()}


def summarise(job: Job, outcome: Outcome, items: MediaSet, folds: np.ndarray) -> dict[str, Any]:
    """One table row: metrics mean/std over repeats, plus each repeat's and each fold's numbers."""
    labels = items.labels[job.n_classes]
    scores = outcome.item_scores()
    repeats = [
        repeat_metrics(outcome.probs[r], scores[r], labels, items.percentile, folds[r])
        for r in range(len(folds))
    ]
    fold_numbers = _fold_numbers(outcome, outcome.probs, labels, folds, job.split)
    return CVRow(
        job.media,
        job.approach,
        job.n_classes,
        len(items),
        metrics={key: MeanStd(**_mean_std([r[key] for r in repeats])) for key in repeats[0]},
        repeats=repeats,
        folds=fold_numbers,
        # out-of-fold predictions, for cv_predictions.csv (not kept in cv_results.json)
        predictions={"score": scores.tolist(), "predicted": outcome.probs.argmax(axis=2).tolist()},
    ).to_dict()


# --------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class MediaPlan:
    """One media type's folds at one N, and why approaches cannot run on them.

    ``outer`` says why no approach can run (the items cannot make stratified folds);
    ``inner`` why the neural approaches cannot (no inner split to pick their epoch), while the
    others, which need none, still run; ``no_percentile`` why the ranker cannot (a media table
    written before the within-window percentile existed).
    """

    items: MediaSet
    folds: np.ndarray | None
    outer: str | None = None
    inner: str | None = None
    no_percentile: str | None = None

    def skip_reason(self, name: str) -> str | None:
        """Why approach ``name`` is skipped on this media type, or None when it runs."""
        if self.outer is not None:
            return self.outer
        if approach(name).neural and self.inner is not None:
            return self.inner
        return self.no_percentile if name == "ranker" else None


def plan_media(items: MediaSet, media: str, n_classes: int, config: Config) -> MediaPlan:
    """The folds of one media type at one N, with the reasons any approach must be skipped."""
    what = f"{media}s, N={n_classes}"
    outer = f"no {media}s" if len(items) == 0 else outer_shortfall(items, n_classes, config, what)
    if outer is not None:
        log.warning("%s approaches skipped: %s", media, outer)
        return MediaPlan(items, None, outer=outer)
    folds = repeated_folds(items, n_classes, config, what)
    inner = inner_shortfall(items, folds, n_classes, config, what)
    if inner is not None:
        log.warning("%s neural approaches skipped (baselines still run): %s", media, inner)
    no_percentile = None
    if not np.isfinite(items.percentile).all():
        no_percentile = f"{what}: media.csv has no within-window percentile; rerun `instapop ingest`"
    return MediaPlan(items, folds, inner=inner, no_percentile=no_percentile)


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
    desc = f"cross-validation ({reused} rows from checkpoints)" if reused else "cross-validation"
    bar = tqdm(total=len(jobs) + reused, initial=reused, desc=desc, unit="approach", disable=not progress)
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


# --------------------------------------------------------------------------- checkpoints


def dataset_digest(data: Dataset) -> str:
    """SHA-256 of everything in a dataset that cross-validation reads: ids, posts, times, PoR,
    labels and features."""
    digest = hashlib.sha256(data.backbone.encode())
    for items in (data.images, data.videos):
        digest.update(json.dumps([items.ids, items.groups.tolist(), sorted(items.labels)]).encode())
        for array in (items.timestamps, items.por, *(items.labels[n] for n in sorted(items.labels))):
            digest.update(np.ascontiguousarray(array).tobytes())
    for array in (data.image_views, data.video_frames):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class RowCheckpoints:
    """Finished rows of the table, one JSON file each, so that a killed evaluation resumes.

    A row's file is named by the SHA-256 of everything the row depends on: instapop's version,
    the whole config, the dataset (:func:`dataset_digest`), the media type, approach and N,
    and its folds. Change any of them and the row is computed again: a stale file is never
    read. Files are written atomically (temporary file and rename), so a kill leaves a whole
    row or none; an unreadable one counts as missing.

    Parameters
    ----------
    folder : where the row files live (``RUN/checkpoints/cv`` in a study).
    dataset, config : what the evaluation runs on.
    """

    def __init__(self, folder: Path, dataset: Dataset, config: Config) -> None:
        self.folder = Path(folder)
        settings = json.dumps(config.to_dict(), sort_keys=True)
        self._common = cache_key(__version__, str(SCHEMA_VERSION), settings, dataset_digest(dataset))

    def key(self, job: Job, folds: np.ndarray) -> str:
        """The file name (without ``.json``) of a job's row."""
        fold_digest = hashlib.sha256(np.ascontiguousarray(folds, dtype=np.int64).tobytes()).hexdigest()
        return cache_key(self._common, job.media, job.approach, str(job.n_classes), fold_digest)

    def load(self, key: str) -> dict[str, Any] | None:
        """The row saved under ``key``, or None."""
        path = self.folder / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable checkpoint, computing the row again (%s)", path, err)
            return None

    def save(self, key: str, row: dict[str, Any]) -> None:
        """Store a finished row under ``key``, atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / f"{key}.json", json.dumps(row).encode())

    def keep_only(self, keys: set[str]) -> None:
        """Remove the row files of other settings or data: they can never be read again."""
        for path in self.folder.glob("*.json"):
            if path.stem not in keys:
                path.unlink(missing_ok=True)


def _job_rows(
    jobs: list[Job],
    plans: dict[tuple[int, str], MediaPlan],
    dataset: Dataset,
    config: Config,
    progress: bool,
    checkpoints: Path | None,
) -> list[dict[str, Any]]:
    """Each job's table row: from its checkpoint when there is one, else trained (and saved)."""
    store = RowCheckpoints(checkpoints, dataset, config) if checkpoints is not None else None
    keys = [store.key(j, plans[j.n_classes, j.media].folds) for j in jobs] if store else []
    rows = [store.load(key) for key in keys] if store else [None] * len(jobs)
    todo = [i for i, row in enumerate(rows) if row is None]
    log.info("cross-validation: %d of %d rows from %s", len(jobs) - len(todo), len(jobs), checkpoints)

    def finished(k: int, outcome: Outcome) -> None:
        job = jobs[todo[k]]
        plan = plans[job.n_classes, job.media]
        rows[todo[k]] = summarise(job, outcome, plan.items, plan.folds)
        if store is not None:
            store.save(keys[todo[k]], rows[todo[k]])

    with training_threads(config.train_threads):
        pending = [jobs[i] for i in todo]
        run_jobs(pending, resolve_threads(config.train_workers), progress, finished, len(jobs) - len(todo))
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
        ``{"mean", "std"}`` over repeats, each repeat's metrics and each fold's numbers, and
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
    for n in config.n_classes:
        for media, items in ((IMAGE, dataset.images), (VIDEO, dataset.videos)):
            plans[n, media] = plan_media(items, media, n, config)
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


# --------------------------------------------------------------------------- outputs


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def cv_json(results: dict[str, Any]) -> str:
    """The results as the text of ``cv_results.json`` (floats rounded to 6 decimals), without the
    per-item predictions (those go to ``cv_predictions.csv``)."""
    rows = [{k: v for k, v in row.items() if k != "predictions"} for row in results["rows"]]
    return json.dumps(_rounded(results | {"rows": rows}), indent=1) + "\n"


PREDICTION_COLUMNS = (
    "media_id",
    "post_id",
    "media",
    "n_classes",
    "approach",
    "repeat",
    "fold",
    "score",
    "predicted_class",
    "true_class",
    "percentile",
)


def cv_predictions(results: dict[str, Any]) -> pd.DataFrame:
    """Every out-of-fold prediction: one line per item x repeat x N x approach.

    ``score`` orders the items (the ranker's predicted percentile, a classifier's expected
    class); sort by ``score - percentile`` to see which posts surprised a model.
    """
    tables = []
    for row in results["rows"]:
        if "predictions" not in row:
            continue
        media, n = row["media"], row["n_classes"]
        items, folds = results["items"][media], np.asarray(results["folds"][media][str(n)])
        scores = np.asarray(row["predictions"]["score"], dtype=float)
        for repeat in range(len(scores)):
            tables.append(
                pd.DataFrame(
                    {
                        "media_id": results["ids"][media],
                        "post_id": items["post_id"],
                        "media": media,
                        "n_classes": n,
                        "approach": row["approach"],
                        "repeat": repeat,
                        "fold": folds[repeat],
                        "score": np.round(scores[repeat], _DECIMALS),
                        "predicted_class": row["predictions"]["predicted"][repeat],
                        "true_class": items["classes"][str(n)],
                        "percentile": np.asarray(items["percentile"], dtype=float),
                    }
                )
            )
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=PREDICTION_COLUMNS)


def _cell(metric: dict[str, Any]) -> str:
    if metric["mean"] is None:
        return "—"
    return f"{metric['mean']:.3f} ± {metric['std']:.3f}"


def cv_markdown(results: dict[str, Any]) -> str:
    """The cross-validation table in Markdown, one line per media x approach x N."""
    config = results["config"]
    folds = "grouped by post" if config["grouped_folds"] else "plain stratified"
    lines = [
        f"Cross-validation: {config['n_splits']} folds ({folds}) x {config['n_repeats']} "
        f"repeats, mean ± std over repeats; {results['n_items'][IMAGE]} images, "
        f"{results['n_items'][VIDEO]} videos.",
        "",
        "| media | approach | N | accuracy | top-2 | balanced acc. | macro-F1 | Spearman (percentile) "
        "| pairwise |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["rows"]:
        metrics = (
            "accuracy",
            "top2_accuracy",
            "balanced_accuracy",
            "macro_f1",
            "spearman",
            "pairwise_accuracy",
        )
        if "skipped" in row:
            cells = " | ".join([f"skipped: {row['skipped']}"] + ["—"] * (len(metrics) - 1))
        else:
            cells = " | ".join(_cell(row[m]) for m in metrics)
        lines.append(f"| {row['media']} | {row['approach']} | {row['n_classes']} | {cells} |")
    return "\n".join(lines) + "\n"


def write_cv_results(results: dict[str, Any], run_dir: Path) -> None:
    """Write ``cv_results.json``, ``cv_results.md`` and ``cv_predictions.csv`` into ``run_dir``."""
    run = RunFolder(run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    run.cv_results.write_text(cv_json(results))
    run.cv_markdown.write_text(cv_markdown(results))
    cv_predictions(results).to_csv(run.cv_predictions, index=False)


def load_cv_results(run_dir: Path) -> dict[str, Any]:
    """Read ``cv_results.json`` of a run folder."""
    path = RunFolder(run_dir).cv_results
    if not path.is_file():
        raise InstapopError(f"{path} not found: run `instapop evaluate {run_dir}` first")
    return json.loads(path.read_text())


def row_of(results: dict[str, Any], media: str, approach: str, n_classes: int) -> dict[str, Any] | None:
    """The table row of one media x approach x N, or None."""
    for row in results["rows"]:
        if (row["media"], row["approach"], row["n_classes"]) == (media, approach, n_classes):
            return row
    return None


__all__ = [
    "DatasetTensors",
    "Outcome",
    "RowCheckpoints",
    "Split",
    "cv_json",
    "cv_markdown",
    "cv_predictions",
    "dataset_digest",
    "derived_seed",
    "evaluate",
    "inner_shortfall",
    "load_cv_results",
    "logreg_linear",
    "outer_shortfall",
    "repeated_folds",
    "row_of",
    "softmax_linear",
    "write_cv_results",
]
