"""Popularity Rate and popularity classes (paper §2-3).

PoR = (likes + comments) / followers at posting time (eq. 1). Classes are N
quantile bins of PoR (N = 2: median split, N = 3: terciles, any N >= 2),
computed inside a rolling time window centred on each post, because PoR drifts
down as a profile grows and a follower estimate can be wrong for a while
(paper Fig. 2); the global ("horizontal") split is kept for comparison.

Image posts and video posts are labelled separately: a post with at least one
image belongs to the image split, a post with at least one video to the video
split, and every media item carries its post's class for its own type.

A class is the post's quantile position among the posts of its window: with
``less`` posts below it and ``equal`` posts tied with it (itself included) out
of ``n``, class = floor((less + equal / 2) * N / n). Without ties this puts
floor(n/N) or ceil(n/N) posts of any window in each class; tied posts share
their mid-rank and so one class.

The **within-window percentile** (less + equal / 2) / n is the same position as one number
in (0, 1): class = floor(N * percentile) for every N. It is what the ranker learns and what
Spearman and pairwise accuracy are measured against: raw PoR across years mostly tracks audience
growth and the follower estimate, not the post.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from instapop.config import Config
from instapop.media_types import IMAGE, MEDIA_TYPES

UNLABELLED = -1  # class of a post with no PoR (no follower estimate) or outside a split
# A change of the follower estimate inside a window worth naming: a post's rank among its
# window's posts moves only against posts whose PoR lies within this fraction of its own.
FOLLOWER_CHANGE_NOTED = 0.10
_SECOND = pd.Timedelta(seconds=1)
_EPOCH = pd.Timestamp(0, tz="UTC")


def popularity_rate(likes, comments, followers) -> np.ndarray:
    """PoR = (likes + comments) / followers; NaN where followers is unknown or not positive.

    Parameters
    ----------
    likes, comments, followers : array-likes of equal length.

    Returns
    -------
    Float array of PoR values.
    """
    followers = np.asarray(followers, dtype=float)
    engagement = np.asarray(likes, dtype=float) + np.asarray(comments, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(followers > 0, engagement / followers, np.nan)


def quantile_classes(values, n_classes: int) -> np.ndarray:
    """Quantile class (0 = lowest) of every value among all the values given.

    Parameters
    ----------
    values : finite numbers.
    n_classes : N >= 2.

    Returns
    -------
    Int array in 0..N-1; class sizes differ by at most one, plus ties.
    """
    values = np.asarray(values, dtype=float)
    ordered = np.sort(values)
    less = np.searchsorted(ordered, values, side="left")
    equal = np.searchsorted(ordered, values, side="right") - less
    # Integer form of floor((less + equal/2) * N / n): no rounding at class borders.
    return (2 * less + equal) * n_classes // (2 * len(values))


def global_classes(por, n_classes: int) -> np.ndarray:
    """Quantile classes over the whole history (the paper's "horizontal" split).

    Parameters
    ----------
    por : PoR values; NaN ones get ``UNLABELLED``.
    n_classes : N >= 2.
    """
    _check_n(n_classes)
    por = np.asarray(por, dtype=float)
    classes = np.full(len(por), UNLABELLED, dtype=np.int64)
    valid = np.isfinite(por)
    if valid.any():
        classes[valid] = quantile_classes(por[valid], n_classes)
    return classes


def rolling_classes(timestamps, por, n_classes: int, window_days: float, min_window_posts: int) -> np.ndarray:
    """Quantile class of each post among the posts in a time window centred on it.

    Parameters
    ----------
    timestamps : posting times (UTC), one per post.
    por : PoR per post; NaN ones get ``UNLABELLED`` and are left out of every window.
    n_classes : N >= 2.
    window_days : window width; it spans window_days / 2 either side of the post.
    min_window_posts : where the window holds fewer posts, it is widened
        symmetrically until it holds this many (or all posts).

    Returns
    -------
    Int array in 0..N-1 (or ``UNLABELLED``), in the order given.
    """
    _check_n(n_classes)
    less, equal, size = _window_ranks(timestamps, por, window_days, min_window_posts)
    classes = np.full(len(less), UNLABELLED, dtype=np.int64)
    valid = size > 0
    # Integer form of floor((less + equal/2) * N / n): no rounding at class borders.
    classes[valid] = (2 * less[valid] + equal[valid]) * n_classes // (2 * size[valid])
    return classes


def rolling_percentiles(timestamps, por, window_days: float, min_window_posts: int) -> np.ndarray:
    """Mid-rank of each post's PoR among the posts of its window: the continuous rolling label.

    With ``less`` posts of the window below the post and ``equal`` tied with it (itself
    included) out of ``n``, the percentile is (less + equal / 2) / n, in (0, 1); so
    ``rolling_classes(..., N) == floor(N * percentile)`` for every N (up to float rounding at
    class borders) and one number orders the posts for any N. Same window rule as
    :func:`rolling_classes`.

    Returns
    -------
    Float array in (0, 1), NaN where PoR is NaN, in the order given.
    """
    less, equal, size = _window_ranks(timestamps, por, window_days, min_window_posts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(size > 0, (less + equal / 2) / size, np.nan)


def _window_ranks(timestamps, por, window_days: float, min_window_posts: int):
    """(less, equal, size) of each post in its window; size 0 where PoR is NaN."""
    por = np.asarray(por, dtype=float)
    seconds = _epoch_seconds(timestamps)
    less, equal, size = (np.zeros(len(por), dtype=np.int64) for _ in range(3))
    valid = np.flatnonzero(np.isfinite(por))
    if len(valid) == 0:
        return less, equal, size
    order = valid[np.argsort(seconds[valid], kind="stable")]
    t, values = seconds[order], por[order]
    lo, hi = rolling_windows(t, window_days, min_window_posts)
    for i in range(len(order)):
        window = values[lo[i] : hi[i]]
        less[order[i]] = np.count_nonzero(window < values[i])
        equal[order[i]] = np.count_nonzero(window == values[i])
        size[order[i]] = len(window)
    return less, equal, size


def rolling_windows(sorted_seconds: np.ndarray, window_days: float, min_window_posts: int):
    """Window bounds [lo, hi) of every post in time-sorted epoch seconds.

    The half-width is window_days / 2, or the distance to the post's
    ``min_window_posts``-th nearest post (itself counted) where that is larger,
    so a widened window stays centred; posts exactly on the edge are inside.

    Returns
    -------
    (lo, hi) int arrays.
    """
    t = np.asarray(sorted_seconds, dtype=np.int64)
    n = len(t)
    need = max(1, min(min_window_posts, n))
    half = window_days * 86400.0 / 2
    lo, hi = np.empty(n, np.int64), np.empty(n, np.int64)
    for i in range(n):
        # The `need` nearest posts all lie within `need` places of i in sorted order.
        near = np.abs(t[max(0, i - need + 1) : i + need] - t[i])
        radius = max(half, float(np.partition(near, need - 1)[need - 1]))
        lo[i] = np.searchsorted(t, t[i] - radius, side="left")
        hi[i] = np.searchsorted(t, t[i] + radius, side="right")
    return lo, hi


def follower_change(posts: pd.DataFrame, config: Config) -> dict[str, Any] | None:
    """How much the follower estimate changes inside the posts' label windows.

    A class compares a post with the posts of its window, all divided by nearly the same
    follower estimate, so an estimate's error matters only through how much the estimate
    changes inside a window: a profile with one known count ten years ago can still have
    labels that hardly depend on followers. Per post, the change is the estimate's
    max / min - 1 over the post's window (the windows of :func:`rolling_windows`).

    Returns
    -------
    ``{"max", "median", "posts_over", "over", "posts"}`` (changes as fractions; ``posts_over``
    counts posts whose window changes by more than ``over``), or None without estimates.
    """
    known = posts.loc[posts["followers"].notna() & (posts["followers"] > 0)].sort_values("timestamp")
    if known.empty:
        return None
    seconds = _epoch_seconds(known["timestamp"])
    followers = known["followers"].to_numpy(float)
    lo, hi = rolling_windows(seconds, config.window_days, config.min_window_posts)
    change = np.array([followers[a:b].max() / followers[a:b].min() - 1 for a, b in zip(lo, hi, strict=True)])
    return {
        "max": round(float(change.max()), 4),
        "median": round(float(np.median(change)), 4),
        "over": FOLLOWER_CHANGE_NOTED,
        "posts_over": int((change > FOLLOWER_CHANGE_NOTED).sum()),
        "posts": len(change),
    }


def post_classes(posts: pd.DataFrame, config: Config, value: str = "por") -> pd.DataFrame:
    """PoR and classes per post, per split.

    Parameters
    ----------
    posts : one row per post with ``timestamp``, ``likes``, ``comments``,
        ``followers``, ``n_images``, ``n_videos``.
    config : ``n_classes``, ``window_days``, ``min_window_posts``.
    value : the column the classes are quantiles of: ``"por"`` (computed here) or
        another column of ``posts`` (e.g. ``"target"``, see :mod:`instapop.targets`).

    Returns
    -------
    DataFrame on ``posts.index`` with ``por`` and, for each media type and N,
    ``<type>_percentile`` (within-window PoR percentile, NaN outside the split), and
    ``<type>_class_<N>`` and ``<type>_global_class_<N>`` (``UNLABELLED`` outside the split).
    """
    por = popularity_rate(posts["likes"], posts["comments"], posts["followers"])
    out = {"por": por}
    ranked = por if value == "por" else posts[value].to_numpy(float)
    for media_type in MEDIA_TYPES:
        in_split = (posts[f"n_{media_type}s"] > 0).to_numpy()
        split_por = np.where(in_split, ranked, np.nan)
        out[f"{media_type}_percentile"] = rolling_percentiles(
            posts["timestamp"], split_por, config.window_days, config.min_window_posts
        )
        for n in config.n_classes:
            out[f"{media_type}_class_{n}"] = rolling_classes(
                posts["timestamp"], split_por, n, config.window_days, config.min_window_posts
            )
            out[f"{media_type}_global_class_{n}"] = global_classes(split_por, n)
    return pd.DataFrame(out, index=posts.index)


def label_media(media: pd.DataFrame, posts: pd.DataFrame, config: Config, value: str = "por") -> pd.DataFrame:
    """Give every media item its post's PoR and its post's classes for the item's own media type.

    Parameters
    ----------
    media : one row per media item with ``post_id`` and ``media_type``.
    posts : one row per post with ``post_id`` and the columns ``post_classes`` needs.
    config : class settings.
    value : the column classes are computed on (see :func:`post_classes`); copied to the media too.

    Returns
    -------
    A copy of ``media`` with ``por``, ``value``, ``percentile`` (the post's within-window
    percentile of the ranked value, for the item's media type), ``class_<N>`` and
    ``global_class_<N>`` added.
    """
    classes = post_classes(posts, config, value).set_axis(posts["post_id"].to_numpy())
    labelled = media.copy()
    labelled["por"] = labelled["post_id"].map(classes["por"]).to_numpy(float)
    if value != "por":
        labelled[value] = labelled["post_id"].map(posts.set_index("post_id")[value]).to_numpy(float)
    is_image = (labelled["media_type"] == IMAGE).to_numpy()
    image, video = (labelled["post_id"].map(classes[f"{t}_percentile"]) for t in MEDIA_TYPES)
    labelled["percentile"] = np.where(is_image, image, video).astype(float)
    for n in config.n_classes:
        for kind in ("class", "global_class"):
            image = labelled["post_id"].map(classes[f"image_{kind}_{n}"])
            video = labelled["post_id"].map(classes[f"video_{kind}_{n}"])
            labelled[f"{kind}_{n}"] = np.where(is_image, image, video).astype(np.int64)
    return labelled


def class_column(n_classes: int) -> str:
    """The media table's column of the rolling-window classes at N: ``class_<N>``."""
    return f"class_{n_classes}"


def class_ns(columns: Iterable[str]) -> list[int]:
    """The N of every ``class_<N>`` column among ``columns``, ascending."""
    numbers = (c.removeprefix("class_") for c in columns if c.startswith("class_"))
    return sorted(int(n) for n in numbers if n.isdigit())


def _epoch_seconds(timestamps) -> np.ndarray:
    times = pd.DatetimeIndex(timestamps)
    if times.tz is None:
        times = times.tz_localize("UTC")
    return np.asarray((times - _EPOCH) // _SECOND, dtype=np.int64)


def _check_n(n_classes: int) -> None:
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2; got {n_classes}")


# --------------------------------------------------------------------------- the labels stage's tables


def strip_labels(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (posts or media) without the columns :func:`label_tables` adds, so it can label again."""
    return table.drop(columns=[c for c in table.columns if _is_label_column(c)])


def _is_label_column(name: str) -> bool:
    return (
        name in ("por", "percentile")
        or name.endswith("_percentile")
        or name.startswith(("class_", "global_class_"))
        or "_class_" in name
    )


def label_tables(
    posts: pd.DataFrame, media: pd.DataFrame, config: Config, value: str = "target"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Label a profile's posts and media with ``config``'s classes and window.

    Parameters
    ----------
    posts : the post table (``timestamp``, ``likes``, ``comments``, ``followers``, ``n_images``,
        ``n_videos``, ``post_id`` and the ``value`` column); earlier labels are replaced.
    media : the media table (``post_id``, ``media_type``); earlier labels are replaced.
    config : ``n_classes``, ``window_days``, ``min_window_posts``.
    value : the column the classes are quantiles of (see :func:`post_classes`).

    Returns
    -------
    (posts, media), each a copy with its label columns (see :func:`post_classes` and :func:`label_media`).
    """
    posts = strip_labels(posts)
    media = strip_labels(media).drop(columns=[value], errors="ignore")
    labelled_posts = pd.concat([posts, post_classes(posts, config, value)], axis=1)
    return labelled_posts, label_media(media, posts, config, value)


def class_counts(media: pd.DataFrame, n_classes: tuple[int, ...], kind: str = "class") -> dict:
    """``{media type: {N: {class: items}}}`` of a labelled media table (``kind``: class or global_class)."""
    from collections import Counter

    counts: dict[str, dict[str, dict[str, int]]] = {}
    for media_type in MEDIA_TYPES:
        items = media[media["media_type"] == media_type]
        counts[media_type] = {
            str(n): {str(c): int(k) for c, k in sorted(Counter(items[f"{kind}_{n}"]).items())}
            for n in n_classes
        }
    return counts


def label_settings(config: Config) -> dict:
    """The settings the labels were made with, as the summary records them."""
    return {
        "n_classes": list(config.n_classes),
        "window_days": config.window_days,
        "min_window_posts": config.min_window_posts,
    }
