"""What "popular" means for a run: the value the classes are quantiles of.

- ``por``: the paper's Popularity Rate, (likes + comments) / followers at posting
  time; needs a follower history.
- ``reach-rate``: (likes + comments + shares + saves) / reach, engagement per
  account reached; needs reach per post (a Business Suite export or Graph API
  insights) and no follower history. Missing shares or saves count as 0.
- ``reach``: the accounts reached.
- ``views``: a post's views (plays); its class is its within-window percentile of views.
- ``views-rate``: (likes + comments) / views, engagement per view.

A views target never leaves a post out: where a post's views are unknown (null or 0, as
Instagram often leaves them, and always for an Instaloader image post) its target falls
back to its PoR, scaled onto the views target's units by the median ratio of the two over
the posts that have both, so that a window ranks both kinds of post on one scale. The
fallback, how many posts it concerns and why, is in the target's summary entry.

Default: reach-rate when every post has a reach above 0, else PoR when there is a
follower history, else reach-rate on the posts that have reach (a views target is only
used when asked for). ``ingest`` writes
the chosen value into one ``target`` column of posts.csv and media.csv, so labels,
cross-validation, the report and predict all read the same column; ``por`` stays
beside it when a follower history gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from instapop.labels import popularity_rate

POR, REACH_RATE, REACH, VIEWS, VIEWS_RATE = "por", "reach-rate", "reach", "views", "views-rate"
TARGETS = (POR, REACH_RATE, REACH, VIEWS, VIEWS_RATE)
VIEW_TARGETS = (VIEWS, VIEWS_RATE)
FORMULAS = {
    POR: "(likes + comments) / followers at posting time",
    REACH_RATE: "(likes + comments + shares + saves) / reach",
    REACH: "accounts reached",
    VIEWS: "views (plays)",
    VIEWS_RATE: "(likes + comments) / views",
}
_MIN_AGREEMENT_POSTS = 5  # fewer posts than this say nothing about how two rankings agree


@dataclass(frozen=True)
class TargetChoice:
    """The chosen target and, for a person, why it was chosen."""

    name: str
    why: str

    @property
    def formula(self) -> str:
        """The target as a formula: ``(likes + comments + shares + saves) / reach``."""
        return FORMULAS[self.name]


def choose_target(requested: str | None, posts: pd.DataFrame, has_history: bool) -> TargetChoice:
    """The target a run uses: the one asked for, else the best the data allow.

    Parameters
    ----------
    requested : a name of :data:`TARGETS` or None (choose).
    posts : one row per post with a ``reach`` column (NaN where unknown) and, for a views
        target, ``views``.
    has_history : whether a follower history is known (PoR can be computed).

    Raises
    ------
    ValueError
        For a name that is not a target, a reach target when no post has reach, or a views
        target when no post has views and no follower history gives PoR to fall back on.
    """
    with_reach = int((posts["reach"] > 0).sum())
    if requested is not None:
        if requested not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {requested!r}")
        if requested == POR and not has_history:
            raise ValueError("target por needs a follower history: give --followers")
        if requested in VIEW_TARGETS:
            if not has_history and not (known_views(posts) > 0).any():
                raise ValueError(
                    f"target {requested} needs views per post, or a follower history for PoR to stand "
                    "in where views are unknown; this source has neither: give --followers"
                )
        elif requested != POR and with_reach == 0:
            raise ValueError(
                f"target {requested} needs reach per post; this source has none "
                "(a Business Suite export or Graph API insights have it)"
            )
        return TargetChoice(requested, "asked for with --target")
    if with_reach == len(posts):
        return TargetChoice(REACH_RATE, "every post has reach, so engagement is measured per account reached")
    if has_history:
        some = f"only {with_reach} of {len(posts)} posts have reach" if with_reach else "no post has reach"
        return TargetChoice(POR, f"a follower history is given and {some}")
    if with_reach:
        why = f"no follower history; {with_reach} of {len(posts)} posts have reach (the others skipped)"
        return TargetChoice(REACH_RATE, why)
    return TargetChoice(POR, "no post has reach (PoR needs a follower history: give --followers)")


def reach_rate(posts: pd.DataFrame) -> np.ndarray:
    """(likes + comments + shares + saves) / reach per post; NaN where reach is unknown or 0."""
    engagement = (
        posts["likes"].astype(float)
        + posts["comments"].astype(float)
        + posts["shares"].astype(float).fillna(0)
        + posts["saves"].astype(float).fillna(0)
    ).to_numpy()
    reach = posts["reach"].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(reach > 0, engagement / reach, np.nan)


def known_views(posts: pd.DataFrame) -> np.ndarray:
    """Views per post, NaN where unknown: an empty cell of ``posts.csv``, or no column (a run ingested
    before views were read)."""
    if "views" not in posts:
        return np.full(len(posts), np.nan)
    return pd.to_numeric(posts["views"], errors="coerce").to_numpy(float)


@dataclass(frozen=True)
class ViewsTarget:
    """A views target per post, with PoR standing in where views are unknown.

    Attributes
    ----------
    values : the target per post (NaN where neither views nor PoR is known).
    fallback : the posts whose views are unknown (null or 0).
    scale : what their PoR is multiplied by: the median of target / PoR over the posts
        having both (1 when none has both), so that one window ranks both on one scale.
    reason : a sentence for the summary and the report; "" when every post has views.
    """

    values: np.ndarray
    fallback: np.ndarray
    scale: float
    reason: str

    def summary(self) -> dict[str, Any] | None:
        """The summary's ``target.fallback`` entry: to what, for how many posts, why; None without one."""
        if not self.fallback.any():
            return None
        return {"to": POR, "posts": int(self.fallback.sum()), "scale": self.scale, "reason": self.reason}


def views_target(name: str, posts: pd.DataFrame, por: np.ndarray) -> ViewsTarget:
    """``views`` or ``views-rate`` per post; PoR (scaled) where a post's views are null or 0.

    Parameters
    ----------
    name : ``"views"`` or ``"views-rate"``.
    posts : ``likes``, ``comments``, ``n_videos`` and ``views`` per post.
    por : PoR per post (NaN where no follower estimate gives it).
    """
    views = known_views(posts)
    has_views = views > 0
    engagement = (posts["likes"].astype(float) + posts["comments"].astype(float)).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.where(has_views, views if name == VIEWS else engagement / views, np.nan)
        ratios = direct / np.asarray(por, dtype=float)
    both = has_views & np.isfinite(ratios) & (ratios > 0)
    scale = float(np.median(ratios[both])) if both.any() else 1.0
    values = np.where(has_views, direct, np.asarray(por, dtype=float) * scale)
    fallback = ~has_views
    reason = _fallback_reason(name, posts, fallback, por, scale, both)
    return ViewsTarget(values, fallback, round(scale, 6), reason)


def _fallback_reason(
    name: str, posts: pd.DataFrame, fallback: np.ndarray, por: np.ndarray, scale: float, both: np.ndarray
) -> str:
    """``views unknown (null or 0) for 40 of 60 videos and 6 of 6 image posts: ...``; "" without one."""
    if not fallback.any():
        return ""
    video = (posts["n_videos"] > 0).to_numpy()
    parts = [f"{int((fallback & video).sum())} of {int(video.sum())} videos"] if video.any() else []
    images = fallback & ~video
    if images.any():
        parts.append(f"{int(images.sum())} of {int((~video).sum())} image posts")
    text = f"views unknown (null or 0) for {' and '.join(parts)}: they are ranked by "
    if both.any():
        text += f"PoR x {scale:.4g} (the median {name} / PoR of the {int(both.sum())} posts with both)"
    else:
        text += "PoR (no post has both views and PoR to put the two on one scale)"
    unranked = int((fallback & ~np.isfinite(np.asarray(por, dtype=float))).sum())
    if unranked:
        text += f"; {unranked} of them have no follower estimate either and stay unlabelled"
    return text


def target_values(name: str, posts: pd.DataFrame, por: np.ndarray) -> np.ndarray:
    """The value of target ``name`` per post (NaN where it cannot be computed); ``por`` is PoR per post."""
    if name == POR:
        return np.asarray(por, dtype=float)
    if name == REACH_RATE:
        return reach_rate(posts)
    if name in VIEW_TARGETS:
        return views_target(name, posts, por).values
    reach = posts["reach"].astype(float).to_numpy()
    return np.where(reach > 0, reach, np.nan)


def reach_problem(reach: float) -> tuple[str, str] | None:
    """(reason, sentence) when a post's reach cannot carry a reach target; None when it can."""
    if not np.isfinite(reach):
        return "reach missing", "no reach in the export; a reach target cannot rank it"
    if reach <= 0:
        return "reach zero", "reach is 0, so engagement per account reached is undefined"
    return None


def agreement(por: np.ndarray, rate: np.ndarray) -> dict[str, float | int] | None:
    """Spearman correlation of PoR and reach-rate over the posts having both; None with fewer than 5."""
    both = np.isfinite(por) & np.isfinite(rate)
    if both.sum() < _MIN_AGREEMENT_POSTS or np.ptp(por[both]) == 0 or np.ptp(rate[both]) == 0:
        return None
    # pandas ranks without scipy, whose import alone would double ingest's start-up time
    rho = pd.Series(por[both]).corr(pd.Series(rate[both]), method="spearman")
    return {"spearman": round(float(rho), 3), "posts": int(both.sum())}


def retarget(posts: pd.DataFrame, name: str, previous: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The post table ranked by another target (the labels stage, without reading the profile again).

    Posts the new target cannot rank (no reach for a reach target, no follower estimate for
    PoR) get no value and so no class; the returned summary counts them.

    Parameters
    ----------
    posts : the run's ``posts.csv`` (``likes``, ``comments``, ``followers``, ``reach``, ...).
    name : the target now asked for.
    previous : the summary's ``target`` entry so far (its ``agreement_with_por`` is kept).

    Returns
    -------
    (posts with a new ``target`` column, the summary's new ``target`` entry).

    Raises
    ------
    ValueError
        For a name that is not a target, or one the data cannot give (see :func:`choose_target`).
    """
    has_history = bool(posts["followers"].notna().any())
    choice = choose_target(name, posts, has_history)
    por = popularity_rate(posts["likes"], posts["comments"], posts["followers"])
    if choice.name in VIEW_TARGETS:
        target = views_target(choice.name, posts, por)
        values, note, fallback = target.values, target.reason, target.summary()
    else:
        values = target_values(choice.name, posts, por)
        missing = int(np.isnan(values).sum())
        note = f"{missing} posts have no {choice.name} and stay unlabelled" if missing else ""
        fallback = None
    kept = {k: v for k, v in previous.items() if k != "fallback"}  # an earlier views target's
    return posts.assign(target=values), {**kept, **target_entry(choice, note, fallback)}


def target_entry(
    choice: TargetChoice, note: str = "", fallback: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The summary's ``target`` entry: name, formula, why (and ``note``), a views target's ``fallback``."""
    why = f"{choice.why}; {note}" if note else choice.why
    entry = {"name": choice.name, "formula": choice.formula, "why": why}
    return entry | ({"fallback": fallback} if fallback else {})
