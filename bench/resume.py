"""Benchmark: a study killed twice and rerun, against an uninterrupted one, from cold caches.

`instapop run` is started as a process and killed with SIGKILL once half of the feature-cache
entries are written, rerun and killed again once half of the cross-validation rows are
checkpointed, then rerun to the end. Prints the wall time of each part beside the
uninterrupted run's, and whether both wrote the same bytes of cv_results.json.

    .venv/bin/python bench/resume.py PROFILE --followers FOLLOWERS.csv [--config SETTINGS.json]
    .venv/bin/python bench/resume.py --posts 120          # a synthetic profile
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from instapop.embed.cache import FeatureCache
from instapop.runfolder import RunFolder


def _timed(command: list[str], kill_when: Callable[[], bool] | None = None) -> tuple[float, bool]:
    """Run ``command``; SIGKILL it once ``kill_when()`` holds. (wall seconds, whether it was killed)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        if kill_when is not None and kill_when():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return time.perf_counter() - start, True
        time.sleep(0.2)  # counting cache entries walks the shards: not too often
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (exit status {process.returncode})")
    return time.perf_counter() - start, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, nargs="?", help="profile folder (default: a synthetic one)")
    parser.add_argument("--followers", type=Path, action="append", default=[])
    parser.add_argument("--config", type=Path, help="settings JSON (default: the paper's)")
    parser.add_argument("--posts", type=int, default=120, help="posts of the synthetic profile")
    parser.add_argument("--keep", type=Path, help="work here instead of a temporary folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="instapop-bench-resume-") as tmp:
        work = args.keep or Path(tmp)
        profile, followers = args.profile, args.followers
        if profile is None:
            from instapop.synthetic import generate_profile

            made = generate_profile(work / "data", n_posts=args.posts, seed=0, progress=False)
            profile, followers = made.profile_dir, [made.followers_csv]

        def study(name: str) -> list[str]:
            command = [sys.executable, "-m", "instapop", "run", str(profile), "--out", str(work / name),
                       "--cache", str(work / f"{name}-cache")]  # fmt: skip
            command += [arg for f in followers for arg in ("--followers", str(f))]
            return command + (["--config", str(args.config)] if args.config else [])

        clean_s, _ = _timed(study("clean"))
        entries = len(FeatureCache(work / "clean-cache"))
        rows = sum("skipped" not in row for row in _rows(work / "clean"))
        cache, checkpoints = FeatureCache(work / "resumed-cache"), RunFolder(work / "resumed").cv_checkpoints
        first_s, killed_first = _timed(study("resumed"), lambda: len(cache) >= entries / 2)
        embedded = len(cache)
        second_s, killed_second = _timed(study("resumed"), lambda: _count(checkpoints) >= rows / 2)
        validated = _count(checkpoints)
        rerun_s, _ = _timed(study("resumed"))
        same = _cv_bytes(work / "clean") == _cv_bytes(work / "resumed")

    total = first_s + second_s + rerun_s
    print(f"\n{profile}: {entries} cache entries, {rows} cross-validation rows")
    for label, seconds, note in (
        ("uninterrupted run", clean_s, ""),
        (f"killed in embeddings ({embedded} entries done)", first_s, f"killed: {killed_first}"),
        (f"killed in cross-validation ({validated} rows done)", second_s, f"killed: {killed_second}"),
        ("rerun to the end", rerun_s, ""),
        ("killed twice and rerun, in all", total, f"{total - clean_s:+.1f} s"),
    ):
        print(f"  {label:<46} {seconds:7.1f} s   {note}")
    print(f"  cv_results.json byte-identical: {same}")


def _rows(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "cv_results.json").read_text())["rows"]


def _count(folder: Path) -> int:
    return len(list(folder.glob("*.json")))


def _cv_bytes(run_dir: Path) -> bytes:
    return (run_dir / "cv_results.json").read_bytes()


if __name__ == "__main__":
    main()
