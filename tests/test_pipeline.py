"""The whole study in one call: every stage's files land in one run folder."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from instapop.cli import app
from instapop.pipeline import run_study
from instapop.runfolder import RunFolder
from instapop.stages import STAGE_NAMES as STAGES
from support import TEST_CONFIG

STAGE_FILES = (
    "config.json",
    "media.csv",
    "excluded.csv",
    "summary.json",
    "features/features.safetensors",
    "dedup.csv",
    "dedup_hist.png",
    "cv_results.json",
    "model/config.json",
    "explain/explain.json",
    "report.html",
    "timings.json",
)


def test_run_study_writes_every_stage_and_times_it(make_profile, feature_cache: Path, tmp_path: Path) -> None:
    profile = make_profile(n_posts=60, seed=7)
    announced: list[str] = []
    result = run_study(
        profile.profile_dir,
        [profile.followers_csv],
        tmp_path / "run",
        config=TEST_CONFIG,
        cache_dir=feature_cache,
        progress=False,
        announce=announced.append,
    )
    missing = [name for name in STAGE_FILES if not (tmp_path / "run" / name).is_file()]
    assert not missing, missing
    folder = RunFolder(tmp_path / "run")  # every file it names is written, but the overrides log
    named = [name for name, value in vars(RunFolder).items() if isinstance(value, property)]
    assert [name for name in named if not getattr(folder, name).exists()] == ["config_overrides"]
    assert result.report == tmp_path / "run" / "report.html"
    assert list(result.timings) == list(STAGES)
    assert json.loads((tmp_path / "run" / "timings.json").read_text()) == result.timings
    assert result.stages == {stage: {"status": "done"} for stage in STAGES} and not result.failed
    assert json.loads((tmp_path / "run" / "stages.json").read_text()) == result.stages
    assert [line.split("] ")[1] for line in announced] == list(STAGES)


def test_run_on_an_empty_folder_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["run", str(tmp_path / "empty"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("error: ") and "empty" in lines[-1]


def profile_variant(
    profile, target: Path, keep_posts: int | None = None, videos: bool = True, garble: bool = False
) -> Path:
    """A copy of a synthetic profile with only its first posts, without videos, or with unreadable media."""
    shutil.copytree(profile.profile_dir, target)
    for post in sorted(target.glob("*_UTC.json*"))[keep_posts:]:
        post.unlink()
    for media in target.glob("*_UTC*.[jm]p[g4]"):
        if media.suffix == ".mp4" and not videos:
            media.unlink()
        elif garble:
            media.write_bytes(b"not a picture")
    return target


def test_a_profile_too_small_to_validate_still_gets_a_report_saying_why(
    make_profile, feature_cache: Path, tmp_path: Path
) -> None:
    """8 posts, their videos' files removed (kept by their covers): every approach is skipped, so no
    model; the later stages still run."""
    profile = make_profile(n_posts=60, seed=7)
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)  # an earlier run's model must not pass for this one's
    (run_dir / "model" / "config.json").write_text("{}")
    announced: list[str] = []
    result = run_study(
        profile_variant(profile, tmp_path / "small", keep_posts=8, videos=False),
        [profile.followers_csv],
        run_dir,
        config=dataclasses.replace(TEST_CONFIG, n_classes=(2,)),
        cache_dir=feature_cache,
        progress=False,
        announce=announced.append,
    )
    assert {stage: entry["status"] for stage, entry in result.stages.items()} == {
        stage: "skipped" if stage == "train" else "done" for stage in STAGES
    }
    reason = result.stages["train"]["reason"]
    assert reason.startswith("no model: no image model: every image approach was skipped at N=2 (images, N=2")
    assert f"train skipped: {reason}" in announced
    assert json.loads((run_dir / "stages.json").read_text())["train"]["reason"] == reason
    cv = json.loads((run_dir / "cv_results.json").read_text())
    assert all("fewer than the 5 folds" in row["skipped"] for row in cv["rows"] if row["media"] == "video")
    assert not (run_dir / "model").exists() and result.report == run_dir / "report.html"
    report = result.report.read_text()
    assert "The train stage did not run (skipped: no model: no image model" in report
    assert (
        "Not validated (images, N = 2: image model, ranker: picture + context, baseline: most common class"
        in report
    )


def test_when_every_embedding_fails_the_run_goes_on_and_says_so(make_profile, tmp_path: Path) -> None:
    profile = make_profile(n_posts=60, seed=7)
    settings = tmp_path / "settings.json"
    dataclasses.replace(TEST_CONFIG, n_classes=(2,)).save(settings)
    args = ["run", str(profile_variant(profile, tmp_path / "broken", keep_posts=10, garble=True))]
    args += ["--followers", str(profile.followers_csv), "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*args, "--cache", str(tmp_path / "cache"), "--config", str(settings)])
    assert result.exit_code == 0, result.output
    skipped = "train skipped: no model: no image model: every image approach was skipped at N=2 (no images)"
    assert skipped in result.output and "did not run: train skipped" in result.output
    stages = json.loads((tmp_path / "run" / "stages.json").read_text())
    assert [stage for stage in STAGES if stages[stage]["status"] != "done"] == ["train"]
    features = json.loads((tmp_path / "run" / "features" / "features.json").read_text())
    ingested = json.loads((tmp_path / "run" / "summary.json").read_text())["media"]
    assert len(features["failed"]) == ingested["image"] + ingested["video"] > 0  # every item failed
    assert "The train stage did not run" in (tmp_path / "run" / "report.html").read_text()
