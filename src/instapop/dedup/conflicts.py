"""Which copy of each group of duplicates stays: one total order, applied greedily (pure, deletes nothing).

See :mod:`instapop.dedup` (step 4) for the order and why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from instapop.labels import class_column, class_ns

REASON_UNIQUE = "no duplicate"
TABLE_COLUMNS = ["media_id", "media_type", "kept", "reason", "partner", "distance"]
RESOLVE_REQUIRED = ("media_id", "timestamp", "is_carousel")


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
