"""How one media type's saved model scores an embedding: a :class:`Verdict` from a classifier
head (:class:`ClassifierScorer`) or a ranker (:class:`RankerScorer`), whatever the approach.

A classifier's score is its expected class ``sum_k p_k * k`` over N - 1, which rewards a
confident "top class" above a hesitant one, as the arg-max class alone cannot; a ranker's is its
predicted within-window percentile, and it says how much the picture, the context and the
caption's words moved the score away from the profile's average post.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from instapop.context import CONTEXT_COLUMNS, FIRST_POST_GAP_HOURS
from instapop.errors import InstapopError
from instapop.media_types import IMAGE, VIDEO

if TYPE_CHECKING:
    import torch

    from instapop.models.ranker import Ranker
    from instapop.training import SavedModel


@dataclass(frozen=True)
class Verdict:
    """What a model says about one media item or post, whatever its approach.

    Attributes
    ----------
    predicted_class : 0 = least popular.
    score : in [0, 1], the ranking key: a classifier's expected class over N - 1, a ranker's
        predicted within-window percentile.
    probs : class probabilities (a ranker's: ordinal odds around its cuts).
    percentile : a ranker's predicted within-window percentile; None for a classifier.
    picture, context : a ranker's score moves from the profile's average post, due to the
        picture and due to the context (timing, the post's shape, the caption's counts); None for
        a classifier.
    words : a ranker's score move due to the caption's words (0 for the typical caption: none
        given); None for a model without caption words.
    words_up, words_down : the caption's whole terms that raise / lower the score most, (term,
        move) each, strongest first (:func:`instapop.explain.captions.caption_pushes`).
    fallbacks : context inputs replaced by the profile's typical values (``candidate_context``).
    """

    predicted_class: int
    score: float
    probs: tuple[float, ...] = ()
    percentile: float | None = None
    picture: float | None = None
    context: float | None = None
    words: float | None = None
    words_up: tuple[tuple[str, float], ...] = ()
    words_down: tuple[tuple[str, float], ...] = ()
    fallbacks: tuple[str, ...] = ()


def expected_class(probs: Sequence[float]) -> float:
    """``sum_k p_k * k``: 0 = surely the least popular class, N - 1 = surely the most popular."""
    return float(np.dot(probs, np.arange(len(probs))))


def verdict_from_probs(probs: np.ndarray) -> Verdict:
    """A classifier's verdict: arg-max class, expected class over N - 1 as the score."""
    probs = np.asarray(probs, dtype=np.float64)
    score = expected_class(probs) / (len(probs) - 1)
    return Verdict(int(np.argmax(probs)), score, tuple(float(p) for p in probs))


class MediaScorer(Protocol):
    """How one media type's saved approach scores and explains (see :class:`ClassifierScorer`).

    ``uses_context`` says whether the approach reads the context row or the caption;
    ``context_defaults`` is what it saved about the profile for
    :func:`instapop.context.candidate_context`.
    """

    approach: str
    uses_context: bool
    context_defaults: dict[str, Any] | None

    def verdict(
        self, embedding: np.ndarray, context: np.ndarray | None, caption: str | None = None
    ) -> Verdict:
        """Verdict of one item: an image's (D,) embedding or a video's (T, D) frame embeddings,
        with its context row and its planned caption (None: not given)."""
        ...

    def classify(self, scores: np.ndarray) -> np.ndarray:
        """Classes of scores in [0, 1] (a carousel's mean score)."""
        ...

    def explainer(self, context: np.ndarray | None) -> tuple[torch.nn.Module, int | None]:
        """A differentiable module from embeddings to logits (images: (n, D); videos: (n, T, D))
        and the logit to explain (None: the predicted class)."""
        ...


class ClassifierScorer:
    """A classifier head of a :class:`~instapop.training.SavedModel`: probabilities, no context."""

    uses_context = False
    context_defaults = None

    def __init__(self, model: SavedModel, media_type: str) -> None:
        self.model = model
        self.media_type = media_type
        self.approach = model.image_approach if media_type == IMAGE else model.video_approach

    def verdict(
        self, embedding: np.ndarray, context: np.ndarray | None, caption: str | None = None
    ) -> Verdict:
        if self.media_type == IMAGE:
            return verdict_from_probs(self.model.predict_images(embedding[None])[0])
        return verdict_from_probs(self.model.predict_videos(embedding[None])[0])

    def classify(self, scores: np.ndarray) -> np.ndarray:
        n = self.model.n_classes  # no cut points of its own: N equal slices of [0, 1] (mixed carousels)
        return np.minimum(np.floor(np.asarray(scores) * n), n - 1).astype(int)

    def explainer(self, context: np.ndarray | None) -> tuple[torch.nn.Module, int | None]:
        module = self.model.image_head() if self.media_type == IMAGE else self.model.video_model()
        return module.eval(), None


class RankerScorer:
    """A ranker (``instapop.models.ranker.Ranker``): percentile, picture/context/words moves,
    context and caption read.

    The typical context it assumes for what a user does not give is its own training mean
    (so that "typical" moves its score by 0), with the last post's time, the typical
    posting slot and gap from the model's ``context.json``.
    """

    def __init__(
        self, model: SavedModel, media_type: str, ranker: Ranker, saved: dict[str, Any] | None
    ) -> None:
        unknown = sorted(set(ranker.context_columns) - set(CONTEXT_COLUMNS))
        if unknown:
            raise InstapopError(f"the saved {media_type} ranker reads unknown context columns {unknown}")
        self.ranker = ranker
        self.media_type = media_type
        self.n_classes = model.n_classes
        self.approach = model.image_approach if media_type == IMAGE else model.video_approach
        self.uses_context = bool(ranker.context_columns) or bool(ranker.words_weight_factor)
        self._columns = [CONTEXT_COLUMNS.index(c) for c in ranker.context_columns]
        means = dict(zip(ranker.context_columns, ranker.context_mean.tolist(), strict=True))
        base = saved or dict.fromkeys(("last_post", "typical_hour", "typical_weekday"), None)
        base.setdefault("median_gap_hours", FIRST_POST_GAP_HOURS)
        self.context_defaults = {**base, "means": {c: means.get(c, 0.0) for c in CONTEXT_COLUMNS}}

    def _context(self, context: np.ndarray | None) -> np.ndarray | None:
        return None if context is None or not self.uses_context else np.asarray(context)[self._columns][None]

    def _words(
        self, caption: str | None
    ) -> tuple[float | None, list[tuple[str, float]], list[tuple[str, float]]]:
        """The caption's words part and its strongest terms each way; None without caption words,
        0 for a caption not given (the typical caption is the training mean)."""
        from instapop.explain.captions import caption_pushes

        if not self.ranker.words_weight_factor:
            return None, [], []
        if caption is None:
            return 0.0, [], []
        up, down = caption_pushes(self.ranker, caption)
        return float(self.ranker.words_part([caption])[0]), up, down

    def verdict(
        self, embedding: np.ndarray, context: np.ndarray | None, caption: str | None = None
    ) -> Verdict:
        from instapop.models.ranker import picture_features

        picture = picture_features(self.media_type, np.asarray(embedding, dtype=np.float64)[None])
        picture_part, context_part = self.ranker.contributions(picture, self._context(context))
        words, up, down = self._words(caption)
        score = self.ranker.intercept + picture_part + context_part + (words or 0.0)
        return Verdict(
            int(self.ranker.classes(score, self.n_classes)[0]),
            float(score[0]),
            tuple(float(p) for p in self.ranker.predict_proba(score, self.n_classes)[0]),
            percentile=float(score[0]),
            picture=float(picture_part[0]),
            context=float(context_part[0]),
            words=words,
            words_up=tuple(up),
            words_down=tuple(down),
        )

    def classify(self, scores: np.ndarray) -> np.ndarray:
        return self.ranker.classes(np.asarray(scores, dtype=float), self.n_classes)

    def explainer(self, context: np.ndarray | None) -> tuple[torch.nn.Module, int | None]:
        """The score itself as logit 1: Grad-CAM then follows d score / d embedding, a fixed direction."""
        from instapop.explain.gradcam import ScoreLogits

        head = self.ranker.head(self.n_classes, self._context(context))
        return ScoreLogits(head.score).eval(), 1


class BorrowedScorer:
    """One media type scored by the other's model, on the picture they share (see ``BORROWED``).

    A profile with too few videos to validate a video approach still has videos to rank, and a
    reels-first profile too few images: a video's frames averaged are a picture in the image
    model's embedding space, and a picture is a video whose every frame shows it (how a reel
    known only by its cover is embedded).
    """

    def __init__(self, inner: MediaScorer, media_type: str, inner_type: str) -> None:
        self.inner, self.media_type, self.inner_type = inner, media_type, inner_type
        self.approach = f"{inner.approach} ({inner_type} model)"
        self.uses_context = inner.uses_context
        self.context_defaults = inner.context_defaults

    def _as_inner(self, embedding: np.ndarray) -> np.ndarray:
        embedding = np.asarray(embedding, dtype=np.float32)
        return embedding.mean(axis=0) if self.inner_type == IMAGE else embedding[None]

    def verdict(
        self, embedding: np.ndarray, context: np.ndarray | None, caption: str | None = None
    ) -> Verdict:
        return self.inner.verdict(self._as_inner(embedding), context, caption)

    def classify(self, scores: np.ndarray) -> np.ndarray:
        return self.inner.classify(scores)

    def explainer(self, context: np.ndarray | None) -> tuple[torch.nn.Module, int | None]:
        from instapop.models.layers import MediaAdapter

        module, target = self.inner.explainer(context)
        return MediaAdapter(module, to_video=self.inner_type == VIDEO).eval(), target


def media_scorers(
    model: SavedModel, context_defaults: dict[str, Any] | None = None
) -> dict[str, MediaScorer]:
    """The scorer of each media type: its own model's (a ranker's or a classifier's), else the other's.

    Parameters
    ----------
    model : the saved model.
    context_defaults : what training saved about the profile (``model/context.json``), if anything.
    """
    from instapop.models.approaches import approach

    own: dict[str, MediaScorer] = {}
    for media_type in (IMAGE, VIDEO):
        if model.scored_by(media_type) != media_type:
            continue
        name = model.image_approach if media_type == IMAGE else model.video_approach
        if approach(name).predicts == "percentile":
            own[media_type] = RankerScorer(model, media_type, model.ranker(media_type), context_defaults)
        else:
            own[media_type] = ClassifierScorer(model, media_type)
    return {
        media_type: own.get(media_type) or BorrowedScorer(own[other], media_type, other)
        for media_type in (IMAGE, VIDEO)
        for other in [model.scored_by(media_type)]
    }
