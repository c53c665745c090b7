"""Benchmark: CPU seconds of the ranker's cross-validation rows on the paper-sized planted set.

CPU time (``time.process_time``), not wall clock: on a shared machine the wall clock measures
the neighbours. Run it single-threaded so that the figure is one core's work:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        .venv/bin/python bench/ranker_cpu.py [--approaches ranker logreg] [--save scores.npz]

``--save`` writes each row's held-out scores, to check that a change of the fit keeps them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from instapop.config import Config
from instapop.datasets import planted_dataset
from instapop.models.approaches import REGISTRY, Problem
from instapop.models.crossval import DatasetTensors, Split
from instapop.validation import repeated_folds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--approaches", nargs="+", default=["ranker"])
    parser.add_argument("--classes", nargs="+", type=int, default=[2])
    parser.add_argument("--save", help="an .npz file for every row's held-out scores")
    args = parser.parse_args()
    data = planted_dataset(1469, 556, signal=2.0, seed=0, n_views=15)
    config = Config()
    saved = {}
    for n in args.classes:
        t = DatasetTensors(data, n)
        for media, items in (("image", data.images), ("video", data.videos)):
            folds = repeated_folds(items, n, config, media)
            split = Split.from_folds(folds, items, n, config, with_callback=False)
            for name in args.approaches:
                cpu, wall = time.process_time(), time.perf_counter()
                outcome = REGISTRY[name].cross_validate(Problem(data, t, media, n, config, split))
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                print(f"{media} {name} N={n}: {cpu:.1f} s CPU, {wall:.1f} s wall", flush=True)
                saved[f"{media}-{name}-{n}"] = outcome.probs if outcome.scores is None else outcome.scores
    if args.save:
        np.savez(args.save, **saved)


if __name__ == "__main__":
    main()
