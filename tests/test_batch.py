"""`instapop batch` on a local Ray with 2 CPUs: killed and resumed, the same results as `instapop run`,
a broken profile failing alone, and the portfolio page in a real browser.

One batch serves the whole module: it is started in a subprocess, killed with SIGKILL
once some embedding shards are done, then resumed in this process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from instapop.batch import read_profiles
from instapop.batch.run import STATE_FOLDER
from instapop.cli import app
from instapop.embed.backbone import lite0_onnx
from instapop.embed.cache import FeatureCache
from instapop.stages import ProfileInput, RunInputs, run_stages, stages_upto
from support import TEST_CONFIG, open_page

# Fewer video frames than the test configuration: three profiles' videos are most of the network's work.
CONFIG = dataclasses.replace(TEST_CONFIG, n_frames=4)
SEEDS = (7, 8, 9)
BROKEN = "broken"


@pytest.fixture(scope="module")
def batch_input(make_profile, feature_cache: Path, tmp_path_factory) -> dict[str, Path]:
    """profiles.csv over the session's 60-post profiles plus one with an unreadable follower file."""
    folder = tmp_path_factory.mktemp("batch-input")
    profiles = {f"brand{seed}": make_profile(n_posts=60, seed=seed) for seed in SEEDS}
    bad_followers = folder / "broken_followers.csv"
    bad_followers.write_text("this is not,a follower file\n\x00garbage\n")
    rows = [(name, p.profile_dir, p.followers_csv) for name, p in profiles.items()]
    rows.append((BROKEN, profiles["brand7"].profile_dir, bad_followers))
    pd.DataFrame(rows, columns=["name", "folder", "followers"]).to_csv(folder / "profiles.csv", index=False)
    CONFIG.save(folder / "config.json")
    # A cache of its own (entries counted exactly) that shares the session's exported ONNX graph.
    cache = folder / "cache"
    cache.mkdir()
    lite0_onnx(feature_cache, CONFIG.image_size)
    (cache / "models").symlink_to(feature_cache / "models")
    return {
        "csv": folder / "profiles.csv",
        "config": folder / "config.json",
        "cache": cache,
        "out": folder / "out",
    }


def _batch_args(paths: dict[str, Path]) -> list[str]:
    return [
        "batch", str(paths["csv"]), "--out", str(paths["out"]), "--cpus", "2",
        "--config", str(paths["config"]), "--cache", str(paths["cache"]), "--shard-items", "8",
    ]  # fmt: skip


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Ray's raylet, GCS and workers are children of the driver's)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += frontier
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _kill_after_first_shards(paths: dict[str, Path], timeout_s: float = 300) -> None:
    """Run the batch in a subprocess; SIGKILL it and all its processes once 2 shards are done."""
    shards = paths["out"] / STATE_FOLDER / "shards"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "instapop", *_batch_args(paths)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if shards.is_dir() and len(list(shards.glob("*.json"))) >= 2:
            break
        time.sleep(0.05)
    # All at once, so that no actor outlives the driver and writes after the kill.
    victims = [process.pid, *_descendants(process.pid)]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in victims) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def batch(batch_input: dict[str, Path]) -> dict:
    """The batch killed mid-embedding, then resumed: what was done before and after the kill."""
    _kill_after_first_shards(batch_input)
    shard_dir = batch_input["out"] / STATE_FOLDER / "shards"
    killed = {
        "shards": len(list(shard_dir.glob("*.json"))),
        "entries": len(FeatureCache(batch_input["cache"])),
    }
    result = CliRunner().invoke(app, _batch_args(batch_input))
    assert result.exit_code == 0, result.output
    summary = json.loads((batch_input["out"] / "batch.json").read_text())
    return {
        "killed": killed,
        "summary": summary,
        "entries": len(FeatureCache(batch_input["cache"])),
        "output": result.output,
        **batch_input,
    }


def test_a_killed_batch_resumes_without_recomputing_what_was_done(batch: dict) -> None:
    stats, killed = batch["summary"]["stats"], batch["killed"]
    assert killed["shards"] >= 2 and killed["shards"] < stats["shards"], "the kill did not land mid-embedding"
    assert stats["shards_already_done"] == killed["shards"]
    # Every entry the killed run wrote was reused, none computed twice: the rest is exactly what is new.
    assert stats["entries_computed"] == batch["entries"] - killed["entries"]
    assert stats["entries_computed"] > 0


def test_batch_gives_the_same_cv_results_as_instapop_run(batch: dict, make_profile, tmp_path: Path) -> None:
    # `instapop run`'s stages up to the cross-validation, through the stage table as run_study runs them.
    for seed in SEEDS:
        profile, run_dir = make_profile(n_posts=60, seed=seed), tmp_path / f"run{seed}"
        source = ProfileInput(profile.profile_dir, (profile.followers_csv,))
        inputs = RunInputs(source, batch["cache"], progress=False)
        run_stages(run_dir, stages_upto("evaluate"), inputs, CONFIG)
        ours = json.loads((batch["out"] / "profiles" / f"brand{seed}" / "cv_results.json").read_text())
        theirs = json.loads((run_dir / "cv_results.json").read_text())
        assert ours["rows"] and ours["rows"] == theirs["rows"]
        assert ours["ids"] == theirs["ids"]


def test_a_broken_profile_fails_alone_with_its_reason(batch: dict) -> None:
    status = {p["name"]: p for p in batch["summary"]["profiles"]}
    assert status[BROKEN]["status"] == "failed"
    assert "broken_followers.csv" in status[BROKEN]["reason"] and "unrecognised" in status[BROKEN]["reason"]
    assert all(status[f"brand{seed}"]["status"] == "done" for seed in SEEDS)
    assert f"failed {BROKEN}: " in batch["output"]
    table = pd.read_csv(batch["out"] / "portfolio.csv")
    assert table["profile"].tolist() == ["brand7", "brand8", "brand9", BROKEN]
    assert table.loc[3, "status"].startswith("failed: ")
    assert table.loc[:2, "status"].eq("done: studied by this batch").all()
    assert table.loc[:2, "image_accuracy"].str.fullmatch(r"\d+% \[\d+%, \d+%\]").all()
    assert (table.loc[:2, "posts"] == 60).all() and (table.loc[:2, "left_out"] >= 0).all()


@pytest.mark.browser
def test_portfolio_renders_sorts_and_links_reports(batch: dict, artifacts_dir: Path, chromium) -> None:
    page, errors = open_page(chromium, (batch["out"] / "portfolio.html").as_uri(), 1400, 700)
    names = page.eval_on_selector_all("tbody tr td:first-child", "cells => cells.map(c => c.textContent)")
    links = page.eval_on_selector_all("tbody a", "links => links.map(a => a.href)")
    page.click("th:text('Profile')")  # ascending ...
    page.click("th:text('Profile')")  # ... then descending
    descending = page.eval_on_selector_all(
        "tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    page.screenshot(path=str(artifacts_dir / "portfolio.png"), full_page=True)
    page.close()
    assert names == ["brand7", "brand8", "brand9", BROKEN]
    assert descending == sorted(names, reverse=True)
    assert len(links) == 3 and all(Path(link.removeprefix("file://")).is_file() for link in links)
    assert errors == []


def test_profiles_from_a_folder_of_profile_folders(tmp_path: Path) -> None:
    for name, files in (("shop-a", ["followers.csv"]), ("shop_b", ["followers_2023.csv", "followers.json"])):
        (tmp_path / name).mkdir()
        for file in files:
            (tmp_path / name / file).write_text("date,followers\n")
    (tmp_path / ".hidden").mkdir()
    profiles = read_profiles(tmp_path)
    assert [p.name for p in profiles] == ["shop-a", "shop_b"]
    assert [f.name for f in profiles[1].followers] == ["followers.json", "followers_2023.csv"]
