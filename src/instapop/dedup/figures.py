"""The stage's figures, to check its decisions by eye: the nearest-neighbour histogram with the
threshold (paper Fig. 3a) and the contact sheet of removed and rejected pairs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageOps

from instapop.dedup.threshold import ThresholdChoice

log = logging.getLogger(__name__)


def plot_nn_histogram(
    nn_distances: np.ndarray, threshold: ThresholdChoice, path: Path, label: str = "threshold"
) -> None:
    """Histogram of nearest-neighbour distances with the threshold or candidate bound (paper Fig. 3a)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, Agg canvas on save

    fig = Figure(figsize=(7, 4), dpi=110)
    ax = fig.add_subplot()
    distances = np.asarray(nn_distances, dtype=float)
    if len(distances):
        ax.hist(distances, bins=min(60, max(10, len(distances) // 4)), color="#7a9cc6", edgecolor="white")
        median = float(np.median(distances))
        ax.axvline(median, color="grey", linestyle=":", label=f"median {median:.2f}")
    ax.axvline(threshold.value, color="#c0392b", linewidth=2, label=f"{label} {threshold.value:.2f}")
    n_below = int((distances <= threshold.value).sum())
    ax.set_title(f"Nearest-neighbour distance per image ({n_below} of {len(distances)} within the {label})")
    ax.set_xlabel("Euclidean distance to the closest other image")
    ax.set_ylabel("images")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


SHEET_TILE = 160  # pixels per picture in the contact sheet
SHEET_CAPTION = 46  # pixels of caption under each pair: the two ids, the distance, the evidence
SHEET_HEADER = 24  # pixels of a part's title


def _tile(path: str) -> Image.Image:
    """A square thumbnail of a picture, or a grey tile saying it could not be read."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (SHEET_TILE, SHEET_TILE))  # JPEG: decode at reduced size
            img = ImageOps.exif_transpose(img).convert("RGB")
            return ImageOps.pad(img, (SHEET_TILE, SHEET_TILE), color=(255, 255, 255))
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        log.warning("contact sheet: cannot show %s: %s", path, err)
        tile = Image.new("RGB", (SHEET_TILE, SHEET_TILE), (200, 200, 200))
        ImageDraw.Draw(tile).text((8, SHEET_TILE // 2), "unreadable", fill=(0, 0, 0))
        return tile


def _evidence_line(row) -> str:
    """'503 inliers, 100% agree' for a verified pair; empty without evidence."""
    inliers, agreement = getattr(row, "inliers", np.nan), getattr(row, "agreement", np.nan)
    if pd.isna(inliers):
        return ""
    return f"{int(inliers)} inliers" + ("" if pd.isna(agreement) else f", {agreement:.0%} agree")


def contact_sheet(
    removed: pd.DataFrame,
    pictures: dict[str, str],
    path: Path,
    max_pairs: int,
    rejected: pd.DataFrame | None = None,
) -> None:
    """Removed items beside the kept copy and, apart, the near candidates the verification rejected.

    Parameters
    ----------
    removed : DataFrame
        Rows of the dedup table with a partner (``media_id``, ``partner``, ``distance``;
        ``inliers``, ``agreement`` when verified).
    pictures : dict
        media_id -> picture file.
    path : Path
        PNG to write.
    max_pairs : int
        Cap on pairs drawn in each part, closest first; the titles say how many were left out.
    rejected : DataFrame, optional
        Candidate pairs judged different (``a``, ``b``, ``distance``, ``why`` and the evidence).
    """
    removed_shown = removed.sort_values(["distance", "media_id"], kind="mergesort").head(max_pairs)
    removed_pairs = [
        (r.partner, r.media_id, f"distance {r.distance:.2f}", _evidence_line(r))
        for r in removed_shown.itertuples()
    ]
    rejected = rejected if rejected is not None else pd.DataFrame(columns=["a", "b", "distance", "why"])
    rejected_shown = rejected.sort_values(["distance", "a", "b"], kind="mergesort").head(max_pairs)
    rejected_pairs = [
        (r.a, r.b, f"distance {r.distance:.2f}: {r.why}", _evidence_line(r))
        for r in rejected_shown.itertuples()
    ]
    parts = [
        (
            f"removed: kept (left) | removed (right), {len(removed_shown)} pairs",
            removed_pairs,
            len(removed),
            "no duplicates removed",
        ),
        (
            f"rejected near candidates, not the same photograph: {len(rejected_shown)} pairs",
            rejected_pairs,
            len(rejected),
            "no candidate rejected",
        ),
    ]
    columns = 2 if max(len(removed_pairs), len(rejected_pairs)) > 6 else 1  # two pairs a row: shorter sheet
    pair_w, pair_h = 2 * SHEET_TILE + 10, SHEET_TILE + SHEET_CAPTION
    heights = [SHEET_HEADER + max(1, -(-len(shown) // columns)) * pair_h for _, shown, _, _ in parts]
    width = max(columns * (pair_w + 20), 2 * (pair_w + 20))
    sheet = Image.new("RGB", (width, sum(heights) + 10), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    top = 0
    for (title, shown, total, empty), height in zip(parts, heights, strict=True):
        left_out = total - len(shown)
        title += f", {left_out} more not shown" if left_out else ""
        draw.text((6, top + 6), title if shown else empty, fill=(0, 0, 0))
        for n, (left, right, line1, line2) in enumerate(shown):
            x, y = (n % columns) * (pair_w + 20), top + SHEET_HEADER + (n // columns) * pair_h
            sheet.paste(_tile(pictures.get(left, "")), (x, y))
            sheet.paste(_tile(pictures.get(right, "")), (x + SHEET_TILE + 10, y))
            draw.text((x + 2, y + SHEET_TILE + 2), left, fill=(0, 0, 0))
            draw.text((x + SHEET_TILE + 12, y + SHEET_TILE + 2), right, fill=(160, 0, 0))
            draw.text((x + 2, y + SHEET_TILE + 15), line1[:60], fill=(90, 90, 90))
            draw.text((x + 2, y + SHEET_TILE + 28), line2, fill=(90, 90, 90))
        top += height
        draw.line([(0, top + 4), (width, top + 4)], fill=(120, 120, 120), width=2)
    sheet.save(path)
