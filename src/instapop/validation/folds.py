"""The folds of one media type at one N: repeated, stratified by class and grouped by post, and
why an approach cannot run on them (too few posts of a class for the outer folds or, for the
neural approaches, for the inner split that picks their epoch)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from instapop.config import Config
from instapop.datasets import MediaSet
from instapop.errors import InstapopError
from instapop.media_types import other_media
from instapop.models.approaches import approach
from instapop.models.crossval import stratified_group_folds

log = logging.getLogger(__name__)


def _posts_per_class(labels: np.ndarray, groups: np.ndarray, n_classes: int) -> np.ndarray:
    """Distinct posts (groups) of each class: what a grouped split can spread over folds."""
    pairs = np.unique(np.stack([labels, np.unique(groups, return_inverse=True)[1]]), axis=1)
    return np.bincount(pairs[0], minlength=n_classes)


def outer_shortfall(items: MediaSet, n_classes: int, config: Config, what: str) -> str | None:
    """Why ``items`` cannot make ``n_splits`` stratified folds, or None when they can.

    Each class needs at least ``n_splits`` posts (items, with plain folds), so that every
    validation fold holds every class; with fewer, stratification fails (sklearn raises when
    every class is short, and otherwise leaves folds without a class).
    """
    labels = items.labels[n_classes]
    if config.grouped_folds:
        counts, unit = _posts_per_class(labels, items.groups, n_classes), "posts"
    else:
        counts, unit = np.bincount(labels, minlength=n_classes), "items"
    short = int(np.argmin(counts))
    if counts[short] >= config.n_splits:
        return None
    return (
        f"{what}: class {short} has {counts[short]} {unit}, fewer than the {config.n_splits} folds "
        f"({unit} per class {counts.tolist()}); use fewer folds (--folds) or more posts"
    )


def inner_shortfall(
    items: MediaSet, folds: np.ndarray, n_classes: int, config: Config, what: str
) -> str | None:
    """Why the epoch callback's inner hold-out cannot be split from some training fold, or None.

    The hold-out is a grouped, stratified k-th of each training fold, so each class needs at
    least ``n_splits`` posts in every training fold. None when the epoch is picked on the
    scored fold (``epoch_callback = "fold"``), which needs no inner split.
    """
    if config.epoch_callback == "fold":
        return None
    labels = items.labels[n_classes]
    for repeat, fold in np.ndindex(folds.shape[0], int(folds.max()) + 1):
        rows = folds[repeat] != fold
        counts = _posts_per_class(labels[rows], items.groups[rows], n_classes)
        if counts.min() < config.n_splits:
            return (
                f"{what}: the inner split that picks the epoch needs {config.n_splits} posts of each "
                f"class in every training fold; repeat {repeat}, fold {fold} trains on posts per class "
                f"{counts.tolist()}; use fewer folds (--folds), more posts, or --paper-callback"
            )
    return None


def repeated_folds(items: MediaSet, n_classes: int, config: Config, what: str = "items") -> np.ndarray:
    """Fold index of every item for each repeat: stratified by class, grouped by post by default.

    Parameters
    ----------
    items : MediaSet
        Items with ``labels[n_classes]`` and ``groups`` (post ids).
    n_classes : int
        Which labels to stratify by.
    config : Config
        ``n_splits``, ``n_repeats``, ``grouped_folds`` and ``seed``.
    what : str
        Names the items in messages.

    Returns
    -------
    numpy.ndarray
        (n_repeats, n_items) fold of each item in each repeat.

    Raises
    ------
    InstapopError
        When a class is too small to be in every fold (see :func:`outer_shortfall`).
    """
    reason = outer_shortfall(items, n_classes, config, what)
    if reason is not None:
        raise InstapopError(reason)
    labels = items.labels[n_classes]
    folds = np.zeros((config.n_repeats, len(items)), dtype=np.int64)
    for repeat in range(config.n_repeats):
        random_state = int(np.random.SeedSequence([config.seed, repeat]).generate_state(1)[0])
        if config.grouped_folds:
            folds[repeat] = stratified_group_folds(labels, items.groups, config.n_splits, random_state)
            continue
        splitter = StratifiedKFold(config.n_splits, shuffle=True, random_state=random_state)
        for fold, (_, val) in enumerate(splitter.split(np.zeros(len(items)), labels)):
            folds[repeat, val] = fold
    return folds


@dataclass(frozen=True)
class MediaPlan:
    """One media type's folds at one N, and why approaches cannot run on them.

    ``outer`` says why no approach can run (the items cannot make stratified folds);
    ``inner`` why the neural approaches cannot (no inner split to pick their epoch), while the
    others, which need none, still run; ``no_percentile`` why the rankers cannot (a media table
    written before the within-window percentile existed); ``not_small`` why the approaches for
    small media types do not (:func:`pooling_reason`).
    """

    items: MediaSet
    folds: np.ndarray | None
    outer: str | None = None
    inner: str | None = None
    no_percentile: str | None = None
    not_small: str | None = None

    def skip_reason(self, name: str) -> str | None:
        """Why approach ``name`` is skipped on this media type, or None when it runs."""
        if self.outer is not None:
            return self.outer
        spec = approach(name)
        if spec.neural and self.inner is not None:
            return self.inner
        if spec.small_types_only and self.not_small is not None:
            return self.not_small
        return self.no_percentile if spec.predicts == "percentile" else None


def pooling_reason(media: str, sizes: dict[str, int], config: Config) -> str | None:
    """Why the approaches for small media types (``Approach.small_types_only``) do not run for
    ``media``, or None when they do: ``sizes`` is the items of each media type."""
    other = other_media(media)
    if sizes[other] == 0:
        return f"no {other}s to learn from besides the {media}s"
    if sizes[media] >= config.pool_below:
        return (
            f"{sizes[media]} {media}s are enough for a model of their own "
            f"(one across media runs below {config.pool_below}: pool_below)"
        )
    return None


def plan_media(
    items: MediaSet, media: str, n_classes: int, config: Config, sizes: dict[str, int]
) -> MediaPlan:
    """The folds of one media type at one N, with the reasons any approach must be skipped;
    ``sizes`` (items of each media type) decides the approaches for small types."""
    what = f"{media}s, N={n_classes}"
    outer = f"no {media}s" if len(items) == 0 else outer_shortfall(items, n_classes, config, what)
    if outer is not None:
        log.warning("%s approaches skipped: %s", media, outer)
        return MediaPlan(items, None, outer=outer)
    folds = repeated_folds(items, n_classes, config, what)
    inner = inner_shortfall(items, folds, n_classes, config, what)
    if inner is not None:
        log.warning("%s neural approaches skipped (baselines still run): %s", media, inner)
    no_percentile = None
    if not np.isfinite(items.percentile).all():
        no_percentile = f"{what}: media.csv has no within-window percentile; rerun `instapop ingest`"
    not_small = pooling_reason(media, sizes, config)
    return MediaPlan(items, folds, inner=inner, no_percentile=no_percentile, not_small=not_small)
