"""The portfolio: one row per profile of a batch, as ``portfolio.csv`` and a sortable ``portfolio.html``.

Each row comes from the profile's run folder alone (read with
:func:`instapop.report.run_files.load_run`, as the report does): its status in words, posts and
media, how many posts ingest left out and the commonest reason, label reliability, the approach
the final model uses (read from its model card, at its N) with its accuracy and 95 % interval
beside the majority-class baseline, how well it ranks posts (Spearman correlation of its score
with the within-window percentile, and pairwise accuracy, each with its interval), the most
popular region's first thumbnails and a link to the profile's report. Below
``MIN_VALIDATED_ITEMS`` items of a media type its figures read "too few … to validate (n = …)".
A failed profile keeps its row, with the reason.

The page is one self-contained file like the report: thumbnails are embedded as
data URIs and a few lines of plain JavaScript sort the table by a clicked header.
"""

from __future__ import annotations

import base64
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from instapop.batch.outcome import ProfileOutcome
from instapop.cv_rows import MAJORITY, MIN_VALIDATED_ITEMS, CVRow, cv_rows, find_row
from instapop.embed.cache import write_atomically
from instapop.media_types import IMAGE, VIDEO
from instapop.report.html import esc
from instapop.report.run_files import RunFiles, load_run

PORTFOLIO_HTML = "portfolio.html"
PORTFOLIO_CSV = "portfolio.csv"
THUMBS = 4  # thumbnails of the most popular region shown per profile
THUMB_SIDE = 64  # their side on the page, pixels

# Column -> header; the CSV keeps the column names, the page the headers.
COLUMNS = {
    "profile": "Profile",
    "status": "Status",
    "posts": "Posts",
    "images": "Images",
    "videos": "Videos",
    "left_out": "Left out at ingest",
    "left_out_reason": "Commonest reason left out",
    "label_reliability": "Label reliability",
    "image_approach": "Image model",
    "image_accuracy": "Image accuracy",
    "image_majority": "Image majority baseline",
    "image_spearman": "Image ranking (Spearman)",
    "image_pairwise": "Image pairwise acc.",
    "video_approach": "Video model",
    "video_accuracy": "Video accuracy",
    "video_majority": "Video majority baseline",
    "video_spearman": "Video ranking (Spearman)",
    "video_pairwise": "Video pairwise acc.",
    "popular_regions": "Popular regions",
    "report": "Report",
}
_COUNTS = ("posts", "images", "videos", "left_out", "popular_regions")
_SHARES = ("label_reliability", "image_majority", "video_majority")

SORT_SCRIPT = """
document.querySelectorAll("th").forEach((th, column) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0];
  const ascending = th.dataset.order !== "asc";
  th.closest("tr").querySelectorAll("th").forEach(other => delete other.dataset.order);
  th.dataset.order = ascending ? "asc" : "desc";
  const key = row => row.cells[column].dataset.value ?? row.cells[column].textContent;
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
    const order = !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y);
    return ascending ? order : -order;
  });
  rows.forEach(row => body.appendChild(row));
}));
"""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1em 1.2em 3em; color: #222; }
table { border-collapse: collapse; font-size: .85em; }
th, td { border: 1px solid #ddd; padding: .3em .5em; text-align: left; vertical-align: middle; }
th { background: #f4f4f4; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[data-order="asc"]::after { content: " \\25B2"; } th[data-order="desc"]::after { content: " \\25BC"; }
td.failed { color: #a00; max-width: 24em; } td.thumbs, td.figure { white-space: nowrap; }
td img { width: 64px; height: 64px; margin-right: 2px; vertical-align: middle; }
"""


def _share(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _mean(row: CVRow | None, metric: str) -> float:
    value = None if row is None else row.mean(metric)
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Figure:
    """A cell that reads as ``text`` (in the CSV too) and sorts by ``value`` on the page."""

    text: str
    value: float

    def __str__(self) -> str:
        return self.text


def _figure(row: CVRow | None, metric: str) -> Figure | float:
    """A cross-validated figure with its interval (NaN: not validated); on too few items, says so
    (in full in the accuracy cell, the ranking cells beside it just "too few")."""
    if row is None or row.mean(metric) is None:
        return float("nan")
    if row.too_few:
        return Figure(row.too_few if metric == "accuracy" else "too few", float("nan"))
    figure = row.metrics[metric]
    if metric != "accuracy":
        return Figure(figure.shown(), figure.mean)
    interval = f" [{figure.ci95[0]:.0%}, {figure.ci95[1]:.0%}]" if figure.ci95 else ""
    return Figure(f"{figure.mean:.0%}{interval}", figure.mean)


def _model_columns(run: RunFiles, media: str) -> dict[str, Any]:
    """The approach the saved model uses for one media type (its card), at its N: accuracy, ranking."""
    blank = {f"{media}_{k}": float("nan") for k in ("accuracy", "majority", "spearman", "pairwise")}
    card = run.model_card or {}
    approach = card.get(f"{media}_approach")
    if run.cv is None or approach is None:
        return {f"{media}_approach": "", **blank}
    n_classes, rows = card["n_classes"], cv_rows(run.cv)
    row = find_row(rows, media, approach, n_classes)
    majority = find_row(rows, media, MAJORITY, n_classes)
    return {
        f"{media}_approach": approach,
        f"{media}_accuracy": _figure(row, "accuracy"),
        # a baseline is only worth reading beside a figure it can be compared with
        f"{media}_majority": float("nan") if row is None or row.too_few else _mean(majority, "accuracy"),
        f"{media}_spearman": _figure(row, "spearman"),
        f"{media}_pairwise": _figure(row, "pairwise_accuracy"),
    }


def left_out(run: RunFiles) -> dict[str, Any]:
    """How many posts ingest left out (``summary.json``) and the commonest reason, "reason (n of N)"."""
    if run.summary is None:
        return {"left_out": float("nan"), "left_out_reason": ""}
    counts = Counter(run.summary.get("excluded", {}))
    if not counts.total():
        return {"left_out": 0, "left_out_reason": ""}
    [(reason, n)] = counts.most_common(1)  # a tie goes to the reason first in the alphabet
    return {"left_out": counts.total(), "left_out_reason": f"{reason} ({n} of {counts.total()})"}


def most_popular_region(run: RunFiles) -> dict[str, Any] | None:
    """The explained map's popular region with the highest mean class, or None."""
    regions = ((run.explain or {}).get("map") or {}).get("regions") or []
    popular = [r for r in regions if r["direction"] == "popular"]
    return max(popular, key=lambda r: r["mean_class"]) if popular else None


def region_thumbnails(run: RunFiles, region: dict[str, Any] | None, n: int = THUMBS) -> list[bytes]:
    """The region's first ``n`` thumbnails (most typical first) as small JPEGs, cut from its strip."""
    if region is None:
        return []
    strip_path = run.folder.explain / region["strip"]
    try:
        with Image.open(strip_path) as strip:
            pixels = np.asarray(strip.convert("RGB"))
    except OSError:
        return []
    side = pixels.shape[0]  # the strip is one row of square tiles
    thumbs = []
    for i in range(min(n, pixels.shape[1] // side)):
        tile = Image.fromarray(pixels[:, i * side : (i + 1) * side]).resize((THUMB_SIDE, THUMB_SIDE))
        buffer = io.BytesIO()
        tile.save(buffer, format="JPEG", quality=85)
        thumbs.append(buffer.getvalue())
    return thumbs


def profile_row(outcome: ProfileOutcome, out_dir: Path) -> tuple[dict[str, Any], list[bytes]]:
    """One profile's portfolio row, and its region thumbnails."""
    row: dict[str, Any] = {column: float("nan") for column in COLUMNS} | {
        "profile": outcome.name,
        "status": outcome.status_line(),
        "left_out_reason": "",
        "image_approach": "",
        "video_approach": "",
        "report": "",
    }
    if outcome.status == "failed":
        return row, []
    run = load_run(outcome.run_dir)
    if run.media is not None:
        counts = run.media["media_type"].value_counts()
        row |= {
            "posts": run.media["post_id"].nunique(),
            "images": int(counts.get(IMAGE, 0)),
            "videos": int(counts.get(VIDEO, 0)),
            "label_reliability": 1 - _share(run.media.drop_duplicates("post_id")["low_confidence"]),
        }
    row |= left_out(run) | _model_columns(run, IMAGE) | _model_columns(run, VIDEO)
    regions = ((run.explain or {}).get("map") or {}).get("regions") or []
    row["popular_regions"] = sum(r["direction"] == "popular" for r in regions)
    if outcome.report is not None:
        row["report"] = os.path.relpath(outcome.report, out_dir)
    return row, region_thumbnails(run, most_popular_region(run))


def _cell(column: str, value: Any, thumbs: list[bytes]) -> str:
    if column == "report":
        return f'<td><a href="{esc(value)}">report</a></td>' if value else "<td></td>"
    if column == "popular_regions":
        sources = (f"data:image/jpeg;base64,{base64.b64encode(t).decode()}" for t in thumbs)
        images = "".join(f'<img alt="popular region thumbnail" src="{src}">' for src in sources)
        count = "" if pd.isna(value) else int(value)
        return f'<td class="thumbs" data-value="{count}">{images or count}</td>'
    if column == "status" and str(value).startswith("failed"):
        return f'<td class="failed">{esc(value)}</td>'
    if isinstance(value, Figure):
        if np.isnan(value.value):  # a note: it may wrap
            return f'<td data-value="">{esc(value.text)}</td>'
        return f'<td class="figure" data-value="{value.value:.6f}">{esc(value.text)}</td>'
    if isinstance(value, float):
        if np.isnan(value):
            return '<td data-value="">—</td>'
        shown = f"{value:.0%}" if column in _SHARES else f"{value:.3f}"
        return f'<td data-value="{value:.6f}">{shown}</td>'
    return f"<td>{esc(value)}</td>"


def portfolio_page(rows: list[dict[str, Any]], thumbs: list[list[bytes]], title: str) -> str:
    """The self-contained, sortable portfolio page."""
    head = "".join(f"<th>{esc(label)}</th>" for label in COLUMNS.values())
    body = "".join(
        "<tr>" + "".join(_cell(column, row[column], row_thumbs) for column in COLUMNS) + "</tr>"
        for row, row_thumbs in zip(rows, thumbs, strict=True)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no request for /favicon.ico on file://
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>{len(rows)} profiles. Accuracy and ranking are cross-validated, for the "
        "model each profile's study chose, each with its 95 % interval in brackets; with fewer than "
        f"{MIN_VALIDATED_ITEMS} images or videos a profile has too few to validate. Click a header to "
        "sort.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<script>{SORT_SCRIPT}</script></body></html>"
    )


def write_portfolio(outcomes: list[ProfileOutcome], out_dir: Path) -> Path:
    """Write ``portfolio.csv`` and ``portfolio.html`` into ``out_dir``; returns the page's path."""
    out_dir = Path(out_dir)
    built = [profile_row(outcome, out_dir) for outcome in outcomes]
    rows = [row for row, _ in built]
    table = pd.DataFrame(rows, columns=list(COLUMNS)).astype({column: "Int64" for column in _COUNTS})
    table.to_csv(out_dir / PORTFOLIO_CSV, index=False)
    html = portfolio_page(rows, [thumbs for _, thumbs in built], "Instagram popularity portfolio")
    path = out_dir / PORTFOLIO_HTML
    write_atomically(path, html.encode("utf-8"))
    return path
