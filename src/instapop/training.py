"""Final models on all data, chosen by cross-validation, saved as safetensors + JSON (no pickle).

``train_final`` picks, for each media type, one of the registered candidate approaches
(:mod:`instapop.models.approaches`) by :func:`choose_approach`'s rule, trains it on every image
and video, and writes ``model/``:

- ``image.safetensors``: the image model (a head on the clean 1280-d embedding, or the ranker);
- ``video.safetensors``: the video model (the CNN-RNN, a head on the frames' time-max, or the ranker);
- ``card.md``: the model card, in words: what was chosen and why, on what data, how well it did;
- ``config.json``: N, backbone and preprocessing (the whole ``Config`` under ``"config"``),
  the approach per media type and why it won, the CV figures, the class boundaries (in the target)
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
from instapop.cv_rows import MAJORITY, MIN_VALIDATED_ITEMS, CVRow, cv_rows, find_row
from instapop.datasets import Dataset, MediaSet
from instapop.errors import InstapopError
from instapop.labels import rolling_windows
from instapop.media_types import IMAGE, VIDEO, other_media
from instapop.models import training_threads
from instapop.models.approaches import Fitted, Problem, ShapeMismatch, approach, approaches_for
from instapop.models.crossval import DatasetTensors
from instapop.models.ranker import Ranker

log = logging.getLogger(__name__)

FORMAT = "instapop-model"
FORMAT_VERSION = 4  # 2: an architecture names its approach; ranker entries; 3: class boundaries;
# 4: the ranker's caption words (vocabulary in its entry, idf and weights in its safetensors)
# in the target's units, under "boundaries" (was "por_boundaries")
CV_METRICS = ("accuracy", "top2_accuracy", "balanced_accuracy", "macro_f1", "spearman", "pairwise_accuracy")
# --------------------------------------------------------------------------- choosing


def _scored(row: CVRow | None) -> bool:
    """Whether a CV row holds metrics (it exists and its approach was not skipped)."""
    return row is not None and row.scored


def _accuracy(row: CVRow | None) -> float:
    return row.mean("accuracy") if _scored(row) else -1.0


def _spearman(row: CVRow) -> float:
    rho = row.mean("spearman")
    return -1.0 if rho is None else rho


def _lower(row: CVRow, metric: str) -> float:
    """The lower end of a metric's 95 % interval; mean - ``_TIE`` for rows written without one."""
    figure = row.metrics[metric]
    if figure.mean is None:
        return -1.0
    return figure.ci95[0] if figure.ci95 is not None else figure.mean - _TIE


def _fmt(row: CVRow) -> str:
    accuracy = row.metrics["accuracy"]
    return f"{accuracy.mean:.3f} ± {accuracy.std:.3f}"


CHOICE_RULE = (
    "the best mean CV accuracy at the model's N; accuracies inside the best's 95 % interval count as a "
    "tie, which the higher Spearman correlation with the within-window percentile breaks, unless that "
    "Spearman is inside the interval of a simpler approach's, which then wins"
)
# How a model scores the media type it has no approach for (the model card says it in these words).
BORROWED = (
    "{media}s are scored by the {other} model, on the picture they share: a video's frames averaged "
    "are a picture, a picture is a video whose every frame shows it (as a reel known by its cover)."
)
_TIE = 0.005  # rows without intervals (before schema 4): half the usual spread of accuracy over repeats


def choose_approach(cv_results: dict[str, Any], media: str, n_classes: int) -> tuple[str | None, str]:
    """The candidate chosen by :data:`CHOICE_RULE`, and why.

    Accuracy first because the classes are what a user reads; among approaches inside the
    best accuracy's 95 % interval, the one that orders posts best (Spearman) wins, since a
    user also ranks candidates by the score; but where its Spearman lead is inside its own
    interval, the cheapest of those it leads (``Approach.cost``) wins: a choice never rests on
    a difference the data cannot tell from noise. Rows written without intervals count
    ``_TIE`` as their interval. A skipped approach (its row holds ``skipped``) never wins.

    Returns
    -------
    approach : str or None
        None when the results hold no row for this media type and N, or every candidate
        was skipped.
    reason : str
        One sentence naming the winner, its accuracy, the others' and the majority baseline's;
        or why there is no model for this media type.
    """
    candidates = [a.name for a in approaches_for(media) if a.candidate]
    all_rows = cv_rows(cv_results)
    rows = {a: find_row(all_rows, media, a, n_classes) for a in candidates}
    present = [a for a in candidates if _scored(rows[a])]
    if not present:
        reasons = list(dict.fromkeys(r.skipped for r in rows.values() if r is not None))
        if reasons:
            skipped = f"every {media} approach was skipped at N={n_classes}"
            return None, f"no {media} model: {skipped} ({'; '.join(reasons)})"
        return None, f"no {media} cross-validation results at N={n_classes}"
    leader = max(present, key=lambda a: _accuracy(rows[a]))  # max keeps the first of equals
    tied = [a for a in present if _accuracy(rows[a]) >= _lower(rows[leader], "accuracy")]
    ranked = max(tied, key=lambda a: _spearman(rows[a]))
    # A difference inside the interval is no reason for the costlier approach: the simplest whose
    # Spearman reaches the best one's lower bound wins.
    level = [a for a in tied if _spearman(rows[a]) >= _lower(rows[ranked], "spearman")]
    best = min(level, key=lambda a: approach(a).cost)
    others = ", ".join(
        f"{a} {_fmt(rows[a]) if a in present else 'skipped'}"
        for a in candidates
        if a != best and rows[a] is not None
    )
    how = (
        "the best CV accuracy" if len(tied) == 1
        else "the best Spearman among equal CV accuracies" if best == ranked
        else "equal CV accuracy and Spearman to costlier approaches, and is simpler"
    )  # fmt: skip
    reason = (
        f"{best} had {how} at N={n_classes}: {_fmt(rows[best])}, Spearman {_spearman(rows[best]):.3f} "
        f"(others: {others})"
    )
    majority = find_row(all_rows, media, MAJORITY, n_classes)
    if _scored(majority):
        reason += f"; majority-class baseline {_fmt(majority)}"
        if _accuracy(rows[best]) <= _accuracy(majority):
            reason += ". WARNING: no approach beat the majority baseline"
            log.warning("%s: no approach beat the majority baseline at N=%d", media, n_classes)
    return best, reason


def _lent_to_small_types(
    choices: dict[str, tuple[str | None, str]], sizes: dict[str, int]
) -> dict[str, tuple[str | None, str]]:
    """Each media type's (approach, reason), a type with too few items to validate (below
    ``MIN_VALIDATED_ITEMS``) left to the other type's model when that one rests on enough items:
    a choice among 19 images' figures means little, a video model scores their pictures. An
    approach that trains on the other type's items too (``also_reads``) already rests on them."""
    lent = dict(choices)
    for media, (name, reason) in choices.items():
        other = other_media(media)
        small = sizes[media] < MIN_VALIDATED_ITEMS <= sizes[other]
        if name and small and choices[other][0] and other not in approach(name).also_reads:
            lent[media] = (None, f"too few {media}s to validate (n = {sizes[media]}); {reason}")
    return lent


def _final_epochs(row: CVRow | None, config: Config) -> int:
    """Median of the folds' best epochs: the final model has no validation set to pick one."""
    epochs = [f["best_epoch"] for f in ((row and row.folds) or []) if f.get("best_epoch")]
    return int(round(float(np.median(epochs)))) if epochs else config.epochs


# --------------------------------------------------------------------------- training


# --------------------------------------------------------------------------- model card facts


def _posts(items: MediaSet) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps as epoch seconds, PoR) of each post once, time-sorted."""
    _, first = np.unique(items.groups, return_index=True)
    seconds = items.timestamps[first].astype("datetime64[s]").astype(np.int64)
    order = np.argsort(seconds, kind="stable")
    return seconds[order], items.por[first][order]


def latest_window_boundaries(items: MediaSet, n_classes: int, config: Config) -> dict[str, Any] | None:
    """Cut points of the classes, in the run's target (PoR, reach-rate...), among the posts of the
    latest label window.

    The window is the one ``labels`` centres on the most recent post (widened to hold
    ``min_window_posts``); a new post needs a target value above cut k-1 to reach class k.
    """
    if len(items) == 0:
        return None
    seconds, por = _posts(items)
    lo, hi = rolling_windows(seconds, config.window_days, config.min_window_posts)
    window = por[lo[-1] : hi[-1]]
    cuts = np.quantile(window, np.arange(1, n_classes) / n_classes)
    return {
        "boundaries": [float(c) for c in cuts],
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
    for row in cv_rows(cv_results):
        if row.n_classes == n_classes:
            metrics = (
                {m: {"mean": row.metrics[m].mean, "std": row.metrics[m].std} for m in CV_METRICS}
                if row.scored
                else {"skipped": row.skipped}
            )
            summary.setdefault(row.media, {})[row.approach] = metrics
    return summary


# --------------------------------------------------------------------------- saving and loading


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    choices = _lent_to_small_types(
        {media: choose_approach(cv_results, media, n_classes) for media in (IMAGE, VIDEO)},
        {IMAGE: len(dataset.images), VIDEO: len(dataset.videos)},
    )
    (image_approach, image_reason), (video_approach, video_reason) = choices[IMAGE], choices[VIDEO]
    if image_approach is None and video_approach is None:
        raise InstapopError(f"no model: {image_reason}; {video_reason}")
    for media, reason in ((IMAGE, image_reason), (VIDEO, video_reason)):
        if (image_approach if media == IMAGE else video_approach) is None:
            log.warning("%ss are scored by the %s model: %s", media, other_media(media), reason)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    card: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n_classes": n_classes,
        "target": dataset.target,
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
        t = DatasetTensors(dataset, n_classes)
        for media, name in ((IMAGE, image_approach), (VIDEO, video_approach)):
            if name is None:
                continue
            epochs = _final_epochs(find_row(cv_rows(cv_results), media, name, n_classes), config)
            fitted = approach(name).fit_final(Problem(dataset, t, media, n_classes, config), epochs)
            card["models"][media] = _model_entry(fitted, media, name, out_dir)
    (out_dir / "card.md").write_text(model_card_text(card))
    (out_dir / "config.json").write_text(json.dumps(card, indent=2) + "\n")  # last: marks a complete model
    log.info("model saved to %s (images: %s, videos: %s)", out_dir, image_approach, video_approach)
    return out_dir


def _model_entry(fitted: Fitted, media: str, name: str, out_dir: Path) -> dict[str, Any]:
    path = out_dir / f"{media}.safetensors"
    save_file(fitted.tensors, str(path))
    entry = {"file": path.name, "sha256": _sha256(path), "approach": name}
    entry["architecture"] = approach(name).architecture(media)
    return entry | {"epochs": None} | fitted.meta


def model_card_text(card: dict[str, Any]) -> str:
    """The model card in words (``model/card.md``): what was chosen and why, on what, how well."""
    lines = [
        f"# Model card: {card['n_classes']} popularity classes",
        "",
        f"Trained on {card['trained_on'][IMAGE]} images and {card['trained_on'][VIDEO]} videos posted "
        f"{card['date_range']['start']} to {card['date_range']['end']}; backbone `{card['backbone']}`.",
        "",
        f"Choice rule: {CHOICE_RULE}.",
        "",
    ]
    for media in (IMAGE, VIDEO):
        name = card[f"{media}_approach"]
        lines.append(f"## {media.capitalize()}s")
        if name is None:
            reason = card["choice"][media]
            borrowed = BORROWED.format(media=media.capitalize(), other=other_media(media))
            lines += [reason[:1].upper() + reason[1:] + ".", "", borrowed, ""]
            continue
        entry = card["models"][media]
        lines += [
            f"- approach: **{name}** ({approach(name).label}), saved as `{entry['architecture']}`",
            f"- why: {card['choice'][media]}",
        ]
        lines += approach(name).describe(entry)
        boundaries = card["class_boundaries"][media]
        if boundaries:
            cuts = ", ".join(f"{c:.4g}" for c in boundaries["boundaries"])
            lines.append(
                f"- {card['target']} class boundaries in the latest window ({boundaries['window_start']} to "
                f"{boundaries['window_end']}, {boundaries['window_posts']} posts): {cuts}"
            )
        lines.append("")
    return "\n".join(lines)


def _load_module(model_dir: Path, media: str, card: dict[str, Any], config: Config) -> nn.Module:
    entry, name = card["models"][media], card[f"{media}_approach"]
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
    try:
        return approach(name).load(media, tensors, entry, card, config)
    except ShapeMismatch as err:
        raise InstapopError(f"{path}: {err} in config.json") from None


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
    image_approach : str or None
        The registered approach that scores images (``instapop.models.approaches``); None when
        no image approach could be validated (videos' model scores them, see :meth:`scored_by`).
    video_approach : str or None
        The one that scores videos; None when none could be validated.
    """

    config: dict[str, Any]
    n_classes: int
    backbone: str
    image_approach: str | None
    video_approach: str | None
    _image: nn.Module | None = field(repr=False, default=None)
    _video: nn.Module | None = field(repr=False, default=None)

    def scored_by(self, media: str) -> str:
        """The media type whose model scores ``media``: its own, else the other's (:data:`BORROWED`)."""
        own = self.image_approach if media == IMAGE else self.video_approach
        return media if own is not None else other_media(media)

    def image_head(self) -> nn.Module:
        """The image model: clean 1280-d embeddings (n, D) -> logits (n, N); a logistic-regression
        probe is an equivalent linear layer, the ranker its picture part with the context at the
        training mean. Differentiable, for Grad-CAM through the backbone."""
        if self._image is None:
            raise InstapopError("this model has no image model: no image approach could be validated")
        return self._image

    def ranker(self, media: str) -> Ranker | None:
        """The whole ranker (context weights included) when it scores ``media``, else None.

        Use it to score with a post's context (``score``, ``contributions``) and for the
        gradient direction of the score (``embedding_gradient``); see
        :class:`instapop.models.ranker.Ranker`.
        """
        module = self._image if media == IMAGE else self._video
        return getattr(module, "ranker", None)

    def video_model(self) -> nn.Module:
        """The video model of the chosen approach: frames (n, T, D) -> logits (n, N)."""
        if self._video is None:
            raise InstapopError("this model has no video model: no video approach could be validated")
        return self._video

    def predict_images(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities (n, N) of clean-view image embeddings (n, D)."""
        x = _checked(embeddings, (self.config["dim"],), "image embeddings")
        return _softmax(self.image_head(), x)

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
        image, video = (
            _load_module(model_dir, media, card, config) if media in card["models"] else None
            for media in (IMAGE, VIDEO)
        )
        return SavedModel(
            config=card,
            n_classes=int(card["n_classes"]),
            backbone=card["backbone"],
            image_approach=card["image_approach"] if image is not None else None,
            video_approach=card["video_approach"] if video is not None else None,
            _image=image,
            _video=video,
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise InstapopError(f"{path}: malformed model description ({type(err).__name__}: {err})") from None
