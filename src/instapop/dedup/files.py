"""The stage's result and its files: ``dedup.csv``, ``dedup.json`` and the two figures; reading
``dedup.csv`` back, and a person's exclusion list."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from instapop.config import Config
from instapop.dedup.figures import contact_sheet, plot_nn_histogram
from instapop.dedup.threshold import ThresholdChoice
from instapop.errors import InstapopError
from instapop.media_types import MEDIA_TYPES
from instapop.runfolder import RunFolder

REASON_EXCLUDED = "excluded by user"
REASON_NO_FEATURES = "not checked: no embedding (see the failed list of features/)"
EVIDENCE_COLUMNS = ["matches", "inliers", "second", "contained", "anisotropy", "agreement"]
# A candidate pair: the two ids, their embedding distance, where the pair came from ("embedding":
# near neighbours; "frame": a picture inside a border or a screenshot), the verdict and its evidence.
CANDIDATE_COLUMNS = ["a", "b", "distance", "source", "same", "why", *EVIDENCE_COLUMNS]
TABLE_EVIDENCE = ["inliers", "contained", "agreement"]  # of the pair that removed an item, in dedup.csv


def no_pairs() -> pd.DataFrame:
    """An empty pair table (``a``, ``b``, ``distance``) with the columns' types."""
    return pd.DataFrame({"a": pd.Series([], dtype=str), "b": pd.Series([], dtype=str), "distance": []})


def no_candidates() -> pd.DataFrame:
    """An empty candidate table (:data:`CANDIDATE_COLUMNS`)."""
    return no_pairs().reindex(columns=CANDIDATE_COLUMNS)


@dataclass
class DedupResult:
    """The kept/removed table and everything needed to check it by eye.

    Attributes
    ----------
    table : DataFrame
        ``media_id, media_type, kept, reason, partner, distance`` and the evidence of the
        pair (``inliers, contained, agreement``) for every media item.
    threshold : ThresholdChoice
        The candidate bound (or, without verification, the duplicate threshold) and why.
    nn_distances : ndarray
        Each checked image's distance to its nearest other image (the histogram).
    pairs : DataFrame
        The duplicate pairs (``a, b, distance`` and evidence), images and videos.
    candidates : DataFrame
        Every candidate pair (:data:`CANDIDATE_COLUMNS`): where it came from, the verdict and its evidence.
    pictures : dict
        media_id -> picture file to show (the image, or a video's thumbnail).
    unmatched_exclusions : list of str
        Exclusion entries that named no media item.
    max_sheet_pairs : int
        Most pairs drawn in each part of ``dedup_pairs.png``.
    verified : bool
        Whether candidates were verified by the pictures (``Config.dup_verify``).
    """

    table: pd.DataFrame
    threshold: ThresholdChoice
    nn_distances: np.ndarray
    pairs: pd.DataFrame = field(default_factory=no_pairs)
    candidates: pd.DataFrame = field(default_factory=no_candidates)
    pictures: dict[str, str] = field(default_factory=dict)
    unmatched_exclusions: list[str] = field(default_factory=list)
    max_sheet_pairs: int = Config.dup_sheet_max_pairs
    verified: bool = True

    def summary(self) -> dict:
        """Counts, the bound, and every candidate pair with its evidence, as written to ``dedup.json``."""
        table = self.table
        removed = table[~table["kept"]]
        duplicates = removed[removed["reason"] != REASON_EXCLUDED]
        nn = self.nn_distances
        candidates = self.candidates.astype(object).where(self.candidates.notna(), None)
        return {
            "threshold": self.threshold.value,
            "rule": self.threshold.rule,
            "verified_by_pictures": self.verified,
            "median_nn_distance": float(np.median(nn)) if len(nn) else None,
            "n_media": int(len(table)),
            "n_checked": int((~table["reason"].isin([REASON_NO_FEATURES, REASON_EXCLUDED])).sum()),
            "n_candidates": int(len(self.candidates)),
            "n_pairs": int(len(self.pairs)),
            "n_removed": int(len(removed)),
            "n_removed_duplicates": {
                t: int((duplicates["media_type"] == t).sum()) for t in MEDIA_TYPES
            },
            "n_excluded": int((removed["reason"] == REASON_EXCLUDED).sum()),
            "n_kept": int(table["kept"].sum()),
            "unmatched_exclusions": list(self.unmatched_exclusions),
            "candidates": candidates.to_dict(orient="records"),
        }

    def describe(self) -> str:
        """A few lines for a person."""
        return describe_summary(self.summary())

    def write(self, run_dir: Path) -> None:
        """Write ``dedup.csv``, ``dedup.json``, ``dedup_hist.png`` and ``dedup_pairs.png`` in ``run_dir``."""
        run = RunFolder(run_dir)
        run.root.mkdir(parents=True, exist_ok=True)
        self.table.to_csv(run.dedup, index=False)
        run.dedup_summary.write_text(json.dumps(self.summary(), indent=2))
        label = "candidate bound" if self.verified else "threshold"
        plot_nn_histogram(self.nn_distances, self.threshold, run.dedup_hist, label)
        removed = self.table[~self.table["kept"] & (self.table["partner"] != "")]
        rejected = self.candidates[~self.candidates["same"].astype(bool)]
        contact_sheet(
            removed,
            self.pictures,
            run.dedup_pairs,
            max_pairs=self.max_sheet_pairs,
            rejected=rejected,
        )


def describe_summary(summary: dict) -> str:
    """A few lines for a person from a ``dedup.json`` summary."""
    dup = summary["n_removed_duplicates"]
    lines = [
        f"{'candidate bound' if summary.get('verified_by_pictures') else 'threshold'} "
        f"{summary['threshold']:.3f}: {summary['rule']}",
        f"checked {summary['n_checked']} of {summary['n_media']} media: {summary.get('n_candidates', 0)} "
        f"candidate pairs, {summary['n_pairs']} duplicate pairs"
        + (" (verified by the pictures)" if summary.get("verified_by_pictures") else ""),
        f"removed {dup['image']} images and {dup['video']} videos as duplicates, "
        f"{summary['n_excluded']} excluded by user; kept {summary['n_kept']}",
    ]
    if summary["unmatched_exclusions"]:
        lines.append(f"exclusions matching no media: {summary['unmatched_exclusions']}")
    return "\n".join(lines)


def read_exclude_file(path: Path) -> list[str]:
    """One media id or file path per line of an exclusion list; blank lines and ``#`` comments skipped."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InstapopError(f"cannot read exclusion list {path}: {err.strerror or err}") from err
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def load_dedup(run_dir: Path) -> pd.DataFrame:
    """The kept/removed table ``dedup.csv`` of a run folder."""
    path = RunFolder(run_dir).dedup
    if not path.is_file():
        raise InstapopError(f"{path} not found: run `instapop dedup {run_dir}` first")
    table = pd.read_csv(path, dtype={"media_id": str, "partner": str, "reason": str, "media_type": str})
    table[["partner", "reason", "media_type"]] = table[["partner", "reason", "media_type"]].fillna("")
    table["kept"] = table["kept"].astype(bool)
    return table


def removed_ids(table: pd.DataFrame) -> set[str]:
    """Media ids the table removes (duplicates and exclusions)."""
    return set(table.loc[~table["kept"].astype(bool), "media_id"].astype(str))
