"""What "popular" means for a run: the value the classes are quantiles of.

- ``por``: the paper's Popularity Rate, (likes + comments) / followers at posting
  time; needs a follower history.
- ``reach-rate``: (likes + comments + shares + saves) / reach, engagement per
  account reached; needs reach per post (a Business Suite export or Graph API
  insights) and no follower history. Missing shares or saves count as 0.
- ``reach``: the accounts reached.

Default: reach-rate when every post has a reach above 0, else PoR when there is a
follower history, else reach-rate on the posts that have reach. ``ingest`` writes
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

POR, REACH_RATE, REACH = "por", "reach-rate", "reach"
TARGETS = (POR, REACH_RATE, REACH)
FORMULAS = {
    POR: "(likes + comments) / followers at posting time",
    REACH_RATE: "(likes + comments + shares + saves) / reach",
    REACH: "accounts reached",
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
    requested : ``"por"``, ``"reach-rate"``, ``"reach"`` or None (choose).
    posts : one row per post with a ``reach`` column (NaN where unknown).
    has_history : whether a follower history is known (PoR can be computed).

    Raises
    ------
    ValueError
        For a name that is not a target, or a reach target when no post has reach.
    """
    with_reach = int((posts["reach"] > 0).sum())
    if requested is not None:
        if requested not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}; got {requested!r}")
        if requested == POR and not has_history:
            raise ValueError("target por needs a follower history: give --followers")
        if requested != POR and with_reach == 0:
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


def target_values(name: str, posts: pd.DataFrame, por: np.ndarray) -> np.ndarray:
    """The value of target ``name`` per post (NaN where it cannot be computed); ``por`` is PoR per post."""
    if name == POR:
        return np.asarray(por, dtype=float)
    if name == REACH_RATE:
        return reach_rate(posts)
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
    values = target_values(choice.name, posts, por)
    missing = int(np.isnan(values).sum())
    why = choice.why + (f"; {missing} posts have no {choice.name} and stay unlabelled" if missing else "")
    entry = {**previous, "name": choice.name, "formula": choice.formula, "why": why}
    return posts.assign(target=values), entry
