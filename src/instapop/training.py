"""Final models on all data, chosen by cross-validation, saved as safetensors + JSON (no pickle).

``train_final`` picks, for each media type, the approach with the best CV accuracy at the
model's N (the logistic-regression probe competes, exported as a linear layer), trains it on
every image and video, and writes ``model/``:

- ``image.safetensors``: the image head (dropout + linear on the clean 1280-d embedding);
- ``video.safetensors``: the video model (the CNN-RNN, or a head on the frames' time-max);
- ``config.json``: N, backbone and preprocessing (the whole ``Config`` under ``"config"``),
  the approach per media type and why it won, the CV figures, the PoR boundaries of the classes
  in the latest label window, the training date range and each weight file's SHA-256.

``load_model`` rebuilds the modules from ``config.json`` and refuses weight files whose hash,
tensor names or shapes differ from what it describes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from instapop.config import Config
from instapop.datasets import IMAGE, VIDEO, Dataset, MediaSet
from instapop.errors import InstapopError
from instapop.labels import rolling_windows
from instapop.models import ImageHead, Input, MaxOverTime, VideoGRU, fit, seeded_init, training_threads
from instapop.validation import DatasetTensors, derived_seed, logreg_linear, row_of

log = logging.getLogger(__name__)

FORMAT = "instapop-model"
FORMAT_VERSION = 1
CANDIDATES = {
    IMAGE: ("image", "logreg"),
    VIDEO: ("video", "image_to_video", "video_to_image", "logreg"),
}
CV_METRICS = ("accuracy", "top2_accuracy", "balanced_accuracy", "macro_f1", "spearman", "pairwise_accuracy")
# architecture of each approach's saved module
ARCHITECTURE = {
    (IMAGE, "image"): "ImageHead",
    (IMAGE, "logreg"): "ImageHead",
    (VIDEO, "video"): "VideoGRU",
    (VIDEO, "image_to_video"): "VideoGRU",
    (VIDEO, "video_to_image"): "MaxOverTime(ImageHead)",
    (VIDEO, "logreg"): "MaxOverTime(ImageHead)",
}


# --------------------------------------------------------------------------- choosing


def _scored(row: dict[str, Any] | None) -> bool:
    """Whether a CV row holds metrics (it exists and its approach was not skipped)."""
    return row is not None and "skipped" not in row


def _accuracy(row: dict[str, Any] | None) -> float:
    return row["accuracy"]["mean"] if _scored(row) else -1.0


def _fmt(row: dict[str, Any]) -> str:
    return f"{row['accuracy']['mean']:.3f} ± {row['accuracy']['std']:.3f}"


def choose_approach(cv_results: dict[str, Any], media: str, n_classes: int) -> tuple[str | None, str]:
    """The candidate with the best mean CV accuracy (ties: the paper's approach first), and why.

    A skipped approach (its row holds ``skipped`` and a reason) never wins.

    Returns
    -------
    approach : str or None
        None when the results hold no row for this media type and N, or every candidate
        was skipped.
    reason : str
        One sentence naming the winner, its accuracy, the others' and the majority baseline's;
        or why there is no model for this media type.
    """
    rows = {a: row_of(cv_results, media, a, n_classes) for a in CANDIDATES[media]}
    present = [a for a in CANDIDATES[media] if _scored(rows[a])]
    if not present:
        reasons = list(dict.fromkeys(r["skipped"] for r in rows.values() if r is not None))
        if reasons:
            skipped = f"every {media} approach was skipped at N={n_classes}"
            return None, f"no {media} model: {skipped} ({'; '.join(reasons)})"
        return None, f"no {media} cross-validation results at N={n_classes}"
    best = max(present, key=lambda a: _accuracy(rows[a]))  # max keeps the first of equals
    others = ", ".join(
        f"{a} {_fmt(rows[a]) if a in present else 'skipped'}"
        for a in CANDIDATES[media]
        if a != best and rows[a] is not None
    )
    reason = f"{best} had the best CV accuracy at N={n_classes}: {_fmt(rows[best])} (others: {others})"
    majority = row_of(cv_results, media, "majority", n_classes)
    if _scored(majority):
        reason += f"; majority-class baseline {_fmt(majority)}"
        if _accuracy(rows[best]) <= _accuracy(majority):
            reason += ". WARNING: no approach beat the majority baseline"
            log.warning("%s: no approach beat the majority baseline at N=%d", media, n_classes)
    return best, reason


def _final_epochs(row: dict[str, Any] | None, config: Config) -> int:
    """Median of the folds' best epochs: the final model has no validation set to pick one."""
    epochs = [f["best_epoch"] for f in (row or {}).get("folds", []) if f.get("best_epoch")]
    return int(round(float(np.median(epochs)))) if epochs else config.epochs


# --------------------------------------------------------------------------- training


def _linear_head(weight: np.ndarray, bias: np.ndarray, config: Config) -> ImageHead:
    head = ImageHead(weight.shape[1], weight.shape[0], config.dropout)
    with torch.no_grad():
        head.linear.weight.copy_(torch.from_numpy(weight.T[None]))
        head.linear.bias.copy_(torch.from_numpy(bias[None]))
    return head.eval()


def _all(n: int) -> tuple[torch.Tensor, ...]:
    return (torch.arange(n),)


def _video_gru(dim: int, n_classes: int, config: Config) -> VideoGRU:
    return VideoGRU(dim, n_classes, config.gru_units, config.dense_units, config.dropout)


def train_image_model(
    t: DatasetTensors, approach: str, n_classes: int, config: Config, epochs: int
) -> nn.Module:
    """The image model of ``approach`` ("image" or "logreg") trained on every image."""
    if approach == "logreg":
        weight, bias = logreg_linear(t.clean.numpy(), t.image_labels.numpy(), n_classes, config)
        return _linear_head(weight, bias, config)
    seed = derived_seed(config, n_classes, "final", approach)
    with seeded_init(seed):
        model = ImageHead(t.views.shape[-1], n_classes, config.dropout)
    fit(model, (Input(t.views, t.image_labels, _all(len(t.views)), views=True),), config, seed, epochs=epochs)
    return model


def train_video_model(
    t: DatasetTensors, approach: str, n_classes: int, config: Config, epochs: int
) -> nn.Module:
    """The video model of ``approach`` trained on every video (and image, for the mixed ones).

    Returns a module from frames (n, T, D) to logits.
    """
    if approach == "logreg":
        weight, bias = logreg_linear(t.pooled.numpy(), t.video_labels.numpy(), n_classes, config)
        return MaxOverTime(_linear_head(weight, bias, config))
    seed = derived_seed(config, n_classes, "final", approach)
    videos = Input(t.frames, t.video_labels, _all(len(t.frames)))
    images = Input(t.views, t.image_labels, _all(len(t.views)), views=True)
    if approach == "video_to_image":
        with seeded_init(seed):
            model = ImageHead(t.frames.shape[-1], n_classes, config.dropout)
        mixed = t.mixed_views()
        fit(
            model,
            (Input(mixed, t.mixed_labels(), _all(len(mixed)), views=True),),
            config,
            seed,
            epochs=epochs,
        )
        return MaxOverTime(model)
    with seeded_init(seed):
        model = _video_gru(t.frames.shape[-1], n_classes, config)
    fit(model, (videos, images) if approach == "image_to_video" else (videos,), config, seed, epochs=epochs)
    return model


# --------------------------------------------------------------------------- model card facts


def _posts(items: MediaSet) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps as epoch seconds, PoR) of each post once, time-sorted."""
    _, first = np.unique(items.groups, return_index=True)
    seconds = items.timestamps[first].astype("datetime64[s]").astype(np.int64)
    order = np.argsort(seconds, kind="stable")
    return seconds[order], items.por[first][order]


def latest_window_boundaries(items: MediaSet, n_classes: int, config: Config) -> dict[str, Any] | None:
    """PoR cut points of the classes among the posts of the latest label window.

    The window is the one ``labels`` centres on the most recent post (widened to hold
    ``min_window_posts``); a new post needs a PoR above cut k-1 to reach class k.
    """
    if len(items) == 0:
        return None
    seconds, por = _posts(items)
    lo, hi = rolling_windows(seconds, config.window_days, config.min_window_posts)
    window = por[lo[-1] : hi[-1]]
    cuts = np.quantile(window, np.arange(1, n_classes) / n_classes)
    return {
        "por_boundaries": [float(c) for c in cuts],
        "window_start": _iso(seconds[lo[-1]]),
        "window_end": _iso(seconds[hi[-1] - 1]),
        "window_posts": int(len(window)),
    }


def _iso(epoch_seconds: int) -> str:
    return str(np.datetime64(int(epoch_seconds), "s")) + "Z"


def _date_range(data: Dataset) -> dict[str, str]:
    stamps = np.concatenate([data.images.timestamps, data.videos.timestamps]).astype("datetime64[s]")
    return {"start": str(stamps.min()) + "Z", "end": str(stamps.max()) + "Z"}


def _cv_summary(cv_results: dict[str, Any], n_classes: int) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "n_classes": n_classes,
        "n_splits": cv_results["config"]["n_splits"],
        "n_repeats": cv_results["config"]["n_repeats"],
        "grouped_folds": cv_results["config"]["grouped_folds"],
        "seed": cv_results["config"]["seed"],
    }
    for row in cv_results["rows"]:
        if row["n_classes"] == n_classes:
            metrics = {"skipped": row["skipped"]} if "skipped" in row else {m: row[m] for m in CV_METRICS}
            summary.setdefault(row["media"], {})[row["approach"]] = metrics
    return summary


# --------------------------------------------------------------------------- saving and loading


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_module(module: nn.Module, path: Path) -> dict[str, Any]:
    state = {name: t.detach().contiguous() for name, t in module.state_dict().items()}
    save_file(state, str(path))
    return {"file": path.name, "sha256": _sha256(path)}


def train_final(
    dataset: Dataset, cv_results: dict[str, Any], config: Config, n_classes: int, out_dir: Path
) -> Path:
    """Train the chosen approach per media type on all data and save it.

    Parameters
    ----------
    dataset : Dataset
        Every item the study keeps (the same the CV ran on).
    cv_results : dict
        The output of :func:`instapop.validation.evaluate` (or ``cv_results.json``).
    config : Config
        Model and training settings; stored whole in ``config.json``.
    n_classes : int
        N of the saved model; must be one of the CV's N.
    out_dir : pathlib.Path
        The model folder to write (usually ``RUN_DIR/model``).

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    InstapopError
        When the CV results hold no image row for ``n_classes``, or every image approach was
        skipped (a model needs an image classifier). Without a video approach the model
        scores images only, and ``config.json`` says why.
    """
    image_approach, image_reason = choose_approach(cv_results, IMAGE, n_classes)
    if image_approach is None and row_of(cv_results, IMAGE, "image", n_classes) is None:
        raise InstapopError(f"{image_reason}: run `instapop evaluate` with -n {n_classes} first")
    if image_approach is None:
        raise InstapopError(f"{image_reason}; a model needs an image classifier, so none was trained")
    video_approach, video_reason = choose_approach(cv_results, VIDEO, n_classes)
    if video_approach is None:
        log.warning("the model scores images only: %s", video_reason)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n_classes": n_classes,
        "backbone": dataset.backbone,
        "dim": int(dataset.image_views.shape[-1]),
        "preprocessing": {
            k: getattr(config, k) for k in ("image_size", "center_crop", "n_frames", "frame_interval_s")
        },
        "image_approach": image_approach,
        "video_approach": video_approach,
        "choice": {IMAGE: image_reason, VIDEO: video_reason},
        "class_boundaries": {
            IMAGE: latest_window_boundaries(dataset.images, n_classes, config),
            VIDEO: latest_window_boundaries(dataset.videos, n_classes, config),
        },
        "date_range": _date_range(dataset),
        "trained_on": {IMAGE: len(dataset.images), VIDEO: len(dataset.videos)},
        "cv": _cv_summary(cv_results, n_classes),
        "config": config.to_dict(),
        "models": {},
    }
    with training_threads(config.train_threads):
        epochs = _final_epochs(row_of(cv_results, IMAGE, image_approach, n_classes), config)
        t = DatasetTensors(dataset, n_classes)
        image_model = train_image_model(t, image_approach, n_classes, config, epochs)
        card["models"][IMAGE] = _model_entry(image_model, IMAGE, image_approach, epochs, out_dir)
        if video_approach is not None:
            epochs = _final_epochs(row_of(cv_results, VIDEO, video_approach, n_classes), config)
            video_model = train_video_model(t, video_approach, n_classes, config, epochs)
            card["models"][VIDEO] = _model_entry(video_model, VIDEO, video_approach, epochs, out_dir)
    (out_dir / "config.json").write_text(json.dumps(card, indent=2) + "\n")  # last: marks a complete model
    log.info("model saved to %s (images: %s, videos: %s)", out_dir, image_approach, video_approach)
    return out_dir


def _model_entry(module: nn.Module, media: str, approach: str, epochs: int, out_dir: Path) -> dict[str, Any]:
    entry = _save_module(module, out_dir / f"{media}.safetensors")
    entry["architecture"] = ARCHITECTURE[(media, approach)]
    entry["epochs"] = None if approach == "logreg" else epochs
    return entry


def _build(architecture: str, card: dict[str, Any], config: Config) -> nn.Module:
    dim, n_classes = card["dim"], card["n_classes"]
    if architecture == "ImageHead":
        return ImageHead(dim, n_classes, config.dropout)
    if architecture == "MaxOverTime(ImageHead)":
        return MaxOverTime(ImageHead(dim, n_classes, config.dropout))
    if architecture == "VideoGRU":
        return _video_gru(dim, n_classes, config)
    raise InstapopError(f"unknown model architecture {architecture!r} in config.json")


def _load_module(model_dir: Path, entry: dict[str, Any], card: dict[str, Any], config: Config) -> nn.Module:
    path = model_dir / entry["file"]
    if not path.is_file():
        raise InstapopError(f"{path}: weight file missing")
    if _sha256(path) != entry["sha256"]:
        raise InstapopError(
            f"{path}: contents differ from those saved at training (SHA-256 mismatch); retrain"
        )
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise InstapopError(f"{path}: not a readable safetensors file ({err})") from None
    module = _build(entry["architecture"], card, config)
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if found != expected:
        raise InstapopError(
            f"{path}: tensors {found} do not match the {entry['architecture']} in config.json"
        )
    module.load_state_dict(tensors)
    return module.eval()


@dataclass
class SavedModel:
    """A trained model folder, ready to score embeddings.

    Attributes
    ----------
    config : dict
        The contents of ``config.json``.
    n_classes : int
    backbone : str
        Id of the encoder the embeddings must come from.
    image_approach : str
        "image" or "logreg".
    video_approach : str or None
        "video", "image_to_video", "video_to_image" or "logreg"; None without videos.
    """

    config: dict[str, Any]
    n_classes: int
    backbone: str
    image_approach: str
    video_approach: str | None
    _image: nn.Module = field(repr=False)
    _video: nn.Module | None = field(repr=False, default=None)

    def image_head(self) -> nn.Module:
        """The image model: clean 1280-d embeddings (n, D) -> logits (n, N); a logistic-regression
        probe is an equivalent linear layer. Differentiable, for Grad-CAM through the backbone."""
        return self._image

    def video_model(self) -> nn.Module:
        """The video model of the chosen approach: frames (n, T, D) -> logits (n, N)."""
        if self._video is None:
            raise InstapopError("this model has no video classifier: its training data had no videos")
        return self._video

    def predict_images(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities (n, N) of clean-view image embeddings (n, D)."""
        x = _checked(embeddings, (self.config["dim"],), "image embeddings")
        return _softmax(self._image, x)

    def predict_videos(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities (n, N) of videos' frame embeddings (n, T, D), by the chosen video approach."""
        x = _checked(frames, (None, self.config["dim"]), "video frame embeddings")
        return _softmax(self.video_model(), x)


def _checked(array: np.ndarray, item_shape: tuple[int | None, ...], what: str) -> torch.Tensor:
    array = np.asarray(array, dtype=np.float32)
    ok = array.ndim == len(item_shape) + 1 and all(
        e is None or e == s for e, s in zip(item_shape, array.shape[1:], strict=True)
    )
    if not ok:
        expected = ", ".join("n" if e is None else str(e) for e in (None, *item_shape))
        raise InstapopError(f"{what}: expected shape ({expected}); got {array.shape}")
    return torch.from_numpy(array)


def _softmax(module: nn.Module, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(module(x), dim=-1).numpy()


def load_model(model_dir: Path) -> SavedModel:
    """Load a folder written by :func:`train_final` (safetensors + config.json; no pickle).

    Raises
    ------
    InstapopError
        When ``config.json`` is missing or malformed, or a weight file is missing, altered,
        truncated or does not match the architecture ``config.json`` describes.
    """
    model_dir = Path(model_dir)
    path = model_dir / "config.json"
    if not path.is_file():
        raise InstapopError(f"{path} not found: train a model with `instapop train` first")
    try:
        card = json.loads(path.read_text())
        if card.get("format") != FORMAT:
            raise InstapopError(f"{path}: not an instapop model (format {card.get('format')!r})")
        config = Config.from_dict(card["config"])
        models = card["models"]
        image = _load_module(model_dir, models[IMAGE], card, config)
        video = _load_module(model_dir, models[VIDEO], card, config) if VIDEO in models else None
        return SavedModel(
            config=card,
            n_classes=int(card["n_classes"]),
            backbone=card["backbone"],
            image_approach=card["image_approach"],
            video_approach=card["video_approach"] if video is not None else None,
            _image=image,
            _video=video,
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InstapopError(f"{path}: malformed model description ({type(err).__name__}: {err})") from None
