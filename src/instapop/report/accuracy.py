"""The models' cross-validated accuracy: confusion matrices (Figs. 5-8), all metrics, summary lines.

Reads ``cv_results.json`` as ``instapop.validation`` writes it: one row per media x approach x N,
each metric as ``{"mean", "std", "ci95"}`` over repeats (no ``ci95`` in files written before
intervals existed), the confusion matrix row-normalised. A media type with fewer than
``MIN_VALIDATED_ITEMS`` items reads "too few to validate" instead of its figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from instapop.cv_rows import MAJORITY, MIN_VALIDATED_ITEMS, TABLE_METRICS, CVRow, cv_rows
from instapop.models.approaches import REGISTRY
from instapop.report import figures
from instapop.report.html import Section, image, missing, paragraph, table
from instapop.report.run_files import RunFiles

NEEDS_CV = "Needs cv_results.json: run the evaluation stage (`instapop run` does it)."


def _name(approach: str) -> str:
    """An approach's plain words (its key when no registered approach has that name)."""
    return REGISTRY[approach].label if approach in REGISTRY else approach


def _learned() -> list[str]:
    """The registered approaches that are models, not baselines, in the table's order."""
    return [a.name for a in REGISTRY.values() if not a.baseline]


def metrics_table(cv: dict) -> pd.DataFrame:
    """Every row of the results with every metric as "mean [95 % interval]" ("skipped" for a skipped
    approach, "too few … to validate (n = …)" below ``MIN_VALIDATED_ITEMS`` items)."""
    return pd.DataFrame(
        [
            {"media": row.media, "approach": _name(row.approach), "N": row.n_classes, "items": row.n_items}
            | {TABLE_METRICS[key]: cell for key, cell in row.cells(with_reason=False).items()}
            for row in cv_rows(cv)
        ]
    )


def skipped_notes(cv: dict) -> list[str]:
    """One sentence per reason an approach was skipped, naming the approaches it stopped."""
    stopped: dict[tuple[str, int, str], list[str]] = {}
    for row in cv_rows(cv):
        if not row.scored:
            stopped.setdefault((row.media, row.n_classes, row.skipped), []).append(row.approach)
    return [
        f"Not validated ({media}s, N = {n_classes}: {', '.join(_name(a) for a in approaches)}): {reason}."
        for (media, n_classes, reason), approaches in stopped.items()
    ]


def _confusion_panels(cv: dict, n_classes: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [
        (
            f"{_name(row.approach)}, N = {n_classes}",
            np.asarray(row.metrics["confusion"].mean),
            np.asarray(row.metrics["confusion"].std),
        )
        for approach in _learned()
        for row in cv_rows(cv)
        if row.approach == approach
        and row.n_classes == n_classes
        and row.mean("confusion") is not None
        and not row.too_few  # the table says why it has no figures
    ]


def accuracy_section(run: RunFiles) -> Section:
    """Confusion matrices mean ± std per approach and N, then every metric with the baselines."""
    title = "How well the models predict"
    cv = run.cv
    if cv is None:
        why = run.stages_not_run().get("evaluate")
        note = f"The evaluation stage did not run ({why})." if why else NEEDS_CV
        return Section("accuracy", title, missing(note))
    config = cv["config"]
    folds = "grouped by post" if config["grouped_folds"] else "plain stratified"
    body = paragraph(
        f"Cross-validation: {config['n_splits']} folds ({folds}), repeated {config['n_repeats']} times; "
        "each cell is the mean over repeats and, in brackets, its 95 % interval: how far the figure could "
        "move on another sample of posts of the same kind (Wilson's interval for accuracy and top-2, a "
        "bootstrap over posts for the others). With fewer than "
        f"{MIN_VALIDATED_ITEMS} images or videos the figures say too little and the table says so "
        "instead. Confusion matrices (mean ± standard deviation over repeats) are row-normalised: "
        "each row says where the items of one true class ended up (paper Figs. 5-8)."
    ) + paragraph(
        "Beside the paper's classifiers, the ranker predicts one number per post: where its PoR will "
        "fall among the posts of its own eight-week window (its within-window percentile, 0 = least "
        "popular, 1 = most), from the picture and from what you know before publishing (hour, weekday, "
        "time since the previous post, carousel, caption). Classes are cuts of that number, so one model "
        "serves any number of classes. Spearman and pairwise accuracy say how well each model orders "
        "posts, measured against that within-window percentile: raw PoR across years mostly follows the "
        "audience's growth and the follower estimate, which no picture can predict."
    )
    for n_classes in sorted({row.n_classes for row in cv_rows(cv)}):
        panels = _confusion_panels(cv, n_classes)
        if panels:
            body += image(figures.confusion_matrices(panels), f"confusion matrices, N = {n_classes}")
    body += "<h3>All metrics, with the baselines</h3>" + table(metrics_table(cv))
    body += "".join(paragraph(note) for note in skipped_notes(cv))
    return Section("accuracy", title, body)


def _how_often_right(row: CVRow, guess: float | None) -> str:
    accuracy = row.metrics["accuracy"]
    notes = [f"95 % interval {accuracy.ci95[0]:.0%}-{accuracy.ci95[1]:.0%}"] if accuracy.ci95 else []
    notes += [f"{(accuracy.mean - guess) * 100:+.0f} points"] if guess is not None else []
    return f"the {_name(row.approach)} is right {accuracy.mean:.0%} of the time" + (
        f" ({'; '.join(notes)})" if notes else ""
    )


def summary_lines(cv: dict) -> list[str]:
    """One plain sentence per media type and N: each model's accuracy against the most-common-class guess."""
    lines = []
    every = cv_rows(cv)
    for media, n_classes in sorted({(row.media, row.n_classes) for row in every}):
        group = [r for r in every if (r.media, r.n_classes) == (media, n_classes)]
        if not group[0].n_items:  # no item of this media type: nothing to say
            continue
        heading = f"{media.capitalize()}s, {n_classes} classes"
        if group[0].too_few:
            lines.append(f"{heading}: {group[0].too_few} (see How well the models predict).")
            continue
        rows = {r.approach: r for r in group if r.scored}
        guess = rows[MAJORITY].mean("accuracy") if MAJORITY in rows else None
        models = [
            _how_often_right(rows[a], guess)
            for a in _learned()
            if a in rows and rows[a].mean("accuracy") is not None
        ]
        if not models:
            lines.append(f"{heading}: no learned model could be validated (see How well the models predict).")
            continue
        against = f"always guessing the most common class scores {guess:.0%}" if guess is not None else ""
        lines.append(
            f"{heading} (chance {1 / n_classes:.0%}"
            + (f"; {against}" if against else "")
            + "): "
            + "; ".join(models)
            + "."
        )
    return lines
