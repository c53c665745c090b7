"""One run configuration: written by the first stage, read by every later one, overrides logged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from instapop.cli import app
from instapop.config import Config, load_run_config, start_run_config, update_run_config
from instapop.runfolder import RunFolder


def test_ingest_settings_reach_a_later_evaluate_and_its_overrides_are_logged(
    make_profile, make_run, tmp_path: Path
) -> None:
    profile = make_profile()
    run_dir = tmp_path / "run"
    runner = CliRunner()
    args = ["ingest", str(profile.profile_dir), "-f", str(profile.followers_csv), "-n", "4"]
    result = runner.invoke(app, [*args, "--window-days", "40", "--out", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert load_run_config(run_dir).n_classes == (4,) and load_run_config(run_dir).window_days == 40
    shared = make_run(upto="dedup")  # the same profile's features and dedup: no embedding here
    shutil.copytree(shared / "features", run_dir / "features")
    shutil.copy(shared / "dedup.csv", run_dir / "dedup.csv")

    result = runner.invoke(app, ["evaluate", str(run_dir), "--epochs", "1", "--repeats", "1", "--folds", "2"])

    assert result.exit_code == 0, result.output
    cv = json.loads((run_dir / "cv_results.json").read_text())
    assert {row["n_classes"] for row in cv["rows"]} == {4}
    assert cv["config"]["window_days"] == 40 and cv["config"]["n_splits"] == 2
    assert json.loads(RunFolder(run_dir).config_overrides.read_text()) == [
        {
            "stage": "evaluate",
            "changes": {
                "epochs": {"from": 15, "to": 1},
                "n_repeats": {"from": 3, "to": 1},
                "n_splits": {"from": 5, "to": 2},
            },
        }
    ]
    saved = load_run_config(run_dir)
    assert (saved.n_classes, saved.epochs, saved.n_splits) == ((4,), 1, 2)


def test_an_override_equal_to_the_run_setting_is_not_logged_and_a_new_run_forgets_the_log(
    tmp_path: Path,
) -> None:
    start_run_config(tmp_path, Config(seed=3))
    assert update_run_config(tmp_path, Config(seed=3), "embed") == {}
    assert not RunFolder(tmp_path).config_overrides.exists()
    assert update_run_config(tmp_path, Config(seed=4), "embed") == {"seed": {"from": 3, "to": 4}}
    assert update_run_config(tmp_path, Config(seed=4, dup_verify=False), "dedup") == {
        "dup_verify": {"from": True, "to": False}
    }
    assert [entry["stage"] for entry in json.loads(RunFolder(tmp_path).config_overrides.read_text())] == [
        "embed",
        "dedup",
    ]
    start_run_config(tmp_path, Config())
    assert load_run_config(tmp_path) == Config() and not RunFolder(tmp_path).config_overrides.exists()
