"""The stage table: every face runs the same stages, and labels are a stage of their own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from instapop.cli import app
from instapop.errors import InstapopError
from instapop.stages import STAGE_NAMES, STAGES, get_stage, run_stage
from support import TEST_CONFIG


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.output


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_table_declares_each_stage_once_in_an_order_its_needs_allow() -> None:
    assert STAGE_NAMES == ("ingest", "labels", "embed", "dedup", "evaluate", "train", "explain", "report")
    for position, stage in enumerate(STAGES):
        assert all(STAGE_NAMES.index(need) < position for need in stage.needs), stage.name
    with pytest.raises(InstapopError, match="no stage 'label'; the stages are ingest, labels"):
        get_stage("label")


def test_a_stage_whose_input_is_missing_names_the_command_that_writes_it(tmp_path: Path) -> None:
    with pytest.raises(InstapopError, match=r"labels needs .*posts.csv: run `instapop ingest`"):
        run_stage("labels", tmp_path)
    result = CliRunner().invoke(app, ["train", str(tmp_path)])
    assert result.exit_code == 2 and "run `instapop evaluate`" in result.output


def test_instapop_run_and_the_cli_stages_one_by_one_make_the_same_results_and_model(
    make_profile, feature_cache: Path, tmp_path: Path
) -> None:
    profile = make_profile(n_posts=60, seed=7)
    settings = tmp_path / "settings.json"
    TEST_CONFIG.save(settings)
    source = [profile.profile_dir, "--followers", profile.followers_csv, "--config", settings]
    whole, staged = tmp_path / "whole", tmp_path / "staged"

    _invoke("run", *source, "--out", whole, "--cache", feature_cache)
    _invoke("ingest", *source, "--out", staged)
    _invoke("labels", staged)
    _invoke("embed", staged, "--cache", feature_cache)
    for command in ("dedup", "evaluate", "train", "report"):
        _invoke(command, staged)

    ours, theirs = (json.loads((run / "cv_results.json").read_text()) for run in (whole, staged))
    assert ours["rows"] and ours["rows"] == theirs["rows"] and ours["ids"] == theirs["ids"]
    model = _files(whole / "model")
    assert "context.json" in model and model == _files(staged / "model")
    assert (whole / "config.json").read_bytes() == (staged / "config.json").read_bytes()
    assert (staged / "report.html").is_file()


def test_labels_relabel_from_the_run_folder_and_evaluate_uses_the_new_labels(
    make_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    quick = {"approaches": ("ranker", "majority"), "n_splits": 2}
    shutil.copytree(make_run(n_posts=60, seed=7, upto="dedup", **quick), run_dir)
    _invoke("evaluate", run_dir)  # N = 2 and 3 in the 56-day window: checkpoints of the old labels

    def no_reading(*args, **kwargs):
        raise AssertionError("a source reader was called: labels must not read the profile again")

    import instapop.ingest
    import instapop.sources

    for module in (instapop.sources, instapop.ingest):
        monkeypatch.setattr(module, "read_source", no_reading)
    before = pd.read_csv(run_dir / "media.csv")
    output = _invoke("labels", run_dir, "-n", "4", "-n", "2", "--window-days", "200")
    after = pd.read_csv(run_dir / "media.csv")

    assert "N=4" in output and "rolling 200 d" in output
    assert {"class_4", "class_2"} <= set(after) and "class_3" not in after
    assert (before["class_2"] != after["class_2"]).any(), "a wider window changes some labels"
    assert before.drop(columns=[c for c in before if "class" in c or "percentile" in c]).equals(
        after.drop(columns=[c for c in after if "class" in c or "percentile" in c])
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["labels"]["window_days"] == 200 and set(summary["classes"]["image"]) == {"2", "4"}

    _invoke("evaluate", run_dir)
    cv = json.loads((run_dir / "cv_results.json").read_text())
    assert {row["n_classes"] for row in cv["rows"]} == {2, 4}
    labelled = after.set_index("media_id")
    for media in ("image", "video"):
        ids = cv["ids"][media]
        for n in (2, 4):  # the rows were trained on the new labels, not on checkpoints of the old
            assert cv["items"][media]["classes"][str(n)] == labelled.loc[ids, f"class_{n}"].tolist()
