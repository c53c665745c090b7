"""Repeated stratified (grouped) k-fold for the paper's four approaches and two baselines (§5.2-5.6).

For each N and each repeat, images and videos are split into k folds, stratified by class and, by
default, grouped by post, so carousel siblings and reposts kept in one post never sit on both
sides of a split (``Config.grouped_folds = False`` gives the paper's plain stratified folds).

Approaches, each validated on its media type's folds:

=================  ======  =========================================================================
approach           media   trained on
=================  ======  =========================================================================
``image``          image   dropout + linear head on image embeddings (a random augmented view
                           per image per epoch), validated on clean views
``video``          video   the CNN-RNN on frame embeddings
``image_to_video`` video   the CNN-RNN on videos + static 15-frame sequences made from images
``video_to_image`` video   dropout + linear head on images + videos' time-max embeddings
``majority``       both    the training folds' most common class
``logreg``         both    logistic regression on clean embeddings (videos: the time-max of the
                           frame embeddings, as video-to-image uses)
=================  ======  =========================================================================

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
macro-F1, the row-normalised confusion matrix, the Spearman correlation between the expected
class sum_k p_k k and PoR, and the pairwise accuracy: of two validation items of one fold with
different classes, how often the expected class orders them right (ties count one half).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from tqdm.auto import tqdm

from instapop import __version__
from instapop.config import Config
from instapop.datasets import IMAGE, VIDEO, Dataset, MediaSet
from instapop.embed.cache import cache_key, write_atomically
from instapop.errors import InstapopError
from instapop.models import ImageHead, Input, VideoGRU, fit, predict_proba, seeded_init, training_threads
from instapop.models.fit import pad_rows
from instapop.runtime import resolve_threads

log = logging.getLogger(__name__)

APPROACHES = ("image", "video", "image_to_video", "video_to_image")
BASELINES = ("majority", "logreg")
MEDIA_APPROACHES = {
    IMAGE: ("image", "majority", "logreg"),
    VIDEO: ("video", "image_to_video", "video_to_image", "majority", "logreg"),
}
SCHEMA_VERSION = 2  # 2: a skipped approach is a row with its reason
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


@dataclass(frozen=True)
class Split:
    """Rows of every member (repeat x fold) of one media type's cross-validation.

    ``train``/``val`` are the outer split (baselines fit on ``train``; every approach is scored
    on ``val``). The neural models fit on ``fit`` and keep the epoch with the best accuracy on
    ``callback``: with ``Config.epoch_callback = "inner"`` that is one grouped, stratified
    k-th of the training folds, never scored; with ``"fold"`` it is ``val`` itself, as in the
    paper, which lets the choice of epoch peek at the scored fold. ``fit`` and ``callback`` are
    empty when the inner split is impossible (see :func:`inner_shortfall`): only the baselines
    run then.
    """

    train: tuple[torch.Tensor, ...]
    fit: tuple[torch.Tensor, ...]
    callback: tuple[torch.Tensor, ...]
    val: tuple[torch.Tensor, ...]

    @classmethod
    def from_folds(
        cls, folds: np.ndarray, items: MediaSet, n_classes: int, config: Config, with_callback: bool = True
    ) -> Split:
        n_folds = int(folds.max()) + 1
        train, fit_rows, callback, val = [], [], [], []
        for repeat in range(folds.shape[0]):
            for fold in range(n_folds):
                outer_train = np.flatnonzero(folds[repeat] != fold)
                train.append(outer_train)
                val.append(np.flatnonzero(folds[repeat] == fold))
                if not with_callback:
                    continue
                if config.epoch_callback == "fold":
                    fit_rows.append(outer_train)
                    callback.append(val[-1])
                    continue
                inner = _inner_holdout(outer_train, items, n_classes, config, repeat, fold)
                fit_rows.append(np.setdiff1d(outer_train, inner))
                callback.append(inner)
        return cls(_tensors(train), _tensors(fit_rows), _tensors(callback), _tensors(val))


def _tensors(rows: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(r) for r in rows)


def _inner_holdout(
    rows: np.ndarray, items: MediaSet, n_classes: int, config: Config, repeat: int, fold: int
) -> np.ndarray:
    """One grouped, stratified k-th of a training fold, for the epoch callback."""
    if config.epoch_callback != "inner":
        raise InstapopError(f"epoch_callback must be 'inner' or 'fold'; got {config.epoch_callback!r}")
    random_state = int(np.random.SeedSequence([config.seed, repeat, fold, 1]).generate_state(1)[0])
    splitter = StratifiedGroupKFold(config.n_splits, shuffle=True, random_state=random_state)
    _, held_out = next(splitter.split(rows, items.labels[n_classes][rows], items.groups[rows]))
    return rows[held_out]


def _images_outside(split: Split, data: Dataset) -> tuple[torch.Tensor, ...]:
    """For each member, the images whose post has no video in its validation or callback rows."""
    rows = []
    for val, callback in zip(split.val, split.callback, strict=True):
        val_posts = data.videos.groups[np.concatenate([val.numpy(), callback.numpy()])]
        rows.append(torch.from_numpy(np.flatnonzero(~np.isin(data.images.groups, val_posts))))
    return tuple(rows)


# --------------------------------------------------------------------------- approaches


@dataclass
class Outcome:
    """Out-of-fold probabilities of one approach, and per-member best epochs."""

    probs: np.ndarray  # (n_repeats, n_items, N)
    best_epochs: list[int | None]


def derived_seed(config: Config, *parts: int | str) -> int:
    """A seed for one training, derived from ``config.seed`` and names/numbers that identify it."""
    words = [config.seed] + [p if isinstance(p, int) else sum(map(ord, p)) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def _assemble(val_rows: tuple[torch.Tensor, ...], member_probs: list[np.ndarray], shape: tuple) -> np.ndarray:
    probs = np.zeros(shape)
    n_folds = len(val_rows) // shape[0]
    for member, (rows, p) in enumerate(zip(val_rows, member_probs, strict=True)):
        probs[member // n_folds, rows.numpy()] = p
    return probs


class DatasetTensors:
    """The dataset as torch tensors for one N (copies: the arrays may be read-only)."""

    def __init__(self, data: Dataset, n_classes: int) -> None:
        self.views = torch.tensor(data.image_views)
        self.clean = self.views[:, 0]
        self.frames = torch.tensor(data.video_frames)
        self.pooled = (
            self.frames.amax(dim=1) if len(data.videos) else self.frames.new_zeros(0, self.clean.shape[1])
        )
        self.image_labels = torch.tensor(data.images.labels[n_classes])
        self.video_labels = torch.tensor(data.videos.labels[n_classes])

    def mixed_views(self) -> torch.Tensor:
        """Images' views, then each video's time-max embedding as K identical views: (n_i + n_v, K, D)."""
        return torch.cat([self.views, self.pooled[:, None, :].expand(-1, self.views.shape[1], -1)])

    def mixed_labels(self) -> torch.Tensor:
        """Labels of :meth:`mixed_views`' rows."""
        return torch.cat([self.image_labels, self.video_labels])


def _train_stacked(
    model: torch.nn.Module,
    train: tuple[Input, ...],
    scored: tuple[torch.Tensor, torch.Tensor],
    split: Split,
    config: Config,
    seed: int,
) -> Outcome:
    """Fit every member, keep its best callback epoch, predict its validation fold.

    ``scored`` is the clean (data, labels) the callback and validation rows index into.
    """
    data, labels = scored
    results = fit(model, train, config, seed, val=Input(data, labels, split.callback))
    rows, _ = pad_rows(split.val)
    probs = predict_proba(model, data[rows])  # (E, V, N), every member with its kept weights
    member_probs = [probs[m, : len(r)] for m, r in enumerate(split.val)]
    shape = (config.n_repeats, len(data), probs.shape[-1])
    return Outcome(_assemble(split.val, member_probs, shape), [r.best_epoch for r in results])


def run_image(t: DatasetTensors, split: Split, config: Config, n_classes: int, seed: int) -> Outcome:
    """The paper's image classifier on each image fold."""
    with seeded_init(seed):
        model = ImageHead(t.views.shape[-1], n_classes, config.dropout, members=len(split.fit))
    train = (Input(t.views, t.image_labels, split.fit, views=True),)
    return _train_stacked(model, train, (t.clean, t.image_labels), split, config, seed)


def _video_gru(t: DatasetTensors, config: Config, n_classes: int, members: int) -> VideoGRU:
    return VideoGRU(
        t.frames.shape[-1], n_classes, config.gru_units, config.dense_units, config.dropout, members=members
    )


def run_video(
    t: DatasetTensors,
    split: Split,
    config: Config,
    n_classes: int,
    seed: int,
    image_rows: tuple[torch.Tensor, ...] | None = None,
) -> Outcome:
    """The CNN-RNN on each video fold; given ``image_rows`` (per member), also trained on static
    sequences of those (augmented) images: the image-to-video approach."""
    with seeded_init(seed):
        model = _video_gru(t, config, n_classes, len(split.fit))
    train = (Input(t.frames, t.video_labels, split.fit),)
    if image_rows is not None:
        train += (Input(t.views, t.image_labels, image_rows, views=True),)
    return _train_stacked(model, train, (t.frames, t.video_labels), split, config, seed)


def run_video_to_image(
    t: DatasetTensors,
    split: Split,
    image_rows: tuple[torch.Tensor, ...],
    config: Config,
    n_classes: int,
    seed: int,
) -> Outcome:
    """One dropout + linear head on images and videos' time-max embeddings together."""
    with seeded_init(seed):
        model = ImageHead(t.views.shape[-1], n_classes, config.dropout, members=len(split.fit))
    n_images = len(t.views)
    rows = tuple(torch.cat([i, v + n_images]) for i, v in zip(image_rows, split.fit, strict=True))
    train = (Input(t.mixed_views(), t.mixed_labels(), rows, views=True),)
    return _train_stacked(model, train, (t.pooled, t.video_labels), split, config, seed)


def run_majority(labels: np.ndarray, split: Split, config: Config, n_classes: int) -> Outcome:
    """Predict the training folds' most common class (ties: the lowest class)."""
    probs = []
    for train in split.train:
        majority = np.bincount(labels[train.numpy()], minlength=n_classes).argmax()
        probs.append(np.tile(np.eye(n_classes)[majority], (len(split.val[len(probs)]), 1)))
    shape = (config.n_repeats, len(labels), n_classes)
    return Outcome(_assemble(split.val, probs, shape), [None] * len(split.train))


def logreg_linear(
    x: np.ndarray, y: np.ndarray, n_classes: int, config: Config
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the logistic-regression probe and return it as one linear layer on raw embeddings.

    Features are standardised for the fit; the scaling is folded into the returned weights so
    that ``softmax(x @ weight.T + bias)`` gives its probabilities (a binary model's single
    logit z becomes the two logits (0, z)). Classes absent from ``y`` get a very low bias.

    Returns
    -------
    weight : numpy.ndarray
        (N, D) float32.
    bias : numpy.ndarray
        (N,) float32.
    """
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=config.logreg_c, max_iter=config.logreg_max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the probe is a baseline; its cap is in Config
        model.fit((x - mean) / scale, y)
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # one logit z for classes_[1]; classes_[0] gets 0
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weight = np.zeros((n_classes, x.shape[1]))
    bias = np.full(n_classes, -1e4)  # never predicted: the class was not in training
    if len(model.classes_) == 1:
        bias[model.classes_[0]] = 0.0
    else:
        weight[model.classes_] = coef / scale
        bias[model.classes_] = intercept - (coef / scale) @ mean
    return weight.astype(np.float32), bias.astype(np.float32)


def softmax_linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Probabilities of a linear layer: softmax(x W^T + b), (n, N)."""
    logits = x.astype(np.float64) @ weight.T.astype(np.float64) + bias
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def run_logreg(x: np.ndarray, labels: np.ndarray, split: Split, config: Config, n_classes: int) -> Outcome:
    """The logistic-regression probe on clean (image) or time-max (video) embeddings."""
    probs = []
    for train, val in zip(split.train, split.val, strict=True):
        weight, bias = logreg_linear(x[train.numpy()], labels[train.numpy()], n_classes, config)
        probs.append(softmax_linear(x[val.numpy()], weight, bias))
    shape = (config.n_repeats, len(labels), n_classes)
    return Outcome(_assemble(split.val, probs, shape), [None] * len(split.train))


# --------------------------------------------------------------------------- metrics


def pairwise_accuracy(expected: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Correctly ordered pairs (ties one half) among pairs with different classes, and their count."""
    i, j = np.triu_indices(len(labels), k=1)
    differ = labels[i] != labels[j]
    i, j = i[differ], j[differ]
    truth = np.sign(labels[i] - labels[j])
    guess = np.sign(expected[i] - expected[j])
    return float((guess == truth).sum() + 0.5 * (guess == 0).sum()), int(len(i))


def repeat_metrics(
    probs: np.ndarray, labels: np.ndarray, por: np.ndarray, folds: np.ndarray
) -> dict[str, Any]:
    """Metrics of one repeat's out-of-fold probabilities (n, N)."""
    n_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    expected = probs @ np.arange(n_classes)
    correct_pairs = n_pairs = 0.0
    for fold in np.unique(folds):
        c, n = pairwise_accuracy(expected[folds == fold], labels[folds == fold])
        correct_pairs, n_pairs = correct_pairs + c, n_pairs + n
    rho = spearmanr(expected, por).statistic if np.ptp(expected) > 0 else np.nan
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
    repeats = [repeat_metrics(outcome.probs[r], labels, items.por, folds[r]) for r in range(len(folds))]
    fold_numbers = _fold_numbers(outcome, outcome.probs, labels, folds, job.split)
    row = {"media": job.media, "approach": job.approach, "n_classes": job.n_classes, "n_items": len(items)}
    row |= {key: _mean_std([r[key] for r in repeats]) for key in repeats[0]}
    row["repeats"] = repeats
    row["folds"] = fold_numbers
    return row


# --------------------------------------------------------------------------- the protocol


@dataclass(frozen=True)
class MediaPlan:
    """One media type's folds at one N, and why approaches cannot run on them.

    ``outer`` says why no approach can run (the items cannot make stratified folds);
    ``inner`` why the neural approaches cannot (no inner split to pick their epoch), while the
    baselines, which need none, still run.
    """

    items: MediaSet
    folds: np.ndarray | None
    outer: str | None = None
    inner: str | None = None

    def skip_reason(self, approach: str) -> str | None:
        """Why ``approach`` is skipped on this media type, or None when it runs."""
        if self.outer is not None:
            return self.outer
        return self.inner if approach in APPROACHES else None


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
    return MediaPlan(items, folds, inner=inner)


@dataclass(frozen=True)
class Job:
    """One row of the table to compute: ``run()`` trains and returns its Outcome."""

    media: str
    approach: str
    n_classes: int
    split: Split
    run: Callable[[], Outcome]


# Rows start longest first, so that parallel workers finish together: the CNN-RNN rows take
# most of the time (image-to-video the longest), then the dense heads, then the baselines.
_START_ORDER = ("image_to_video", "video", "video_to_image", "image", "logreg", "majority")


def _runners(
    data: Dataset, t: DatasetTensors, media: str, split: Split, config: Config, n: int
) -> dict[str, Callable[[], Outcome]]:
    """How to compute each approach's outcome on one media type's split."""
    seed = {approach: derived_seed(config, n, approach) for approach in APPROACHES}
    if media == IMAGE:
        labels = data.images.labels[n]
        return {
            "image": lambda: run_image(t, split, config, n, seed["image"]),
            "majority": lambda: run_majority(labels, split, config, n),
            "logreg": lambda: run_logreg(data.image_views[:, 0], labels, split, config, n),
        }
    labels = data.videos.labels[n]
    return {
        "video": lambda: run_video(t, split, config, n, seed["video"]),
        "image_to_video": lambda: run_video(
            t, split, config, n, seed["image_to_video"], _images_outside(split, data)
        ),
        "video_to_image": lambda: run_video_to_image(
            t, split, _images_outside(split, data), config, n, seed["video_to_image"]
        ),
        "majority": lambda: run_majority(labels, split, config, n),
        "logreg": lambda: run_logreg(t.pooled.numpy(), labels, split, config, n),
    }


def skipped_row(media: str, approach: str, n_classes: int, n_items: int, reason: str) -> dict[str, Any]:
    """The table row of an approach that could not run: no metrics, the reason under ``skipped``."""
    return {
        "media": media,
        "approach": approach,
        "n_classes": n_classes,
        "n_items": n_items,
        "skipped": reason,
    }


def _entries(data: Dataset, plans: dict[str, MediaPlan], config: Config, n: int) -> list[Job | dict]:
    """Every row of one N in the table's order: a Job to run, or the row of a skipped approach."""
    t = DatasetTensors(data, n)
    entries: list[Job | dict] = []
    for media, plan in plans.items():
        runners = {}
        if plan.folds is not None:
            split = Split.from_folds(plan.folds, plan.items, n, config, with_callback=plan.inner is None)
            runners = _runners(data, t, media, split, config, n)
        for approach in MEDIA_APPROACHES[media]:
            reason = plan.skip_reason(approach)
            if reason is None:
                entries.append(Job(media, approach, n, split, runners[approach]))
            else:
                entries.append(skipped_row(media, approach, n, len(plan.items), reason))
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
    order = sorted(range(len(jobs)), key=lambda i: _START_ORDER.index(jobs[i].approach))
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
        ``{"mean", "std"}`` over repeats, each repeat's metrics and each fold's numbers, or
        ``skipped`` and its reason), ``folds`` (fold of each item per repeat), ``ids`` and
        ``skipped`` items.

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
    """The results as the text of ``cv_results.json`` (floats rounded to 6 decimals)."""
    return json.dumps(_rounded(results), indent=1) + "\n"


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
        "| media | approach | N | accuracy | top-2 | balanced acc. | macro-F1 | Spearman (PoR) | pairwise |",
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
    """Write ``cv_results.json`` and ``cv_results.md`` into ``run_dir``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "cv_results.json").write_text(cv_json(results))
    (run_dir / "cv_results.md").write_text(cv_markdown(results))


def load_cv_results(run_dir: Path) -> dict[str, Any]:
    """Read ``cv_results.json`` of a run folder."""
    path = Path(run_dir) / "cv_results.json"
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
    "APPROACHES",
    "BASELINES",
    "MEDIA_APPROACHES",
    "RowCheckpoints",
    "cv_json",
    "cv_markdown",
    "dataset_digest",
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
