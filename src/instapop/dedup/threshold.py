"""The duplicate threshold (or, with verification, the candidate bound) and why it has its value.

The rule, :func:`auto_threshold`, and the reasons it was chosen are in :mod:`instapop.dedup`
(step 2); :func:`choose_threshold` applies it as the stage's settings ask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from instapop.config import Config
from instapop.dedup.search import nearest_neighbour_distances
from instapop.errors import BadInputError

log = logging.getLogger(__name__)

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
MIN_ITEMS_FOR_AUTO = 3  # fewer non-zero NN distances give no median/spread worth the name


@dataclass(frozen=True)
class ThresholdChoice:
    """The duplicate threshold and, in plain words with its numbers, why it has that value."""

    value: float
    rule: str


def auto_threshold(nn_distances: np.ndarray, k: float = Config.dup_outlier_k) -> ThresholdChoice:
    """Cut the left tail off the NN-distance histogram: ``exp(median - k * upper-half MAD)`` of logs.

    See :mod:`instapop.dedup` (step 2) for the rule and why it was chosen.

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


def choose_threshold(config: Config, image_nn: np.ndarray, thumb_vectors: np.ndarray) -> ThresholdChoice:
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
