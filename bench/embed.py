"""Benchmark: feature extraction against the machine's own matmul peak (issue 3).

Prints, in one run:

- the fp32 matmul peak measured now (GFLOP/s, best of torch and numpy sgemm);
- network-only images/s at 224x224 for each engine, the FLOP/s that is
  (0.77 GFLOP per Lite0 image) and its ratio to the peak (target >= 0.6 for
  the bulk engine); eager PyTorch is shown before and after the malloc tuning;
- decode-only images/s for 1080x1350 JPEGs, full decode against draft mode;
- images/s end to end from a folder of 1080x1350 JPEGs (hash, decode, resize,
  network, cache write; target >= 100);
- the time to sample 15 frames from a 30 s 720p H.264 clip with sample_video
  (decodes only the GOPs holding a sample time; target <= 1 s), against
  decoding straight through and against seeking to each time;
- the peak RSS of the process (target <= 2 GiB).

The 1-minute load average is printed first and last: other processes on the
same cores lower every figure. Inputs are generated once under bench-out/embed.

    .venv/bin/python bench/embed.py [--photos 300]
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
RATIO_TARGET = 0.6
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


def matmul_peak_gflops(n: int = 2048, repeats: int = 6) -> float:
    """Best fp32 GEMM rate of torch and numpy on n x n matrices, all cores."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    ta = torch.from_numpy(a)
    best = 0.0
    for matmul in (lambda: ta @ ta, lambda: a @ a):
        matmul()
        for _ in range(repeats):
            start = time.perf_counter()
            matmul()
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


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
    assert features.stats["entries_computed"] == len(paths), features.stats
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
    args = parser.parse_args()
    cores = runtime.available_cores()
    print(f"cores: {cores}   load average (1 min) at start: {os.getloadavg()[0]:.2f}")

    photos = ensure_photos(OUT / "photos", args.photos)
    clip = ensure_clip(OUT / "clip_720p_30s.mp4")
    config = Config(n_views=1, embed_threads=cores)

    peak = matmul_peak_gflops()
    print(f"fp32 matmul peak (sgemm 2048^2, {cores} threads): {peak:.1f} GFLOP/s")

    onnx = load_encoder(config, OUT / "cache")
    report_network("onnx runtime (bulk engine)", network_rate(onnx), peak)

    sample = photos[: min(100, len(photos))]
    print(f"decode 1080x1350 JPEG -> 224x224, full decode, {cores} threads: "
          f"{decode_rate(sample, full_decode, cores):.1f} img/s")  # fmt: skip
    print(f"decode 1080x1350 JPEG -> 224x224, draft mode, {cores} threads: "
          f"{decode_rate(sample, load_image, cores):.1f} img/s")  # fmt: skip

    e2e = end_to_end_rate(photos, config, onnx)
    print(f"end to end, {len(photos)} JPEGs 1080x1350 (hash + decode + network + cache): {e2e:.1f} img/s "
          f"(target >= {END_TO_END_TARGET:g})")  # fmt: skip
    # Read before the eager-PyTorch runs below, whose activations are not part of extraction.
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux
    print(f"peak RSS during extraction: {rss_gib:.2f} GiB (target <= {RSS_TARGET_GIB:g})")

    ours = best_time(lambda: sample_video(clip))
    straight = best_time(lambda: straight_sample(clip))
    seek = best_time(lambda: seek_sample(clip))
    print(f"15 frames from a 30 s 720p H.264 clip: sample_video (GOP-aware) {ours:.2f} s "
          f"(target <= {VIDEO_TARGET_S:g} s); straight decode {straight:.2f} s, "
          f"seeking {seek:.2f} s")  # fmt: skip

    torch.set_num_threads(cores)
    eager = TorchEncoder(lite0_torch())
    report_network("torch eager, glibc default malloc", network_rate(eager), peak)
    runtime.configure_runtime(cores)
    report_network("torch eager, tuned malloc", network_rate(eager), peak)
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
