"""Benchmark: `instapop batch` on Ray with 1 and 2 workers, end-to-end images/s, Ray's overhead (issue 12).

Prints, in one run:

- the same 3 generated profiles through a local Ray with 1 CPU and with 2 CPUs
  (one embedding actor / one study task per CPU), each from an empty feature cache:
  phase times, network images/s of the embedding phase, and the 2-worker speed-up;
- end-to-end images/s of each batch (image files / whole batch wall time);
- Ray's overhead per profile: a 1-CPU batch on a warm cache (everything embedded,
  only the hash pass, ingest and studies left) against `run_study` on the same
  profiles one after the other in this process on 1 thread.

The 1-minute load average is printed first and last: other processes on the same
cores lower every figure. Inputs are generated once under bench-out/batch.

    .venv/bin/python bench/batch.py [--posts 60] [--views 15]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import time
from pathlib import Path

import torch

from instapop import runtime
from instapop.batch import run_batch
from instapop.batch.profiles import synthetic_profiles
from instapop.config import Config
from instapop.embed.backbone import lite0_onnx
from instapop.pipeline import run_study

OUT = Path("bench-out/batch")


def fresh_cache(name: str, models: Path) -> Path:
    """An empty feature cache sharing the exported ONNX graph (the export is not what is measured)."""
    cache = OUT / name
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    (cache / "models").symlink_to(models.resolve())
    return cache


def timed_batch(profiles, out: Path, config: Config, cache: Path, cpus: int) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = run_batch(
        profiles, out, config, cache_dir=cache, cpus=cpus, progress=False, announce=lambda _: None
    )
    seconds = time.perf_counter() - start
    assert not result.failed, [(p.name, p.reason) for p in result.failed]
    return seconds, result.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60, help="posts per generated profile")
    parser.add_argument("--views", type=int, default=15, help="views per image (the paper: 15)")
    args = parser.parse_args()
    runtime.tune_allocator()
    print(f"cores: {runtime.available_cores()}   load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    config = dataclasses.replace(Config(), n_views=args.views)
    profiles = synthetic_profiles(OUT / f"profiles-{args.posts}", n_profiles=3, n_posts=args.posts, seed=1)
    models = OUT / "models-cache"
    lite0_onnx(models, config.image_size)
    models = models / "models"

    runs = {}
    for cpus in (1, 2):
        cache = fresh_cache(f"cache-{cpus}", models)
        seconds, stats = timed_batch(profiles, OUT / f"out-{cpus}", config, cache, cpus)
        runs[cpus] = (seconds, stats)
        n_images = stats["media_items"]
        print(
            f"{cpus} Ray worker{'s' if cpus > 1 else ''}: {seconds:.1f} s for {len(profiles)} profiles, "
            f"{n_images} media items; embeddings {stats['embed_seconds']:.1f} s = "
            f"{stats['images_encoded'] / stats['embed_seconds']:.1f} network images/s "
            f"({stats['images_encoded']} images: views and video frames); "
            f"end to end {n_images / seconds:.2f} media items/s"
        )
    print(f"speed-up with 2 workers: whole batch {runs[1][0] / runs[2][0]:.2f}x, "
          f"embeddings {runs[1][1]['embed_seconds'] / runs[2][1]['embed_seconds']:.2f}x")  # fmt: skip

    warm_seconds, _ = timed_batch(profiles, OUT / "out-warm", config, OUT / "cache-1", cpus=1)
    torch.set_num_threads(1)
    # A run folder left by an earlier bench would let run_study resume and skip its stages.
    shutil.rmtree(OUT / "direct", ignore_errors=True)
    start = time.perf_counter()
    for profile in profiles:
        run_study(
            profile.folder,
            profile.followers,
            OUT / "direct" / profile.name,
            config=dataclasses.replace(config, train_workers=1, embed_threads=1),
            cache_dir=OUT / "cache-1",
            progress=False,
        )
    direct = time.perf_counter() - start
    print(
        f"warm cache, 1 CPU: batch {warm_seconds:.1f} s, run_study one after the other {direct:.1f} s; "
        f"Ray's overhead {(warm_seconds - direct) / len(profiles):.1f} s per profile "
        "(Ray start-up, worker processes, the hash pass of the shards)"
    )
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
