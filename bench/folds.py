"""Benchmark: drawing stratified grouped folds, scikit-learn's ``StratifiedGroupKFold`` against
``instapop.models.crossval.stratified_group_folds`` (the same folds, bit for bit).

The protocol draws about a hundred such splits per run (each repeat's folds, each fold
member's epoch-callback holdout, each backtest block's), all before the models start. This
prints milliseconds per split for profiles of the development profile's shape (804 items in
674 posts) and of the paper's (1,469 images in about 1,230 posts), N = 2 and 3, and checks
that both give the same folds.

    .venv/bin/python bench/folds.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from instapop.models.crossval import stratified_group_folds


def sklearn_folds(labels: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    folds = np.empty(len(labels), dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
    for fold, (_, val) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        folds[val] = fold
    return folds


def per_split_ms(draw, labels: np.ndarray, groups: np.ndarray, rounds: int) -> float:
    start = time.perf_counter()
    for seed in range(rounds):
        draw(labels, groups, 5, seed)
    return 1000 * (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="splits timed per case")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(0)
    for name, n_items, n_posts in (("development profile", 804, 674), ("paper size", 1469, 1230)):
        groups = np.sort(rng.integers(0, n_posts, n_items))
        for n_classes in (2, 3):
            labels = groups * 7919 % n_classes  # a post's items share its class
            same = np.array_equal(
                sklearn_folds(labels, groups, 5, 1), stratified_group_folds(labels, groups, 5, 1)
            )
            theirs = per_split_ms(sklearn_folds, labels, groups, args.rounds)
            ours = per_split_ms(stratified_group_folds, labels, groups, args.rounds)
            print(
                f"{name}, N={n_classes}: scikit-learn {theirs:.1f} ms, instapop {ours:.1f} ms per split "
                f"({theirs / ours:.1f}x); same folds: {same}"
            )


if __name__ == "__main__":
    main()
