"""A candidate post and what the model thinks of it, as the CLI, the API and the page show it."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

from instapop.predict.plans import Plan


@dataclass
class Candidate:
    """One candidate post and what the model thinks of it.

    Attributes
    ----------
    name : the file's path relative to the folder given (just the file name for a file given
        directly); a carousel's name is its folder's, ending in ``/``.
    media_type : ``image``, ``video`` or ``carousel``; ``unknown`` for a file that is neither.
    probs : class probabilities, class 0 = least popular (a ranker's: ordinal odds around
        its class cuts); empty on error.
    predicted_class : the most probable class (a ranker: its percentile's class); -1 on error.
    expected_score : ``sum_k probs[k] * k``, in [0, N-1]; NaN on error.
    score : the ranking key in [0, 1] (see :class:`Verdict`); NaN on error.
    percentile : a ranker's predicted within-window percentile; None for a classifier.
    picture, context : how much the picture and the context moved a ranker's score from the
        profile's average post (same units as ``score``); None for a classifier.
    words : how much the caption's words moved a ranker's score (same units); None for a model
        without caption words.
    words_up, words_down : the caption's whole terms (words, hashtags, emoji) that raise / lower
        the score most, (term, move) each, strongest first; at most three each.
    plan : the planned time and caption given for it (see :class:`Plan`).
    fallbacks : the context inputs that used the profile's typical values instead.
    context_note : one line a person reads about the context: what was assumed, or that the
        model does not read it.
    error : why the candidate could not be scored, naming the file; None when it was.
    error_kind : ``unsupported`` (not an image or video), ``over_limit`` or ``unreadable``.
    heatmap_png : with explanations, PNG bytes: the Grad-CAM overlay of an image, the
        frame-importance filmstrip of a video (its most important frame overlaid with Grad-CAM).
        None for carousels (see ``items``).
    items : a carousel's items, each a Candidate of its own.
    rank : 1 for the best candidate, after :meth:`Predictor.rank`; None for errors.
    """

    name: str
    media_type: str
    probs: list[float] = field(default_factory=list)
    predicted_class: int = -1
    expected_score: float = float("nan")
    score: float = float("nan")
    percentile: float | None = None
    picture: float | None = None
    context: float | None = None
    words: float | None = None
    words_up: list[tuple[str, float]] = field(default_factory=list)
    words_down: list[tuple[str, float]] = field(default_factory=list)
    plan: Plan = field(default_factory=Plan)
    fallbacks: list[str] = field(default_factory=list)
    context_note: str = ""
    error: str | None = None
    error_kind: str | None = None
    heatmap_png: bytes | None = None
    items: list[Candidate] = field(default_factory=list)
    rank: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, class_names: list[str] | None = None, heatmaps: bool = True) -> dict[str, Any]:
        """JSON-ready fields; the heatmap as a ``data:image/png;base64`` URL (None unless ``heatmaps``)."""
        data: dict[str, Any] = {
            "rank": self.rank,
            "name": self.name,
            "media_type": self.media_type,
            "score": _rounded(self.score) if self.ok else None,
            "probs": [round(p, 6) for p in self.probs],
            "predicted_class": self.predicted_class,
            "expected_score": _rounded(self.expected_score) if self.ok else None,
            "percentile": _rounded(self.percentile),
            "contributions": None
            if self.picture is None
            else {
                "picture": _rounded(self.picture),
                "context": _rounded(self.context),
                "words": _rounded(self.words),
            },
            "caption_words": None
            if self.words is None
            else {"up": _terms(self.words_up), "down": _terms(self.words_down)},
            "context": {
                "when": self.plan.when,
                "caption": self.plan.caption,
                "fallbacks": self.fallbacks,
                "note": self.context_note,
            },
            "error": self.error,
            "error_kind": self.error_kind,
            "heatmap": _data_url(self.heatmap_png) if heatmaps else None,
            "items": [item.to_dict(class_names, heatmaps) for item in self.items],
        }
        if class_names is not None:
            data["class_name"] = class_names[self.predicted_class] if self.ok else None
        return data


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def _terms(terms: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"term": term, "move": _rounded(move)} for term, move in terms]


def _data_url(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")
