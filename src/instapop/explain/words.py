"""Words that go with popular posts: the saved ranker's strongest caption terms, and how its score
splits between the picture, the timing and the words (issue 18).

The explain stage writes this into ``explain.json`` (``words``); the report only reads it. The
terms are whole words, hashtags, mentions and emoji
(:func:`instapop.explain.captions.caption_word_effects`), each with the posts that use it. The
split answers "what makes my posts score differently": over the posts the model was trained on,
the variance of each part of the score (picture, context, words;
:meth:`~instapop.models.ranker.Ranker.contributions`) as a share of their sum. Covariances
between the parts are left out so that the shares add up to 1 and each reads on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from instapop.explain.captions import caption_word_effects
from instapop.media_types import IMAGE, VIDEO
from instapop.models.ranker import Ranker, dataset_pictures

if TYPE_CHECKING:
    import pandas as pd

    from instapop.datasets import Dataset
    from instapop.training import SavedModel

TOP_TERMS = 8  # rows of each table in the report: enough to see a pattern, few enough to read
SPLIT_PARTS = ("picture", "timing", "words")


def caption_words(model: SavedModel, data: Dataset, top: int = TOP_TERMS) -> dict[str, Any]:
    """What ``explain.json`` holds under ``words``.

    Parameters
    ----------
    model : the saved model; its image ranker is read, else its video ranker.
    data : what it was trained on (:attr:`instapop.datasets.RunData.dataset`).
    top : rows of each table.

    Returns
    -------
    ``media`` (whose ranker), ``split`` (share of the score's spread over its training items from
    the picture, the timing and the words, summing to 1) and ``raising`` / ``lowering`` (rows of
    :func:`~instapop.explain.captions.caption_word_effects`: term, effect, posts,
    mean_percentile, examples). Without a ranker, or one without caption words, ``why`` says why
    in a sentence (and ``split`` is still there when a ranker is).
    """
    rankers = {media: r for media in (IMAGE, VIDEO) if (r := model.ranker(media)) is not None}
    if not rankers:
        approaches = f"images: {model.image_approach}, videos: {model.video_approach}"
        return {"why": f"The saved model ({approaches}) reads no caption words: only the ranker does."}
    # images first (most profiles' majority), unless only the video ranker reads words
    media = next((m for m, r in rankers.items() if r.words_weight_factor), next(iter(rankers)))
    ranker = rankers[media]
    items = data.images if media == IMAGE else data.videos
    result: dict[str, Any] = {"media": media, "split": score_split(ranker, data, media)}
    if not ranker.words_weight_factor:
        has_captions = any(str(c) for c in items.captions)
        result["why"] = (
            "The model reads no caption words: its inner cross-validation gave them weight 0, because on "
            "this profile they did not help predict popularity."
            if has_captions
            else "The model reads no caption words: the posts have no captions."
        )
        return result
    raising, lowering = caption_word_effects(ranker, items, top=top)
    result["raising"], result["lowering"] = _rows(raising), _rows(lowering)
    return result


def score_split(ranker: Ranker, data: Dataset, media: str) -> dict[str, float]:
    """Share of the variance of the ranker's score parts over its training items (see the module)."""
    items = data.images if media == IMAGE else data.videos
    picture = dataset_pictures(data, media, ranker.post_picture)  # as the ranker read them
    context = data.context.get(media)
    if context is not None and ranker.context_columns:
        context = context[:, [data.context_columns.index(c) for c in ranker.context_columns]]
    picture_part, context_part = ranker.contributions(picture, context)
    words_part = ranker.words_part(list(items.captions))
    spread = np.array([np.var(picture_part), np.var(context_part), np.var(words_part)])
    shares = spread / spread.sum() if spread.sum() > 0 else np.zeros(3)
    return {part: round(float(share), 4) for part, share in zip(SPLIT_PARTS, shares, strict=True)}


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "term": row.term,
            "effect": round(float(row.effect), 5),
            "posts": int(row.posts),
            "mean_percentile": round(float(row.mean_percentile), 4),
            "examples": list(row.examples),
        }
        for row in table.itertuples(index=False)
    ]
