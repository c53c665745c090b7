"""Benchmark: ingest (read + follower estimate + labels) of a 700-post synthetic profile.

Target (issue 2): under 10 s. The profile is generated once into --profile-dir
(default bench-out/ingest-700) and reused; generation time is not part of the figure.
Then the hostile inputs of issue 10, each read alone, with its time and peak Python
memory: a JSON nested 100,000 levels deep, an xz bomb, a folder of 10,000 empty files.

    .venv/bin/python bench/ingest.py [--posts 700] [--profile-dir DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import lzma
import tempfile
import time
import tracemalloc
from pathlib import Path

from instapop.config import PAPER
from instapop.ingest import ingest_profile
from instapop.sources import read_instaloader_folder
from instapop.synthetic import generate_profile

TARGET_S = 10.0


def cached_profile(folder: Path, n_posts: int) -> tuple[Path, Path]:
    """The generated profile in ``folder``; generated only when it is not there yet."""
    profile_dir, followers = folder / "profile", folder / "followers.csv"
    if not followers.is_file():
        start = time.perf_counter()
        generate_profile(folder, n_posts=n_posts, seed=0, progress=False)
        print(f"generated {n_posts} posts in {time.perf_counter() - start:.1f} s (not part of the figure)")
    return profile_dir, followers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=700)
    parser.add_argument("--profile-dir", type=Path, help="where the generated profile is kept")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = args.profile_dir or Path("bench-out") / f"ingest-{args.posts}"
    profile_dir, followers = cached_profile(folder, args.posts)

    times = []
    with tempfile.TemporaryDirectory(prefix="instapop-bench-ingest-") as out:
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = ingest_profile(profile_dir, [followers], PAPER)
            result.write(Path(out))
            times.append(time.perf_counter() - start)

    best, worst = min(times), max(times)
    verdict = "met" if best < TARGET_S else "MISSED"
    print(f"\ningest of {len(result.posts)} posts ({len(result.media)} media items), {args.repeats} runs")
    print(f"  wall time best {best:.2f} s, worst {worst:.2f} s   (target < {TARGET_S:.0f} s: {verdict})")
    print(f"  {result.describe()}".replace("\n", "\n  "))
    hostile_inputs()


def hostile_inputs() -> None:
    """Read each hostile folder alone; print its outcome, time and peak traced memory."""
    logging.disable(logging.WARNING)  # 10,000 "skipped" lines are not the figure
    cases = {
        "JSON nested 100,000 levels": lambda root: (root / "deep.json").write_bytes(
            b'{"node": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        ),
        "xz bomb (256 MiB of spaces)": lambda root: (root / "bomb.json.xz").write_bytes(
            lzma.compress(b" " * 2**28)
        ),
        "10,000 empty files": lambda root: [
            (root / f"e{i}{('.json', '.jpg')[i % 2]}").touch() for i in range(10_000)
        ],
    }
    print("\nhostile inputs (read_instaloader_folder, bound 16 MiB)")
    for name, write in cases.items():
        with tempfile.TemporaryDirectory(prefix="instapop-bench-hostile-") as folder:
            write(Path(folder))
            start = time.perf_counter()
            data = read_instaloader_folder(Path(folder), PAPER.max_json_bytes)
            seconds = time.perf_counter() - start
            tracemalloc.start()  # a second read for the memory: tracing slows Python down
            read_instaloader_folder(Path(folder), PAPER.max_json_bytes)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            reasons = sorted({s.reason for s in data.skipped})
            print(f"  {name}: {seconds * 1000:.1f} ms, peak {peak / 2**20:.1f} MiB, skipped as {reasons}")


if __name__ == "__main__":
    main()
