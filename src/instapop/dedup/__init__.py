"""Near-duplicate removal: which media are allowed into training (paper §4.1, Fig. 3a).

A profile reposts its own pictures: re-crops, re-encodes and colour-shifted
copies, months apart. Left in, a repost gives free predictions in validation
(its twin is in the training fold) and conflicting labels in training. This
module finds them and decides which copy stays; it deletes nothing.

Steps
-----
1. **Exact nearest-neighbour search** on the clean image embeddings (view 0),
   Euclidean distance as in the paper, by a chunked dense distance matrix in
   float64 (images number in the low thousands, so brute force is exact and
   takes seconds).
2. **Automatic threshold** from the nearest-neighbour (NN) distances
   (:func:`auto_threshold`). The paper cuts the histogram's left tail off by
   eye; we use a *robust one-sided outlier rule on log distances*::

       x     = log(NN distance)                     (non-zero distances only)
       m     = median(x)
       s     = 1.4826 * median(x_i - m  for x_i > m)   # upper-half MAD
       cut   = exp(m - k * s),   k = Config.dup_outlier_k = 3

   Why this rule and not a histogram valley:

   * *Logs* make the rule scale-free: it reads "k spreads below the typical
     NN distance" in ratios, so it transfers unchanged between Lite0, the
     paper's B0 or a user's ONNX backbone, whose distances differ in scale.
   * *The upper half only* sets the spread. Duplicates and same-shoot
     variants only ever pull NN distances *down*, so the lower half is the
     contaminated side; the upper half describes ordinary images. Median and
     MAD also ignore the odd image unlike anything else on the right.
   * *k = 3* is the usual three-sigma fence: on a profile with no reposts at
     all it flags about 0.1 % of items, and it does not need a second mode.
     A valley needs a visible second bump; a brand with few reposts has none,
     and then the deepest dip of a noisy histogram lands anywhere. On real
     profiles the reposts (~7-8 with Lite0) and same-shoot photos (~8-9) sit
     in one shoulder below a median of ~13, so a valley would not separate
     them either; a fence at a fixed number of spreads below the median is
     stable and says in numbers why it lies where it lies.

   With verification (``Config.dup_verify``, the default) the same rule with
   ``k = Config.dup_candidate_k = 0`` is only a *candidate bound*: pairs
   closer than the median NN distance, where one is among the other's
   ``Config.dup_candidate_neighbours`` nearest. Embedding distance cannot
   tell a re-crop of one photograph from a similar photograph (on the
   development profile a repost sits at 7.66 and the next day's different
   selfie at 7.78), so the pictures decide. ``Config.dup_threshold`` (CLI
   ``--dup-threshold``) replaces the bound (every pair within it is a
   candidate), or, without verification, the threshold, as the paper adjusts
   its guess after looking at the pairs (``dedup_pairs.png`` shows them).
3. **Candidates and verification** (:mod:`instapop.dedup.verify`): the pairs
   within the bound, plus pictures shown inside a frame (a border, a phone
   screenshot) paired with the picture their content resembles most, whose
   embedding is far (:func:`~instapop.dedup.verify.framed_candidates`). Each
   pair is a duplicate when the two files show the same photograph: one
   geometric map, nothing that moved, the pixels agreeing (see that module).
   Two videos are candidates when their thumbnail embeddings are within the
   bound *and* their duration and frame rate match within
   ``Config.video_duration_tol_s`` and ``Config.video_fps_tol``; their
   thumbnails are verified. The bound comes from the images (thumbnails are
   pictures in the same embedding space); from the thumbnails only when a
   profile has too few images. Every candidate is kept with its evidence in
   ``dedup.json``.
4. **Conflicts** (:func:`resolve_conflicts`, pure). The paper: when the two
   copies' classes differ a single post beats a carousel (a carousel's likes
   are shared by all its media, so its label speaks less for any one of
   them); between two of the same kind the most recent is kept. We apply the
   *same* order when the classes agree, for the same reason and so that all
   decisions follow one total order: single post first, then most recent,
   then lower carousel position, then media id. The reason column records
   whether the classes differed.

   Groups of more than two copies are resolved greedily in that order: the
   best item is kept and every verified duplicate of it is removed
   with it as partner; then the best remaining item, and so on. So no two
   kept items are duplicates of each other, and a chain A~B~C whose ends are
   not duplicates keeps A and C and removes only B.
5. **Exclusions**: media a person lists (logos, product sheets in carousels,
   paper §5) are removed with reason "excluded by user" before the search,
   so their copies are judged without them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageOps
from tqdm import tqdm

from instapop.config import Config
from instapop.dedup.verify import framed_candidates, verify_pairs
from instapop.errors import BadInputError, InstapopError
from instapop.labels import class_column, class_ns
from instapop.media_types import MEDIA_TYPES, VIDEO
from instapop.runfolder import RunFolder

if TYPE_CHECKING:
    from instapop.embed.extract import FeatureSet

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
MIN_ITEMS_FOR_AUTO = 3  # fewer non-zero NN distances give no median/spread worth the name
CHUNK_ROWS = 512  # rows of the distance matrix held at once: 512 x 5000 float64 is 20 MB

REASON_UNIQUE = "no duplicate"
REASON_EXCLUDED = "excluded by user"
REASON_NO_FEATURES = "not checked: no embedding (see the failed list of features/)"
TABLE_COLUMNS = ["media_id", "media_type", "kept", "reason", "partner", "distance"]
EVIDENCE_COLUMNS = ["matches", "inliers", "second", "contained", "anisotropy", "agreement"]
# A candidate pair: the two ids, their embedding distance, where the pair came from ("embedding":
# near neighbours; "frame": a picture inside a border or a screenshot), the verdict and its evidence.
CANDIDATE_COLUMNS = ["a", "b", "distance", "source", "same", "why", *EVIDENCE_COLUMNS]
TABLE_EVIDENCE = ["inliers", "contained", "agreement"]  # of the pair that removed an item, in dedup.csv
RESOLVE_REQUIRED = ("media_id", "timestamp", "is_carousel")


@dataclass(frozen=True)
class ThresholdChoice:
    """The duplicate threshold and, in plain words with its numbers, why it has that value."""

    value: float
    rule: str


# --------------------------------------------------------------------------- search


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors (n, d); got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinite values")
    return matrix


def _row_chunks(n_rows: int, chunk_rows: int) -> Iterator[slice]:
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


def _distance_chunks(matrix: np.ndarray, chunk_rows: int, desc: str) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (rows, exact Euclidean distances from those rows to every row)."""
    sq_norms = np.einsum("ij,ij->i", matrix, matrix)
    chunks = list(_row_chunks(len(matrix), chunk_rows))
    for rows in tqdm(chunks, desc=desc, unit="chunk", disable=None, leave=False):
        sq = sq_norms[rows, None] + sq_norms[None, :] - 2.0 * (matrix[rows] @ matrix.T)
        # Rounding can leave tiny negatives where two vectors are identical.
        yield rows, np.sqrt(np.maximum(sq, 0.0))


def nearest_neighbour_distances(
    vectors: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean distance from each row to its nearest *other* row.

    Parameters
    ----------
    vectors : ndarray of shape (n, d)
        One embedding per row, n >= 2.
    chunk_rows : int
        Rows of the distance matrix computed at once (memory, not results).

    Returns
    -------
    distances : ndarray of shape (n,)
        Distance to the nearest other row.
    indices : ndarray of shape (n,)
        Row index of that neighbour (the lowest index on ties).
    """
    matrix = _as_matrix(vectors)
    if len(matrix) < 2:
        raise ValueError(f"nearest neighbours need at least 2 vectors; got {len(matrix)}")
    distances = np.empty(len(matrix))
    indices = np.empty(len(matrix), dtype=np.int64)
    for rows, block in _distance_chunks(matrix, chunk_rows, "nearest neighbours"):
        local = np.arange(block.shape[0])
        block[local, local + rows.start] = np.inf  # a row is not its own neighbour
        indices[rows] = block.argmin(axis=1)
        distances[rows] = block[local, indices[rows]]
    return distances, indices


def find_duplicate_pairs(
    ids: Sequence[str],
    vectors: np.ndarray,
    threshold: float,
    *,
    durations: np.ndarray | None = None,
    fps: np.ndarray | None = None,
    duration_tol: float = Config.video_duration_tol_s,
    fps_tol: float = Config.video_fps_tol,
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """Every pair of items within ``threshold`` of each other (Euclidean).

    Parameters
    ----------
    ids : sequence of str
        One id per row of ``vectors``.
    vectors : ndarray of shape (n, d)
        Image embeddings, or video thumbnail embeddings.
    threshold : float
        Largest distance that still counts as a duplicate.
    durations, fps : ndarray of shape (n,), optional
        Videos: a pair also needs durations within ``duration_tol`` seconds and
        frame rates within ``fps_tol``. A missing (NaN) value never matches.
    duration_tol, fps_tol : float
        The tolerances for ``durations`` and ``fps``.
    chunk_rows : int
        Rows of the distance matrix computed at once (memory, not results).

    Returns
    -------
    DataFrame with columns ``a``, ``b`` (ids, ``a`` the earlier row) and
    ``distance``; each pair once, sorted by distance then ids.
    """
    ids = [str(i) for i in ids]
    matrix = _as_matrix(vectors)
    if len(ids) != len(matrix):
        raise ValueError(f"got {len(ids)} ids for {len(matrix)} vectors")
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number >= 0; got {threshold}")
    found_a, found_b, found_d = [], [], []
    for rows, block in _distance_chunks(matrix, chunk_rows, "duplicate pairs"):
        row_idx, col_idx = np.nonzero(block <= threshold)
        row_idx = row_idx + rows.start
        later = col_idx > row_idx  # each unordered pair once, never an item with itself
        row_idx, col_idx = row_idx[later], col_idx[later]
        if durations is not None:
            row_idx, col_idx = _attributes_match(row_idx, col_idx, durations, duration_tol)
        if fps is not None:
            row_idx, col_idx = _attributes_match(row_idx, col_idx, fps, fps_tol)
        found_a.extend(row_idx)
        found_b.extend(col_idx)
        found_d.extend(block[row_idx - rows.start, col_idx])
    pairs = pd.DataFrame(
        {
            "a": [ids[i] for i in found_a],
            "b": [ids[j] for j in found_b],
            "distance": np.asarray(found_d, float),
        }
    )
    return pairs.sort_values(["distance", "a", "b"], kind="mergesort").reset_index(drop=True)


def _attributes_match(
    row_idx: np.ndarray, col_idx: np.ndarray, values: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64)
    # NaN compares False, so an unknown duration or fps never makes a pair.
    close = np.abs(values[row_idx] - values[col_idx]) <= tol
    return row_idx[close], col_idx[close]


def nearest_neighbour_indices(vectors: np.ndarray, k: int, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Row indices of each row's ``k`` nearest *other* rows (Euclidean), shape (n, min(k, n - 1))."""
    matrix = _as_matrix(vectors)
    k = max(0, min(k, len(matrix) - 1))
    indices = np.empty((len(matrix), k), dtype=np.int64)
    if k == 0:
        return indices
    for rows, block in _distance_chunks(matrix, chunk_rows, "nearest neighbours"):
        local = np.arange(block.shape[0])
        block[local, local + rows.start] = np.inf
        indices[rows] = np.argpartition(block, k - 1, axis=1)[:, :k]
    return indices


def among_nearest(pairs: pd.DataFrame, ids: Sequence[str], vectors: np.ndarray, k: int) -> pd.DataFrame:
    """The pairs in which one item is among the other's ``k`` nearest neighbours."""
    if pairs.empty:
        return pairs
    ids = [str(i) for i in ids]
    nearest = nearest_neighbour_indices(vectors, k)
    close = {(ids[i], ids[j]) for i in range(len(ids)) for j in nearest[i]}
    keep = [(a, b) in close or (b, a) in close for a, b in zip(pairs["a"], pairs["b"], strict=True)]
    return pairs[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- threshold


def auto_threshold(nn_distances: np.ndarray, k: float = Config.dup_outlier_k) -> ThresholdChoice:
    """Cut the left tail off the NN-distance histogram: ``exp(median - k * upper-half MAD)`` of logs.

    See the module docstring for the rule and why it was chosen.

    Parameters
    ----------
    nn_distances : ndarray of shape (n,)
        Each item's distance to its nearest other item.
    k : float
        How many robust spreads below the median the cut lies.

    Returns
    -------
    ThresholdChoice

    Raises
    ------
    BadInputError
        Fewer than 3 non-zero distances: no median or spread to speak of.
    """
    distances = np.asarray(nn_distances, dtype=np.float64)
    positive = distances[distances > 0]
    if len(positive) < MIN_ITEMS_FOR_AUTO:
        raise BadInputError(
            f"the automatic duplicate threshold needs at least {MIN_ITEMS_FOR_AUTO} items with a non-zero "
            f"nearest-neighbour distance; got {len(positive)} - set the threshold by hand (--dup-threshold)"
        )
    logs = np.log(positive)
    centre = float(np.median(logs))
    upper = logs[logs > centre] - centre
    spread = MAD_TO_SIGMA * float(np.median(upper)) if len(upper) else 0.0
    value = float(np.exp(centre - k * spread))
    rule = (
        f"{k:g} robust spreads below the median of log nearest-neighbour distances: median distance "
        f"{np.exp(centre):.3f}, spread {spread:.3f} (1.4826 x median deviation of the upper half), "
        f"threshold exp(log {np.exp(centre):.3f} - {k:g} x {spread:.3f}) = {value:.3f} "
        f"over {len(positive)} items"
    )
    return ThresholdChoice(value=value, rule=rule)


# --------------------------------------------------------------------------- conflicts


def _priority(media: pd.DataFrame) -> pd.DataFrame:
    """Media sorted best-first: single post, most recent, lower carousel position, media id."""
    ranked = pd.DataFrame(
        {
            "media_id": media["media_id"].astype(str),
            "is_carousel": media["is_carousel"].astype(bool),
            "time": pd.to_datetime(media["timestamp"], utc=True, format="ISO8601"),
            "child_index": media.get("child_index", 0),
        }
    )
    return ranked.sort_values(
        ["is_carousel", "time", "child_index", "media_id"],
        ascending=[True, False, True, True],
        kind="mergesort",
    )


def _classes_differ(winner: pd.Series, loser: pd.Series, class_columns: list[str]) -> bool:
    return any(
        not (pd.isna(winner[c]) and pd.isna(loser[c])) and winner[c] != loser[c] for c in class_columns
    )


def _removal_reason(winner: pd.Series, loser: pd.Series, class_columns: list[str]) -> str:
    """Plain words for why ``loser`` goes and ``winner`` stays; follows the order of :func:`_priority`."""
    if not bool(winner["is_carousel"]) and bool(loser["is_carousel"]):
        why = "single post preferred over carousel"
    elif winner["time"] != loser["time"]:
        why = "more recent copy kept"
    else:
        why = "same post time: earlier position kept"
    classes = "classes differ" if _classes_differ(winner, loser, class_columns) else "same classes"
    return f"duplicate ({classes}): {why}"


def _neighbours(pairs: pd.DataFrame) -> dict[str, dict[str, float]]:
    graph: dict[str, dict[str, float]] = {}
    for a, b, distance in pairs[["a", "b", "distance"]].itertuples(index=False):
        graph.setdefault(str(a), {})[str(b)] = float(distance)
        graph.setdefault(str(b), {})[str(a)] = float(distance)
    return graph


def resolve_conflicts(pairs: pd.DataFrame, media: pd.DataFrame) -> pd.DataFrame:
    """Decide, for every media item, whether it is kept; pure, deletes nothing.

    Parameters
    ----------
    pairs : DataFrame
        Columns ``a``, ``b``, ``distance`` (from :func:`find_duplicate_pairs`).
    media : DataFrame
        At least ``media_id``, ``timestamp``, ``is_carousel``; ``child_index``,
        ``media_type`` and ``class_<N>`` columns are used when present.

    Returns
    -------
    DataFrame with one row per media item, in ``media``'s order: ``media_id``,
    ``media_type``, ``kept`` (bool), ``reason``, ``partner`` (the kept copy a
    removed item duplicates, else empty) and ``distance`` (to the partner).

    Notes
    -----
    One order decides every conflict: single post before carousel, then most
    recent, then lower carousel position, then media id. Groups are resolved
    greedily in that order, so no two kept items are within the threshold.
    """
    missing = [c for c in RESOLVE_REQUIRED if c not in media.columns]
    if missing:
        raise ValueError(f"media table lacks columns {missing}; expected at least {list(RESOLVE_REQUIRED)}")
    ranked = _priority(media)
    by_id = media.assign(media_id=media["media_id"].astype(str)).set_index("media_id")
    by_id["time"] = ranked.set_index("media_id")["time"]
    graph = _neighbours(pairs)
    unknown = sorted(set(graph) - set(by_id.index))
    if unknown:
        raise ValueError(f"pairs name media missing from the media table: {unknown[:5]}")
    class_columns = [class_column(n) for n in class_ns(media.columns)]

    removed: dict[str, tuple[str, float]] = {}
    copies_removed: dict[str, int] = {}
    for media_id in ranked["media_id"]:
        if media_id in removed or media_id not in graph:
            continue
        # Kept: its undecided copies go. None of them can be kept already: it would have removed this one.
        undecided = [(other, d) for other, d in sorted(graph[media_id].items()) if other not in removed]
        for other, distance in undecided:
            removed[other] = (media_id, distance)
        copies_removed[media_id] = len(undecided)

    rows = []
    for media_id in media["media_id"].astype(str):
        partner, distance = removed.get(media_id, ("", np.nan))
        if partner:
            reason = _removal_reason(by_id.loc[partner], by_id.loc[media_id], class_columns)
        elif copies_removed.get(media_id):
            reason = f"kept: preferred over {copies_removed[media_id]} duplicate(s)"
        else:
            reason = REASON_UNIQUE
        media_type = by_id.at[media_id, "media_type"] if "media_type" in by_id else ""
        rows.append((media_id, media_type, not partner, reason, partner, distance))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


# --------------------------------------------------------------------------- whole stage


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame({"a": pd.Series([], dtype=str), "b": pd.Series([], dtype=str), "distance": []})


def _no_candidates() -> pd.DataFrame:
    return _no_pairs().reindex(columns=CANDIDATE_COLUMNS)


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
    pairs: pd.DataFrame = field(default_factory=_no_pairs)
    candidates: pd.DataFrame = field(default_factory=_no_candidates)
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


def match_exclusions(media: pd.DataFrame, exclude: Sequence[str]) -> tuple[set[str], list[str]]:
    """Media ids named by ``exclude`` entries (a media id, a file path or name), and entries naming none."""
    by_name = {Path(str(p)).name: str(m) for m, p in zip(media["media_id"], media["path"], strict=True)}
    known = set(media["media_id"].astype(str))
    matched: set[str] = set()
    unmatched: list[str] = []
    for entry in exclude:
        media_id = entry if entry in known else by_name.get(Path(entry).name)
        if media_id is None:
            unmatched.append(entry)
        else:
            matched.add(media_id)
    for entry in unmatched:
        log.warning("exclusion %r names no media item (no such media_id or media file name); ignored", entry)
    return matched, unmatched


def read_exclude_file(path: Path) -> list[str]:
    """One media id or file path per line of an exclusion list; blank lines and ``#`` comments skipped."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise InstapopError(f"cannot read exclusion list {path}: {err.strerror or err}") from err
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def _video_attributes(features: FeatureSet, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    info = features.video_info.set_index("media_id").reindex(ids)
    return info["duration"].to_numpy(float), info["fps"].to_numpy(float)


def _choose_threshold(config: Config, image_nn: np.ndarray, thumb_vectors: np.ndarray) -> ThresholdChoice:
    """The user's distance, else the automatic fence: loose for candidates, strict without verification."""
    if config.dup_threshold is not None:
        return ThresholdChoice(float(config.dup_threshold), f"set by the user: {config.dup_threshold:g}")
    k = config.dup_candidate_k if config.dup_verify else config.dup_outlier_k
    distances = image_nn
    source = "images"
    if len(distances) < MIN_ITEMS_FOR_AUTO and len(thumb_vectors) >= 2:
        distances, source = nearest_neighbour_distances(thumb_vectors)[0], "video thumbnails"
    try:
        choice = auto_threshold(distances, k=k)
    except BadInputError as err:
        log.warning("%s; only exact copies (distance 0) count as duplicates", err)
        return ThresholdChoice(0.0, f"too few items for the automatic rule ({err}); exact copies only")
    return ThresholdChoice(choice.value, f"{choice.rule} ({source})")


def deduplicate(
    media: pd.DataFrame, features: FeatureSet, config: Config, exclude: list[str] | None = None
) -> DedupResult:
    """Find near-duplicate images and videos and decide which copies stay.

    Parameters
    ----------
    media : DataFrame
        The ``media.csv`` table (media_id, timestamp, media_type, path,
        thumbnail, is_carousel, child_index, class_<N> ...).
    features : FeatureSet
        Embeddings: clean image views (view 0) and video thumbnails.
    config : Config
        ``dup_threshold`` (None: automatic), ``dup_verify``, ``dup_candidate_k``,
        ``dup_candidate_neighbours``, ``dup_outlier_k``, the ``verify_*`` settings,
        ``video_duration_tol_s``, ``video_fps_tol``, ``dup_sheet_max_pairs``.
    exclude : list of str, optional
        Media ids or file paths a person wants out (logos, product sheets).

    Returns
    -------
    DedupResult
        Write it with :meth:`DedupResult.write`.
    """
    media = media.assign(media_id=media["media_id"].astype(str))
    excluded, unmatched = match_exclusions(media, exclude or [])
    checked = media[~media["media_id"].isin(excluded)]
    present = set(checked["media_id"])
    pictures = _pictures(media)

    image_rows = [i for i, m in enumerate(features.image_ids) if m in present]
    image_ids = [features.image_ids[i] for i in image_rows]
    image_vectors = np.asarray(features.image_views)[image_rows, 0, :]
    video_rows = [i for i, m in enumerate(features.video_ids) if m in present]
    video_ids = [features.video_ids[i] for i in video_rows]
    thumb_vectors = np.asarray(features.video_thumbs)[video_rows]

    image_nn = nearest_neighbour_distances(image_vectors)[0] if len(image_ids) >= 2 else np.empty(0)
    threshold = _choose_threshold(config, image_nn, thumb_vectors)
    log.info(
        "duplicate %s %.3f: %s",
        "candidate bound" if config.dup_verify else "threshold",
        threshold.value,
        threshold.rule,
    )

    found = []
    if len(image_ids) >= 2:
        found.append(_embedding_candidates(image_ids, image_vectors, threshold.value, config))
        if config.dup_verify:
            framed = framed_candidates({m: pictures[m] for m in image_ids}, config)
            found.append(_with_distances(framed, image_ids, image_vectors, "frame"))
    if len(video_ids) >= 2:
        durations, fps = _video_attributes(features, video_ids)
        attributes = {"durations": durations, "fps": fps}
        found.append(_embedding_candidates(video_ids, thumb_vectors, threshold.value, config, **attributes))
    candidates = _judged(_unique_pairs([f for f in found if len(f)]), pictures, config)
    duplicates = candidates[candidates["same"].astype(bool)].reset_index(drop=True)

    resolved = resolve_conflicts(duplicates, checked)
    table = _assemble_table(media, resolved, excluded, set(image_ids + video_ids), duplicates)
    return DedupResult(
        table=table,
        threshold=threshold,
        nn_distances=image_nn,
        pairs=duplicates[["a", "b", "distance", *EVIDENCE_COLUMNS]],
        candidates=candidates,
        pictures=pictures,
        unmatched_exclusions=unmatched,
        max_sheet_pairs=config.dup_sheet_max_pairs,
        verified=config.dup_verify,
    )


def _embedding_candidates(
    ids: list[str], vectors: np.ndarray, bound: float, config: Config, **attributes: np.ndarray
) -> pd.DataFrame:
    """Pairs within ``bound``; under the automatic bound with verification, only near neighbours."""
    tolerances = {"duration_tol": config.video_duration_tol_s, "fps_tol": config.video_fps_tol}
    pairs = find_duplicate_pairs(ids, vectors, bound, **attributes, **(tolerances if attributes else {}))
    if config.dup_verify and config.dup_threshold is None:
        pairs = among_nearest(pairs, ids, vectors, config.dup_candidate_neighbours)
    return pairs.assign(source="embedding")


def _with_distances(
    pairs: list[tuple[str, str]], ids: list[str], vectors: np.ndarray, source: str
) -> pd.DataFrame:
    row = {m: i for i, m in enumerate(ids)}
    distances = [float(np.linalg.norm(vectors[row[a]] - vectors[row[b]])) for a, b in pairs]
    return pd.DataFrame(
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs], "distance": distances, "source": source}
    )


def _unique_pairs(found: list[pd.DataFrame]) -> pd.DataFrame:
    """All candidate pairs once (the first source that found a pair names it), closest first."""
    if not found:
        return _no_pairs().assign(source=pd.Series([], dtype=str))
    pairs = pd.concat(found, ignore_index=True)
    key = [frozenset(p) for p in zip(pairs["a"], pairs["b"], strict=True)]
    pairs = pairs[~pd.Series(key).duplicated().to_numpy()]
    return pairs.sort_values(["distance", "a", "b"], kind="mergesort").reset_index(drop=True)


def _judged(pairs: pd.DataFrame, pictures: dict[str, str], config: Config) -> pd.DataFrame:
    """The candidate pairs with the verdict and its evidence (without verification: all are duplicates)."""
    if not config.dup_verify:
        judged = pairs.assign(same=True, why="within the threshold (not verified by the pictures)")
        return judged.reindex(columns=CANDIDATE_COLUMNS)
    verdicts = verify_pairs(list(zip(pairs["a"], pairs["b"], strict=True)), pictures, config)
    evidence = pd.DataFrame([dataclasses.asdict(v.evidence) for v in verdicts], columns=EVIDENCE_COLUMNS)
    judged = pairs.assign(same=[v.same for v in verdicts], why=[v.why for v in verdicts])
    return pd.concat([judged.reset_index(drop=True), evidence], axis=1).reindex(columns=CANDIDATE_COLUMNS)


def _assemble_table(
    media: pd.DataFrame, resolved: pd.DataFrame, excluded: set[str], embedded: set[str], pairs: pd.DataFrame
) -> pd.DataFrame:
    """All media in ``media``'s order: the resolved rows, the excluded ones and those without features."""
    table = resolved.set_index("media_id")
    not_embedded = ~table.index.isin(list(embedded))
    table.loc[not_embedded, "reason"] = REASON_NO_FEATURES
    excluded_rows = pd.DataFrame(
        {
            "media_type": media.set_index("media_id").loc[sorted(excluded), "media_type"],
            "kept": False,
            "reason": REASON_EXCLUDED,
            "partner": "",
            "distance": np.nan,
        }
    )
    frames = [f for f in (table, excluded_rows) if len(f)]
    full = pd.concat(frames) if frames else table
    full = full.reindex(media["media_id"]).reset_index()
    full["kept"] = full["kept"].astype(bool)
    evidence = {
        frozenset(k): v
        for k, v in zip(
            zip(pairs["a"], pairs["b"], strict=True), pairs[TABLE_EVIDENCE].to_numpy(float), strict=True
        )
    }
    blank = np.full(len(TABLE_EVIDENCE), np.nan)
    rows = [
        evidence.get(frozenset((m, p)), blank) for m, p in zip(full["media_id"], full["partner"], strict=True)
    ]
    full[TABLE_EVIDENCE] = np.array(rows).reshape(len(full), len(TABLE_EVIDENCE))
    return full[TABLE_COLUMNS + TABLE_EVIDENCE]


def _pictures(media: pd.DataFrame) -> dict[str, str]:
    """media_id -> the picture to show: the image itself, or a video's thumbnail."""
    thumbnails = media["thumbnail"] if "thumbnail" in media else pd.Series("", index=media.index)
    pictures = {}
    for media_id, media_type, path, thumb in zip(
        media["media_id"], media["media_type"], media["path"], thumbnails.fillna(""), strict=True
    ):
        pictures[str(media_id)] = str(thumb) if media_type == VIDEO else str(path)
    return pictures


# --------------------------------------------------------------------------- run folder


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


# --------------------------------------------------------------------------- figures


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
