"""Explain a run folder: the t-SNE map and its regions, Grad-CAM for images, frame importance for videos.

Reads ``media.csv``, ``features/``, ``dedup.csv`` (when present) and ``model/``
(when present) and writes ``explain/``: PNG figures and ``explain.json``, which
names every figure and holds the numbers behind it. Removed near-duplicates are
left out, as they are from training. Grad-CAM items are the final model's most
confident *correct* items of each class; the final model was trained on every
item, so these are in-sample examples of what it learned (the paper's Fig. 9),
not a measure of accuracy.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from instapop.config import Config
from instapop.errors import InstapopError
from instapop.explain.gradcam import GradCam, class_evidence, gradcam, overlay
from instapop.explain.tsne import find_regions, tsne_map
from instapop.explain.video import filmstrip, frame_gradcam, frame_importance
from instapop.labels import class_column, class_ns
from instapop.media_types import IMAGE, VIDEO
from instapop.runfolder import RunFolder

if TYPE_CHECKING:
    from instapop.datasets import Dataset
    from instapop.embed.backbone import Lite0
    from instapop.embed.extract import FeatureSet

log = logging.getLogger(__name__)

STRIP_THUMBS = 10  # thumbnails shown per region
THUMB = 96  # side of a thumbnail in region strips, pixels


@dataclass(frozen=True)
class RunInputs:
    """What every explanation reads: the media table, the features, dedup's removals, settings, output."""

    media: pd.DataFrame
    features: FeatureSet
    removed: set[str]
    config: Config
    out: Path

    def items(self, kind: str, n_classes: int) -> tuple[np.ndarray, list[Item]]:
        """Rows of the features' image (or video) arrays that are labelled and kept, and their items."""
        column = label_column(self.media, n_classes)
        ids = self.features.image_ids if kind == IMAGE else self.features.video_ids
        labelled = set(self.media.loc[self.media[column].fillna(-1) >= 0, "media_id"])  # -1: unlabelled
        rows = np.array(
            [i for i, mid in enumerate(ids) if mid in labelled and mid not in self.removed], dtype=int
        )
        return rows, _items(self.media, [ids[i] for i in rows], kind, column)


@dataclass(frozen=True)
class Item:
    """One picture on the map: an image, or a video seen through its thumbnail."""

    media_id: str
    kind: str  # IMAGE or VIDEO
    picture: str  # path of the image, or of the video's thumbnail
    path: str  # the media file itself
    label: int


def save_png(pixels: np.ndarray, path: Path) -> str:
    """Write uint8 pixels as PNG; return the file name (what explain.json records)."""
    Image.fromarray(pixels).save(path, format="PNG", optimize=False)
    return path.name


def removed_media(run_dir: Path) -> set[str]:
    """Media ids dedup removed (duplicates and exclusions); empty when the run has no dedup.csv yet."""
    from instapop.dedup import load_dedup, removed_ids

    return removed_ids(load_dedup(run_dir)) if RunFolder(run_dir).dedup.exists() else set()


def label_column(media: pd.DataFrame, n_classes: int) -> str:
    """The rolling-window class column for N classes, or an error naming the ones present."""
    column = class_column(n_classes)
    if column not in media.columns:
        present = [class_column(n) for n in class_ns(media.columns)]
        raise InstapopError(
            f"media.csv has no {column} column (has {present}); rerun ingest with N={n_classes}"
        )
    return column


def _items(media: pd.DataFrame, ids: list[str], kind: str, column: str) -> list[Item]:
    rows = media.set_index("media_id").loc[ids]
    picture = rows["path"] if kind == IMAGE else rows["thumbnail"]
    return [
        Item(mid, kind, str(pic), str(path), int(label))
        for mid, pic, path, label in zip(ids, picture, rows["path"], rows[column], strict=True)
    ]


def _thumbnail(path: str, size: int) -> np.ndarray:
    from instapop.media import load_image

    try:
        return load_image(Path(path), size=size)
    except (InstapopError, OSError) as err:
        log.warning("%s: no thumbnail (%s)", path, err)
        return np.full((size, size, 3), 200, dtype=np.uint8)


def region_strip(items: list[Item]) -> np.ndarray:
    """The region's first thumbnails side by side (nearest to its centre first)."""
    tiles = [_thumbnail(item.picture, THUMB) for item in items[:STRIP_THUMBS]]
    return np.concatenate(tiles, axis=1)


def explain_map(run: RunInputs, n_classes: int) -> dict:
    """t-SNE of image (clean view) and thumbnail embeddings, its regions, and their figures."""
    image_rows, items = run.items(IMAGE, n_classes)
    video_rows, video_items = run.items(VIDEO, n_classes)
    items += video_items
    if len(items) < 3:
        return {"skipped": f"only {len(items)} labelled pictures; a map needs at least 3"}
    vectors = np.concatenate([run.features.image_views[image_rows, 0], run.features.video_thumbs[video_rows]])
    xy = tsne_map(vectors, seed=run.config.seed)
    labels = np.array([item.label for item in items])
    config = run.config
    regions = find_regions(xy, labels, n_classes, min_size=config.region_min_size, alpha=config.region_alpha)
    region_json = []
    for number, region in enumerate(regions, start=1):
        members = [items[i] for i in region.members]
        strip = save_png(region_strip(members), run.out / f"region_{number}.png")
        region_json.append(
            {**region.to_dict(), "number": number, "media_ids": [m.media_id for m in members], "strip": strip}
        )
    return {
        "media_ids": [item.media_id for item in items],
        "kinds": [item.kind for item in items],
        "classes": labels.tolist(),
        "xy": np.round(xy, 3).tolist(),
        "regions": region_json,
    }


def _softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits, dim=1).numpy()


def most_confident_correct(probs: np.ndarray, labels: np.ndarray, cls: int, k: int) -> np.ndarray:
    """Indices of the k items of class ``cls`` predicted as ``cls`` with the highest probability."""
    correct = np.flatnonzero((labels == cls) & (probs.argmax(axis=1) == cls))
    order = np.argsort(-probs[correct, cls], kind="stable")
    return correct[order[:k]]


def _chosen(probs: np.ndarray, items: list[Item], n_classes: int, per_class: int) -> list[tuple[int, int]]:
    labels = np.array([item.label for item in items])
    return [
        (c, int(i)) for c in range(n_classes) for i in most_confident_correct(probs, labels, c, per_class)
    ]


def side_by_side(image: np.ndarray, cam: GradCam) -> np.ndarray:
    """The picture and its Grad-CAM overlay next to each other, with a 4-pixel white gap."""
    gap = np.full((image.shape[0], 4, 3), 255, dtype=np.uint8)
    return np.concatenate([image, gap, overlay(image, cam.heatmap)], axis=1)


def explain_images(run: RunInputs, model, backbone: Lite0, progress: bool) -> list[dict]:
    """Grad-CAM of the image model for its most confident correct images of each class (Fig. 9)."""
    from instapop.media import load_image

    rows, items = run.items(IMAGE, model.n_classes)
    if not items or model.image_approach is None:  # no images, or none could be validated
        return []
    head = model.image_head().eval()
    with torch.no_grad():
        probs = _softmax(head(torch.as_tensor(run.features.image_views[rows, 0], dtype=torch.float32)))
    explained = []
    chosen = _chosen(probs, items, model.n_classes, run.config.gradcam_per_class)
    for cls, i in tqdm(chosen, desc="Grad-CAM images", disable=not progress):
        item = items[i]
        image = load_image(Path(item.path), size=run.config.image_size, center_crop=run.config.center_crop)
        evidence, target = class_evidence(head, cls)
        cam = gradcam(backbone, evidence, image, target=target)
        explained.append(
            {
                "media_id": item.media_id,
                "class": cls,
                "prob": round(float(probs[i, cls]), 4),
                "heatmap": np.round(cam.heatmap.astype(float), 4).tolist(),
                "hottest_cell": list(cam.hottest_cell()),
                "png": save_png(side_by_side(image, cam), run.out / f"gradcam_{item.media_id}.png"),
            }
        )
    return explained


def explain_video(
    run: RunInputs, item: Item, frames: np.ndarray, cls: int, video_model: torch.nn.Module, backbone: Lite0
) -> dict:
    """Frame-importance filmstrip of one video, and Grad-CAM on its most important frames."""
    from instapop.media import sample_video

    config = run.config
    sample = sample_video(
        Path(item.path),
        config.n_frames,
        config.frame_interval_s,
        config.image_size,
        center_crop=config.center_crop,
    )
    if len(sample.frames) != len(frames):
        raise InstapopError(
            f"{item.path}: sampled {len(sample.frames)} frames but the features hold {len(frames)}"
        )
    importance = frame_importance(video_model, frames, target=cls)
    top_frames = []
    for t in sorted(int(t) for t in np.argsort(-importance, kind="stable")[: config.top_frames]):
        evidence, target = class_evidence(video_model, cls)
        cam = frame_gradcam(backbone, evidence, frames, sample.frames[t], t, target=target)
        png = save_png(side_by_side(sample.frames[t], cam), run.out / f"frame_{item.media_id}_{t}.png")
        top_frames.append({"index": t, "time": round(float(sample.times[t]), 3), "png": png})
    times = np.asarray(sample.times, dtype=float)
    return {
        "media_id": item.media_id,
        "class": cls,
        "importance": np.round(importance.astype(float), 4).tolist(),
        "times": np.round(times, 3).tolist(),
        "filmstrip": save_png(
            filmstrip(sample.frames, importance, times=times), run.out / f"filmstrip_{item.media_id}.png"
        ),
        "top_frames": top_frames,
    }


def explain_videos(run: RunInputs, model, backbone: Lite0, progress: bool) -> tuple[list[dict], list[dict]]:
    """Frame importance + Grad-CAM for the video model's most confident correct videos of each class.

    Returns the explanations and the videos that could not be explained (item, reason).
    """
    rows, items = run.items(VIDEO, model.n_classes)
    if not items or model.video_approach is None:  # no videos, or none could be validated
        return [], []
    video_model = model.video_model().eval()
    frames = np.asarray(run.features.video_frames[rows], dtype=np.float32)
    with torch.no_grad():
        probs = _softmax(video_model(torch.as_tensor(frames)))
    explained, skipped = [], []
    chosen = _chosen(probs, items, model.n_classes, run.config.videos_per_class)
    for cls, i in tqdm(chosen, desc="explain videos", disable=not progress):
        try:
            explanation = explain_video(run, items[i], frames[i], cls, video_model, backbone)
        except InstapopError as err:
            log.warning("video explanation skipped: %s", err)
            skipped.append({"item": items[i].path, "reason": str(err)})
            continue
        explained.append({**explanation, "prob": round(float(probs[i, cls]), 4)})
    return explained, skipped


def explain_words(run: RunInputs, model, data: Dataset) -> dict:
    """The ranker's caption terms and score split (:func:`instapop.explain.words.caption_words`)
    on ``data``, what it was trained on, each term with a strip of its two example posts'
    thumbnails (``words_<k>.png``)."""
    from instapop.explain.words import caption_words

    words = caption_words(model, data)
    column = label_column(run.media, model.n_classes)
    for number, row in enumerate(words.get("raising", []) + words.get("lowering", []), start=1):
        examples = _items(run.media, row["examples"], words["media"], column)
        row["strip"] = save_png(region_strip(examples), run.out / f"words_{number}.png")
    return words


def explain_run(run_dir: Path, config: Config, progress: bool = True) -> Path:
    """Write ``run_dir/explain/``: t-SNE map and regions, Grad-CAM images, video frame importance.

    Parameters
    ----------
    run_dir : run folder holding at least ``media.csv`` and ``features/``; ``dedup.csv``
        and ``model/`` are used when present (without a model only the map is made).
    config : settings (seed, frames per video, ``gradcam_per_class``, ``region_*`` ...).
    progress : show tqdm progress bars.

    Returns
    -------
    Path of ``explain.json``, which names every figure written beside it.
    """
    from instapop.datasets import RunData
    from instapop.embed.extract import FeatureSet
    from instapop.ingest import load_media

    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    if not folder.features.exists():
        raise InstapopError(f"{run_dir}: no features/ folder; run the embeddings stage first")
    out = folder.explain
    out.mkdir(exist_ok=True)
    for old in out.glob("*.png"):  # figures of an earlier explanation may name items no longer shown
        old.unlink()
    run = RunInputs(
        load_media(run_dir), FeatureSet.load(folder.features), removed_media(run_dir), config, out
    )
    model = _load_model(run_dir)
    n_classes = model.n_classes if model is not None else max(config.n_classes)
    result: dict = {"n_classes": n_classes, "map": explain_map(run, n_classes)}
    if model is None:
        result["model"] = "no model/ folder: Grad-CAM and video explanations need the trained models"
    else:
        from instapop.embed.backbone import lite0_torch

        backbone = lite0_torch()
        result["images"] = explain_images(run, model, backbone, progress)
        result["videos"], result["skipped"] = explain_videos(run, model, backbone, progress)
        result["words"] = explain_words(run, model, RunData(run_dir).dataset)
    path = folder.explain_json
    path.write_text(json.dumps(result, indent=1))
    return path


def _load_model(run_dir: Path):
    model_dir = RunFolder(run_dir).model
    if not model_dir.exists():
        return None
    from instapop.training import load_model

    return load_model(model_dir)


def _inputs_newer_than(path: Path, run_dir: Path) -> bool:
    run = RunFolder(run_dir)
    inputs = [run.config, run.media, run.features, run.dedup, run.model]
    newest = max((p.stat().st_mtime for p in inputs if p.exists()), default=0.0)
    return newest > path.stat().st_mtime


def explain_if_missing(run_dir: Path, config: Config, progress: bool = True) -> Path | None:
    """Run :func:`explain_run` when ``explain.json`` is missing or older than its inputs (settings included).

    Parameters
    ----------
    run_dir : run folder.
    config : the run's settings.
    progress : show tqdm progress bars.

    Returns
    -------
    Path of ``explain.json``, or None when the run has no ``features/`` yet (nothing to explain).
    """
    run_dir = Path(run_dir)
    path = RunFolder(run_dir).explain_json
    if not RunFolder(run_dir).features.exists():
        return None
    if path.exists() and not _inputs_newer_than(path, run_dir):
        return path
    return explain_run(run_dir, config, progress=progress)
