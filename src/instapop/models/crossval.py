"""The training side of cross-validation: the rows of every fold member, the dataset as tensors,
and what an approach returns (:class:`Outcome`).

A split has ``n_repeats x n_splits`` members (one per repeat and fold); the neural approaches
train all members side by side as one stacked model (see ``layers.py``), the others member by
member. See :mod:`instapop.validation` for how the folds are drawn and scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import GroupKFold

from instapop.config import Config
from instapop.datasets import Dataset, MediaSet
from instapop.errors import InstapopError
from instapop.models.fit import Input, fit, pad_rows, predict_proba


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
                inner = inner_holdout(outer_train, items, n_classes, config, repeat, fold)
                fit_rows.append(np.setdiff1d(outer_train, inner))
                callback.append(inner)
        return cls(_tensors(train), _tensors(fit_rows), _tensors(callback), _tensors(val))


def _tensors(rows: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(r) for r in rows)


def inner_holdout(
    rows: np.ndarray, items: MediaSet, n_classes: int, config: Config, repeat: int, fold: int
) -> np.ndarray:
    """One grouped, stratified k-th of a training fold, for the epoch callback."""
    if config.epoch_callback != "inner":
        raise InstapopError(f"epoch_callback must be 'inner' or 'fold'; got {config.epoch_callback!r}")
    random_state = int(np.random.SeedSequence([config.seed, repeat, fold, 1]).generate_state(1)[0])
    folds = stratified_group_folds(
        items.labels[n_classes][rows], items.groups[rows], config.n_splits, random_state
    )
    return rows[folds == 0]


def items_outside(held_out: np.ndarray, held_out_groups: np.ndarray, other_groups: np.ndarray) -> np.ndarray:
    """The other media type's items (rows of ``other_groups``) whose post has none of the
    ``held_out`` rows (of ``held_out_groups``): a carousel's image must not teach the score of
    its own video."""
    return np.flatnonzero(~np.isin(other_groups, held_out_groups[held_out]))


def images_outside(split: Split, data: Dataset) -> tuple[torch.Tensor, ...]:
    """For each member, the images whose post has no video in its validation or callback rows."""
    rows = []
    for val, callback in zip(split.val, split.callback, strict=True):
        held_out = np.concatenate([val.numpy(), callback.numpy()])
        rows.append(torch.from_numpy(items_outside(held_out, data.videos.groups, data.images.groups)))
    return tuple(rows)


@dataclass
class Outcome:
    """Out-of-fold predictions of one approach, and per-member best epochs.

    ``probs`` are class probabilities; the predicted class is their argmax. ``scores`` order
    the items (Spearman, pairwise accuracy, ``cv_predictions.csv``); None means the expected
    class sum_k p_k k, the score of a classifier.
    """

    probs: np.ndarray  # (n_repeats, n_items, N)
    best_epochs: list[int | None]
    scores: np.ndarray | None = None  # (n_repeats, n_items)

    def item_scores(self) -> np.ndarray:
        """(n_repeats, n_items) scores: ``scores``, or the expected class."""
        if self.scores is not None:
            return self.scores
        return self.probs @ np.arange(self.probs.shape[-1])


def derived_seed(config: Config, *parts: int | str) -> int:
    """A seed for one training, derived from ``config.seed`` and names/numbers that identify it."""
    words = [config.seed] + [p if isinstance(p, int) else sum(map(ord, p)) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def assemble(val_rows: tuple[torch.Tensor, ...], member_probs: list[np.ndarray], shape: tuple) -> np.ndarray:
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


def train_stacked(
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
    return Outcome(assemble(split.val, member_probs, shape), [r.best_epoch for r in results])


def inner_folds(
    rows: np.ndarray, groups: np.ndarray, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped k-fold of ``rows`` (global indices), as (fit rows, held-out rows) pairs."""
    n_splits = min(n_splits, len(np.unique(groups[rows])))
    splitter = GroupKFold(n_splits, shuffle=True, random_state=seed)
    return [(rows[a], rows[b]) for a, b in splitter.split(rows, groups=groups[rows])]


def stratified_group_folds(
    labels: np.ndarray, groups: np.ndarray, n_splits: int, random_state: int
) -> np.ndarray:
    """Fold (0 .. n_splits - 1) of each row: the folds of scikit-learn's
    ``StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)``, bit for bit.

    Why not call it: it scores each candidate fold of each group with its own ``np.std`` call, and
    the protocol draws a hundred such splits (every repeat, every epoch callback, every backtest
    block), at 69 ms each for the development profile's shape (``bench/folds.py``): some 6 s of
    its ``evaluate`` before any model starts. Here the candidates of a group are scored together,
    with the same float operations in the same order, so the greedy choices, ties included, are
    the same (tests/test_validation.py checks it against scikit-learn).

    The greedy rule: groups in shuffled order, sorted by how uneven their class counts are (most
    first); each goes to the fold whose per-class shares across folds then vary least, ties to
    the fold with fewer rows.
    """
    _, label_of, class_size = np.unique(labels, return_inverse=True, return_counts=True)
    _, group_of = np.unique(groups, return_inverse=True)
    n_groups = int(group_of.max()) + 1
    if n_splits > n_groups:
        raise ValueError(f"cannot make {n_splits} folds of {n_groups} groups")
    counts = np.zeros((n_groups, len(class_size)))
    np.add.at(counts, (group_of, label_of), 1)
    shuffled = np.arange(n_groups)
    np.random.RandomState(random_state).shuffle(shuffled)
    counts = counts[shuffled]
    fold_counts = np.zeros((n_splits, len(class_size)))
    into = np.eye(n_splits)[:, :, None]  # candidate i adds the group to fold i only
    fold_of_shuffled = np.empty(n_groups, dtype=np.int64)
    for group in np.argsort(-np.std(counts, axis=1), kind="stable"):
        shares = (fold_counts + into * counts[group]) / class_size
        spread = np.mean(np.std(shares, axis=1), axis=1)  # per candidate: mean over classes
        best = _least_spread(spread.tolist(), fold_counts.sum(axis=1).tolist())
        fold_counts[best] += counts[group]
        fold_of_shuffled[group] = best
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[shuffled] = fold_of_shuffled
    return fold_of_group[group_of]


def _least_spread(spread: list[float], rows_in_fold: list[float]) -> int:
    """scikit-learn's choice among candidate folds: a smaller spread wins; one within
    ``numpy.isclose`` of the best so far wins when its fold has fewer rows."""
    best, least, fewest = 0, math.inf, math.inf
    for fold, (value, rows) in enumerate(zip(spread, rows_in_fold, strict=True)):
        close = math.isfinite(least) and abs(value - least) <= 1e-8 + 1e-5 * abs(least)
        if value < least or (close and rows < fewest):
            best, least, fewest = fold, value, rows
    return best
