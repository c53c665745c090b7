"""Benchmark: how far the cross-validation's figures move with the fold seed alone (issue 18).

``cv_results.md`` reports one draw of the folds: ``Config.seed`` fixes which posts land in
which of the 5 folds of each of the 3 repeats. A target met or missed by less than the spread
between seeds says nothing about the model. This runs the cross-validation of the chosen
approaches (default: the ranker) on a run folder's features once per seed and prints each
image row's accuracy and Spearman, then their mean and spread over the seeds.

The features, labels, context and captions are the run's own; only the folds change (and the
seeds each approach derives from them). Without RUN, 800 images of Gaussian features with a
weak planted signal stand in (what ``make bench`` runs).

    .venv/bin/python bench/seeds.py [RUN] [--seeds 0 1 2 3 4] [--approaches ranker] [--media image]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np

from instapop.config import PAPER


def figures(rows: list[dict], media: str) -> dict[tuple[str, int], tuple[float, float]]:
    """(approach, N) -> (accuracy, Spearman), the means over repeats of each validated row."""
    return {
        (r["approach"], r["n_classes"]): (r["accuracy"]["mean"], r["spearman"]["mean"])
        for r in rows
        if r["media"] == media and "accuracy" in r and r.get("spearman")
    }


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("run", type=Path, nargs="?", help="a run folder with features (after `instapop run`)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--approaches", nargs="+", default=["ranker"])
    parser.add_argument("--media", default="image")
    args = parser.parse_args()

    from instapop.datasets import load_run_dataset, planted_dataset
    from instapop.runtime import configure_runtime
    from instapop.validation import evaluate

    configure_runtime()
    data = load_run_dataset(args.run) if args.run else planted_dataset(800, 0, signal=1.0, n_views=15)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(data.images)} images, {len(data.videos)} videos")
    per_seed = []
    for seed in args.seeds:
        config = dataclasses.replace(PAPER, approaches=tuple(args.approaches), seed=seed)
        start = time.perf_counter()
        got = figures(evaluate(data, config, progress=False)["rows"], args.media)
        per_seed.append(got)
        shown = ", ".join(f"{a} N={n}: {acc:.4f} / {rho:.4f}" for (a, n), (acc, rho) in sorted(got.items()))
        took = time.perf_counter() - start
        print(f"seed {seed} ({took:.0f} s): {shown}  (accuracy / Spearman)", flush=True)
    print(f"over {len(args.seeds)} seeds, mean ± standard deviation [min, max]:")
    for key in sorted(per_seed[0]):
        values = np.array([got[key] for got in per_seed])
        for column, name in enumerate(("accuracy", "Spearman")):
            v = values[:, column]
            spread = f"{v.mean():.4f} ± {v.std():.4f} [{v.min():.4f}, {v.max():.4f}]"
            print(f"  {key[0]} N={key[1]} {name}: {spread}")


if __name__ == "__main__":
    main()
