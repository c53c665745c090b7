"""The metrics of one table row: computed on each repeat's out-of-fold predictions, then given as
mean and standard deviation over repeats, with a 95 % interval (see :mod:`instapop.validation`).

The intervals say how far the mean could move on another sample of posts, which the standard
deviation over repeats (only the folds change) does not. Accuracy and top-2 accuracy, shares
of n items, take Wilson's interval with n the number of items scored: the repeats score the
same items again, so they are not more draws. The other metrics are not shares of n, and
carousel siblings are not independent items, so they are bootstrapped over posts: each
resample draws the posts with replacement, every repeat's metric is recomputed on it, and
the repeats' mean is kept; the interval is the 2.5th and 97.5th percentile of those means.

A resample is a weight per item (how many times its post was drawn), so each metric is
computed on all resamples at once with weighted sums, exactly as on the expanded sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from instapop.models.crossval import Outcome, Split

Z95 = 1.959964  # the standard normal's 97.5th percentile
# Resamples of the posts. Between seeds the interval's ends move by about 0.002 on 800 items and
# 0.01 on 100 (standard deviation over 10 seeds, measured): well below the interval's width.
BOOTSTRAP_RESAMPLES = 200
WILSON = ("accuracy", "top2_accuracy")  # shares of the items; the other metrics are bootstrapped


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


def per_fold_numbers(
    outcome: Outcome, probs: np.ndarray, labels: np.ndarray, folds: np.ndarray, split: Split
) -> list[dict[str, Any]]:
    """Each fold member's sizes, accuracy and best epoch (neural approaches), as a row lists them."""
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


def mean_std(values: list) -> dict[str, Any]:
    """Mean and standard deviation (ddof = 0) over repeats; both None when a repeat has none."""
    if any(v is None for v in values):
        return {"mean": None, "std": None}
    array = np.asarray(values, dtype=float)
    return {"mean": array.mean(axis=0).tolist(), "std": array.std(axis=0).tolist()}


def wilson_interval(p: float, n: int, z: float = Z95) -> list[float]:
    """Wilson's score interval of a share ``p`` of ``n`` trials: inside [0, 1], not empty at p = 0 or 1."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [float(centre - half), float(centre + half)]


def post_resamples(groups: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) weights: how many times each item's post was drawn, posts drawn with replacement."""
    _, post = np.unique(groups, return_inverse=True)
    n_posts = int(post.max()) + 1
    draws = np.random.default_rng(seed).integers(0, n_posts, size=(resamples, n_posts))
    offsets = draws + n_posts * np.arange(resamples)[:, None]  # one bincount for every resample
    counts = np.bincount(offsets.ravel(), minlength=resamples * n_posts).reshape(resamples, n_posts)
    return counts[:, post].astype(float)


def _weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, n) rank of each item among the items each weight row repeats, ties at their mean rank."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]  # where a run of tied values starts
    starts, tie = np.flatnonzero(new), np.cumsum(new) - 1
    totals = np.add.reduceat(weights[:, order], starts, axis=1)
    mid = np.cumsum(totals, axis=1) - totals + (totals + 1) / 2
    ranks = np.empty_like(weights)
    ranks[:, order] = mid[:, tie]
    return ranks


def weighted_spearman(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spearman's rho of x and y on each resample (rows of ``weights``); NaN where one is constant."""
    rx, ry = _weighted_ranks(x, weights), _weighted_ranks(y, weights)
    total = weights.sum(axis=1, keepdims=True)
    dx = rx - (weights * rx).sum(axis=1, keepdims=True) / total
    dy = ry - (weights * ry).sum(axis=1, keepdims=True) / total
    cov, vx, vy = ((weights * a * b).sum(axis=1) for a, b in ((dx, dy), (dx, dx), (dy, dy)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt(vx * vy)


def weighted_pairwise(
    scores: np.ndarray, truth: np.ndarray, folds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """:func:`pairwise_accuracy` pooled over folds on each resample; NaN where no pair differs.

    Pair (i, j) stands for ``w_i w_j`` pairs of the resample, so each fold's sums are the
    quadratic forms ``w C w`` of its right-pair and differing-pair matrices.
    """
    right = pairs = np.zeros(len(weights))
    for fold in np.unique(folds):
        rows = folds == fold
        s, t, w = scores[rows], truth[rows], weights[:, rows]
        truth_sign = np.sign(t[:, None] - t[None, :])
        score_sign = np.sign(s[:, None] - s[None, :])
        differ = truth_sign != 0
        credit = np.where(differ, (score_sign == truth_sign) + 0.5 * (score_sign == 0), 0.0)
        right = right + ((w @ credit) * w).sum(axis=1)
        pairs = pairs + ((w @ differ) * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return right / pairs


def _class_counts(
    predicted: np.ndarray, labels: np.ndarray, n_classes: int, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, N) weighted counts per class: right guesses, items of the class, items guessed as it."""
    truth = np.eye(n_classes)[labels]
    guess = np.eye(n_classes)[predicted]
    return weights @ (truth * guess), weights @ truth, weights @ guess


def weighted_balanced_accuracy(
    predicted: np.ndarray, labels: np.ndarray, n_classes: int, weights: np.ndarray
) -> np.ndarray:
    """Balanced accuracy on each resample, as scikit-learn's: the mean recall of the classes present."""
    hits, present, _ = _class_counts(predicted, labels, n_classes, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(np.where(present > 0, hits / present, np.nan), axis=1)


def weighted_macro_f1(
    predicted: np.ndarray, labels: np.ndarray, n_classes: int, weights: np.ndarray
) -> np.ndarray:
    """Macro-F1 over all N classes on each resample, as scikit-learn's (0 for a class neither
    present nor guessed)."""
    hits, present, called = _class_counts(predicted, labels, n_classes, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present + called > 0, 2 * hits / (present + called), 0.0).mean(axis=1)


def _percentile_interval(draws: np.ndarray) -> list[float] | None:
    finite = draws[np.isfinite(draws)]
    return [float(v) for v in np.percentile(finite, [2.5, 97.5])] if len(finite) else None


def intervals(
    means: dict[str, Any],
    scores: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    percentile: np.ndarray,
    folds: np.ndarray,
    weights: np.ndarray,
) -> dict[str, list[float]]:
    """The 95 % interval of each metric of a row whose mean is defined.

    ``means`` holds the row's mean of each metric; ``scores`` and ``predicted`` are its
    (repeats, n) out-of-fold scores and classes, ``labels`` its (n,) true classes at its N,
    ``folds`` (repeats, n), ``weights`` (resamples, n) from :func:`post_resamples`.
    """
    n_classes = len(means["confusion"])
    known = np.isfinite(percentile)  # Spearman and pairwise accuracy read only items with a percentile
    ranked, truth, ranked_weights = scores[:, known], percentile[known], weights[:, known]
    per_repeat = {
        "balanced_accuracy": lambda r: weighted_balanced_accuracy(predicted[r], labels, n_classes, weights),
        "macro_f1": lambda r: weighted_macro_f1(predicted[r], labels, n_classes, weights),
        "spearman": lambda r: weighted_spearman(ranked[r], truth, ranked_weights),
        "pairwise_accuracy": lambda r: weighted_pairwise(ranked[r], truth, folds[r, known], ranked_weights),
    }
    found = {key: wilson_interval(means[key], len(labels)) for key in WILSON if means.get(key) is not None}
    for key, metric in per_repeat.items():
        if means.get(key) is not None:
            found[key] = _percentile_interval(np.mean([metric(r) for r in range(len(scores))], axis=0))
    return {key: interval for key, interval in found.items() if interval is not None}
