"""The HTML report: built from run-folder files only, at every stage, and sound in a real browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from instapop.cli import app
from instapop.report import build_report
from instapop.report.figures import low_confidence_spans
from instapop.report.html import table
from instapop.report.run_files import flag_low_confidence, load_run
from support import open_page

SECTIONS = (
    "summary",
    "popularity",
    "labels",
    "duplicates",
    "map",
    "accuracy",
    "context",
    "words",
    "gradcam",
    "videos",
    "quality",
)
INGEST_FILES = ("media.csv", "posts.csv", "excluded.csv", "followers.csv", "summary.json")


@pytest.fixture(scope="module")
def explained_run(make_run) -> Path:
    """A 60-post study up to the final models, explained, with its report built."""
    run_dir = make_run(n_posts=60, seed=7, upto="explain")
    build_report(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def ingest_only_run(explained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run as it was right after ingest: only the ingest files."""
    run_dir = tmp_path_factory.mktemp("ingest-only")
    for name in INGEST_FILES:
        shutil.copy(explained_run / name, run_dir / name)
    return run_dir


# --------------------------------------------------------------------------- pieces


def test_low_confidence_spans_cover_each_run_of_flagged_posts() -> None:
    times = pd.Series(
        pd.to_datetime(["2020-01-01", "2020-01-05", "2020-01-10", "2020-01-20", "2020-02-01"], utc=True)
    )
    spans = low_confidence_spans(times, np.array([True, True, False, False, True]))
    assert len(spans) == 2
    assert spans[0][0] <= times[0] and spans[0][1] >= times[1] and spans[0][1] < times[2]
    assert spans[1][0] < times[4] < spans[1][1]  # a lone post is widened so that it shows
    assert low_confidence_spans(times, np.zeros(5, dtype=bool)) == []


def test_labels_far_from_follower_data_or_extrapolated_are_low_confidence() -> None:
    media = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"], utc=True),
            "confidence_days": [3.0, 45.0, 2.0, 1.0],
            "followers": [100.0, 110.0, np.nan, 130.0],
        }
    )
    followers = pd.DataFrame({"date": pd.to_datetime(["2019-12-29", "2020-03-02"], utc=True)})
    low = flag_low_confidence(media, followers, max_days=30)
    assert low.tolist() == [False, True, True, True]  # far, no estimate, beyond the last known count


def test_tables_escape_what_users_control() -> None:
    html = table(pd.DataFrame({"item": ["<script>alert(1)</script>.jpg"], "reason": ["bad & broken"]}))
    assert "<script>" not in html and "&lt;script&gt;" in html and "bad &amp; broken" in html


# --------------------------------------------------------------------------- whole reports


def test_report_builds_after_ingest_alone_and_says_what_is_missing(ingest_only_run: Path) -> None:
    path = build_report(ingest_only_run)
    html = path.read_text()
    for anchor in SECTIONS:
        assert f'id="{anchor}"' in html
    assert (
        "Needs dedup.json" in html
        and "Needs cv_results.json" in html
        and "Needs explain/explain.json" in html
    )
    assert html.count("<img") == 4  # PoR over time, Fig. 1b, Fig. 2, context effects


def test_cli_report_prints_the_path(ingest_only_run: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(ingest_only_run)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(ingest_only_run / "report.html")


def test_report_is_self_contained(explained_run: Path) -> None:
    html = (explained_run / "report.html").read_text()
    assert 'src="http' not in html and "src='http" not in html and "<script" not in html
    assert html.count('src="data:image/png;base64,') == html.count("<img")


def test_report_reads_its_figures_from_the_run_folder(explained_run: Path) -> None:
    run = load_run(explained_run)
    assert not run.problems
    assert run.media is not None and run.cv is not None and run.explain is not None


def test_label_reliability_says_how_much_the_follower_estimate_changes_inside_a_window(
    explained_run: Path,
) -> None:
    run = load_run(explained_run)
    change = run.summary["follower_change"]
    html = (explained_run / "report.html").read_text()
    window = f"{run.config.window_days:g}-day window"
    assert f"its {window}" in html and f"at most {change['max']:.1%} here" in html
    assert change["max"] > 0 and change["posts"] == run.media["post_id"].nunique()


def test_the_report_says_how_the_backtest_of_the_saved_approach_went(explained_run: Path) -> None:
    run = load_run(explained_run)
    card = run.model_card
    row = next(
        r for r in run.cv["backtest"]["rows"]
        if (r["media"], r["approach"], r["n_classes"]) == ("image", card["image_approach"], card["n_classes"])
    )  # fmt: skip
    html = (explained_run / "report.html").read_text()
    pooled = row["pooled"]
    assert f"Had you used instapop since {pooled['start']}" in html
    assert f"of the {pooled['n_top']} images it put in the top half, {pooled['top_half']:.0%} were" in html


@pytest.mark.browser
def test_report_renders_in_chromium(explained_run: Path, artifacts_dir: Path, chromium) -> None:
    page, errors = open_page(chromium, (explained_run / "report.html").as_uri(), 1200, 1000)
    present = page.evaluate("ids => ids.filter(id => document.getElementById(id) !== null)", list(SECTIONS))
    widths = page.evaluate("Array.from(document.images).map(img => img.complete ? img.naturalWidth : 0)")
    page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
    page.close()
    assert present == list(SECTIONS)
    assert len(widths) >= 8 and min(widths) > 0, widths
    assert errors == []
