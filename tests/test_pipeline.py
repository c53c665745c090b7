"""The whole study in one call: every stage's files land in one run folder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from instapop.cli import app
from instapop.pipeline import STAGES, run_study
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
    assert result.report == tmp_path / "run" / "report.html"
    assert list(result.timings) == list(STAGES)
    assert json.loads((tmp_path / "run" / "timings.json").read_text()) == result.timings
    assert [line.split("] ")[1] for line in announced] == list(STAGES)


def test_run_on_an_empty_folder_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["run", str(tmp_path / "empty"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("error: ") and "empty" in lines[-1]
