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

Files are typed by their first bytes, never by their name. Each candidate gets
class probabilities, the predicted class and an **expected score** ``sum_k p_k * k``
(0 = least popular class, N-1 = most popular), which orders the ranking: it rewards
a confident "top class" above a hesitant one, which the arg-max class alone cannot.

Each image and each video frame is encoded on its own (batch size 1 for images,
one batch of T frames per video), so a candidate's score never depends on which
other files came with it: the CLI, the API and the page rank alike.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from instapop.config import Config
from instapop.errors import BadInputError, InstapopError

if TYPE_CHECKING:
    from instapop.embed.backbone import Encoder, Lite0
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

    Video frame size and frame rate are bounded as in training (``Config.video_max_pixels``,
    ``Config.video_max_fps``), by :func:`instapop.media.sample_video`.
    """

    max_files: int = 20
    max_file_bytes: int = 100 * 2**20
    max_request_bytes: int = 250 * 2**20
    max_image_pixels: int = 50_000_000
    max_video_s: float = 180.0


@dataclass
class Candidate:
    """One candidate post and what the model thinks of it.

    Attributes
    ----------
    name : the file's path relative to the folder given (just the file name for a file given
        directly); a carousel's name is its folder's, ending in ``/``.
    media_type : ``image``, ``video`` or ``carousel``; ``unknown`` for a file that is neither.
    probs : class probabilities, class 0 = least popular; empty on error.
    predicted_class : the most probable class; -1 on error.
    expected_score : ``sum_k probs[k] * k``, in [0, N-1]; NaN on error.
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
            "probs": [round(p, 6) for p in self.probs],
            "predicted_class": self.predicted_class,
            "expected_score": round(self.expected_score, 6) if self.ok else None,
            "error": self.error,
            "error_kind": self.error_kind,
            "heatmap": _data_url(self.heatmap_png) if heatmaps else None,
            "items": [item.to_dict(class_names, heatmaps) for item in self.items],
        }
        if class_names is not None:
            data["class_name"] = class_names[self.predicted_class] if self.ok else None
        return data


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

    def __init__(self, model: SavedModel, encoder: Encoder, config: Config, limits: Limits) -> None:
        self.model = model
        self.encoder = encoder
        self.config = config
        self.limits = limits
        self.class_names = class_names(model.n_classes)
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
        predictor = cls(model, encoder, config, limits or Limits())
        if explain:
            predictor._backbone_for_gradcam()
        return predictor

    # --- scoring -----------------------------------------------------------------

    def score_paths(self, paths: list[Path], explain: bool = False) -> list[Candidate]:
        """Score files and folders, in the order found (rank them with :meth:`rank`).

        Parameters
        ----------
        paths : image or video files, or folders of them; a folder inside a given folder
            is one carousel.
        explain : attach a heatmap PNG to each image and a filmstrip PNG to each video.

        Returns
        -------
        One Candidate per file or carousel; a file that cannot be scored gets ``error``
        (naming it and saying why) and the others are still scored.
        """
        return [
            self._score_carousel(name, path, explain)
            if path.is_dir()
            else self._score_file(name, path, explain)
            for name, path in _named_inputs(paths)
        ]

    def _score_file(self, name: str, path: Path, explain: bool) -> Candidate:
        media_type = "unknown"
        try:
            media_type = self._media_type(path)
            score = self._score_image if media_type == IMAGE else self._score_video
            probs, heatmap = score(path, explain)
        except BadInputError as err:  # MediaError from decoding is a BadInputError too
            log.info("not scored: %s", err)
            kind = err.kind if isinstance(err, _Refused) else UNREADABLE
            return Candidate(name, media_type, error=str(err), error_kind=kind)
        return _scored(Candidate(name, media_type, heatmap_png=heatmap), probs)

    def _score_carousel(self, name: str, folder: Path, explain: bool) -> Candidate:
        items = [
            self._not_media(name + path.name, path)
            if path.is_dir()
            else self._score_file(name + path.name, path, explain)
            for _, path in _named_inputs([folder])
        ]
        failed = [item for item in items if not item.ok]
        if not items or failed:
            reason = failed[0].error if failed else f"{folder}: the carousel folder holds no media files"
            kind = failed[0].error_kind if failed else UNSUPPORTED
            return Candidate(name, CAROUSEL, error=reason, error_kind=kind, items=items)
        probs = np.mean([item.probs for item in items], axis=0)
        return _scored(Candidate(name, CAROUSEL, items=items), probs)

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

    def _score_image(self, path: Path, explain: bool) -> tuple[np.ndarray, bytes | None]:
        from instapop.media import load_image

        shown_size = self._checked_image_size(path)
        image = load_image(
            path,
            size=self.config.image_size,
            center_crop=self.config.center_crop,
            max_pixels=self.limits.max_image_pixels,
        )
        embedding = self.encoder.encode(image[None])  # (1, D)
        with self._torch_lock:
            probs = self.model.predict_images(embedding)[0]
            heatmap = self._image_heatmap(image, shown_size) if explain else None
        return probs, heatmap

    def _score_video(self, path: Path, explain: bool) -> tuple[np.ndarray, bytes | None]:
        from instapop.media import sample_video

        if self.model.video_approach is None:
            raise _Refused(
                f"{path}: this model has no video classifier (it was trained without videos)", UNSUPPORTED
            )
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
            probs = self.model.predict_videos(frames[None])[0]
            strip = self._video_filmstrip(sample.frames, frames, sample.times) if explain else None
        return probs, strip

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

    def _image_heatmap(self, image: np.ndarray, shown_size: tuple[int, int] | None) -> bytes:
        from instapop.explain.gradcam import gradcam, overlay

        cam = gradcam(self._backbone_for_gradcam(), self.model.image_head().eval(), image)
        blended = overlay(image, cam.heatmap)
        if shown_size is None or self.config.center_crop:
            return _png(blended)
        # The network saw the whole picture squeezed into a square: stretch the overlay back
        # to the picture's proportions so that it lines up with the original a person sees.
        width, height = shown_size
        scale = self.config.image_size / min(width, height)
        return _png(blended, (round(width * scale), round(height * scale)))

    def _video_filmstrip(self, pixels: np.ndarray, frames: np.ndarray, times: np.ndarray) -> bytes:
        from instapop.explain.gradcam import overlay
        from instapop.explain.video import filmstrip, frame_gradcam, frame_importance

        video_model = self.model.video_model().eval()
        importance = frame_importance(video_model, frames)
        top = int(np.argmax(importance))
        cam = frame_gradcam(self._backbone_for_gradcam(), video_model, frames, pixels[top], top)
        shown = pixels.copy()
        shown[top] = overlay(pixels[top], cam.heatmap)
        return _png(filmstrip(shown, importance, times=times))

    # --- ranking and the model card ------------------------------------------------

    @staticmethod
    def rank(candidates: list[Candidate]) -> list[Candidate]:
        """Best first by expected score, ties by name; errors last, by name. Sets ``rank``.

        Returns new Candidates; the ones given are left as they were.
        """
        scored = sorted((c for c in candidates if c.ok), key=lambda c: (-c.expected_score, c.name))
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
            "candidates": [c.to_dict(self.class_names, heatmaps) for c in ranked],
        }


def format_ranking(ranked: list[Candidate], names: list[str]) -> str:
    """A plain-text table: rank, file, media type, predicted class with probabilities, expected score.

    Candidates that could not be scored follow, each with its reason.
    """
    header = ("rank", "candidate", "type", "class (probabilities: " + " / ".join(names) + ")", "score")
    rows = [
        (
            str(c.rank),
            c.name,
            c.media_type,
            f"{names[c.predicted_class]} (" + " / ".join(f"{p:.2f}" for p in c.probs) + ")",
            f"{c.expected_score:.3f}",
        )
        for c in ranked
        if c.ok
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines += [f"not scored: {c.error}" for c in ranked if not c.ok]
    return "\n".join(lines)


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


def _scored(candidate: Candidate, probs: np.ndarray) -> Candidate:
    probs = np.asarray(probs, dtype=np.float64)
    candidate.probs = [float(p) for p in probs]
    candidate.predicted_class = int(np.argmax(probs))
    candidate.expected_score = float(probs @ np.arange(len(probs)))
    return candidate


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
        "boundaries": window.get("por_boundaries"),
        "window": {key: window.get(key) for key in ("window_start", "window_end", "window_posts")},
        "cv_accuracy": accuracy.get("mean"),
        "cv_std": accuracy.get("std"),
        "majority_accuracy": rows.get("majority", {}).get("accuracy", {}).get("mean"),
        "trained_on": card["trained_on"][media],
    }
