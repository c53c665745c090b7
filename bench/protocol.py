"""Benchmark: the whole validation protocol (4 approaches + 2 baselines x N in {2, 3} x 5 folds x 3 repeats).

Targets (issue 4), on 2 cores, for a paper-sized profile (1,469 images + 556 videos):

- warm, from cached features: <= 2 min for cross-validation (the final training is timed too);
- cold, from raw media through ingest, embeddings (empty cache), dedup, evaluate and train: <= 10 min.

Both modes time the time-ordered backtest after the cross-validation (the ``evaluate`` stage runs
both); ``--no-words`` leaves the ranker's caption words out (``ranker_words_weights = (0,)``), to
measure what they cost.

Warm mode uses the features of ``--run`` when given (e.g. a cold run's folder), else Gaussian
features of the paper's shape (1280-d, 15 views, 15 frames) with a planted signal: the
protocol's cost depends on the shapes, not on what the features show.

    .venv/bin/python bench/protocol.py warm [--run DIR] [--repeats 3] [--no-words]
    .venv/bin/python bench/protocol.py cold [--posts 1350] [--out bench-out/protocol]

1,350 synthetic posts give about 1,469 images and 556 videos (the generator's post mix);
generating them is not part of the figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import time
from pathlib import Path

from instapop.config import PAPER, Config

WARM_TARGET_S, COLD_TARGET_S = 120.0, 600.0


def timed(timings: dict[str, float], stage: str, action):
    start = time.perf_counter()
    result = action()
    timings[stage] = time.perf_counter() - start
    print(f"  {stage:<12} {timings[stage]:7.1f} s", flush=True)
    return result


def evaluate_and_train(run_dir: Path | None, dataset, config: Config, timings: dict[str, float]) -> None:
    from instapop.training import train_final
    from instapop.validation import backtest, cv_markdown, evaluate, write_cv_results

    results = timed(timings, "evaluate", lambda: evaluate(dataset, config, progress=False))
    timed(timings, "backtest", lambda: backtest(dataset, config, progress=False))
    out = run_dir or Path("bench-out") / "protocol-warm"
    write_cv_results(results, out)
    timed(
        timings, "train", lambda: train_final(dataset, results, config, config.model_n, out / "model")
    )
    print(cv_markdown(results))


def warm(args: argparse.Namespace, config: Config) -> dict[str, float]:
    from instapop.datasets import load_run_dataset, planted_dataset

    timings: dict[str, float] = {}
    if args.run:
        dataset = timed(timings, "load", lambda: load_run_dataset(args.run))
    else:
        dataset = timed(
            timings, "features", lambda: planted_dataset(1469, 556, signal=2.0, seed=0, n_views=15)
        )
    print(f"  {len(dataset.images)} images, {len(dataset.videos)} videos")
    evaluate_and_train(args.run, dataset, config, timings)
    return timings


def cold(args: argparse.Namespace, config: Config) -> dict[str, float]:
    from instapop.datasets import load_run_dataset
    from instapop.stages import ProfileInput, RunInputs, run_stage
    from instapop.synthetic import generate_profile

    data_dir, run_dir = args.out / "data", args.out / "run"
    if not (data_dir / "followers.csv").is_file():
        start = time.perf_counter()
        generate_profile(data_dir, n_posts=args.posts, seed=0)
        print(f"generated {args.posts} posts in {time.perf_counter() - start:.1f} s (not part of the figure)")
    shutil.rmtree(run_dir, ignore_errors=True)
    cache = args.out / "cache"
    shutil.rmtree(cache, ignore_errors=True)  # cold: nothing embedded yet
    run_dir.mkdir(parents=True)
    profile = ProfileInput(data_dir / "profile", (data_dir / "followers.csv",))
    inputs = RunInputs(profile=profile, cache_dir=cache, progress=False)
    timings: dict[str, float] = {}
    for name in ("ingest", "labels", "embed", "dedup"):
        settings = config if name == "ingest" else None  # later stages read the run's config.json
        timed(timings, name, lambda name=name, c=settings: run_stage(name, run_dir, inputs=inputs, config=c))
    dataset = timed(timings, "load", lambda: load_run_dataset(run_dir))
    print(f"  {len(dataset.images)} images, {len(dataset.videos)} videos after dedup")
    evaluate_and_train(run_dir, dataset, config, timings)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="warm", choices=["warm", "cold"])
    parser.add_argument("--run", type=Path, help="warm: a run folder with media.csv and features/")
    parser.add_argument("--posts", type=int, default=1350, help="cold: posts of the generated profile")
    parser.add_argument(
        "--out", type=Path, default=Path("bench-out") / "protocol", help="cold: working folder"
    )
    parser.add_argument("--repeats", type=int, default=PAPER.n_repeats)
    parser.add_argument(
        "--threads", type=int, default=PAPER.train_threads, help="torch threads while training"
    )
    parser.add_argument("--no-words", action="store_true", help="the ranker without caption words")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="    %(message)s")
    for noisy in ("instapop.datasets", "instapop.embed", "instapop.dedup", "instapop.ingest"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from instapop.runtime import configure_runtime

    configure_runtime()
    config = dataclasses.replace(PAPER, n_repeats=args.repeats, train_threads=args.threads)
    if args.no_words:
        config = dataclasses.replace(config, ranker_words_weights=(0.0,))
    load = os.getloadavg()[0]
    print(f"{args.mode} protocol: {os.cpu_count()} cores, load average {load:.1f} at start")
    timings = warm(args, config) if args.mode == "warm" else cold(args, config)
    total = sum(timings.values()) - timings.get("features", 0.0)
    target = WARM_TARGET_S if args.mode == "warm" else COLD_TARGET_S
    measured = timings["evaluate"] if args.mode == "warm" else total
    what = "cross-validation" if args.mode == "warm" else "ingest to saved model"
    print(f"{args.mode}: {what} {measured:.1f} s (target <= {target:.0f} s); total {total:.1f} s")
    stage = timings["evaluate"] + timings["backtest"]
    print(f"the evaluate stage (cross-validation + backtest): {stage:.1f} s")
    print(f"load average at the end {os.getloadavg()[0]:.1f} (other processes slow every figure)")


if __name__ == "__main__":
    main()
