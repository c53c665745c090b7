"""Benchmark: the demo's wall time, stage by stage, from a cold feature cache.

Target (issue 5): the whole demo (300-post synthetic profile, paper configuration)
in at most 5 minutes on 2 cores.

    .venv/bin/python bench/demo.py [--posts 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from instapop import runtime
from instapop.pipeline import run_demo

TARGET_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="write the demo here instead of a temporary folder")
    args = parser.parse_args()
    runtime.configure_runtime()

    with tempfile.TemporaryDirectory(prefix="instapop-bench-demo-") as tmp:
        out = args.keep or Path(tmp)
        start = time.perf_counter()
        result = run_demo(out, n_posts=args.posts, progress=False, announce=print)
        total = time.perf_counter() - start

    print(f"\ndemo, {args.posts} posts, cold cache")
    for stage, seconds in result.timings.items():
        print(f"  {stage:<10} {seconds:7.1f} s")
    verdict = "met" if total <= TARGET_S else "MISSED"
    print(f"  {'total':<10} {total:7.1f} s   (target <= {TARGET_S:.0f} s: {verdict})")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS   {peak_mib:7.0f} MiB")


if __name__ == "__main__":
    main()
