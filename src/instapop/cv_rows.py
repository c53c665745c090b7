"""Typed rows of ``cv_results.json``: one media type x approach x N, read in one place.

``instapop.validation`` writes each row as a JSON object (see docs/architecture.md);
:meth:`CVRow.from_dict` reads one and :meth:`CVRow.to_dict` gives it back key for key, in
the same order, so that the file's bytes do not depend on which side built the row.
Light on imports: the report and the portfolio read results without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The majority-class baseline's approach name: the row every accuracy is read against.
MAJORITY = "majority"
# Below this many items of a media type a row's figures are shown as "too few to validate":
# at n = 30 the 95 % interval of an accuracy near 0.7 is already about ±0.16 wide.
MIN_VALIDATED_ITEMS = 30

# The metrics a table shows, by their column headers (the confusion matrix is a figure).
TABLE_METRICS = {
    "accuracy": "accuracy",
    "top2_accuracy": "top-2",
    "balanced_accuracy": "balanced acc.",
    "macro_f1": "macro-F1",
    "spearman": "Spearman (percentile)",
    "pairwise_accuracy": "pairwise",
}

_FIXED = ("media", "approach", "n_classes", "n_items", "skipped", "repeats", "folds", "predictions")


@dataclass(frozen=True)
class MeanStd:
    """A metric over the repeats: mean, standard deviation and 95 % interval.

    Numbers, or nested lists for the confusion matrix. ``mean`` and ``std`` are None where the
    metric is undefined (e.g. top-2 at N = 2); ``ci95`` (``[low, high]``) is None there too, for
    the confusion matrix, and in rows written before intervals existed (schema 3).
    """

    mean: Any
    std: Any
    ci95: list[float] | None = None

    def shown(self) -> str:
        """The metric as a table cell: "0.695 [0.663, 0.726]", or "0.695 ± 0.016" without interval."""
        if self.mean is None:
            return "—"
        if self.ci95 is None:
            return f"{self.mean:.3f} ± {self.std:.3f}"
        return f"{self.mean:.3f} [{self.ci95[0]:.3f}, {self.ci95[1]:.3f}]"


@dataclass(frozen=True)
class CVRow:
    """One row of the cross-validation table.

    ``skipped`` holds why the approach could not run (then there are no metrics);
    ``metrics`` maps each metric (accuracy, top2_accuracy, …, confusion) to its
    :class:`MeanStd` in the file's order; ``repeats`` and ``folds`` are each repeat's
    and each fold's numbers; ``predictions`` the out-of-fold scores, held in memory
    only (they go to ``cv_predictions.csv``).
    """

    media: str
    approach: str
    n_classes: int
    n_items: int
    skipped: str | None = None
    metrics: dict[str, MeanStd] = field(default_factory=dict)
    repeats: list[dict[str, Any]] | None = None
    folds: list[dict[str, Any]] | None = None
    predictions: dict[str, Any] | None = None

    @property
    def scored(self) -> bool:
        """Whether the approach ran (the row holds metrics)."""
        return self.skipped is None

    @property
    def too_few(self) -> str | None:
        """What to show instead of its figures below :data:`MIN_VALIDATED_ITEMS` items, else None."""
        if self.n_items >= MIN_VALIDATED_ITEMS:
            return None
        return f"too few {self.media}s to validate (n = {self.n_items})"

    def cells(self, with_reason: bool = True) -> dict[str, str]:
        """Each of :data:`TABLE_METRICS`' cells: "0.695 [0.663, 0.726]"; or, when the row was
        skipped ("skipped: reason", or only "skipped") or rests on too few items, that note in
        the first cell and dashes in the others."""
        note = self.too_few
        if not self.scored:
            note = f"skipped: {self.skipped}" if with_reason else "skipped"
        if note is None:
            return {key: self.metrics[key].shown() for key in TABLE_METRICS}
        return {key: note if key == "accuracy" else "—" for key in TABLE_METRICS}

    def mean(self, metric: str) -> Any:
        """The metric's mean over repeats; None when skipped or undefined."""
        return self.metrics[metric].mean if metric in self.metrics else None

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> CVRow:
        """A row as ``cv_results.json`` (or a checkpoint) holds it."""
        metrics = {k: MeanStd(v["mean"], v["std"], v.get("ci95")) for k, v in row.items() if k not in _FIXED}
        return cls(
            media=row["media"],
            approach=row["approach"],
            n_classes=row["n_classes"],
            n_items=row["n_items"],
            skipped=row.get("skipped"),
            metrics=metrics,
            repeats=row.get("repeats"),
            folds=row.get("folds"),
            predictions=row.get("predictions"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The row as ``cv_results.json`` holds it (absent parts left out), keys in the file's order."""
        row: dict[str, Any] = {
            "media": self.media,
            "approach": self.approach,
            "n_classes": self.n_classes,
            "n_items": self.n_items,
        }
        if self.skipped is not None:
            row["skipped"] = self.skipped
        row |= {name: _metric_dict(m) for name, m in self.metrics.items()}
        parts = {"repeats": self.repeats, "folds": self.folds, "predictions": self.predictions}
        return row | {name: part for name, part in parts.items() if part is not None}


def _metric_dict(metric: MeanStd) -> dict[str, Any]:
    interval = {} if metric.ci95 is None else {"ci95": metric.ci95}
    return {"mean": metric.mean, "std": metric.std} | interval


def cv_rows(results: dict[str, Any]) -> list[CVRow]:
    """Every row of cross-validation results (``cv_results.json``, or what ``evaluate`` returns)."""
    return [CVRow.from_dict(row) for row in results["rows"]]


def find_row(rows: list[CVRow], media: str, approach: str, n_classes: int) -> CVRow | None:
    """The row of one media type x approach x N, or None."""
    return next(
        (r for r in rows if (r.media, r.approach, r.n_classes) == (media, approach, n_classes)), None
    )
