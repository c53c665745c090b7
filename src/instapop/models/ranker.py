"""The ranker: a ridge regression of the within-window PoR percentile, one model for every N.

What the rolling classes measure is a post's PoR rank inside its own time window
(:func:`instapop.labels.rolling_percentiles`). The ranker predicts that rank as a number from
what a user has before publishing: the picture (the mean of the augmented views' embeddings;
for a video the mean and the maximum of its frame embeddings; a known carousel item reads as its
post's mean picture, :func:`post_pictures`) and the post's context
(:mod:`instapop.context`: hour, weekday, gap since the previous post, carousel, caption...).
Classes for any N are cuts of its score at the training items' class shares, so one model
serves N = 2, 3, ...

Why ridge: on the development profile (808 images) it beat an ordinal (cumulative) logistic
model and gradient boosting at both N (docs/benchmarks.md, "The ranker's rivals"), it is exact
and fast to fit in closed form, and a linear score splits cleanly into a picture part and a
context part, whose gradient with respect to the embedding is one fixed direction (Grad-CAM
through the backbone).

The caption enters twice: through its counts (length, hashtags, mentions, emoji) among the
context columns, and through its words (issue 18): a third block of TF-IDF character n-grams,
hashtags, mentions and emoji (:mod:`instapop.models.captions`), whose vocabulary is learned
inside each training fold. The blocks enter the ridge side by side, each with a weight against
a picture dimension.

The penalty ``alpha`` and the block weights are chosen by grouped k-fold inside the rows it is
given (the training folds of an outer split, or every item for the final model): the scored
fold never takes part. The caption words' weight may be 0 (no caption words): a profile whose
captions say nothing then gets exactly the ranker without them.

Everything a saved ranker needs is numbers: :meth:`Ranker.tensors` + :meth:`Ranker.meta` are
written as safetensors + JSON, never pickle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse
import torch
from torch import nn

from instapop.media_types import IMAGE, VIDEO
from instapop.models.captions import PARTS, CaptionWords, post_rows, shared_counts
from instapop.models.crossval import inner_folds
from instapop.models.ridge import caption_grams, centred_gram, ridge_dual, ridge_paths

if TYPE_CHECKING:
    from instapop.config import Config
    from instapop.datasets import Dataset, MediaSet


def picture_features(media: str, embeddings: np.ndarray) -> np.ndarray:
    """The ranker's picture input: images (n, K, D) -> mean over views (n, D); videos
    (n, T, D) -> mean and max over frames side by side (n, 2D).

    A single clean embedding (n, D) of an image is taken as it is: at prediction time the
    augmented views are not computed (the mean of the views stays close to the clean view).
    """
    # Reduce first, then widen: a float64 copy of every view (1,469 x 15 x 1,280) would cost
    # more than the whole fit. The means still add up in float64.
    x = np.asarray(embeddings)
    if media == IMAGE:
        return x.astype(np.float64) if x.ndim == 2 else x.mean(axis=1, dtype=np.float64)
    return np.concatenate([x.mean(axis=1, dtype=np.float64), x.max(axis=1).astype(np.float64)], axis=1)


def post_pictures(picture: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each item's picture features replaced by the mean over the items of its post (``groups``),
    scaled back to the mean length of those items.

    Likes and comments are a post's, and so is its label: a carousel's pictures are liked
    together, and its items share one percentile. Reading every item as its post's mean picture
    gives the ridge the picture the audience judged. On the development profile (100 carousels
    among 674 posts) the picture-only ridge's Spearman rose from 0.489 to 0.512 (docs/models.md).

    Why the length: averaging pictures that differ shortens the vector, and a shortened vector,
    once centred, sits near the profile's average picture; the ridge would then read every
    carousel as a middling picture whatever it shows. Scaled back to its items' mean length, the
    mean keeps its direction (what the post shows) at the length of one picture. On the
    development profile it raised the ranker's Spearman by 0.0065 on average over five fold seeds
    (in 9 of 10 seed and N pairs); its accuracy moved within the seeds' spread (docs/benchmarks.md).
    A post of one item is unchanged, and so is prediction, which scores one picture.
    """
    _, post, size = np.unique(groups, return_inverse=True, return_counts=True)
    if len(size) == len(groups):  # no post has two items
        return picture
    indicator = scipy.sparse.csr_matrix((np.ones(len(post)), (post, np.arange(len(post)))))
    mean = (indicator @ picture) / size[:, None]
    items_length = (indicator @ np.linalg.norm(picture, axis=1)) / size
    mean_length = np.linalg.norm(mean, axis=1)
    scale = np.divide(items_length, mean_length, out=np.ones_like(mean_length), where=mean_length > 0)
    return (mean * scale[:, None])[post]


def items_pictures(picture: np.ndarray, groups: np.ndarray, by_post: bool) -> np.ndarray:
    """The picture the ranker reads for each known item (``groups``: its post): its post's
    (:func:`post_pictures`) when ``by_post`` (``Config.ranker_post_picture``), else its own."""
    return post_pictures(picture, groups) if by_post else picture


def dataset_pictures(data: Dataset, media: str, by_post: bool) -> np.ndarray:
    """The ranker's picture of every item of ``media`` in ``data``: :func:`picture_features` of its
    embeddings, read by :func:`items_pictures`."""
    if media == IMAGE:
        return items_pictures(picture_features(media, data.image_views), data.images.groups, by_post)
    return items_pictures(picture_features(media, data.video_frames), data.videos.groups, by_post)


def class_cuts(scores: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Score cut points that give the items the classes' shares among ``labels``.

    Cut k-1 is the quantile of ``scores`` at the share of items below class k, so a model
    whose scores rank perfectly reproduces the labels, and one model serves every N.
    """
    shares = np.cumsum(np.bincount(labels, minlength=n_classes))[:-1] / len(labels)
    return np.quantile(scores, shares)


def cut_classes(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Class of each score: how many cuts lie below it."""
    return np.searchsorted(np.asarray(cuts), scores, side="right").astype(np.int64)


def ordinal_probs(scores: np.ndarray, cuts: np.ndarray, temperature: float) -> np.ndarray:
    """Adjacent-category probabilities: log p_k - log p_(k-1) = (score - cut_k) / temperature.

    Their argmax is exactly :func:`cut_classes` (the log-odds of neighbours fall with k), so
    the classes a user sees and their probabilities agree. (n, N).
    """
    logits = ordinal_logits(torch.as_tensor(np.asarray(scores, dtype=np.float64))[:, None], cuts, temperature)
    return torch.softmax(logits, dim=-1).numpy()


def ordinal_logits(scores: torch.Tensor, cuts, temperature: float) -> torch.Tensor:
    """(n, 1) scores -> (n, N) logits of :func:`ordinal_probs`, centred so that the logit of
    class k moves with (k - (N-1)/2) times the score (differentiable, for Grad-CAM)."""
    cuts = torch.as_tensor(np.asarray(cuts, dtype=np.float64), dtype=scores.dtype)
    n_classes = len(cuts) + 1
    steps = torch.arange(n_classes, dtype=scores.dtype) - (n_classes - 1) / 2
    offsets = torch.cat([torch.zeros(1, dtype=scores.dtype), torch.cumsum(cuts, 0)])
    return (steps * scores - offsets) / temperature


def _fit_temperature(scores: np.ndarray, labels: np.ndarray, cuts: np.ndarray) -> float:
    """The temperature with the best log-likelihood of held-out classes (a 1-D grid)."""
    spread = float(np.std(scores)) or 1.0
    grid = spread * np.logspace(-2, 1, 31)
    # every temperature in one softmax: (temperatures, n, N)
    logits = ordinal_logits(torch.as_tensor(np.asarray(scores, dtype=np.float64))[:, None], cuts, 1.0)
    probs = torch.softmax(logits[None] / torch.as_tensor(grid)[:, None, None], dim=-1).numpy()
    losses = -np.log(probs[:, np.arange(len(labels)), labels] + 1e-12).mean(axis=1)
    return float(grid[int(np.argmin(losses))])


def _weighted(z: np.ndarray, n_picture: int, context_weight: float) -> np.ndarray:
    """``z`` with its context columns (those after ``n_picture``) times ``context_weight``."""
    weighted = z.copy()
    weighted[:, n_picture:] *= context_weight
    return weighted


@dataclass
class Ranker:
    """A fitted ranker of one media type.

    ``score = intercept + w_p . (p - p_mean) + w_c . (c - c_mean) + w_t . (t - t_mean)`` on the
    raw picture features p (:func:`picture_features`), context row c and caption words t (the
    TF-IDF row of the caption, :attr:`words`); ``intercept`` is the mean training percentile,
    so every part is relative to the training means.

    Interface for prediction and explanations:

    - :meth:`score` (the predicted within-window percentile), :attr:`cuts` per N and
      :meth:`classes` / :meth:`predict_proba`;
    - :meth:`contributions`: (picture part, context part) of each score, relative to the means;
      the caption's words, when given, count in the context part (:meth:`words_part` alone);
    - :meth:`embedding_gradient`: d score / d picture features, one fixed vector (for images
      d score / d clean embedding; for videos the first D entries act on the frame mean, the
      last D on the frame max); :meth:`head` is the same as a torch module on embeddings
      giving N class logits, differentiable for Grad-CAM through the backbone.

    Attributes
    ----------
    media : str
        "image" or "video".
    picture_weight, picture_mean : numpy.ndarray
        (P,) raw-scale weights and training means of the picture features.
    context_weight, context_mean : numpy.ndarray
        (C,) the same for the context columns (C may be 0).
    context_columns : tuple of str
        Names of the context columns, in order.
    intercept : float
        Score at the training means.
    alpha : float
        The ridge penalty (on standardised features) inner CV chose.
    context_weight_factor : float
        The weight of a standardised context column against a picture dimension inner CV chose.
    words : CaptionWords
        The caption vocabulary (empty when inner CV chose no caption words).
    words_weight, words_mean : numpy.ndarray
        (V,) weights and training means of the caption words' TF-IDF columns (V may be 0).
    words_weight_factor : float
        The weight of the caption words block against a picture dimension inner CV chose
        (0: no caption words).
    cuts : dict of int to numpy.ndarray
        For each N, the N - 1 score cut points of the classes.
    temperature : float
        Scale of :meth:`predict_proba`'s log-odds, fitted on held-out inner-CV scores.
    post_picture : bool
        Its training items were read as their posts' pictures (:func:`items_pictures`): what to
        read them as again to explain the score.
    inner_rows : list of numpy.ndarray
        The rows each inner fit saw (global indices): what chose ``alpha`` (kept for audits).
    """

    media: str
    picture_weight: np.ndarray
    picture_mean: np.ndarray
    context_weight: np.ndarray
    context_mean: np.ndarray
    context_columns: tuple[str, ...]
    intercept: float
    alpha: float
    context_weight_factor: float
    cuts: dict[int, np.ndarray]
    temperature: float
    words: CaptionWords = field(default_factory=CaptionWords, repr=False)
    words_weight: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    words_mean: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    words_weight_factor: float = 0.0
    post_picture: bool = False
    inner_rows: list[np.ndarray] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        media: str,
        picture: np.ndarray,
        context: np.ndarray,
        percentile: np.ndarray,
        labels: dict[int, np.ndarray],
        groups: np.ndarray,
        rows: np.ndarray,
        alphas,
        inner_splits: int,
        seed: int,
        context_columns: tuple[str, ...] = (),
        context_weights=(1.0,),
        captions: np.ndarray | None = None,
        words_weights=(0.0,),
        words_max_features: int = 20_000,
    ) -> Ranker:
        """Fit on ``rows`` only, choosing ``alpha`` and the block weights by grouped k-fold inside ``rows``.

        Parameters
        ----------
        media : str
            "image" or "video".
        picture : numpy.ndarray
            (n, P) picture features of every item (:func:`picture_features`).
        context : numpy.ndarray
            (n, C) context features of every item (C may be 0).
        percentile : numpy.ndarray
            (n,) within-window PoR percentile, the target.
        labels : dict of int to numpy.ndarray
            For each N, the items' classes: the class shares that place the cuts.
        groups : numpy.ndarray
            Post of each item: inner folds never split a post.
        rows : numpy.ndarray
            The items to learn from; no other row is read.
        alphas : sequence of float
            Candidate penalties, on standardised features.
        inner_splits : int
            Folds of the inner CV.
        seed : int
            Shuffles the inner folds.
        context_columns : tuple of str
            Names of the context columns.
        context_weights : sequence of float
            Candidate weights of a standardised context column against a picture dimension,
            chosen with ``alpha`` by the same inner CV.
        captions : numpy.ndarray of str, optional
            (n,) caption of each item's post ("" for none); None: no caption words.
        words_weights : sequence of float
            Candidate weights of the caption words block (L2-normalised TF-IDF rows) against a
            picture dimension, chosen with ``alpha`` and the context weight; 0 leaves it out.
        words_max_features : int
            Largest vocabulary of each caption part (n-grams, tokens): the most frequent terms.
        """
        x_all = np.hstack([picture, context]).astype(np.float64)
        mean = x_all[rows].mean(axis=0)
        scale = x_all[rows].std(axis=0)
        scale[scale == 0] = 1.0
        n_picture = picture.shape[1]
        standardised = (x_all - mean) / scale
        folds = inner_folds(rows, groups, inner_splits, seed)
        weights = tuple(context_weights) if context.shape[1] else (1.0,)
        has_words = captions is not None and any(words_weights) and any(captions[rows])
        words_weights = tuple(words_weights) if has_words else (0.0,)
        if has_words:  # every term of every caption counted once, for every fold (and every fit)
            counts = shared_counts(captions)
            text_of = counts.rows(captions)
        alphas = np.asarray(alphas, dtype=float)
        # One Gram matrix of the training rows' picture block serves every inner fold and the
        # final fit: the picture's 1,280 columns are read once (inner folds re-centre its blocks).
        picture_rows = standardised[rows, :n_picture]
        gram = picture_rows @ picture_rows.T
        position = np.empty(len(x_all), dtype=np.int64)
        position[rows] = np.arange(len(rows))
        errors = np.zeros((len(words_weights), len(weights), len(alphas)))
        held_out_scores = np.zeros((len(words_weights), len(weights), len(alphas), len(x_all)))
        for fit_rows, held_out in folds:
            k_fit, k_out = centred_gram(gram, position[fit_rows], position[held_out])
            c_fit, c_out = standardised[fit_rows, n_picture:], standardised[held_out, n_picture:]
            if has_words:  # a vocabulary of this inner fit's rows: its held-out rows never shape it
                t_fit, t_out = caption_grams(counts, text_of, groups, fit_rows, held_out, words_max_features)
            for v, words_weight in enumerate(words_weights):
                kernels = (k_fit, k_out)
                if words_weight:  # 0 leaves the kernels untouched: exactly the ranker without words
                    kernels = (k_fit + words_weight**2 * t_fit, k_out + words_weight**2 * t_out)
                predicted = ridge_paths(*kernels, c_fit, percentile[fit_rows], c_out, alphas, weights)
                errors[v] += ((predicted - percentile[held_out]) ** 2).sum(axis=2)
                held_out_scores[v][:, :, held_out] = predicted
        best_v, best_w, best_a = np.unravel_index(int(np.argmin(errors)), errors.shape)  # first of equals
        context_weight, alpha = weights[best_w], alphas[best_a]
        words_weight, held_out = words_weights[best_v], held_out_scores[best_v, best_w, best_a]
        # A standardised context column counts context_weight picture dimensions: a dozen of them
        # would otherwise drown under one penalty set for 1,280.
        z = _weighted(standardised[rows], n_picture, context_weight)
        z_context = z[:, n_picture:]
        kernel = gram + z_context @ z_context.T  # z is centred on the rows: its Gram, in two blocks
        words, words_raw, words_mean = CaptionWords(), np.zeros(0), np.zeros(0)
        if words_weight:
            chosen = counts.fit(text_of[post_rows(groups, rows)], words_max_features)
            words, t = chosen.words, counts.tfidf(chosen, text_of[rows])
            words_mean = np.asarray(t.mean(axis=0)).ravel()
            t_gram, _ = centred_gram((t @ t.T).toarray(), np.arange(len(rows)), np.arange(0))
            kernel = kernel + words_weight**2 * t_gram
        dual = ridge_dual(kernel, percentile[rows], alpha)
        weight = z.T @ dual
        raw = _weighted(weight[None], n_picture, context_weight)[0] / scale
        if words_weight:  # the block is words_weight (t - t_mean): on raw t, weight^2 (T - t_mean)^T dual
            words_raw = words_weight**2 * (t.T @ dual - words_mean * dual.sum())
        # Cuts from the inner held-out scores: in-sample scores of 1,280 weights spread far wider
        # than the scores of unseen items, and would push every new item into the middle class.
        cuts = {n: class_cuts(held_out[rows], y[rows], n) for n, y in labels.items()}
        n_max = max(labels)
        temperature = _fit_temperature(held_out[rows], labels[n_max][rows], cuts[n_max])
        return cls(
            media=media,
            picture_weight=raw[:n_picture],
            picture_mean=mean[:n_picture],
            context_weight=raw[n_picture:],
            context_mean=mean[n_picture:],
            context_columns=tuple(context_columns),
            intercept=float(percentile[rows].mean()),
            alpha=float(alpha),
            context_weight_factor=float(context_weight),
            cuts=cuts,
            temperature=temperature,
            words=words,
            words_weight=words_raw,
            words_mean=words_mean,
            words_weight_factor=float(words_weight),
            inner_rows=[f for f, _ in folds],
        )

    # ------------------------------------------------------------------ scoring

    def contributions(
        self, picture: np.ndarray, context: np.ndarray | None = None, captions: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(picture part, context part) of each item's score, relative to the training means.

        ``score = intercept + picture part + context part``; the caption is context, so its
        words' part (:meth:`words_part`) is in the context part. Without ``context`` or
        ``captions`` (None) that input is the training mean: its part is 0.
        """
        picture = np.atleast_2d(np.asarray(picture, dtype=np.float64))
        picture_part = (picture - self.picture_mean) @ self.picture_weight
        context_part = np.zeros(len(picture))
        if context is not None and len(self.context_columns):
            context = np.atleast_2d(np.asarray(context, dtype=np.float64))
            context_part += (context - self.context_mean) @ self.context_weight
        if captions is not None:
            context_part += self.words_part(captions)
        return picture_part, context_part

    def words_part(self, captions: Sequence[str]) -> np.ndarray:
        """Each caption's part of the score (n,), relative to the training captions' mean; all 0
        when inner CV chose no caption words."""
        if len(self.words_weight) == 0:
            return np.zeros(len(captions))
        return self.words.transform(captions) @ self.words_weight - self.words_mean @ self.words_weight

    def score(
        self, picture: np.ndarray, context: np.ndarray | None = None, captions: Sequence[str] | None = None
    ) -> np.ndarray:
        """Predicted within-window percentile of each item: picture features (n, P), context (n, C),
        captions (n,)."""
        picture_part, context_part = self.contributions(picture, context, captions)
        return self.intercept + picture_part + context_part

    def classes(self, scores: np.ndarray, n_classes: int) -> np.ndarray:
        """Class of each score for N = ``n_classes`` (one of :attr:`cuts`)."""
        return cut_classes(scores, self.cuts[n_classes])

    def predict_proba(self, scores: np.ndarray, n_classes: int) -> np.ndarray:
        """Class probabilities (n, N) of scores: adjacent-category odds around the cuts."""
        return ordinal_probs(scores, self.cuts[n_classes], self.temperature)

    def embedding_gradient(self) -> np.ndarray:
        """d score / d picture features (P,): constant, the ranker is linear."""
        return self.picture_weight.copy()

    def head(self, n_classes: int, context: np.ndarray | None = None) -> nn.Module:
        """A torch module: embeddings (images (n, D); videos' frames (n, T, D)) -> (n, N) logits
        of :meth:`predict_proba`, with the context fixed (default: the training mean)."""
        _, context_part = self.contributions(self.picture_mean[None], context)
        return RankerHead(self, n_classes, float(self.intercept + context_part[0]))

    # ------------------------------------------------------------------ saving

    def tensors(self) -> dict[str, torch.Tensor]:
        """Arrays for safetensors: the blocks' weights and means, and the caption terms' idf."""
        arrays = {
            "picture_weight": self.picture_weight,
            "picture_mean": self.picture_mean,
            "context_weight": self.context_weight,
            "context_mean": self.context_mean,
            "words_weight": self.words_weight,
            "words_mean": self.words_mean,
            **{_idf_name(part): idf for part, idf in self.words.idf.items()},
        }
        return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)) for k, v in arrays.items()}

    def meta(self) -> dict[str, Any]:
        """Plain numbers and names for JSON; ``caption_terms``: each caption part's terms in
        column order (the vocabulary, term -> index)."""
        return {
            "media": self.media,
            "context_columns": list(self.context_columns),
            "intercept": self.intercept,
            "alpha": self.alpha,
            "context_weight_factor": self.context_weight_factor,
            "words_weight_factor": self.words_weight_factor,
            "caption_terms": self.words.terms,
            "cuts": {str(n): [float(c) for c in cuts] for n, cuts in self.cuts.items()},
            "temperature": self.temperature,
            "post_picture": self.post_picture,
        }

    @classmethod
    def from_saved(cls, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Ranker:
        """Rebuild from :meth:`tensors` and :meth:`meta` (a ranker saved before caption words
        had none: it gets an empty vocabulary)."""
        sizes = cls.tensor_sizes(0, meta)
        arrays = {k: tensors[k].numpy().astype(np.float64) for k in _BLOCK_TENSORS if k in sizes}
        terms = meta.get("caption_terms")
        words = CaptionWords()
        if terms is not None:
            idf = {part: tensors[_idf_name(part)].numpy().astype(np.float64) for part in PARTS}
            words = CaptionWords.from_saved(terms, idf)
        return cls(
            media=meta["media"],
            context_columns=tuple(meta["context_columns"]),
            intercept=float(meta["intercept"]),
            alpha=float(meta["alpha"]),
            context_weight_factor=float(meta["context_weight_factor"]),
            cuts={int(n): np.asarray(c, dtype=float) for n, c in meta["cuts"].items()},
            temperature=float(meta["temperature"]),
            words=words,
            words_weight_factor=float(meta.get("words_weight_factor", 0.0)),
            post_picture=bool(meta.get("post_picture", False)),
            **arrays,
        )

    @staticmethod
    def tensor_sizes(picture: int, meta: dict[str, Any]) -> dict[str, int]:
        """Name -> length of every saved tensor, for picture features of ``picture`` columns
        and the model card's ``meta`` (a ranker saved before caption words has no words tensors)."""
        n_context = len(meta["context_columns"])
        sizes = {"picture_weight": picture, "picture_mean": picture, "context_weight": n_context}
        sizes["context_mean"] = n_context
        terms = meta.get("caption_terms")
        if terms is not None:
            n_words = sum(len(terms[part]) for part in PARTS)
            sizes |= {"words_weight": n_words, "words_mean": n_words}
            sizes |= {_idf_name(part): len(terms[part]) for part in PARTS}
        return sizes


def fit_items(
    config: Config,
    media: str,
    picture: np.ndarray,
    context: np.ndarray,
    columns: tuple[str, ...],
    items: MediaSet,
    rows: np.ndarray,
    seed: int,
) -> Ranker:
    """:meth:`Ranker.fit` on ``rows`` of ``items`` (their percentiles, classes, posts and captions)
    with ``config``'s ranker settings; ``picture`` and ``context`` are aligned with ``items``
    (``picture`` read by :func:`items_pictures` with ``config.ranker_post_picture``)."""
    ranker = Ranker.fit(
        media,
        picture,
        context,
        items.percentile,
        items.labels,
        items.groups,
        rows,
        config.ranker_alphas,
        config.inner_splits,
        seed,
        columns,
        config.ranker_context_weights,
        captions=items.captions,
        words_weights=config.ranker_words_weights,
        words_max_features=config.ranker_words_max_features,
    )
    return dataclasses.replace(ranker, post_picture=config.ranker_post_picture)


_BLOCK_TENSORS = (
    *("picture_weight", "picture_mean", "context_weight", "context_mean"),
    *("words_weight", "words_mean"),
)


def _idf_name(part: str) -> str:
    return f"words_idf_{part}"


class RankerHead(nn.Module):
    """The ranker's picture part as a torch module with N class logits (see :meth:`Ranker.head`)."""

    def __init__(self, ranker: Ranker, n_classes: int, offset: float) -> None:
        super().__init__()
        self.ranker = ranker  # the whole model, context weights included (not a parameter)
        self.media = ranker.media
        self.register_buffer("weight", torch.from_numpy(ranker.picture_weight.astype(np.float32)))
        self.register_buffer("mean", torch.from_numpy(ranker.picture_mean.astype(np.float32)))
        self.offset = offset
        self.cuts = np.asarray(ranker.cuts[n_classes])
        self.temperature = ranker.temperature

    def score(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(n, D) image embeddings or (n, T, D) frames -> (n,) scores."""
        if self.media == VIDEO:
            embeddings = torch.cat([embeddings.mean(dim=-2), embeddings.amax(dim=-2)], dim=-1)
        return (embeddings - self.mean) @ self.weight + self.offset

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return ordinal_logits(self.score(embeddings)[:, None], self.cuts, self.temperature)
