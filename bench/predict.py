"""Benchmark: warm latency of `instapop predict` and the server's peak memory.

Targets (issue 6), on 2 cores: one image <= 100 ms, one 30 s video <= 1.5 s, warm
(model and backbone session loaded, first call done). Also prints the peak RSS of
`instapop serve` after a burst of 50 concurrent API requests (image + video each).

Without --model it builds a small study (a 60-post synthetic profile, few epochs:
the model's quality does not change its speed) under bench-out/predict, reused
by later runs.

    .venv/bin/python bench/predict.py [--model RUN/model] [--repeats 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import httpx
import numpy as np
from PIL import Image

from instapop import runtime
from instapop.config import Config
from instapop.media import sample_video
from instapop.predict import Plan, Predictor
from instapop.stages import ProfileInput, RunInputs, run_stages, stages_upto
from instapop.synthetic import generate_profile

OUT = Path("bench-out/predict")
IMAGE_TARGET_MS = 100.0
VIDEO_TARGET_S = 1.5
BURST = 50


def ensure_model(out: Path) -> Path:
    """A trained model from a small synthetic study (built once, then reused)."""
    run_dir = out / "run"
    if not (run_dir / "model" / "config.json").exists():
        profile = generate_profile(out / "data", n_posts=60, seed=3)
        config = dataclasses.replace(Config(), n_views=2, epochs=5, n_repeats=1)
        run_dir.mkdir(parents=True, exist_ok=True)
        source = ProfileInput(profile.profile_dir, (profile.followers_csv,))
        run_stages(run_dir, stages_upto("train"), RunInputs(source, out / "cache", progress=False), config)
    return run_dir / "model"


def ensure_photo(out: Path) -> Path:
    """A 1080x1350 JPEG, Instagram's portrait size, of smooth noise (decodes like a photo)."""
    path = out / "photo_1080x1350.jpg"
    if not path.exists():
        rng = np.random.default_rng(0)
        small = rng.integers(0, 256, (34, 27, 3), dtype=np.uint8)
        Image.fromarray(small).resize((1080, 1350), Image.BICUBIC).save(path, quality=90)
    return path


def ensure_clip(out: Path, seconds: int = 30, fps: int = 30) -> Path:
    """A 30 s 1280x720 H.264 clip of a moving gradient, as a phone would record it."""
    path = out / f"clip_{seconds}s_720p.mp4"
    if path.exists():
        return path
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        x = np.linspace(0, 255, 1280)[None, :]
        y = np.linspace(0, 255, 720)[:, None]
        for i in range(seconds * fps):
            channels = [(x + 4 * i) % 256 + 0 * y, (y + 4 * i) % 256 + 0 * x, np.full((720, 1280), i % 256)]
            frame = np.stack(channels, axis=2).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def warm_latency(
    predictor: Predictor, path: Path, repeats: int, plan: Plan | None = None
) -> tuple[float, float]:
    """(median, max) seconds of scoring one file (with a planned time and caption), after one warm-up call."""
    predictor.score_paths([path], plan=plan)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        (candidate,) = predictor.score_paths([path], plan=plan)
        times.append(time.perf_counter() - start)
        assert candidate.ok, candidate.error
    return statistics.median(times), max(times)


def video_sampling_s(predictor: Predictor, clip: Path, repeats: int) -> float:
    """Median seconds of sampling the clip's frames alone: the decoding part of a video's latency."""
    config = predictor.config
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sample_video(
            clip, n_frames=config.n_frames, interval_s=config.frame_interval_s, size=config.image_size
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def server_peak_rss(model_dir: Path, cache_dir: Path, photo: Path, clip: Path) -> tuple[float, float]:
    """Start `instapop serve`, send a burst of requests, return (peak RSS MiB, burst seconds)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "instapop",
        "serve",
        str(model_dir),
        "--port",
        str(port),
        "--cache",
        str(cache_dir),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(600):  # start-up loads the model and the backbone session
                try:
                    client.get("/api/model").raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            photo_part, clip_part = (("files", (f.name, f.read_bytes())) for f in (photo, clip))

            def post(i: int) -> int:  # as the page asks: with heatmaps; every fifth also a video
                payload = [photo_part, clip_part] if i % 5 == 0 else [photo_part]
                return client.post("/api/predict?explain=true", files=payload).status_code

            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(post, range(BURST)))
            burst_s = time.perf_counter() - start
        assert statuses == [200] * BURST, statuses
        return peak_rss_mib(server.pid), burst_s
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a model/ folder (default: build a small one)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    runtime.configure_runtime()
    OUT.mkdir(parents=True, exist_ok=True)
    cache_dir = OUT / "cache"
    model_dir = args.model or ensure_model(OUT)
    photo, clip = ensure_photo(OUT), ensure_clip(OUT)

    predictor = Predictor.load(model_dir, cache_dir=cache_dir)
    image_s, image_max = warm_latency(predictor, photo, args.repeats)
    planned = Plan("2030-06-01T19:00+09:00", "New in the shop today #newin @friends 🌸")
    planned_s, _ = warm_latency(predictor, photo, args.repeats, planned)
    video_s, video_max = warm_latency(predictor, clip, max(3, args.repeats // 4))
    decode_s = video_sampling_s(predictor, clip, max(3, args.repeats // 4))
    rss, burst_s = server_peak_rss(model_dir, cache_dir, photo, clip)

    print(f"\npredict, warm, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
    verdict = "met" if image_s * 1000 <= IMAGE_TARGET_MS else "MISSED"
    print(
        f"  one 1080x1350 image  median {image_s * 1000:7.1f} ms  max {image_max * 1000:7.1f} ms"
        f"   (target <= {IMAGE_TARGET_MS:.0f} ms: {verdict})"
    )
    approaches = ", ".join(f"{media}: {s.approach}" for media, s in predictor.scorers.items())
    print(f"  the same with a planned time and caption  median {planned_s * 1000:7.1f} ms   ({approaches})")
    verdict = "met" if video_s <= VIDEO_TARGET_S else "MISSED"
    print(
        f"  one 30 s 720p video  median {video_s:7.2f} s   max {video_max:7.2f} s"
        f"    (target <= {VIDEO_TARGET_S} s: {verdict})"
    )
    print(f"    of which decoding and sampling 15 frames {decode_s:.2f} s, the rest embedding and the model")
    print(
        f"  server: {BURST} concurrent requests with heatmaps (1 in 5 with the video too) in {burst_s:.1f} s,"
        f" peak RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main()
