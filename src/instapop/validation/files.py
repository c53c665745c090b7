"""The files of the cross-validation table: ``cv_results.json``, ``cv_results.md`` and
``cv_predictions.csv``; reading the results back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from instapop.cv_rows import MIN_VALIDATED_ITEMS, TABLE_METRICS, cv_rows
from instapop.errors import InstapopError
from instapop.media_types import IMAGE, VIDEO
from instapop.runfolder import RunFolder

# 2: a skipped approach is a row with its reason; 3: Spearman vs the percentile; 4: 95 % intervals
SCHEMA_VERSION = 4
_DECIMALS = 6  # JSON floats are rounded: the file stays byte-identical and readable


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def cv_json(results: dict[str, Any]) -> str:
    """The results as the text of ``cv_results.json`` (floats rounded to 6 decimals), without the
    per-item predictions (those go to ``cv_predictions.csv``)."""
    rows = [{k: v for k, v in row.items() if k != "predictions"} for row in results["rows"]]
    return json.dumps(_rounded(results | {"rows": rows}), indent=1) + "\n"


PREDICTION_COLUMNS = (
    "media_id",
    "post_id",
    "media",
    "n_classes",
    "approach",
    "repeat",
    "fold",
    "score",
    "predicted_class",
    "true_class",
    "percentile",
)


def cv_predictions(results: dict[str, Any]) -> pd.DataFrame:
    """Every out-of-fold prediction: one line per item x repeat x N x approach.

    ``score`` orders the items (the ranker's predicted percentile, a classifier's expected
    class); sort by ``score - percentile`` to see which posts surprised a model.
    """
    tables = []
    for row in results["rows"]:
        if "predictions" not in row:
            continue
        media, n = row["media"], row["n_classes"]
        items, folds = results["items"][media], np.asarray(results["folds"][media][str(n)])
        scores = np.asarray(row["predictions"]["score"], dtype=float)
        for repeat in range(len(scores)):
            tables.append(
                pd.DataFrame(
                    {
                        "media_id": results["ids"][media],
                        "post_id": items["post_id"],
                        "media": media,
                        "n_classes": n,
                        "approach": row["approach"],
                        "repeat": repeat,
                        "fold": folds[repeat],
                        "score": np.round(scores[repeat], _DECIMALS),
                        "predicted_class": row["predictions"]["predicted"][repeat],
                        "true_class": items["classes"][str(n)],
                        "percentile": np.asarray(items["percentile"], dtype=float),
                    }
                )
            )
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=PREDICTION_COLUMNS)


def cv_markdown(results: dict[str, Any]) -> str:
    """The cross-validation table in Markdown, one line per media x approach x N."""
    config = results["config"]
    folds = "grouped by post" if config["grouped_folds"] else "plain stratified"
    lines = [
        f"Cross-validation: {config['n_splits']} folds ({folds}) x {config['n_repeats']} "
        f"repeats, mean over repeats [95 % interval]; {results['n_items'][IMAGE]} images, "
        f"{results['n_items'][VIDEO]} videos; under {MIN_VALIDATED_ITEMS} items of a media type "
        "are too few to validate.",
        "",
        "| media | approach | N | " + " | ".join(TABLE_METRICS.values()) + " |",
        "|" + " --- |" * (3 + len(TABLE_METRICS)),
    ]
    for row in cv_rows(results):
        cells = " | ".join(row.cells().values())
        lines.append(f"| {row.media} | {row.approach} | {row.n_classes} | {cells} |")
    return "\n".join(lines) + "\n"


def backtest_markdown(backtest: dict[str, Any] | None) -> str:
    """The backtest's pooled figures in Markdown (see :mod:`instapop.validation.backtest`), or ""."""
    if not backtest:
        return ""
    lines = [
        "",
        f"Backtest (time-ordered): the last {backtest['share']:.0%} of posts by date in {backtest['blocks']} "
        "blocks, each scored by approaches trained on the posts before it only; pooled over blocks. "
        "Top half: of the posts an approach put in the top half of their block, the share that was "
        "in the top half of its window (chance 0.5).",
        "",
        "| media | approach | N | from | posts | accuracy | Spearman (percentile) | pairwise | top half |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in backtest["rows"]:
        head = f"| {row['media']} | {row['approach']} | {row['n_classes']} |"
        if "skipped" in row:
            lines.append(f"{head} skipped: {row['skipped']} | — | — | — | — | — | — |")
            continue
        pooled = row["pooled"]
        cells = " | ".join("—" if pooled[m] is None else f"{pooled[m]:.3f}" for m in BACKTEST_METRICS)
        lines.append(f"{head} {pooled['start']} | {pooled['n']} | {cells} |")
    return "\n".join(lines) + "\n"


BACKTEST_METRICS = ("accuracy", "spearman", "pairwise_accuracy", "top_half")


def write_cv_results(results: dict[str, Any], run_dir: Path) -> None:
    """Write ``cv_results.json``, ``cv_results.md`` and ``cv_predictions.csv`` into ``run_dir``."""
    run = RunFolder(run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    run.cv_results.write_text(cv_json(results))
    run.cv_markdown.write_text(cv_markdown(results) + backtest_markdown(results.get("backtest")))
    cv_predictions(results).to_csv(run.cv_predictions, index=False)


def load_cv_results(run_dir: Path) -> dict[str, Any]:
    """Read ``cv_results.json`` of a run folder."""
    path = RunFolder(run_dir).cv_results
    if not path.is_file():
        raise InstapopError(f"{path} not found: run `instapop evaluate {run_dir}` first")
    return json.loads(path.read_text())


def row_of(results: dict[str, Any], media: str, approach: str, n_classes: int) -> dict[str, Any] | None:
    """The table row of one media x approach x N, or None."""
    for row in results["rows"]:
        if (row["media"], row["approach"], row["n_classes"]) == (media, approach, n_classes):
            return row
    return None
