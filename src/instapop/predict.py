"""Rank candidate posts before publishing: the one scoring path for the CLI, the API and the page.

A :class:`Predictor` loads a saved model (``instapop train``) and the backbone it
was trained on once, then scores files:

- an **image** goes through the backbone (clean view, no augmentation) and the image head;
- a **video** is sampled as in training (``Config.n_frames`` frames, one every
  ``Config.frame_interval_s`` seconds) and goes through the video approach that won
  the model's cross-validation (``SavedModel.predict_videos``);
- a **folder inside a folder** is one carousel: each item is scored with its own
  media type's model and the carousel's probabilities are the mean of its items'.
  Every item of a carousel carries its post's class in training, so the mean is the
  model's best guess for the post. One unreadable item makes the whole carousel an
  error: a score from the remaining items would describe a different post.

Files are typed by their first bytes, never by their name. Each candidate gets a
predicted class and a **score** in [0, 1] that orders the ranking, whatever the
approach that won the model's cross-validation:

- a *classifier* (the paper's heads, the logistic probe) gives class probabilities;
  its score is the expected class ``sum_k p_k * k`` over N - 1, which rewards a
  confident "top class" above a hesitant one, as the arg-max class alone cannot;
- a *ranker* predicts the post's within-window PoR percentile: that is its score,
  its class is the percentile cut at the training quantiles, and it says how much
  the picture and how much the context (timing, caption, carousel) moved the score
  away from the profile's average post.

A ranker reads the context a user knows before publishing (``instapop.context``):
a planned time and a caption per candidate (:class:`Plan`). Whatever is not given
is replaced by the profile's typical values, and the candidate says so.

Each image and each video frame is encoded on its own (batch size 1 for images,
one batch of T frames per video), so a candidate's score never depends on which
other files came with it: the CLI, the API and the page rank alike.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from instapop.config import Config
from instapop.context import (
    CONTEXT_COLUMNS,
    FIRST_POST_GAP_HOURS,
    candidate_context,
    describe_fallbacks,
    parse_when,
    read_context_defaults,
)
from instapop.errors import BadInputError, InstapopError

if TYPE_CHECKING:
    import torch

    from instapop.embed.backbone import Encoder, Lite0
    from instapop.models.ranker import Ranker
    from instapop.training import SavedModel

log = logging.getLogger(__name__)

IMAGE, VIDEO, CAROUSEL = "image", "video", "carousel"

# Why a candidate could not be scored; the web API maps each kind to its HTTP status.
UNSUPPORTED, OVER_LIMIT, UNREADABLE = "unsupported", "over_limit", "unreadable"

# ISO-BMFF brands of still images (HEIF/HEIC/AVIF); any other `ftyp` file is a video (MP4/MOV/3GP).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
# QuickTime files without an `ftyp` box start with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class Limits:
    """Bounds on what may be scored, so that one upload cannot exhaust the machine.

    ``max_files`` and ``max_request_bytes`` bound one web request; the others bound
    every candidate, from the CLI as from the web.

    Attributes
    ----------
    max_files : files in one request.
    max_file_bytes : bytes of one file.
    max_request_bytes : bytes of one request body, all files together.
    max_image_pixels : width x height of an image (a 48-megapixel phone photo passes).
    max_video_s : seconds of one video (Instagram reels run up to 3 minutes).
    max_caption_chars : characters of a planned caption (Instagram's own limit).

    Video frame size and frame rate are bounded as in training (``Config.video_max_pixels``,
    ``Config.video_max_fps``), by :func:`instapop.media.sample_video`.
    """

    max_files: int = 20
    max_file_bytes: int = 100 * 2**20
    max_request_bytes: int = 250 * 2**20
    max_image_pixels: int = 50_000_000
    max_video_s: float = 180.0
    max_caption_chars: int = 2_200


@dataclass(frozen=True)
class Plan:
    """What a user knows about a candidate's publication; None: not given (the profile's typical value).

    Attributes
    ----------
    when : planned posting time, ISO 8601 (without an offset: UTC).
    caption : the planned caption ("" is a real, empty caption).
    """

    when: str | None = None
    caption: str | None = None

    def checked(self, limits: Limits) -> Plan:
        """The plan with its time normalised to ISO UTC; InstapopError naming what is wrong."""
        if self.caption is not None and len(self.caption) > limits.max_caption_chars:
            raise InstapopError(
                f"a caption of {len(self.caption)} characters is over the limit of {limits.max_caption_chars}"
            )
        when = None if self.when is None else parse_when(self.when).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Plan(when, self.caption)


PLAN_COLUMNS = ("file", "when", "caption")


def read_plan(path: Path, limits: Limits | None = None) -> dict[str, Plan]:
    """Per-candidate plans from a CSV with the columns ``file,when,caption``.

    ``file`` names a candidate as the ranking shows it (``candidates/beach.jpg``) or by
    its last part (``beach.jpg``, a carousel folder ``summer/``); an empty ``when`` or
    ``caption`` cell means "not given".

    Parameters
    ----------
    path : the CSV file (UTF-8).
    limits : bounds on captions (default :class:`Limits`).

    Returns
    -------
    ``{file: Plan}``.

    Raises
    ------
    InstapopError : naming the file and line of a missing column, an unreadable time or a repeated file.
    """
    limits = limits or Limits()
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            columns = rows[0].keys() if rows else ()
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InstapopError(f"{path}: cannot read the plan ({err})") from err
    if "file" not in columns or not {"when", "caption"} & set(columns):
        raise InstapopError(f"{path}: expected the columns {','.join(PLAN_COLUMNS)}; found {list(columns)}")
    plans: dict[str, Plan] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("file") or "").strip()
        if not name or name in plans:
            why = "no file named" if not name else f"{name} is planned twice"
            raise InstapopError(f"{path}, line {line}: {why}")
        plan = Plan((row.get("when") or "").strip() or None, row.get("caption") or None)
        try:
            plans[name] = plan.checked(limits)
        except InstapopError as err:
            raise InstapopError(f"{path}, line {line} ({name}): {err}") from None
    return plans


def plan_key(name: str, plans: dict[str, Plan]) -> str | None:
    """The key of ``plans`` naming the candidate ``name``: its full name, else its last part; None if none."""
    last = name.rstrip("/").rsplit("/", 1)[-1]
    return next((key for key in (name, last, last + "/") if key in plans), None)


def plan_for(name: str, plans: dict[str, Plan], default: Plan) -> Plan:
    """The plan of the candidate called ``name`` (see :func:`plan_key`), else ``default``."""
    key = plan_key(name, plans)
    return default if key is None else plans[key]


def unmatched_plans(plans: dict[str, Plan], names: list[str]) -> list[str]:
    """Plan rows that name none of the candidates (a typo a person wants to hear about)."""
    used = {plan_key(name, plans) for name in names}
    return [key for key in plans if key not in used]


@dataclass(frozen=True)
class Verdict:
    """What a model says about one media item or post, whatever its approach.

    Attributes
    ----------
    predicted_class : 0 = least popular.
    score : in [0, 1], the ranking key: a classifier's expected class over N - 1, a ranker's
        predicted within-window percentile.
    probs : class probabilities (a ranker's: ordinal odds around its cuts).
    percentile : a ranker's predicted within-window PoR percentile; None for a classifier.
    picture, context : a ranker's score moves from the profile's average post, due to the
        picture and due to the context; None for a classifier.
    fallbacks : context inputs replaced by the profile's typical values (``candidate_context``).
    """

    predicted_class: int
    score: float
    probs: tuple[float, ...] = ()
    percentile: float | None = None
    picture: float | None = None
    context: float | None = None
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

    ``uses_context`` says whether the approach reads the context row; ``context_defaults``
    is what it saved about the profile for :func:`instapop.context.candidate_context`.
    """

    approach: str
    uses_context: bool
    context_defaults: dict[str, Any] | None

    def verdict(self, embedding: np.ndarray, context: np.ndarray | None) -> Verdict:
        """Verdict of one item: an image's (D,) embedding or a video's (T, D) frame embeddings."""
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

    def verdict(self, embedding: np.ndarray, context: np.ndarray | None) -> Verdict:
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
    """A ranker (``instapop.models.ranker.Ranker``): percentile, picture/context moves, context read.

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
        self.uses_context = bool(ranker.context_columns)
        self._columns = [CONTEXT_COLUMNS.index(c) for c in ranker.context_columns]
        means = dict(zip(ranker.context_columns, ranker.context_mean.tolist(), strict=True))
        base = saved or dict.fromkeys(("last_post", "typical_hour", "typical_weekday"), None)
        base.setdefault("median_gap_hours", FIRST_POST_GAP_HOURS)
        self.context_defaults = {**base, "means": {c: means.get(c, 0.0) for c in CONTEXT_COLUMNS}}

    def _context(self, context: np.ndarray | None) -> np.ndarray | None:
        return None if context is None or not self.uses_context else np.asarray(context)[self._columns][None]

    def verdict(self, embedding: np.ndarray, context: np.ndarray | None) -> Verdict:
        from instapop.models.ranker import picture_features

        picture = picture_features(self.media_type, np.asarray(embedding, dtype=np.float64)[None])
        picture_part, context_part = self.ranker.contributions(picture, self._context(context))
        score = self.ranker.intercept + picture_part + context_part
        return Verdict(
            int(self.ranker.classes(score, self.n_classes)[0]),
            float(score[0]),
            tuple(float(p) for p in self.ranker.predict_proba(score, self.n_classes)[0]),
            percentile=float(score[0]),
            picture=float(picture_part[0]),
            context=float(context_part[0]),
        )

    def classify(self, scores: np.ndarray) -> np.ndarray:
        return self.ranker.classes(np.asarray(scores, dtype=float), self.n_classes)

    def explainer(self, context: np.ndarray | None) -> tuple[torch.nn.Module, int | None]:
        """The score itself as logit 1: Grad-CAM then follows d score / d embedding, a fixed direction."""
        from instapop.explain.gradcam import ScoreLogits

        head = self.ranker.head(self.n_classes, self._context(context))
        return ScoreLogits(head.score).eval(), 1


def media_scorers(
    model: SavedModel, context_defaults: dict[str, Any] | None = None
) -> dict[str, MediaScorer]:
    """The scorer of each media type the model can score: a ranker's, or a classifier's.

    Parameters
    ----------
    model : the saved model.
    context_defaults : what training saved about the profile (``model/context.json``), if anything.
    """
    types = [IMAGE] + ([VIDEO] if model.video_approach is not None else [])
    scorers: dict[str, MediaScorer] = {}
    for media_type in types:
        ranker = model.ranker(media_type)
        scorers[media_type] = (
            ClassifierScorer(model, media_type)
            if ranker is None
            else RankerScorer(model, media_type, ranker, context_defaults)
        )
    return scorers


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
            else {"picture": _rounded(self.picture), "context": _rounded(self.context)},
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


def _data_url(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def class_names(n_classes: int) -> list[str]:
    """Plain names for N popularity classes, least popular first."""
    names = {2: ["less popular", "more popular"], 3: ["low", "medium", "high"]}
    return names.get(n_classes, [f"class {k}" for k in range(n_classes)])


def sniff_media_type(head: bytes) -> str | None:
    """``image``, ``video`` or None, from a file's first 16 bytes (its magic number).

    Accepts what Instagram takes: JPEG, PNG, WebP and HEIF/AVIF stills; MP4/MOV
    (ISO-BMFF and QuickTime) and Matroska/WebM videos.
    """
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return IMAGE
    if head[4:8] == b"ftyp":
        return IMAGE if head[8:12] in _HEIF_BRANDS else VIDEO
    if head[4:8] in _QUICKTIME_ATOMS or head.startswith(b"\x1a\x45\xdf\xa3"):
        return VIDEO
    return None


class _Refused(BadInputError):
    """A candidate that cannot be scored; ``kind`` says why (see ``Candidate.error_kind``)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _png(image: np.ndarray, size: tuple[int, int] | None = None) -> bytes:
    """PNG bytes of an RGB array, resized to ``size`` (width, height) if given."""
    from PIL import Image

    picture = Image.fromarray(image)
    if size is not None and size != picture.size:
        picture = picture.resize(size, Image.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _named_inputs(paths: list[Path]) -> list[tuple[str, Path]]:
    """(name, path) of every candidate: files as given; a folder's files; its subfolders as carousels.

    Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``) are skipped.
    """
    named = []
    for path in map(Path, paths):
        if not path.is_dir():
            named.append((path.name, path))
            continue
        for entry in sorted(path.iterdir()):
            if entry.name.startswith("."):
                continue
            name = f"{path.name}/{entry.name}" + ("/" if entry.is_dir() else "")
            named.append((name, entry))
    return named


class Predictor:
    """A saved model and its backbone, loaded once, that score and rank candidate posts.

    Build it with :meth:`load`. ``score_paths`` may be called from several threads:
    the ONNX Runtime session runs concurrently, the torch parts (heads, Grad-CAM) one at a time.

    Examples
    --------
    >>> predictor = Predictor.load(Path("run/model"))                    # doctest: +SKIP
    >>> ranked = predictor.rank(predictor.score_paths([Path("candidates")]))  # doctest: +SKIP
    >>> ranked[0].name, ranked[0].expected_score                          # doctest: +SKIP
    ('candidates/beach.jpg', 0.91)
    """

    def __init__(
        self,
        model: SavedModel,
        encoder: Encoder,
        config: Config,
        limits: Limits,
        context_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.config = config
        self.limits = limits
        self.class_names = class_names(model.n_classes)
        self.scorers = media_scorers(model, context_defaults)
        self._torch_lock = threading.Lock()
        self._lite0: Lite0 | None = None

    @classmethod
    def load(
        cls,
        model_dir: Path,
        cache_dir: Path | None = None,
        limits: Limits | None = None,
        explain: bool = False,
    ) -> Predictor:
        """Load the saved model and the backbone session it was trained on.

        Parameters
        ----------
        model_dir : a ``model/`` folder written by ``instapop train``.
        cache_dir : where the backbone's ONNX graph is cached (default: the feature cache).
        limits : bounds on each candidate (default :class:`Limits`).
        explain : also load the torch backbone for Grad-CAM now rather than on first use.

        Raises
        ------
        InstapopError : the model folder is missing, damaged, or names a backbone this
            installation cannot build.
        """
        from instapop.embed.backbone import load_encoder
        from instapop.training import load_model

        model = load_model(Path(model_dir))
        config = _embedding_config(model)
        encoder = load_encoder(config, cache_dir)
        if encoder.name != model.backbone:
            raise InstapopError(
                f"{model_dir}: the model was trained on backbone {model.backbone!r} "
                f"but this installation builds {encoder.name!r}"
            )
        predictor = cls(model, encoder, config, limits or Limits(), read_context_defaults(Path(model_dir)))
        if explain:
            predictor._backbone_for_gradcam()
        return predictor

    # --- scoring -----------------------------------------------------------------

    def score_paths(
        self,
        paths: list[Path],
        explain: bool = False,
        plan: Plan | None = None,
        plans: dict[str, Plan] | None = None,
    ) -> list[Candidate]:
        """Score files and folders, in the order found (rank them with :meth:`rank`).

        Parameters
        ----------
        paths : image or video files, or folders of them; a folder inside a given folder
            is one carousel.
        explain : attach a heatmap PNG to each image and a filmstrip PNG to each video.
        plan : planned time and caption of every candidate (default: none given).
        plans : per-candidate plans (:func:`read_plan`), by name; they win over ``plan``.

        Returns
        -------
        One Candidate per file or carousel; a file that cannot be scored gets ``error``
        (naming it and saying why) and the others are still scored.
        """
        default = (plan or Plan()).checked(self.limits)
        plans = {name: p.checked(self.limits) for name, p in (plans or {}).items()}
        return [
            self._score_carousel(name, path, explain, plan_for(name, plans, default))
            if path.is_dir()
            else self._score_file(name, path, explain, plan_for(name, plans, default), (1, 1))
            for name, path in _named_inputs(paths)
        ]

    def _score_file(
        self,
        name: str,
        path: Path,
        explain: bool,
        plan: Plan,
        place: tuple[int, int],
        video_share: float | None = None,
    ) -> Candidate:
        """Score one file at ``place`` (carousel size, position); ``video_share``: its post's, or its own."""
        media_type = "unknown"
        try:
            media_type = self._media_type(path)
            scorer = self._scorer(path, media_type)
            share = float(media_type == VIDEO) if video_share is None else video_share
            context, fallbacks = self._context(scorer, plan, place, share)
            score = self._score_image if media_type == IMAGE else self._score_video
            verdict, heatmap = score(path, scorer, context, explain)
        except BadInputError as err:  # MediaError from decoding is a BadInputError too
            log.info("not scored: %s", err)
            kind = err.kind if isinstance(err, _Refused) else UNREADABLE
            return Candidate(name, media_type, plan=plan, error=str(err), error_kind=kind)
        candidate = Candidate(name, media_type, plan=plan, heatmap_png=heatmap)
        return self._scored(candidate, dataclasses.replace(verdict, fallbacks=tuple(fallbacks)), scorer)

    def _score_carousel(self, name: str, folder: Path, explain: bool, plan: Plan) -> Candidate:
        entries = [path for _, path in _named_inputs([folder])]
        kinds = [None if path.is_dir() else _peek_media_type(path) for path in entries]
        share = sum(kind == VIDEO for kind in kinds) / max(len(entries), 1)
        items = [
            self._not_media(name + path.name, path)
            if path.is_dir()
            else self._score_file(name + path.name, path, explain, plan, (len(entries), k), share)
            for k, path in enumerate(entries, start=1)
        ]
        failed = [item for item in items if not item.ok]
        if not items or failed:
            reason = failed[0].error if failed else f"{folder}: the carousel folder holds no media files"
            kind = failed[0].error_kind if failed else UNSUPPORTED
            return Candidate(name, CAROUSEL, plan=plan, error=reason, error_kind=kind, items=items)
        verdict = self._carousel_verdict(items)
        scorer = self.scorers[items[0].media_type]
        return self._scored(Candidate(name, CAROUSEL, plan=plan, items=items), verdict, scorer)

    def _carousel_verdict(self, items: list[Candidate]) -> Verdict:
        """The post's verdict: every item carries its post's label in training, so the mean of theirs.

        Classifiers: the mean probabilities. Rankers: the mean percentile, moves and
        probabilities, the class of the mean percentile by the first item's cuts. A carousel
        mixing a ranker's items with a classifier's: the mean score, classed by the first
        item's approach.
        """
        fallbacks = tuple(dict.fromkeys(f for item in items for f in item.fallbacks))
        ranked = all(item.percentile is not None for item in items)
        if not ranked and all(item.probs for item in items):
            return dataclasses.replace(
                verdict_from_probs(np.mean([item.probs for item in items], axis=0)), fallbacks=fallbacks
            )
        score = float(np.mean([item.score for item in items]))
        return Verdict(
            int(self.scorers[items[0].media_type].classify(np.array([score]))[0]),
            score,
            probs=tuple(np.mean([item.probs for item in items], axis=0)) if ranked else (),
            percentile=score if ranked else None,
            picture=_mean_or_none([item.picture for item in items]),
            context=_mean_or_none([item.context for item in items]),
            fallbacks=fallbacks,
        )

    def _scored(self, candidate: Candidate, verdict: Verdict, scorer: MediaScorer) -> Candidate:
        candidate.probs = list(verdict.probs)
        candidate.predicted_class = verdict.predicted_class
        candidate.score = verdict.score
        candidate.expected_score = expected_class(verdict.probs) if verdict.probs else math.nan
        candidate.percentile, candidate.picture, candidate.context = (
            verdict.percentile,
            verdict.picture,
            verdict.context,
        )
        candidate.fallbacks = list(verdict.fallbacks)
        candidate.context_note = self._context_note(candidate, scorer)
        return candidate

    def _context_note(self, candidate: Candidate, scorer: MediaScorer) -> str:
        """What a person should know about the context used; "" for a picture-only model given none."""
        scorers = [self.scorers[i.media_type] for i in candidate.items] or [scorer]
        if not any(s.uses_context for s in scorers):
            if candidate.plan == Plan():
                return ""
            return f"this model ({scorer.approach}) ranks by the picture alone: time and caption unused"
        defaults = next(s.context_defaults for s in scorers if s.uses_context) or {}
        assumed = describe_fallbacks(candidate.fallbacks, defaults)
        return f"assumed the profile's {assumed}" if assumed else "time and caption as given"

    def _scorer(self, path: Path, media_type: str) -> MediaScorer:
        scorer = self.scorers.get(media_type)
        if scorer is None:
            raise _Refused(
                f"{path}: this model has no {media_type} model (it was trained without {media_type}s)",
                UNSUPPORTED,
            )
        return scorer

    @staticmethod
    def _context(
        scorer: MediaScorer, plan: Plan, place: tuple[int, int], video_share: float
    ) -> tuple[np.ndarray | None, list[str]]:
        """The context row the scorer reads (None if it reads none) and the inputs it had to assume."""
        if not scorer.uses_context:
            return None, []
        size, position = place
        defaults = scorer.context_defaults or {}
        return candidate_context(plan.when, plan.caption, size, position, video_share, defaults)

    @staticmethod
    def _not_media(name: str, path: Path) -> Candidate:
        reason = f"{path}: a folder inside a carousel folder is not a media item"
        return Candidate(name, "unknown", error=reason, error_kind=UNSUPPORTED)

    def _media_type(self, path: Path) -> str:
        try:
            size = path.stat().st_size
        except OSError as err:
            raise _Refused(f"{path}: cannot be read ({err.strerror})", UNREADABLE) from err
        if size > self.limits.max_file_bytes:
            raise _Refused(
                f"{path}: {size} bytes is over the limit of {self.limits.max_file_bytes}", OVER_LIMIT
            )
        with path.open("rb") as handle:
            media_type = sniff_media_type(handle.read(16))
        if media_type is None:
            raise _Refused(
                f"{path}: not an image or a video by its content "
                "(expected JPEG, PNG, WebP, HEIC, MP4, MOV or WebM)",
                UNSUPPORTED,
            )
        return media_type

    def _score_image(
        self, path: Path, scorer: MediaScorer, context: np.ndarray | None, explain: bool
    ) -> tuple[Verdict, bytes | None]:
        from instapop.media import load_image

        shown_size = self._checked_image_size(path)
        image = load_image(
            path,
            size=self.config.image_size,
            center_crop=self.config.center_crop,
            max_pixels=self.limits.max_image_pixels,
        )
        embedding = self.encoder.encode(image[None])[0]  # (D,)
        with self._torch_lock:
            verdict = scorer.verdict(embedding, context)
            heatmap = self._image_heatmap(image, shown_size, scorer, context) if explain else None
        return verdict, heatmap

    def _score_video(
        self, path: Path, scorer: MediaScorer, context: np.ndarray | None, explain: bool
    ) -> tuple[Verdict, bytes | None]:
        from instapop.media import sample_video

        self._check_video_length(path)
        sample = sample_video(
            path,
            n_frames=self.config.n_frames,
            interval_s=self.config.frame_interval_s,
            size=self.config.image_size,
            max_duration_s=self.limits.max_video_s,
            max_pixels=self.config.video_max_pixels,
            max_fps=self.config.video_max_fps,
            center_crop=self.config.center_crop,
        )
        frames = self.encoder.encode(sample.frames)  # (T, D), one batch per video
        with self._torch_lock:
            verdict = scorer.verdict(frames, context)
            strip = self._video_filmstrip(sample, frames, scorer, context) if explain else None
        return verdict, strip

    def _checked_image_size(self, path: Path) -> tuple[int, int] | None:
        """(width, height) as shown (EXIF rotation applied), read from the header; refuses over-limit."""
        from PIL import Image, UnidentifiedImageError

        try:  # the header only: no pixel is decoded before the size is known to be safe
            with Image.open(path) as image:
                width, height = image.size
                quarter_turn = image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            return None  # load_image says what is wrong with it
        if width * height > self.limits.max_image_pixels:
            raise _Refused(
                f"{path}: {width}x{height} pixels is over the limit of {self.limits.max_image_pixels}",
                OVER_LIMIT,
            )
        return (height, width) if quarter_turn else (width, height)

    def _check_video_length(self, path: Path) -> None:
        """Refuse a long video from its container's metadata, before any frame is decoded.

        sample_video enforces the same bound, but as an unreadable file; this makes it
        an over-limit refusal (HTTP 413), the reason a person should see.
        """
        import av

        try:
            with av.open(str(path)) as container:
                duration_s = container.duration / 1e6 if container.duration else 0.0
        except (av.FFmpegError, OSError):
            return  # sample_video says what is wrong with it
        if duration_s > self.limits.max_video_s:
            raise _Refused(
                f"{path}: a {duration_s:.0f} s video is over the limit of {self.limits.max_video_s:.0f} s",
                OVER_LIMIT,
            )

    # --- explanations (called under the torch lock) --------------------------------

    def _backbone_for_gradcam(self) -> Lite0:
        if self._lite0 is None:
            from instapop.embed.backbone import lite0_torch

            self._lite0 = lite0_torch()
        return self._lite0

    def _image_heatmap(
        self,
        image: np.ndarray,
        shown_size: tuple[int, int] | None,
        scorer: MediaScorer,
        context: np.ndarray | None,
    ) -> bytes:
        from instapop.explain.gradcam import gradcam, overlay

        head, target = scorer.explainer(context)
        cam = gradcam(self._backbone_for_gradcam(), head, image, target)
        blended = overlay(image, cam.heatmap)
        if shown_size is None or self.config.center_crop:
            return _png(blended)
        # The network saw the whole picture squeezed into a square: stretch the overlay back
        # to the picture's proportions so that it lines up with the original a person sees.
        width, height = shown_size
        scale = self.config.image_size / min(width, height)
        return _png(blended, (round(width * scale), round(height * scale)))

    def _video_filmstrip(
        self, sample: Any, frames: np.ndarray, scorer: MediaScorer, context: np.ndarray | None
    ) -> bytes:
        from instapop.explain.gradcam import overlay
        from instapop.explain.video import filmstrip, frame_gradcam, frame_importance

        video_model, target = scorer.explainer(context)
        importance = frame_importance(video_model, frames, target)
        top = int(np.argmax(importance))
        backbone = self._backbone_for_gradcam()
        cam = frame_gradcam(backbone, video_model, frames, sample.frames[top], top, target)
        shown = sample.frames.copy()
        shown[top] = overlay(sample.frames[top], cam.heatmap)
        return _png(filmstrip(shown, importance, times=sample.times))

    # --- ranking and the model card ------------------------------------------------

    @staticmethod
    def rank(candidates: list[Candidate]) -> list[Candidate]:
        """Best first by score, ties by name; errors last, by name. Sets ``rank``.

        Returns new Candidates; the ones given are left as they were.
        """
        scored = sorted((c for c in candidates if c.ok), key=lambda c: (-c.score, c.name))
        failed = sorted((c for c in candidates if not c.ok), key=lambda c: c.name)
        ranked = [dataclasses.replace(c, rank=i) for i, c in enumerate(scored, start=1)]
        return ranked + [dataclasses.replace(c, rank=None) for c in failed]

    def model_card(self) -> dict[str, Any]:
        """What a person should know before trusting a ranking: classes, data, CV accuracy."""
        return model_card(self.model)

    def ranking_json(self, ranked: list[Candidate], heatmaps: bool = True) -> dict[str, Any]:
        """The JSON the CLI (``--json``, without heatmaps) and the API return for a ranking."""
        return {
            "n_classes": self.model.n_classes,
            "class_names": self.class_names,
            "context": self.context_card(),
            "candidates": [c.to_dict(self.class_names, heatmaps) for c in ranked],
        }

    def context_card(self) -> dict[str, Any]:
        """Which media types' models read the context, and the profile's typical values they assume."""
        reading = {media: s for media, s in self.scorers.items() if s.uses_context}
        defaults = next((s.context_defaults for s in reading.values()), None)
        typical = None
        if defaults:
            keys = ("typical_hour", "typical_weekday", "median_gap_hours", "last_post")
            typical = {key: defaults[key] for key in keys}
        return {"used_by": sorted(reading), "typical": typical}


def format_ranking(ranked: list[Candidate], names: list[str]) -> str:
    """A plain-text table: rank, file, media type, predicted class, score; a ranker's moves.

    The class column shows a classifier's probabilities beside its class; the
    ``picture`` and ``context`` columns (a ranker's score moves, in percentile points)
    appear when some candidate has them. The context notes follow (once if they are all
    the same), then the candidates that could not be scored, each with its reason.
    """
    scored = [c for c in ranked if c.ok]
    moves = any(c.picture is not None for c in scored)
    header = ["rank", "candidate", "type", "class (probabilities: " + " / ".join(names) + ")", "score"]
    header += ["picture", "context"] if moves else []
    rows = [[*_cells(c, names), *(_moves(c) if moves else [])] for c in scored]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    notes = list(dict.fromkeys(c.context_note for c in scored if c.context_note))
    if len(notes) == 1:
        lines.append(f"context: {notes[0]}")
    else:
        lines += [f"context of {c.name}: {c.context_note}" for c in scored if c.context_note]
    lines += [f"not scored: {c.error}" for c in ranked if not c.ok]
    return "\n".join(lines)


def _cells(c: Candidate, names: list[str]) -> list[str]:
    probs = " (" + " / ".join(f"{p:.2f}" for p in c.probs) + ")" if c.probs else ""
    return [str(c.rank), c.name, c.media_type, names[c.predicted_class] + probs, f"{c.score:.3f}"]


def _moves(c: Candidate) -> list[str]:
    if c.picture is None:
        return ["", ""]
    return [f"{100 * c.picture:+.1f}", f"{100 * (c.context or 0.0):+.1f}"]


def write_explanations(ranked: list[Candidate], out_dir: Path) -> list[Path]:
    """Write each heatmap (images) and filmstrip (videos) as ``<rank>_<name>.<kind>.png``.

    A carousel's items are written under the carousel's rank. Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for candidate in filter(lambda c: c.ok, ranked):
        for item in candidate.items or [candidate]:
            if item.heatmap_png is None:
                continue
            kind = "heatmap" if item.media_type == IMAGE else "filmstrip"
            slug = re.sub(r"[^A-Za-z0-9._-]+", "_", item.name).strip("_")
            path = out_dir / f"{candidate.rank:02d}_{slug}.{kind}.png"
            path.write_bytes(item.heatmap_png)
            written.append(path)
    return written


def _peek_media_type(path: Path) -> str | None:
    """A file's media type by its first bytes, or None if it cannot be read (scoring says why)."""
    try:
        with path.open("rb") as handle:
            return sniff_media_type(handle.read(16))
    except OSError:
        return None


def _mean_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def _embedding_config(model: SavedModel) -> Config:
    """The Config the model's embeddings were made with (backbone, input size, frame sampling)."""
    saved = model.config.get("config", {})
    known = {f.name for f in dataclasses.fields(Config)}
    return Config.from_dict({key: value for key, value in saved.items() if key in known})


def model_card(model: SavedModel) -> dict[str, Any]:
    """Classes with their boundaries, the target, the training dates and CV accuracy, from ``config.json``.

    ``media`` holds, per media type the model scores: the approach and why it was chosen,
    the PoR boundaries between classes in the latest label window (what a new post must
    beat), and the approach's CV accuracy beside the majority-class baseline.
    """
    from instapop.targets import FORMULAS

    card = model.config
    cv = card["cv"]
    target = card.get("target", "por")  # models trained before targets ranked PoR
    approaches = {IMAGE: model.image_approach, VIDEO: model.video_approach}
    return {
        "n_classes": model.n_classes,
        "class_names": class_names(model.n_classes),
        "target": {"name": target, "formula": FORMULAS[target]},
        "backbone": model.backbone,
        "date_range": card["date_range"],
        "cv_protocol": {key: cv[key] for key in ("n_splits", "n_repeats", "grouped_folds")},
        "media": {media: _media_card(card, media, a) for media, a in approaches.items() if a is not None},
    }


def _media_card(card: dict[str, Any], media: str, approach: str) -> dict[str, Any]:
    rows = card["cv"].get(media, {})
    accuracy = rows.get(approach, {}).get("accuracy", {})
    window = card["class_boundaries"].get(media) or {}
    return {
        "approach": approach,
        "choice": card["choice"][media],
        "boundaries": window.get("boundaries"),
        "window": {key: window.get(key) for key in ("window_start", "window_end", "window_posts")},
        "cv_accuracy": accuracy.get("mean"),
        "cv_std": accuracy.get("std"),
        "majority_accuracy": rows.get("majority", {}).get("accuracy", {}).get("mean"),
        "trained_on": card["trained_on"][media],
    }
