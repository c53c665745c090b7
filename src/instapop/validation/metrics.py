"""The metrics of one table row: computed on each repeat's out-of-fold predictions, then given as
mean and standard deviation over repeats (see :mod:`instapop.validation`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

from instapop.models.crossval import Outcome, Split


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
