"""The dedup stage: exclusions, candidate pairs from the embeddings and the frames, verification
by the pictures, conflicts resolved, the whole table assembled (see :mod:`instapop.dedup`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from instapop.config import Config
from instapop.dedup.conflicts import TABLE_COLUMNS, resolve_conflicts
from instapop.dedup.files import (
    CANDIDATE_COLUMNS,
    EVIDENCE_COLUMNS,
    REASON_EXCLUDED,
    REASON_NO_FEATURES,
    TABLE_EVIDENCE,
    DedupResult,
    no_pairs,
)
from instapop.dedup.search import among_nearest, find_duplicate_pairs, nearest_neighbour_distances
from instapop.dedup.threshold import choose_threshold
from instapop.dedup.verify import framed_candidates, verify_pairs
from instapop.media_types import VIDEO

if TYPE_CHECKING:
    from instapop.embed.extract import FeatureSet

log = logging.getLogger(__name__)


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


def _video_attributes(features: FeatureSet, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    info = features.video_info.set_index("media_id").reindex(ids)
    return info["duration"].to_numpy(float), info["fps"].to_numpy(float)


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
    threshold = choose_threshold(config, image_nn, thumb_vectors)
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
        return no_pairs().assign(source=pd.Series([], dtype=str))
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
