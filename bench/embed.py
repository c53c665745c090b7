"""Benchmark: feature extraction against the machine's own matmul peak (issues 3 and 12).

Prints, in one run:

- the fp32 matmul peak measured now, the way BLAS benchmarks do: the best GFLOP/s
  of torch and numpy sgemm over several sizes and thread counts (each printed);
- network-only images/s at 224x224 for the bulk engine as extraction runs it, the
  FLOP/s that is (0.77 GFLOP per Lite0 image) and its ratio to the peak (target
  >= 0.70), then ONNX Runtime laid out other ways (sessions x threads x images per
  call) to show the layout is the best one here;
- where the time of one image goes, on one thread: hash, decode (full and draft
  mode), the 14 augmented views, the 15 cache writes, the 15 network passes;
- decode-only images/s for 1080x1350 JPEGs, full decode against draft mode;
- images/s end to end from a folder of 1080x1350 JPEGs (hash, decode, resize,
  network, cache write; target >= 100) with 1 view, and views/s with the paper's 15;
- the time to sample 15 frames from a 30 s 720p H.264 clip with sample_video
  (decodes only the GOPs holding a sample time; target <= 1 s), against
  decoding straight through and against seeking to each time;
- the peak RSS of the process (target <= 2 GiB).

The 1-minute load average is printed first and last: other processes on the
same cores lower every figure; rerun it on a quiet machine for the real ones.
Inputs are generated once under bench-out/embed.

    .venv/bin/python bench/embed.py [--photos 300] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pandas as pd
import torch
from PIL import Image

from instapop import runtime
from instapop.config import Config
from instapop.embed.backbone import TorchEncoder, lite0_torch, load_encoder
from instapop.embed.extract import embed_media
from instapop.media import frame_times, load_image, resize_square, sample_video

OUT = Path("bench-out/embed")
GFLOP_PER_IMAGE = 0.77  # Lite0 at 224x224, multiply-adds counted as two
RATIO_TARGET = 0.70
END_TO_END_TARGET = 100.0
VIDEO_TARGET_S = 1.0
RSS_TARGET_GIB = 2.0


# --------------------------------------------------------------------------- inputs


def ensure_photos(folder: Path, n: int) -> list[Path]:
    """``n`` 1080x1350 JPEGs (Instagram's portrait size) with photo-like detail, ~200-300 kB each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"photo{i:04d}.jpg"
        if not path.exists():
            coarse = Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8))
            base = np.asarray(coarse.resize((1080, 1350), Image.Resampling.BICUBIC), np.int16)
            grain = rng.integers(-5, 6, base.shape, dtype=np.int16)  # sensor noise: sets the file size
            Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def ensure_clip(path: Path, seconds: int = 30, fps: int = 30) -> Path:
    """A 1280x720 H.264 clip panning over a photo-like scene, keyframes every 2 s (~2 Mbit/s)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    n_frames = seconds * fps
    rng = np.random.default_rng(1)
    size = (1280 + n_frames, 720 + n_frames // 2)
    layers = [  # large shapes plus mid-size detail, like a photo; the detail sets the bitrate
        np.asarray(Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).resize(size), np.int16)
        for h, w in ((24, 40), (270, 440))
    ]
    scene = np.clip(0.7 * layers[0] + 0.3 * layers[1], 0, 255).astype(np.uint8)
    options = {"preset": "veryfast", "crf": "23", "x264-params": f"keyint={2 * fps}"}
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i in range(n_frames):
            view = np.ascontiguousarray(scene[i // 2 : i // 2 + 720, i : i + 1280])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(view, format="rgb24")))
        container.mux(stream.encode(None))
    return path


# --------------------------------------------------------------------------- measurements


def sgemm_gflops(n: int, threads: int, repeats: int = 5) -> float:
    """Best fp32 GEMM rate of torch and numpy on n x n matrices with ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    ta = torch.from_numpy(a)
    best = 0.0
    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        for matmul in (lambda: ta @ ta, lambda: a @ a):
            matmul()
            for _ in range(repeats):
                start = time.perf_counter()
                matmul()
                best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def matmul_peak_gflops(cores: int, sizes: tuple[int, ...] = (512, 1024, 2048, 3072)) -> float:
    """The machine's sgemm peak: the best rate over sizes and thread counts (each printed)."""
    best = 0.0
    for threads in sorted({1, cores}):
        rates = {n: sgemm_gflops(n, threads) for n in sizes}
        print(f"  sgemm, {threads} thread{'s' if threads > 1 else ''}: "
              + ", ".join(f"{n}^2 {rate:.1f}" for n, rate in rates.items()) + " GFLOP/s")  # fmt: skip
        best = max(best, *rates.values())
    torch.set_num_threads(cores)
    return best


def ort_layout_rate(model: Path, sessions: int, threads: int, per_call: int, seconds: float = 5.0) -> float:
    """Images/s of ONNX Runtime sessions side by side, ``threads`` threads each, ``per_call`` images a run."""
    import onnxruntime as ort

    def session():
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    x = np.random.default_rng(0).standard_normal((per_call, 3, 224, 224)).astype(np.float32)
    runners = [session() for _ in range(sessions)]
    name = runners[0].get_inputs()[0].name

    def loop(runner) -> int:
        runner.run(None, {name: x})
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            runner.run(None, {name: x})
            done += per_call
        return done / (time.perf_counter() - start)

    with ThreadPoolExecutor(sessions) as pool:
        return sum(pool.map(loop, runners))


def per_image_costs(paths: list[Path], config: Config, encoder) -> dict[str, float]:
    """Milliseconds of one image's work, step by step, on one thread (best of 3 passes over ``paths``)."""
    from instapop.embed.augment import augment_views
    from instapop.embed.cache import FeatureCache, cache_key, file_digest

    images = [load_image(p) for p in paths]
    views = augment_views(images[0], config.n_views, seed=0, config=config)
    cache = FeatureCache(OUT / "cache-costs")
    shutil.rmtree(cache.root, ignore_errors=True)
    vector = np.zeros((1, 1280), np.float32)
    keys = iter(cache_key(str(i)) for i in range(10**9))
    steps = {
        "hash (SHA-256 of the file)": lambda p, im: file_digest(p),
        "decode, full size then resize": lambda p, im: full_decode(p),
        "decode, JPEG draft mode (used)": lambda p, im: load_image(p),
        f"augment {config.n_views - 1} views": lambda p, im: augment_views(im, config.n_views, 0, config),
        f"{config.n_views} cache writes": lambda p, im: [cache.put(next(keys), vector) for _ in views],
        f"network, {config.n_views} views (1 thread)": lambda p, im: [encoder.encode(v[None]) for v in views],
    }
    costs = {}
    for step, fn in steps.items():
        costs[step] = 1e3 * best_time(lambda fn=fn: [fn(p, im) for p, im in zip(paths, images, strict=True)])
        costs[step] /= len(paths)
    return costs


def network_rate(encoder, seconds: float = 8.0, batch: int = 32) -> float:
    """Images/s of ``encoder.encode`` on random 224x224 images, after one warm-up batch."""
    images = np.random.default_rng(0).integers(0, 256, (batch, 224, 224, 3), dtype=np.uint8)
    encoder.encode(images)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        encoder.encode(images)
        done += batch
    return done / (time.perf_counter() - start)


def decode_rate(paths: list[Path], decode, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(decode, paths))
    return len(paths) / (time.perf_counter() - start)


def full_decode(path: Path) -> np.ndarray:
    """The obvious way, for comparison: decode at full size, then resize."""
    with Image.open(path) as image:
        return resize_square(image.convert("RGB"), 224)


def end_to_end_rate(paths: list[Path], config: Config, encoder) -> float:
    cache = OUT / "cache-e2e"
    shutil.rmtree(cache, ignore_errors=True)  # every entry computed, none reused
    media = pd.DataFrame(
        {"media_id": [p.stem for p in paths], "media_type": "image", "path": [str(p) for p in paths]}
    )
    start = time.perf_counter()
    features = embed_media(media, cache, config, progress=False, encoder=encoder)
    seconds = time.perf_counter() - start
    assert features.stats["entries_computed"] == len(paths) * config.n_views, features.stats
    return len(paths) / seconds


def straight_sample(path: Path, n_frames: int = 15) -> int:
    """One alternative to sample_video: decode every frame up to the last sample time."""
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = frame_times(float(stream.duration * stream.time_base), n_frames)
        for frame in container.decode(stream):
            decoded += 1
            if np.any(np.abs(times - frame.time) < 1e-3):
                resize_square(frame.to_image(), 224)
            if frame.time >= times[-1]:
                break
    return decoded


def seek_sample(path: Path, n_frames: int = 15) -> int:
    """The alternative to straight decoding: seek to each sample time and decode forward to it."""
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base)
        for t in frame_times(duration, n_frames):
            container.seek(int(t / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                decoded += 1
                if frame.time >= t - 1e-6:
                    resize_square(frame.to_image(), 224)
                    break
    return decoded


def report_network(name: str, rate: float, peak: float) -> None:
    gflops = rate * GFLOP_PER_IMAGE
    print(f"network 224x224, {name}: {rate:.1f} img/s = {gflops:.1f} GFLOP/s = {gflops / peak:.2f} of peak "
          f"(target >= {RATIO_TARGET} for the bulk engine)")  # fmt: skip


def best_time(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# --------------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300, help="JPEGs in the end-to-end folder")
    parser.add_argument("--quick", action="store_true", help="skip the video and eager-PyTorch figures")
    args = parser.parse_args()
    cores = runtime.available_cores()
    print(f"cores: {cores}   load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    runtime.tune_allocator()

    photos = ensure_photos(OUT / "photos", args.photos)
    config = Config(n_views=1, embed_threads=cores)

    peak = matmul_peak_gflops(cores)
    print(f"fp32 matmul peak (best of the sizes and threads above): {peak:.1f} GFLOP/s")

    onnx = load_encoder(config, OUT / "cache")
    report_network("onnx runtime as extraction runs it (bulk engine)", network_rate(onnx), peak)
    for sessions, threads, per_call in ((cores, 1, 1), (cores, 1, 8), (1, cores, 1), (1, cores, 8)):
        rate = ort_layout_rate(onnx.model_path, sessions, threads, per_call)
        print(f"  onnx runtime, {sessions} session(s) x {threads} thread(s), {per_call} image(s) per call: "
              f"{rate:.1f} img/s = {rate * GFLOP_PER_IMAGE / peak:.2f} of peak")  # fmt: skip

    single = load_encoder(Config(n_views=1, embed_threads=1), OUT / "cache")
    costs = per_image_costs(photos[:20], Config(embed_threads=1), single)
    print("one 1080x1350 JPEG with the paper's 15 views, step by step on one thread (ms):")
    for step, ms in costs.items():
        print(f"  {step}: {ms:.1f}")

    sample = photos[: min(100, len(photos))]
    print(f"decode 1080x1350 JPEG -> 224x224, full decode, {cores} threads: "
          f"{decode_rate(sample, full_decode, cores):.1f} img/s")  # fmt: skip
    print(f"decode 1080x1350 JPEG -> 224x224, draft mode, {cores} threads: "
          f"{decode_rate(sample, load_image, cores):.1f} img/s")  # fmt: skip

    e2e = end_to_end_rate(photos, config, onnx)
    print(f"end to end, {len(photos)} JPEGs 1080x1350 (hash + decode + network + cache): {e2e:.1f} img/s "
          f"(target >= {END_TO_END_TARGET:g})")  # fmt: skip
    paper = Config(embed_threads=cores)
    views = end_to_end_rate(photos[:100], paper, onnx) * paper.n_views
    print(f"end to end with the paper's {paper.n_views} views, 100 JPEGs: {views:.1f} views/s "
          f"= {views / paper.n_views:.1f} images/s (+ augmentation)")  # fmt: skip
    # Read before the eager-PyTorch runs below, whose activations are not part of extraction.
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux
    print(f"peak RSS during extraction: {rss_gib:.2f} GiB (target <= {RSS_TARGET_GIB:g})")

    if not args.quick:
        clip = ensure_clip(OUT / "clip_720p_30s.mp4")
        ours = best_time(lambda: sample_video(clip))
        straight = best_time(lambda: straight_sample(clip))
        seek = best_time(lambda: seek_sample(clip))
        print(f"15 frames from a 30 s 720p H.264 clip: sample_video (GOP-aware) {ours:.2f} s "
              f"(target <= {VIDEO_TARGET_S:g} s); straight decode {straight:.2f} s, "
              f"seeking {seek:.2f} s")  # fmt: skip
        torch.set_num_threads(cores)
        eager = TorchEncoder(lite0_torch())
        report_network("torch eager, tuned malloc", network_rate(eager), peak)
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
