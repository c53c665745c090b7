"""Bulk feature extraction: every media item of a run through the cache into one :class:`FeatureSet`.

Per item, a worker thread hashes the file, looks its entries up in the feature
cache and decodes only what is missing (Pillow and PyAV release the GIL while
decoding, so decoding overlaps inference). The main thread gathers the pixels of
several items into one batch for the encoder and writes each new entry to the
cache as soon as it is computed, so a killed run loses at most one batch.

What is cached, per item (see :mod:`instapop.embed.cache` for the keys):

- image: K entries, one per augmented view (view 0 is the clean image);
- video: one (T, D) entry for its sampled frames, with the video's duration,
  fps and displayed size as metadata, and its thumbnail as a clean image entry.
  A cover-only video (its file not downloaded, its ``path`` the cover) is a still
  (:func:`instapop.media.still_video`): a (1, D) entry for its one picture, which
  stands for each of its T frames in the :class:`FeatureSet`, duration and fps 0.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.numpy import load_file, save
from tqdm import tqdm

from instapop.config import Config
from instapop.embed.augment import AUGMENT_VERSION, augment_views
from instapop.embed.backbone import Encoder, load_encoder
from instapop.embed.cache import FeatureCache, cache_key, file_digest, write_atomically
from instapop.errors import InstapopError
from instapop.media import MediaError, load_image, sample_video
from instapop.media_types import IMAGE, VIDEO
from instapop.runtime import resolve_threads

log = logging.getLogger(__name__)

# Bump when decoding or sampling changes what pixels a file gives: old cache entries stop matching.
PREPROCESS_VERSION = 1
VIDEO_INFO_COLUMNS = ["media_id", "duration", "fps", "width", "height", "n_frames_sampled", "thumbnail"]
FAILED_COLUMNS = ["media_id", "path", "reason"]
_ARRAYS = ("image_views", "video_frames", "video_thumbs")
_REQUIRED_COLUMNS = ("media_id", "media_type", "path")


# --------------------------------------------------------------------------- the result


@dataclass
class FeatureSet:
    """Embeddings of a run's media, aligned with their ids (see docs/architecture.md).

    Attributes
    ----------
    backbone : encoder name the features come from.
    image_ids : media ids of the images, in media-table order.
    image_views : float32 (n_img, K, D); view 0 is the clean image, views 1.. augmented.
    video_ids : media ids of the videos, in media-table order.
    video_frames : float32 (n_vid, T, D), one row per sampled frame.
    video_thumbs : float32 (n_vid, D), the thumbnail's embedding (the first frame's when
        a video has no usable thumbnail).
    video_info : media_id, duration, fps, width, height, n_frames_sampled, thumbnail
        ("file" or "first frame") per video; a cover-only video has duration and fps 0 and
        1 frame sampled (its cover, which is each of its ``video_frames``).
    failed : media_id, path, reason of every item that could not be embedded.
    stats : cache entries computed and reused, images through the network, items.
    """

    backbone: str
    image_ids: list[str]
    image_views: np.ndarray
    video_ids: list[str]
    video_frames: np.ndarray
    video_thumbs: np.ndarray
    video_info: pd.DataFrame
    failed: pd.DataFrame
    stats: dict[str, int] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        """Write ``features.safetensors`` (arrays) and ``features.json`` (ids, tables, stats) into ``folder``.

        The JSON file is written last, so a folder with it holds a complete set.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {name: np.ascontiguousarray(getattr(self, name), dtype=np.float32) for name in _ARRAYS}
        write_atomically(folder / "features.safetensors", save(arrays))
        meta = {
            "backbone": self.backbone,
            "image_ids": list(self.image_ids),
            "video_ids": list(self.video_ids),
            "video_info": self.video_info[VIDEO_INFO_COLUMNS].to_dict(orient="records"),
            "failed": self.failed[FAILED_COLUMNS].to_dict(orient="records"),
            "stats": self.stats,
        }
        write_atomically(folder / "features.json", json.dumps(meta, indent=2).encode())

    @classmethod
    def load(cls, folder: Path) -> FeatureSet:
        """Read a set written by :meth:`save`.

        Raises
        ------
        InstapopError
            When ``folder`` holds no complete feature set.
        """
        folder = Path(folder)
        meta_path, arrays_path = folder / "features.json", folder / "features.safetensors"
        if not meta_path.is_file() or not arrays_path.is_file():
            raise InstapopError(
                f"{folder}: no features.json + features.safetensors; run `instapop embed` first"
            )
        meta = json.loads(meta_path.read_text())
        arrays = load_file(arrays_path)
        return cls(
            backbone=meta["backbone"],
            image_ids=meta["image_ids"],
            image_views=arrays["image_views"],
            video_ids=meta["video_ids"],
            video_frames=arrays["video_frames"],
            video_thumbs=arrays["video_thumbs"],
            video_info=pd.DataFrame(meta["video_info"], columns=VIDEO_INFO_COLUMNS),
            failed=pd.DataFrame(meta["failed"], columns=FAILED_COLUMNS),
            stats=meta.get("stats", {}),
        )


# --------------------------------------------------------------------------- per-item work


@dataclass
class _Part:
    """One cache entry of an item: cached vectors, or pixels still to encode."""

    key: str
    vectors: np.ndarray | None = None
    pixels: np.ndarray | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class _Item:
    media_id: str
    media_type: str
    path: str
    parts: list[_Part] = field(default_factory=list)  # images: K views; videos: frames [, thumbnail]
    error: str | None = None

    @property
    def n_pixels(self) -> int:
        return sum(len(part.pixels) for part in self.parts if part.pixels is not None)


class _Preparer:
    """Hash, look up and (when missing) decode one media row; runs in worker threads."""

    def __init__(self, cache: FeatureCache, encoder: Encoder, config: Config) -> None:
        self.cache = cache
        self.dim = encoder.dim
        self.config = config
        size, crop = encoder.input_size, "crop" if config.center_crop else "resize"
        self.backbone = f"{encoder.name}/{encoder.engine}"
        self.image_prep = f"image-v{PREPROCESS_VERSION}-{size}-{crop}"
        self.aug_prep = (
            f"aug-v{AUGMENT_VERSION}-seed{config.seed}-t{config.aug_translate:g}-z{config.aug_zoom:g}-b{config.aug_brightness:g}"
            f"-c{config.aug_contrast:g}-s{config.aug_saturation:g}"
        )
        self.video_prep = (
            f"video-v{PREPROCESS_VERSION}-{size}-{crop}-{config.n_frames}x{config.frame_interval_s:g}s"
        )
        self.size = size

    def __call__(self, row: dict[str, Any]) -> _Item:
        item = _Item(str(row["media_id"]), str(row["media_type"]), str(row["path"]))
        try:
            if item.media_type == IMAGE:
                item.parts = self._image_parts(Path(item.path))
            elif item.media_type == VIDEO:
                item.parts = self._video_parts(Path(item.path), _thumbnail_path(row))
            else:
                item.error = f"unknown media_type {item.media_type!r}; expected 'image' or 'video'"
        except MediaError as err:
            item.error = err.reason
        return item

    def _digest(self, path: Path) -> str:
        try:
            return file_digest(path)
        except OSError as err:
            raise MediaError(path, f"cannot read file ({err.strerror or err})") from err

    def _cached(self, key: str) -> _Part:
        hit = self.cache.get(key, self.dim)
        return _Part(key) if hit is None else _Part(key, vectors=hit[0], metadata=hit[1])

    def _view_key(self, digest: str, view: int) -> str:
        if view == 0:  # the clean view does not depend on the augmentation: shared by every seed
            return cache_key(digest, self.backbone, self.image_prep, "view0")
        return cache_key(digest, self.backbone, self.image_prep, self.aug_prep, f"view{view}")

    def _image_parts(self, path: Path, n_views: int | None = None) -> list[_Part]:
        n_views = self.config.n_views if n_views is None else n_views
        digest = self._digest(path)
        parts = [self._cached(self._view_key(digest, v)) for v in range(n_views)]
        missing = [v for v, part in enumerate(parts) if part.vectors is None]
        if missing:
            image = load_image(path, self.size, self.config.center_crop, self.config.max_image_pixels)
            views = augment_views(image, max(missing) + 1, _image_seed(self.config.seed, digest), self.config)
            for v in missing:
                parts[v].pixels = views[v : v + 1]
        return parts

    def _video_parts(self, path: Path, thumbnail: Path | None) -> list[_Part]:
        config = self.config
        frames = self._cached(cache_key(self._digest(path), self.backbone, self.video_prep))
        if frames.vectors is None:
            sample = sample_video(
                path,
                config.n_frames,
                config.frame_interval_s,
                self.size,
                max_duration_s=config.video_max_duration_s,
                max_pixels=config.video_max_pixels,
                max_fps=config.video_max_fps,
                center_crop=config.center_crop,
            )
            frames.pixels = sample.frames[:1] if sample.still else sample.frames  # a still: encoded once
            frames.metadata = {
                "duration": repr(sample.duration),
                "fps": repr(sample.fps),
                "width": str(sample.width),
                "height": str(sample.height),
            }
        if thumbnail is None:
            return [frames]
        try:
            return [frames, *self._image_parts(thumbnail, n_views=1)]
        except MediaError as err:
            log.warning("%s; using the video's first frame as its thumbnail", err)
            return [frames]


def _thumbnail_path(row: dict[str, Any]) -> Path | None:
    value = row.get("thumbnail")
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return None
    return Path(str(value))


def _image_seed(seed: int, digest: str) -> int:
    """Augmentation seed of one image: from the run's seed and the file's content, not its position."""
    return int(cache_key(str(seed), digest)[:15], 16)


# --------------------------------------------------------------------------- the loop


def _prefetched(pool: ThreadPoolExecutor, fn: Callable, rows: Iterable, ahead: int) -> Iterator:
    """``map(fn, rows)`` on ``pool``, in order, with at most ``ahead`` results in flight (bounded memory)."""
    pending: deque[Future] = deque()
    for row in rows:
        pending.append(pool.submit(fn, row))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class _Encoding:
    """Gathers pending pixels of several items into batches; stores each new entry in the cache."""

    def __init__(self, encoder: Encoder, cache: FeatureCache, batch_size: int) -> None:
        self.encoder = encoder
        self.cache = cache
        self.batch_size = batch_size
        self.waiting: list[_Item] = []
        self.stats = {"entries_computed": 0, "entries_reused": 0, "images_encoded": 0}

    def add(self, item: _Item) -> list[_Item]:
        """Queue an item; returns the items finished by this call (possibly none)."""
        self.waiting.append(item)
        if sum(waiting.n_pixels for waiting in self.waiting) < self.batch_size:
            return []
        return self.flush()

    def flush(self) -> list[_Item]:
        """Encode everything queued; returns the finished items."""
        items, self.waiting = self.waiting, []
        parts = [part for item in items for part in item.parts]
        todo = [part for part in parts if part.pixels is not None]
        self.stats["entries_reused"] += len(parts) - len(todo)
        if todo:
            pixels = np.concatenate([part.pixels for part in todo])
            vectors = self.encoder.encode(pixels)
            offsets = np.cumsum([0] + [len(part.pixels) for part in todo])
            for part, start, stop in zip(todo, offsets[:-1], offsets[1:], strict=True):
                part.vectors, part.pixels = vectors[start:stop], None
                self.cache.put(part.key, part.vectors, part.metadata)
            self.stats["entries_computed"] += len(todo)
            self.stats["images_encoded"] += len(pixels)
        return items


def embed_media(
    media: pd.DataFrame,
    cache_dir: Path,
    config: Config,
    progress: bool = True,
    encoder: Encoder | None = None,
) -> FeatureSet:
    """Embed every image (K views) and video (T frames + thumbnail) of a media table, through the cache.

    Parameters
    ----------
    media : at least ``media_id``, ``media_type`` ("image"/"video") and ``path``;
        ``thumbnail`` (a video's .jpg, may be empty: the first frame is used) when present.
    cache_dir : feature cache folder, shared by runs (created if missing).
    config : ``n_views``, ``n_frames``, ``frame_interval_s``, ``image_size``,
        ``center_crop``, the media bounds, augmentation strengths, ``seed``,
        ``batch_size_embed``, ``embed_threads`` and the backbone settings.
    progress : show a progress bar (items/s) on a terminal.
    encoder : an already loaded encoder (default: :func:`load_encoder` of ``config``).

    Returns
    -------
    FeatureSet with every item that could be embedded; the others are in ``failed``
    with the reason, and logged.

    Raises
    ------
    InstapopError
        When the table lacks a required column.
    """
    missing = [column for column in _REQUIRED_COLUMNS if column not in media.columns]
    if missing:
        raise InstapopError(
            f"media table lacks columns {missing}; expected at least {list(_REQUIRED_COLUMNS)}"
        )
    cache = FeatureCache(cache_dir)
    encoder = encoder or load_encoder(config, cache_dir)
    preparer = _Preparer(cache, encoder, config)
    encoding = _Encoding(encoder, cache, config.batch_size_embed)
    rows = media.to_dict(orient="records")
    finished: list[_Item] = []
    threads = resolve_threads(config.embed_threads)
    with (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode") as pool,
        tqdm(total=len(rows), unit="item", desc="embedding", disable=None if progress else True) as bar,
    ):
        for item in _prefetched(pool, preparer, rows, ahead=max(4, 2 * config.batch_size_embed)):
            done = encoding.add(item)
            finished += done
            bar.update(len(done))
        finished += encoding.flush()
        bar.update(len(rows) - bar.n)
    return _assemble(finished, encoder, config, encoding.stats)


def _assemble(items: list[_Item], encoder: Encoder, config: Config, stats: dict[str, int]) -> FeatureSet:
    failed = [item for item in items if item.error is not None]
    for item in failed:
        log.warning("skipped %s: %s", item.path, item.error)
    images = [item for item in items if item.error is None and item.media_type == IMAGE]
    videos = [item for item in items if item.error is None and item.media_type == VIDEO]
    dim = encoder.dim
    image_views = (
        np.stack([np.concatenate([p.vectors for p in item.parts]) for item in images])
        if images
        else (np.zeros((0, config.n_views, dim), np.float32))
    )
    video_frames = (
        np.stack([_every_frame(item.parts[0].vectors, config.n_frames) for item in videos])
        if videos
        else (np.zeros((0, config.n_frames, dim), np.float32))
    )
    thumbs = [
        item.parts[1].vectors[0] if len(item.parts) > 1 else item.parts[0].vectors[0] for item in videos
    ]
    video_thumbs = np.stack(thumbs) if videos else np.zeros((0, dim), np.float32)
    return FeatureSet(
        backbone=encoder.name,
        image_ids=[item.media_id for item in images],
        image_views=image_views.astype(np.float32, copy=False),
        video_ids=[item.media_id for item in videos],
        video_frames=video_frames.astype(np.float32, copy=False),
        video_thumbs=video_thumbs.astype(np.float32, copy=False),
        video_info=pd.DataFrame([_video_info(item) for item in videos], columns=VIDEO_INFO_COLUMNS),
        failed=pd.DataFrame([(i.media_id, i.path, i.error) for i in failed], columns=FAILED_COLUMNS),
        stats={
            **stats,
            "items": len(items),
            "images": len(images),
            "videos": len(videos),
            "failed": len(failed),
        },
    )


def _every_frame(vectors: np.ndarray, n_frames: int) -> np.ndarray:
    """(T, D) frame embeddings: a still's one picture (a cover-only video) is each of its T frames."""
    return np.broadcast_to(vectors, (n_frames, vectors.shape[1])) if len(vectors) == 1 else vectors


def _video_info(item: _Item) -> dict[str, Any]:
    meta = item.parts[0].metadata
    return {
        "media_id": item.media_id,
        "duration": float(meta["duration"]),
        "fps": float(meta["fps"]),
        "width": int(meta["width"]),
        "height": int(meta["height"]),
        "n_frames_sampled": len(item.parts[0].vectors),
        "thumbnail": "file" if len(item.parts) > 1 else "first frame",
    }


def embed_images(encoder: Encoder, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Embed already decoded images in batches.

    Parameters
    ----------
    encoder : any :class:`~instapop.embed.backbone.Encoder`.
    images : uint8 (N, input_size, input_size, 3) RGB.
    batch_size : images per ``encode`` call (bounds memory).

    Returns
    -------
    float32 (N, encoder.dim).
    """
    chunks = [encoder.encode(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
