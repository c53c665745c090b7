"""Honest small numbers: every figure of a CV row with its 95 % interval, and "too few to validate"
instead of a figure measured on a handful of items (cv_results.md, the report, the portfolio)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import balanced_accuracy_score, f1_score

from instapop.batch.outcome import ProfileOutcome
from instapop.batch.portfolio import profile_row, write_portfolio
from instapop.config import Config
from instapop.cv_rows import cv_rows, find_row
from instapop.datasets import MediaSet, planted_dataset
from instapop.report.accuracy import metrics_table, summary_lines
from instapop.runfolder import RunFolder
from instapop.validation import cv_json, cv_markdown, evaluate, pairwise_accuracy
from instapop.validation.metrics import (
    mean_std,
    post_resamples,
    repeat_metrics,
    weighted_balanced_accuracy,
    weighted_macro_f1,
    weighted_pairwise,
    weighted_spearman,
    wilson_interval,
)
from instapop.validation.runner import with_intervals

FAST = Config(n_classes=(2,), n_repeats=2, approaches=("majority", "logreg", "ranker"))  # no neural model
INTERVAL_METRICS = ("accuracy", "top2_accuracy", "balanced_accuracy", "macro_f1", "spearman")
INTERVAL_METRICS += ("pairwise_accuracy",)


@pytest.fixture(scope="module")
def seventeen_videos() -> dict:
    """cv_results.json of 120 images and 17 videos (one post each), no neural model: seconds."""
    data = planted_dataset(120, 17, signal=3.0, seed=0, dim=16, n_views=1, n_frames=2, siblings=1)
    return json.loads(cv_json(evaluate(data, FAST, progress=False)))


def test_wilson_interval_by_hand() -> None:
    # p = 0.7 of n = 30, z = 1.96: centre (0.7 + z²/60) / (1 + z²/30) = 0.6773,
    # half-width z / (1 + z²/30) * sqrt(0.21/30 + z²/3600) = 0.1561.
    assert wilson_interval(0.7, 30) == pytest.approx([0.5212, 0.8334], abs=1e-4)
    # Never outside [0, 1], and not empty at p = 0: z²/n / (1 + z²/n) with n = 10.
    assert wilson_interval(0.0, 10) == pytest.approx([0.0, 0.2775], abs=1e-4)


def test_a_resample_is_the_posts_drawn_again_and_its_metrics_those_of_the_expanded_sample() -> None:
    rng = np.random.default_rng(3)
    n = 90
    groups = np.repeat([f"post{i}" for i in range(30)], 3)  # carousels of 3
    scores, percentile = np.round(rng.normal(size=n), 1), np.round(rng.uniform(size=n), 1)  # with ties
    folds, labels, predicted = rng.integers(0, 3, n), rng.integers(0, 3, n), rng.integers(0, 3, n)
    weights = post_resamples(groups, 4, seed=1)
    assert (weights.reshape(4, 30, 3).std(axis=2) == 0).all()  # siblings are drawn together
    assert (weights.sum(axis=1) == n).all()  # 30 draws of a post of 3
    for b, w in enumerate(weights.astype(int)):
        drawn = np.repeat(np.arange(n), w)
        right = pairs = 0.0
        for fold in range(3):
            rows = drawn[folds[drawn] == fold]
            c, p = pairwise_accuracy(scores[rows], percentile[rows])
            right, pairs = right + c, pairs + p
        expanded = {
            "spearman": spearmanr(scores[drawn], percentile[drawn]).statistic,
            "pairwise": right / pairs,
            "balanced": balanced_accuracy_score(labels[drawn], predicted[drawn]),
            "macro_f1": f1_score(labels[drawn], predicted[drawn], average="macro", labels=range(3)),
        }
        weighted = {
            "spearman": weighted_spearman(scores, percentile, weights)[b],
            "pairwise": weighted_pairwise(scores, percentile, folds, weights)[b],
            "balanced": weighted_balanced_accuracy(predicted, labels, 3, weights)[b],
            "macro_f1": weighted_macro_f1(predicted, labels, 3, weights)[b],
        }
        assert weighted == pytest.approx(expanded, abs=1e-12)


def _scored_row(items: MediaSet, seed: int) -> tuple[dict, np.ndarray]:
    """A row of 3 repeats, as summarise writes it, of a noisy model: scores follow the percentile."""
    rng = np.random.default_rng(seed)
    n, labels = len(items), items.labels[3]
    folds = rng.integers(0, 5, (3, n))
    probs = np.eye(3)[labels] + rng.uniform(0, 1.5, (3, n, 3))
    probs /= probs.sum(axis=2, keepdims=True)
    scores = items.percentile + rng.normal(0, 0.3, (3, n))
    repeats = [repeat_metrics(probs[r], scores[r], labels, items.percentile, folds[r]) for r in range(3)]
    row = {"media": "image", "approach": "image", "n_classes": 3, "n_items": n}
    row |= {key: mean_std([r[key] for r in repeats]) for key in repeats[0]}
    predictions = {"score": scores.tolist(), "predicted": probs.argmax(axis=2).tolist()}
    return row | {"predictions": predictions}, folds


def test_intervals_cover_the_mean_and_narrow_with_more_posts() -> None:
    widths = {}
    for n in (100, 1000):
        items = planted_dataset(n, 1, seed=2, dim=4, n_views=1, n_frames=1).images
        row, folds = _scored_row(items, seed=n)
        row = with_intervals(row, items, folds, seed=0)
        assert with_intervals(row, items, folds, seed=0) == row  # the seed fixes the resamples
        for key in INTERVAL_METRICS:
            low, high = row[key]["ci95"]
            assert low <= row[key]["mean"] <= high, (n, key)
        assert "ci95" not in row["confusion"]
        widths[n] = {key: np.diff(row[key]["ci95"])[0] for key in INTERVAL_METRICS}
    for key in INTERVAL_METRICS:  # ten times the posts: about a third of the width
        assert widths[1000][key] < 0.5 * widths[100][key], key


def test_every_scored_row_carries_intervals_into_the_table(seventeen_videos) -> None:
    for row in cv_rows(seventeen_videos):
        assert row.metrics["accuracy"].ci95 is not None
        assert (row.metrics["spearman"].ci95 is None) == (row.mean("spearman") is None)  # majority: none
    logreg = find_row(cv_rows(seventeen_videos), "image", "logreg", 2)
    cell = logreg.metrics["accuracy"].shown()
    assert re.fullmatch(r"0\.\d{3} \[0\.\d{3}, (0\.\d{3}|1\.000)\]", cell)
    assert f"| image | logreg | 2 | {cell} |" in cv_markdown(seventeen_videos)


def test_too_few_videos_say_so_in_the_table_and_the_report(seventeen_videos) -> None:
    table = cv_markdown(seventeen_videos)
    assert "| video | logreg | 2 | too few videos to validate (n = 17) | — | — | — | — | — |" in table
    assert "under 30 items of a media type are too few to validate" in table
    report = metrics_table(seventeen_videos).set_index(["media", "approach"])
    assert report.loc[("video", "baseline: logistic regression"), "accuracy"] == (
        "too few videos to validate (n = 17)"
    )
    image_logreg = report.loc[("image", "baseline: logistic regression"), "accuracy"]
    assert re.fullmatch(r"0\.\d{3} \[.*\]", image_logreg)
    lines = summary_lines(seventeen_videos)
    too_few = "Videos, 2 classes: too few videos to validate (n = 17) (see How well the models predict)."
    assert too_few in lines
    [images] = [line for line in lines if line.startswith("Images")]
    assert re.search(r"right \d+% of the time \(95 % interval \d+%-\d+%; [+-]\d+ points\)", images)


def test_rows_written_before_intervals_still_render(seventeen_videos) -> None:
    old = seventeen_videos | {
        "rows": [
            {k: {"mean": v["mean"], "std": v["std"]} if isinstance(v, dict) else v for k, v in row.items()}
            for row in seventeen_videos["rows"]
        ]
    }
    assert "ci95" not in json.dumps(old)
    logreg = find_row(cv_rows(old), "image", "logreg", 2)
    assert logreg.metrics["accuracy"].ci95 is None and logreg.to_dict() == next(
        row for row in old["rows"] if (row["media"], row["approach"]) == ("image", "logreg")
    )
    cell = f"{logreg.mean('accuracy'):.3f} ± {logreg.metrics['accuracy'].std:.3f}"
    assert f"| image | logreg | 2 | {cell} |" in cv_markdown(old)
    assert metrics_table(old).loc[lambda t: t["media"] == "image", "accuracy"].str.contains(" ± ").all()
    assert any(line.startswith("Images, 2 classes") for line in summary_lines(old))


def _run_folder(folder: Path, cv: dict, excluded: dict[str, int]) -> Path:
    """A run folder with just what a portfolio row reads: summary.json, cv_results.json, the model card."""
    run = RunFolder(folder)
    run.model.mkdir(parents=True)
    run.summary.write_text(json.dumps({"excluded": excluded}))
    run.cv_results.write_text(json.dumps(cv))
    card = {"n_classes": 2, "image_approach": "logreg", "video_approach": "logreg"}
    run.model_card.write_text(json.dumps(card))
    return folder


def test_a_17_video_profile_reads_too_few_with_what_ingest_left_out(seventeen_videos, tmp_path) -> None:
    excluded = {"malformed JSON": 3, "media missing": 9}
    brand = ProfileOutcome("brand", _run_folder(tmp_path / "brand", seventeen_videos, excluded), "reused")
    row, _ = profile_row(brand, tmp_path)
    assert row["status"] == "reused: finished by an earlier batch, media and settings unchanged"
    assert str(row["video_accuracy"]) == "too few videos to validate (n = 17)"
    assert str(row["video_spearman"]) == str(row["video_pairwise"]) == "too few"
    assert np.isnan(row["video_majority"])  # no bare baseline beside a figure withheld
    assert re.fullmatch(r"\d+% \[\d+%, \d+%\]", str(row["image_accuracy"]))
    assert re.fullmatch(r"0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]", str(row["image_pairwise"]))
    assert (row["left_out"], row["left_out_reason"]) == (12, "media missing (9 of 12)")
    failed = ProfileOutcome("broken", tmp_path / "broken", reason="unrecognised follower file")
    write_portfolio([brand, dataclasses.replace(brand, status="done"), failed], tmp_path)
    table = pd.read_csv(tmp_path / "portfolio.csv")
    assert table["status"].str.split(":").str[0].tolist() == ["reused", "done", "failed"]
    assert table.loc[0, "video_accuracy"] == "too few videos to validate (n = 17)"
    assert table.loc[0, "image_accuracy"] == str(row["image_accuracy"]) and table.loc[0, "left_out"] == 12
    page = (tmp_path / "portfolio.html").read_text()
    assert '<td data-value="">too few videos to validate (n = 17)</td>' in page
    image_accuracy = row["image_accuracy"]
    assert f'<td class="figure" data-value="{image_accuracy.value:.6f}">{image_accuracy}</td>' in page
