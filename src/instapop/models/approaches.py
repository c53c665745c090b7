"""Every approach in one home: what it is, how it cross-validates, trains, saves and loads.

An approach is one class registered with :func:`register`; validation, training, the report
and prediction iterate :data:`REGISTRY` (in registration order: the table's order) and never
name an approach themselves. Adding an approach is one class: a ``name``, the media types it
serves, its plain-words ``label`` and architecture text, and

- :meth:`Approach.cross_validate` (a :class:`Problem` -> an :class:`~instapop.models.crossval.Outcome`);
- :meth:`Approach.fit_final` (a :class:`Problem` on every item -> a :class:`Fitted` module);
- :meth:`Approach.load` (saved tensors + the model card's entry -> the module).

The saved module of every approach maps embeddings (images: clean (n, D); videos: frames
(n, T, D)) to class logits, so prediction, Grad-CAM and the web page serve any of them.

=================  ======  =========================================================================
approach           media   trained on
=================  ======  =========================================================================
``image``          image   dropout + linear head on image embeddings (a random augmented view
                           per image per epoch), validated on clean views (paper)
``video``          video   the CNN-RNN on frame embeddings (paper)
``image_to_video`` video   the CNN-RNN on videos + static 15-frame sequences made from images (paper)
``video_to_image`` video   dropout + linear head on images + videos' time-max embeddings (paper)
``ranker``         both    ridge regression of the within-window PoR percentile on the picture,
                           the post's context and its caption's words, classes cut at the
                           training quantiles
``majority``       both    the training folds' most common class (baseline)
``logreg``         both    logistic regression on clean embeddings (videos: the time-max of the
                           frame embeddings), its C chosen by inner CV (baseline)
``ranker_pooled``  both    the ranker on images and videos together, a media flag among the context
                           (:mod:`.pooled`, registered when :mod:`instapop.models` is imported)
=================  ======  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from instapop.config import Config
from instapop.cv_rows import MAJORITY
from instapop.datasets import Dataset, MediaSet
from instapop.media_types import IMAGE, VIDEO
from instapop.models.captions import describe_words
from instapop.models.crossval import (
    DatasetTensors,
    Outcome,
    Split,
    assemble,
    derived_seed,
    images_outside,
    train_stacked,
)
from instapop.models.dense import ImageHead, MaxOverTime
from instapop.models.fit import Input, fit
from instapop.models.gru import VideoGRU
from instapop.models.layers import seeded_init
from instapop.models.logreg import logreg_c, logreg_linear, softmax_linear
from instapop.models.ranker import Ranker, dataset_pictures, fit_items


@dataclass(frozen=True)
class Problem:
    """What an approach learns from: one media type's items at one N, and (in CV) the split.

    ``split`` is None for the final model, which trains on every item.
    """

    data: Dataset
    tensors: DatasetTensors
    media: str
    n_classes: int
    config: Config
    split: Split | None = None

    @property
    def items(self) -> MediaSet:
        return self.data.images if self.media == IMAGE else self.data.videos

    @property
    def labels(self) -> np.ndarray:
        return self.items.labels[self.n_classes]

    def seed(self, *parts: int | str) -> int:
        """A seed for one training, derived from the config's seed, N and ``parts``."""
        return derived_seed(self.config, self.n_classes, *parts)


@dataclass
class Fitted:
    """A final model: the module to serve and save, its tensors, and facts for the model card."""

    module: nn.Module
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tensors:
            self.tensors = {k: t.detach().contiguous() for k, t in self.module.state_dict().items()}


class Approach:
    """One way of predicting popularity classes. Subclass, set the class attributes, register.

    Attributes
    ----------
    name : str
        Its key in ``cv_results.json``, ``cv_predictions.csv`` and the model card.
    media : tuple of str
        The media types it serves.
    label : str
        Plain words for the report.
    paper : bool
        One of the paper's four approaches (kept by ``--paper``).
    baseline : bool
        A reference point, not a model of the paper or beyond (no confusion panel).
    candidate : bool
        ``train`` may choose it.
    neural : bool
        It picks its best epoch on an inner split of the training folds, so it is skipped where
        that split is impossible.
    needs_frames, needs_context : bool
        It reads video frames / the post's context (prediction must supply them).
    also_reads : tuple of str
        Media types it trains on besides the row's own (a video approach that learns from images too).
    small_types_only : bool
        It runs only for a media type with fewer items than ``Config.pool_below`` (and some of the
        other type): it lends a small type what the other teaches, and costs too much where a type
        has enough items of its own (``instapop.validation.folds.pooling_reason``).
    config_fields : tuple of str
        The ``Config`` fields its ``cross_validate`` reads beyond those every row reads
        (``instapop.validation.checkpoints.VALIDATION_FIELDS``): a checkpointed row is trained
        again when one of them changes, and reused when any other setting does.
    cost : int
        Rows start most costly first, so that parallel workers finish together.
    predicts : str
        What its saved model predicts: ``"classes"`` (class probabilities) or ``"percentile"``
        (a ranker's score, read with the post's context); prediction picks its scorer by it.
    """

    name: ClassVar[str]
    media: ClassVar[tuple[str, ...]]
    label: ClassVar[str]
    paper: ClassVar[bool] = False
    baseline: ClassVar[bool] = False
    candidate: ClassVar[bool] = True
    neural: ClassVar[bool] = False
    needs_frames: ClassVar[bool] = False
    needs_context: ClassVar[bool] = False
    also_reads: ClassVar[tuple[str, ...]] = ()
    small_types_only: ClassVar[bool] = False
    config_fields: ClassVar[tuple[str, ...]] = ()
    cost: ClassVar[int] = 0
    predicts: ClassVar[str] = "classes"

    def architecture(self, media: str) -> str:
        """The saved module's architecture, in words (model card)."""
        raise NotImplementedError

    def describe(self, entry: dict[str, Any]) -> list[str]:
        """Lines of the model card about what its final fit chose (its ``entry`` in ``config.json``)."""
        return []

    def cross_validate(self, problem: Problem) -> Outcome:
        """Out-of-fold predictions of every member of ``problem.split``."""
        raise NotImplementedError

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        """The model trained on every item of ``problem`` (``epochs``: neural approaches only)."""
        raise NotImplementedError

    def load(
        self, media: str, tensors: dict[str, torch.Tensor], entry: dict, card: dict, config: Config
    ) -> nn.Module:
        """The saved module rebuilt from its tensors and model-card entry.

        Raises
        ------
        ShapeMismatch
            When the tensors' names or shapes differ from the module the card describes.
        """
        module = self.skeleton(media, card, config)
        expected = {k: tuple(t.shape) for k, t in module.state_dict().items()}
        _check_shapes(tensors, expected, self.architecture(media))
        module.load_state_dict(tensors)
        return module.eval()

    def skeleton(self, media: str, card: dict, config: Config) -> nn.Module:
        """An untrained module of the saved shape."""
        raise NotImplementedError


class ShapeMismatch(ValueError):
    """Saved tensors that do not fit the module a model card describes."""


def _check_shapes(tensors: dict[str, torch.Tensor], expected: dict[str, tuple], architecture: str) -> None:
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if found != expected:
        raise ShapeMismatch(f"tensors {found} do not match the {architecture}")


REGISTRY: dict[str, Approach] = {}


def register(cls: type[Approach]) -> type[Approach]:
    """Class decorator: add an approach to :data:`REGISTRY` (replacing one of the same name)."""
    REGISTRY[cls.name] = cls()
    return cls


def approach(name: str) -> Approach:
    """The registered approach called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown approach {name!r}; registered: {sorted(REGISTRY)}") from None


def approaches_for(media: str, names: tuple[str, ...] | None = None) -> list[Approach]:
    """The registered approaches serving ``media``, in registration order, among ``names`` if given."""
    return [a for a in REGISTRY.values() if media in a.media and (names is None or a.name in names)]


# --------------------------------------------------------------------------- shared pieces

# What every neural approach's training reads: its layers' dropout, the fit loop's settings, and
# where the epoch callback's rows come from (``Split``).
NEURAL_FIELDS = ("dropout", "lr", "epochs", "batch_size", "epoch_callback")


def _all(n: int) -> tuple[torch.Tensor, ...]:
    return (torch.arange(n),)


def _video_gru(dim: int, n_classes: int, config: Config, members: int = 1) -> VideoGRU:
    return VideoGRU(dim, n_classes, config.gru_units, config.dense_units, config.dropout, members=members)


def _linear_head(weight: np.ndarray, bias: np.ndarray, config: Config) -> ImageHead:
    head = ImageHead(weight.shape[1], weight.shape[0], config.dropout)
    with torch.no_grad():
        head.linear.weight.copy_(torch.from_numpy(weight.T[None]))
        head.linear.bias.copy_(torch.from_numpy(bias[None]))
    return head.eval()


class _HeadOnImages(Approach):
    """Saved as an ImageHead on clean image embeddings (or on videos' time-max)."""

    def architecture(self, media: str) -> str:
        return "ImageHead" if media == IMAGE else "MaxOverTime(ImageHead)"

    def skeleton(self, media: str, card: dict, config: Config) -> nn.Module:
        head = ImageHead(card["dim"], card["n_classes"], config.dropout)
        return head if media == IMAGE else MaxOverTime(head)


# --------------------------------------------------------------------------- the paper's four


@register
class ImageApproach(_HeadOnImages):
    """The paper's image classifier: dropout + linear on a random augmented view per epoch."""

    name, media, label = "image", (IMAGE,), "image model"
    paper, neural, cost = True, True, 3
    config_fields = NEURAL_FIELDS

    def cross_validate(self, problem: Problem) -> Outcome:
        t, split, config = problem.tensors, problem.split, problem.config
        seed = problem.seed(self.name)
        with seeded_init(seed):
            model = ImageHead(t.views.shape[-1], problem.n_classes, config.dropout, members=len(split.fit))
        train = (Input(t.views, t.image_labels, split.fit, views=True),)
        return train_stacked(model, train, (t.clean, t.image_labels), split, config, seed)

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        t, config = problem.tensors, problem.config
        seed = problem.seed("final", self.name)
        with seeded_init(seed):
            model = ImageHead(t.views.shape[-1], problem.n_classes, config.dropout)
        images = Input(t.views, t.image_labels, _all(len(t.views)), views=True)
        fit(model, (images,), config, seed, epochs=epochs)
        return Fitted(model.eval(), meta={"epochs": epochs})


@register
class VideoApproach(Approach):
    """The paper's CNN-RNN on frame embeddings."""

    name, media, label = "video", (VIDEO,), "video model (CNN-RNN)"
    paper, neural, needs_frames, cost = True, True, True, 5
    config_fields = (*NEURAL_FIELDS, "gru_units", "dense_units")

    def architecture(self, media: str) -> str:
        return "VideoGRU"

    def skeleton(self, media: str, card: dict, config: Config) -> nn.Module:
        return _video_gru(card["dim"], card["n_classes"], config)

    def cross_validate(self, problem: Problem) -> Outcome:
        t, split, config = problem.tensors, problem.split, problem.config
        seed = problem.seed(self.name)
        with seeded_init(seed):
            model = _video_gru(t.frames.shape[-1], problem.n_classes, config, len(split.fit))
        train = (Input(t.frames, t.video_labels, split.fit),)
        if IMAGE in self.also_reads:
            train += (Input(t.views, t.image_labels, images_outside(split, problem.data), views=True),)
        return train_stacked(model, train, (t.frames, t.video_labels), split, config, seed)

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        t, config = problem.tensors, problem.config
        seed = problem.seed("final", self.name)
        with seeded_init(seed):
            model = _video_gru(t.frames.shape[-1], problem.n_classes, config)
        train = (Input(t.frames, t.video_labels, _all(len(t.frames))),)
        if IMAGE in self.also_reads:
            train += (Input(t.views, t.image_labels, _all(len(t.views)), views=True),)
        fit(model, train, config, seed, epochs=epochs)
        return Fitted(model.eval(), meta={"epochs": epochs})


@register
class ImageToVideoApproach(VideoApproach):
    """The CNN-RNN also trained on static sequences of (augmented) images."""

    name, label = "image_to_video", "CNN-RNN also trained on still images"
    also_reads, cost = (IMAGE,), 6


@register
class VideoToImageApproach(_HeadOnImages):
    """One dropout + linear head on images and videos' time-max embeddings together."""

    name, media, label = "video_to_image", (VIDEO,), "image head also trained on videos"
    paper, neural, needs_frames, cost = True, True, True, 4
    also_reads, config_fields = (IMAGE,), NEURAL_FIELDS

    def cross_validate(self, problem: Problem) -> Outcome:
        t, split, config = problem.tensors, problem.split, problem.config
        seed = problem.seed(self.name)
        with seeded_init(seed):
            model = ImageHead(t.views.shape[-1], problem.n_classes, config.dropout, members=len(split.fit))
        n_images = len(t.views)
        image_rows = images_outside(split, problem.data)
        rows = tuple(torch.cat([i, v + n_images]) for i, v in zip(image_rows, split.fit, strict=True))
        train = (Input(t.mixed_views(), t.mixed_labels(), rows, views=True),)
        return train_stacked(model, train, (t.pooled, t.video_labels), split, config, seed)

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        t, config = problem.tensors, problem.config
        seed = problem.seed("final", self.name)
        with seeded_init(seed):
            model = ImageHead(t.frames.shape[-1], problem.n_classes, config.dropout)
        mixed = t.mixed_views()
        items = Input(mixed, t.mixed_labels(), _all(len(mixed)), views=True)
        fit(model, (items,), config, seed, epochs=epochs)
        return Fitted(MaxOverTime(model).eval(), meta={"epochs": epochs})


# --------------------------------------------------------------------------- beyond the paper


def ranker_context(problem: Problem) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n, C) context features of the problem's items, and the column names (C may be 0)."""
    context = problem.data.context.get(problem.media)
    if context is None:
        return np.zeros((len(problem.items), 0)), ()
    return context, tuple(problem.data.context_columns)


@dataclass(frozen=True)
class RankerInputs:
    """The ranker's inputs for each item of a problem: its picture (:func:`dataset_pictures`), its context."""

    picture: np.ndarray
    context: np.ndarray
    columns: tuple[str, ...]

    @classmethod
    def of(cls, problem: Problem) -> RankerInputs:
        picture = dataset_pictures(problem.data, problem.media, problem.config.ranker_post_picture)
        return cls(picture, *ranker_context(problem))

    def fit(self, problem: Problem, rows: np.ndarray, seed: int) -> Ranker:
        """A :class:`~instapop.models.ranker.Ranker` fitted on ``rows`` of the problem's items only."""
        config, items = problem.config, problem.items
        return fit_items(config, problem.media, self.picture, self.context, self.columns, items, rows, seed)


def scored_outcome(problem: Problem, scores: list[np.ndarray], probs: list[np.ndarray]) -> Outcome:
    """The Outcome of a ranker's fold members: each one's scores (n_val,) and class probabilities
    (n_val, N) of its validation fold."""
    split, shape = problem.split, (problem.config.n_repeats, len(problem.items), problem.n_classes)
    score_grid = assemble(split.val, [s[:, None] for s in scores], (*shape[:2], 1))[..., 0]
    return Outcome(assemble(split.val, probs, shape), [None] * len(split.train), scores=score_grid)


@register
class RankerApproach(Approach):
    """Ridge regression of the within-window percentile on picture + context + caption words (:mod:`.ranker`).

    Its classes at any N are cuts of the score at the training items' class shares; its class
    probabilities are adjacent-category odds around those cuts (argmax = the cut class). The
    saved module is the picture part with the context at its training mean; the whole
    :class:`~instapop.models.ranker.Ranker` (context weights included) is saved beside it.
    """

    name, media, label = "ranker", (IMAGE, VIDEO), "ranker: picture + context"
    needs_context, cost, predicts = True, 2, "percentile"
    config_fields = ("inner_splits", "ranker_alphas", "ranker_context_weights", "ranker_words_weights",
                     "ranker_words_max_features", "ranker_post_picture")  # fmt: skip

    def architecture(self, media: str) -> str:
        return "RankerHead"

    def cross_validate(self, problem: Problem) -> Outcome:
        split, items, n = problem.split, problem.items, problem.n_classes
        inputs = RankerInputs.of(problem)
        probs, scores = [], []
        for member, (train, val) in enumerate(zip(split.train, split.val, strict=True)):
            ranker = inputs.fit(problem, train.numpy(), problem.seed(self.name, member))
            rows = val.numpy()
            score = ranker.score(inputs.picture[rows], inputs.context[rows], items.captions[rows])
            scores.append(score)
            probs.append(ranker.predict_proba(score, n))
        return scored_outcome(problem, scores, probs)

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        every = np.arange(len(problem.items))
        ranker = RankerInputs.of(problem).fit(problem, every, problem.seed("final", self.name))
        head = ranker.head(problem.n_classes)
        return Fitted(head, tensors=ranker.tensors(), meta={"ranker": ranker.meta()})

    def describe(self, entry: dict[str, Any]) -> list[str]:
        ranker = entry["ranker"]
        return [
            f"- ranker: ridge penalty {ranker['alpha']:g}, context weight "
            f"{ranker['context_weight_factor']:g}, context columns "
            f"{', '.join(ranker['context_columns']) or 'none'}",
            f"- caption words: {describe_words(ranker)}",
        ]

    def load(
        self, media: str, tensors: dict[str, torch.Tensor], entry: dict, card: dict, config: Config
    ) -> nn.Module:
        picture = card["dim"] * (1 if media == IMAGE else 2)
        shapes = {name: (size,) for name, size in Ranker.tensor_sizes(picture, entry["ranker"]).items()}
        _check_shapes(tensors, shapes, self.architecture(media))
        return Ranker.from_saved(tensors, entry["ranker"]).head(card["n_classes"]).eval()


# --------------------------------------------------------------------------- baselines


@register
class MajorityApproach(Approach):
    """The training folds' most common class (ties: the lowest class)."""

    name, media, label = MAJORITY, (IMAGE, VIDEO), "baseline: most common class"
    baseline, candidate = True, False

    def cross_validate(self, problem: Problem) -> Outcome:
        split, labels, n = problem.split, problem.labels, problem.n_classes
        probs = []
        for train, val in zip(split.train, split.val, strict=True):
            majority = np.bincount(labels[train.numpy()], minlength=n).argmax()
            probs.append(np.tile(np.eye(n)[majority], (len(val), 1)))
        shape = (problem.config.n_repeats, len(labels), n)
        return Outcome(assemble(split.val, probs, shape), [None] * len(split.train))


@register
class LogregApproach(_HeadOnImages):
    """Logistic regression on clean (image) or time-max (video) embeddings, C by inner CV."""

    name, media, label = "logreg", (IMAGE, VIDEO), "baseline: logistic regression"
    baseline, cost = True, 1
    config_fields = ("inner_splits", "logreg_c", "logreg_cs", "logreg_max_iter")

    @staticmethod
    def _inputs(problem: Problem) -> np.ndarray:
        t = problem.tensors
        return (t.clean if problem.media == IMAGE else t.pooled).numpy()

    def cross_validate(self, problem: Problem) -> Outcome:
        x, labels, n, config = self._inputs(problem), problem.labels, problem.n_classes, problem.config
        probs = []
        for member, (train, val) in enumerate(zip(problem.split.train, problem.split.val, strict=True)):
            rows = train.numpy()
            c = logreg_c(x, labels, problem.items.groups, rows, n, config, problem.seed(self.name, member))
            weight, bias = logreg_linear(x[rows], labels[rows], n, config, c)
            probs.append(softmax_linear(x[val.numpy()], weight, bias))
        shape = (config.n_repeats, len(labels), n)
        return Outcome(assemble(problem.split.val, probs, shape), [None] * len(problem.split.train))

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        x, labels, n, config = self._inputs(problem), problem.labels, problem.n_classes, problem.config
        rows = np.arange(len(labels))
        c = logreg_c(x, labels, problem.items.groups, rows, n, config, problem.seed("final", self.name))
        head = _linear_head(*logreg_linear(x, labels, n, config, c), config)
        return Fitted(head if problem.media == IMAGE else MaxOverTime(head).eval(), meta={"logreg_c": c})
