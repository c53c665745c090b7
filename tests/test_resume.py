"""`instapop run` killed and rerun, and two runs sharing one feature cache at once.

Real processes on a small synthetic profile: a run killed with SIGKILL during the
embeddings and again during cross-validation, then rerun, writes the same bytes of
cv_results.json as an uninterrupted run, and reuses the cache entries and the finished
cross-validation rows the killed runs left.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from instapop.embed.cache import FeatureCache
from instapop.embed.extract import FeatureSet
from instapop.runfolder import RunFolder
from support import TEST_CONFIG
from test_embed import _share_exported_graph

# Two N so that two neural rows train one after the other (one worker): a kill that waits
# for the first finished row lands while the second trains. No Grad-CAM: it is not on trial.
SETTINGS = dataclasses.replace(
    TEST_CONFIG, n_classes=(2, 3), n_frames=2, train_workers=1, gradcam_per_class=0, videos_per_class=0
)
DEADLINE_S = 300


@pytest.fixture(scope="module")
def study(make_profile, feature_cache: Path, tmp_path_factory) -> Callable[..., list[str]]:
    """``study(out, cache)``: the command line of `instapop run` on a 30-post profile."""
    profile = make_profile(n_posts=30, seed=7)
    settings = tmp_path_factory.mktemp("settings") / "config.json"
    SETTINGS.save(settings)

    def command(out: Path, cache: Path) -> list[str]:
        _share_exported_graph(feature_cache, cache)  # export the ONNX graph once per session
        return [sys.executable, "-m", "instapop", "run", str(profile.profile_dir),
                "--followers", str(profile.followers_csv), "--out", str(out), "--cache", str(cache),
                "--config", str(settings)]  # fmt: skip

    return command


@pytest.fixture(scope="module")
def uninterrupted(study, tmp_path_factory) -> Path:
    """A run folder of the study run once, alone, from an empty cache."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    finished = subprocess.run(study(folder / "run", folder / "cache"), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return folder / "run"


def kill_when(command: list[str], ready: Callable[[], bool], log: Path) -> None:
    """Start ``command`` and SIGKILL it as soon as ``ready()`` holds; it must not finish first."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + DEADLINE_S
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, f"the run ended before the kill:\n{log.read_text()}"


def test_killed_in_embeddings_and_in_cross_validation_then_rerun_gives_the_same_bytes(
    study, uninterrupted: Path, tmp_path: Path
) -> None:
    run, cache = tmp_path / "run", tmp_path / "cache"
    entries = FeatureCache(cache)
    total_entries = len(FeatureCache(uninterrupted.parent / "cache"))

    kill_when(study(run, cache), lambda: len(entries) > 0, tmp_path / "first.log")
    embedded = len(entries)
    assert 0 < embedded < total_entries and not (run / "features").exists()
    for path in cache.glob("features/*/*.safetensors"):  # a killed writer leaves no torn entry to read
        assert entries.get(path.stem, 1280) is not None, path

    rows = RunFolder(run).cv_checkpoints
    kill_when(study(run, cache), lambda: any(rows.glob("*.json")), tmp_path / "second.log")
    stats = FeatureSet.load(run / "features").stats
    assert (stats["entries_reused"], stats["entries_computed"]) == (embedded, total_entries - embedded)
    finished_rows = {path: path.stat().st_mtime_ns for path in rows.glob("*.json")}
    table = json.loads((uninterrupted / "cv_results.json").read_text())
    n_jobs = sum("skipped" not in row for row in table["rows"])
    assert 0 < len(finished_rows) < n_jobs and not (run / "cv_results.json").exists()

    rerun = subprocess.run(study(run, cache), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert (run / "cv_results.json").read_bytes() == (uninterrupted / "cv_results.json").read_bytes()
    assert {path: path.stat().st_mtime_ns for path in finished_rows} == finished_rows  # read, not redone
    assert len(list(rows.glob("*.json"))) == n_jobs
    assert FeatureSet.load(run / "features").stats["entries_computed"] == 0
    assert f"({len(finished_rows)} rows from checkpoints)" in rerun.stderr


def test_two_runs_sharing_one_cache_at_once_both_finish_correctly(
    study, uninterrupted: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "shared-cache"
    logs = [(tmp_path / f"{name}.log").open("w") for name in ("a", "b")]
    runs = [
        subprocess.Popen(study(tmp_path / name, cache), stdout=log, stderr=subprocess.STDOUT)
        for name, log in zip(("a", "b"), logs, strict=True)
    ]
    for process, log in zip(runs, logs, strict=True):
        assert process.wait(timeout=DEADLINE_S) == 0, Path(log.name).read_text()
        log.close()
    expected = (uninterrupted / "cv_results.json").read_bytes()
    for name in ("a", "b"):
        assert (tmp_path / name / "cv_results.json").read_bytes() == expected
        assert (tmp_path / name / "report.html").is_file()
    assert len(FeatureCache(cache)) == len(FeatureCache(uninterrupted.parent / "cache"))
    assert not list(cache.rglob("*.tmp"))
