"""One ranker across media (issue 19): images and videos in one ridge regression.

A profile with 25 videos gives the video ranker 20 training items per fold against 1,280 picture
dimensions: it learns next to nothing. The images of the same profile show the same brand to
the same audience, so one ranker fitted on both, with a media flag among the context columns,
lends the videos what the images teach (and the images what the videos teach, on a reels-first
profile). Each item keeps its own label: its within-window percentile among its own media type.

One picture space: an image's picture is the mean of its views' embeddings (as the ranker's),
a video's the mean of its frames' embeddings, both of width D. The per-type video ranker also
reads the frames' maximum, but an image has no counterpart of it (an image duplicated into a
"max" half would teach weights that a video's max, systematically above its mean, then
misreads), and the frame mean is the picture the backbone gives a still frame: the reading under
which prediction already lends one type's model to the other (``BorrowedScorer``).

The media flag ``is_video`` is one more context column: the ridge learns the level shift
between the types, and the pooled class cuts (a media type's classes have the same shares in
each type, being quantiles of its own percentile) come from every training item's held-out
score, steadier than the cuts 20 videos alone would give. The dataset carries no
``cover_only`` column (it stays in ``media.csv``), so the flag is the only extra column.

The saved model is the pooled ranker (picture D, context C + 1); loaded for one media type it
is that type's :class:`~instapop.models.ranker.Ranker` (:func:`for_media`: the flag fixed and
folded into the intercept, a video's frame-max half weighted 0), exactly the same scores, so
prediction, Grad-CAM and the model card read it as any ranker.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from instapop.config import Config
from instapop.datasets import MediaSet
from instapop.media_types import IMAGE, VIDEO, other_media
from instapop.models.approaches import (
    Fitted,
    Problem,
    RankerApproach,
    ranker_context,
    register,
    scored_outcome,
)
from instapop.models.crossval import Outcome, items_outside
from instapop.models.ranker import Ranker, fit_items, items_pictures, picture_features

MEDIA_FLAG = "is_video"  # the extra context column (:func:`_flag`)
POOLED = "image+video"  # the pooled ranker's ``media`` (a ranker of one type says "image" or "video")


@dataclasses.dataclass(frozen=True)
class PooledItems:
    """Images then videos as one set of ranker inputs; ``offset[media]`` is where a type's rows start."""

    items: MediaSet  # both types' items: targets, classes, posts and captions
    picture: np.ndarray  # (n_images + n_videos, D)
    context: np.ndarray  # (n, C + 1), the media flag last
    columns: tuple[str, ...]
    offset: dict[str, int]

    @classmethod
    def of(cls, problem: Problem) -> PooledItems:
        data = problem.data
        types = {media: _as(problem, media) for media in (IMAGE, VIDEO)}
        # picture_features' image reading, the mean over axis 1, is also a video's frame mean;
        # each item reads as its post's pictures of its type, as in the per-type ranker
        embeddings = {IMAGE: data.image_views, VIDEO: data.video_frames}
        by_post = problem.config.ranker_post_picture
        pictures = [
            items_pictures(picture_features(IMAGE, embeddings[media]), typed.items.groups, by_post)
            for media, typed in types.items()
        ]
        contexts = []
        for media, typed in types.items():
            context, columns = ranker_context(typed)
            flag = np.full((len(typed.items), 1), _flag(media))
            contexts.append(np.hstack([context, flag]))
        return cls(
            items=_joined(data.images, data.videos),
            picture=np.concatenate(pictures),
            context=np.concatenate(contexts),
            columns=(*columns, MEDIA_FLAG),
            offset={IMAGE: 0, VIDEO: len(data.images)},
        )

    def fit(self, rows: np.ndarray, config: Config, seed: int) -> Ranker:
        """The pooled ranker fitted on ``rows`` (pooled indices) only."""
        return fit_items(config, POOLED, self.picture, self.context, self.columns, self.items, rows, seed)


def _joined(first: MediaSet, second: MediaSet) -> MediaSet:
    """The items of ``first`` then of ``second``, every per-item field (the labels of the N both carry)."""

    def join(a: Any, b: Any) -> Any:
        if isinstance(a, dict):
            return {key: join(a[key], b[key]) for key in a if key in b}
        return a + b if isinstance(a, list) else np.concatenate([a, b])

    return MediaSet(
        **{
            f.name: join(getattr(first, f.name), getattr(second, f.name))
            for f in dataclasses.fields(MediaSet)
        }
    )


def _flag(media: str) -> float:
    """The media flag's value for an item of ``media``."""
    return 1.0 if media == VIDEO else 0.0


def _as(problem: Problem, media: str) -> Problem:
    """The same problem seen from ``media``'s side (its items, its context)."""
    return dataclasses.replace(problem, media=media)


def training_rows(problem: Problem, pooled: PooledItems, train: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Pooled rows one CV member trains on: its own type's training fold, and the other type's
    items whose post has no item in the scored fold."""
    media, other = problem.media, other_media(problem.media)
    others = items_outside(val, problem.items.groups, _as(problem, other).items.groups)
    return np.concatenate([train + pooled.offset[media], others + pooled.offset[other]])


def for_media(pooled: Ranker, media: str) -> Ranker:
    """The pooled ranker as a ranker of ``media``: its scores exactly (the model is linear), read
    from that type's :func:`~instapop.models.ranker.picture_features` and context columns."""
    flag = pooled.context_columns.index(MEDIA_FLAG)
    keep = [i for i in range(len(pooled.context_columns)) if i != flag]
    shift = (_flag(media) - pooled.context_mean[flag]) * pooled.context_weight[flag]
    weight, mean = pooled.picture_weight, pooled.picture_mean
    if media == VIDEO:  # a video's picture features are [frame mean, frame max]: the max is not read
        weight, mean = np.concatenate([weight, np.zeros_like(weight)]), np.concatenate([mean, mean])
    return dataclasses.replace(
        pooled,
        media=media,
        picture_weight=weight,
        picture_mean=mean,
        context_weight=pooled.context_weight[keep],
        context_mean=pooled.context_mean[keep],
        context_columns=tuple(pooled.context_columns[i] for i in keep),
        intercept=pooled.intercept + float(shift),
    )


@register
class PooledRankerApproach(RankerApproach):
    """The ranker (:class:`RankerApproach`) on images and videos together, a media flag in the context."""

    name, label = "ranker_pooled", "ranker on images and videos together"
    also_reads = (IMAGE, VIDEO)  # a row of either type reads the other's items: its checkpoint key too
    small_types_only = True  # a type with enough items gains little and pays for the other's rows

    def cross_validate(self, problem: Problem) -> Outcome:
        split, pooled = problem.split, PooledItems.of(problem)
        probs, scores = [], []
        for member, (train, val) in enumerate(zip(split.train, split.val, strict=True)):
            rows = training_rows(problem, pooled, train.numpy(), val.numpy())
            ranker = pooled.fit(rows, problem.config, problem.seed(self.name, member))
            scored = val.numpy() + pooled.offset[problem.media]
            score = ranker.score(
                pooled.picture[scored], pooled.context[scored], pooled.items.captions[scored]
            )
            scores.append(score)
            probs.append(ranker.predict_proba(score, problem.n_classes))
        return scored_outcome(problem, scores, probs)

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        pooled = PooledItems.of(problem)
        every = np.arange(len(pooled.items))
        ranker = pooled.fit(every, problem.config, problem.seed("final", self.name))
        head = for_media(ranker, problem.media).head(problem.n_classes)
        trained_on = {media: len(_as(problem, media).items) for media in (IMAGE, VIDEO)}
        return Fitted(head, tensors=ranker.tensors(), meta={"ranker": ranker.meta(), "pooled": trained_on})

    def describe(self, entry: dict[str, Any]) -> list[str]:
        counts = entry["pooled"]
        return [
            *super().describe(entry),
            f"- trained on {counts[IMAGE]} images and {counts[VIDEO]} videos together, "
            f"`{MEDIA_FLAG}` among the context columns",
        ]

    def load(
        self, media: str, tensors: dict[str, torch.Tensor], entry: dict, card: dict, config: Config
    ) -> nn.Module:
        # Saved in one picture space of D columns, as an image ranker is: loaded (and its shapes
        # checked) as one, then read as a ranker of ``media``.
        pooled = super().load(IMAGE, tensors, entry, card, config).ranker
        return for_media(pooled, media).head(card["n_classes"]).eval()
