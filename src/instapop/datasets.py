"""Media table + embeddings - duplicates -> aligned arrays per media type, the models' input.

A media item enters a :class:`Dataset` when it has features, a PoR and a class for every N,
and was not removed by dedup. Every item left out for another reason than dedup is listed in
``Dataset.skipped`` with the reason, and that list goes into the run's ``cv_results.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from instapop.errors import InstapopError
from instapop.labels import class_column, class_ns
from instapop.media_types import IMAGE, VIDEO
from instapop.runfolder import RunFolder

log = logging.getLogger(__name__)


class Features(Protocol):
    """What :func:`build_dataset` reads from an ``embed.extract.FeatureSet``."""

    backbone: str
    image_ids: list[str]
    image_views: np.ndarray
    video_ids: list[str]
    video_frames: np.ndarray
    video_thumbs: np.ndarray


@dataclass
class MediaSet:
    """The items of one media type, aligned with the feature arrays.

    Attributes
    ----------
    ids : list of str
        Media ids.
    groups : numpy.ndarray
        Post id of each item (str): carousel siblings share one; folds never split a group.
    timestamps : numpy.ndarray
        Posting time of each item, ``datetime64[ns]`` in UTC.
    por : numpy.ndarray
        Popularity Rate of each item's post (float64), or the run's chosen target value
        (``media.csv`` column ``target``, e.g. reach-rate) the classes were computed on.
    labels : dict of int to numpy.ndarray
        For each N, the rolling-window class of each item (int64, 0 = least popular).
    percentile : numpy.ndarray
        Within-window PoR percentile of each item's post (float64; NaN in tables written
        before it existed): the ranker's target, and what Spearman is measured against.
    captions : numpy.ndarray
        Caption of each item's post (str, "" for none; a carousel's items share theirs): the
        ranker's caption words.
    """

    ids: list[str]
    groups: np.ndarray
    timestamps: np.ndarray
    por: np.ndarray
    labels: dict[int, np.ndarray]
    percentile: np.ndarray | None = None
    captions: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.percentile is None:
            self.percentile = np.full(len(self.ids), np.nan)
        if self.captions is None:
            self.captions = np.full(len(self.ids), "", dtype=object)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> MediaSet:
        """The items at ``rows``, in that order: every per-item field (labels per N included)."""
        return dataclasses.replace(self, **{f.name: _rows(getattr(self, f.name), rows) for f in fields(self)})


def _rows(value: Any, rows: np.ndarray) -> Any:
    """``value`` restricted to ``rows``: a list, an array, or a dict of arrays (labels per N)."""
    if isinstance(value, dict):
        return {key: _rows(v, rows) for key, v in value.items()}
    if isinstance(value, list):
        return [value[i] for i in rows]
    return value[rows]


@dataclass
class Dataset:
    """Everything the models train on: images and videos with their features.

    Attributes
    ----------
    images : MediaSet
    image_views : numpy.ndarray
        (n_img, K, D) float32; view 0 is the clean image, views 1.. augmented.
    videos : MediaSet
    video_frames : numpy.ndarray
        (n_vid, T, D) float32 frame embeddings.
    video_thumbs : numpy.ndarray
        (n_vid, D) float32 thumbnail embeddings.
    backbone : str
        Id of the encoder the features come from.
    skipped : list of dict
        Items left out (``media_id``, ``reason``), dedup removals excepted.
    target : str
        What the labels rank: ``por``, ``reach-rate`` or ``reach`` (see :mod:`instapop.targets`).
    context : dict of str to numpy.ndarray
        Per media type, (n, C) context features a user knows before publishing
        (:mod:`instapop.context`), aligned with the items; empty without ``context.csv``.
    context_columns : tuple of str
        Names of the C context columns.
    """

    images: MediaSet
    image_views: np.ndarray
    videos: MediaSet
    video_frames: np.ndarray
    video_thumbs: np.ndarray
    backbone: str
    skipped: list[dict[str, str]] = field(default_factory=list)
    target: str = "por"
    context: dict[str, np.ndarray] = field(default_factory=dict)
    context_columns: tuple[str, ...] = ()

    def take(self, image_rows: np.ndarray, video_rows: np.ndarray) -> Dataset:
        """The dataset restricted to those images and videos (features and context follow)."""
        rows = {IMAGE: image_rows, VIDEO: video_rows}
        return dataclasses.replace(
            self,
            images=self.images.take(image_rows),
            image_views=self.image_views[image_rows],
            videos=self.videos.take(video_rows),
            video_frames=self.video_frames[video_rows],
            video_thumbs=self.video_thumbs[video_rows],
            context={media: table[rows[media]] for media, table in self.context.items()},
        )

    @property
    def n_classes(self) -> tuple[int, ...]:
        """The N values both media sets carry labels for."""
        return tuple(sorted(set(self.images.labels) & set(self.videos.labels)))


def value_column(media: pd.DataFrame) -> str:
    """The column classes were computed on: ``target`` (see :mod:`instapop.targets`), else ``por``."""
    return "target" if "target" in media.columns else "por"


def _usable(rows: pd.DataFrame, ns: list[int], feature_ids: set[str]) -> tuple[pd.DataFrame, list[dict]]:
    """Rows with features, a finite target value (PoR by default) and every class; the rest with a reason."""
    reasons = pd.Series("", index=rows.index)
    classes = rows[[class_column(n) for n in ns]].astype(float)
    missing_class = (classes.isna() | (classes < 0)).any(axis=1)  # labels.UNLABELLED is -1
    reasons[missing_class] = "no popularity class (no PoR or too few posts in its window)"
    reasons[~np.isfinite(rows[value_column(rows)].astype(float))] = (
        "no PoR (likes, comments or followers missing)" if value_column(rows) == "por" else "no target value"
    )
    reasons[~rows["media_id"].isin(feature_ids)] = "no features (not embedded; see features.json 'failed')"
    skipped = [{"media_id": m, "reason": r} for m, r in zip(rows["media_id"], reasons, strict=True) if r]
    return rows[reasons == ""], skipped


def _media_set(rows: pd.DataFrame, ns: list[int], captions: pd.Series | None) -> MediaSet:
    timestamps = pd.to_datetime(rows["timestamp"], utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")
    return MediaSet(
        ids=rows["media_id"].astype(str).tolist(),
        groups=rows["post_id"].astype(str).to_numpy(),
        timestamps=timestamps,
        por=rows[value_column(rows)].astype(float).to_numpy(),
        labels={n: rows[class_column(n)].astype(np.int64).to_numpy() for n in ns},
        percentile=rows["percentile"].astype(float).to_numpy() if "percentile" in rows else None,
        captions=None if captions is None else _item_captions(rows["post_id"].astype(str), captions),
    )


def _item_captions(post_ids: pd.Series, captions: pd.Series) -> np.ndarray:
    """Each item's post caption ("" for a post the table lacks or whose caption is missing)."""
    found = post_ids.map(captions)
    return np.array([text if isinstance(text, str) else "" for text in found], dtype=object)


def _rows_of(ids: list[str], media_ids: list[str]) -> np.ndarray:
    position = {media_id: i for i, media_id in enumerate(ids)}
    return np.array([position[m] for m in media_ids], dtype=np.int64)


def build_dataset(
    media: pd.DataFrame,
    features: Features,
    removed: set[str] = frozenset(),
    context: pd.DataFrame | None = None,
    captions: pd.Series | None = None,
) -> Dataset:
    """Align a media table with its features, leaving out removed and unusable items.

    Parameters
    ----------
    media : pandas.DataFrame
        ``media.csv`` (see docs/architecture.md): media_id, post_id, timestamp, media_type,
        por and one ``class_<N>`` column per N.
    features : FeatureSet
        The run's embeddings.
    removed : set of str
        Media ids to leave out (near-duplicates and exclusions from dedup).
    context : pandas.DataFrame, optional
        Context features indexed by media id (``context.csv``); items it lacks get its
        column means.
    captions : pandas.Series, optional
        Caption of each post, indexed by post id (``posts.csv``); without it every caption is "".

    Returns
    -------
    Dataset
        Items in media-table order; ``skipped`` lists the items left out and why.

    Raises
    ------
    InstapopError
        When the table has no ``class_<N>`` column.
    """
    ns = class_ns(media.columns)
    if not ns:
        raise InstapopError("media table has no class_<N> columns: ingest it with a follower history")
    kept = media[~media["media_id"].astype(str).isin(removed)]
    images, skipped_images = _usable(kept[kept["media_type"] == IMAGE], ns, set(features.image_ids))
    videos, skipped_videos = _usable(kept[kept["media_type"] == VIDEO], ns, set(features.video_ids))
    skipped = skipped_images + skipped_videos
    for item in skipped:
        log.warning("%s left out: %s", item["media_id"], item["reason"])
    image_rows = _rows_of(features.image_ids, images["media_id"].tolist())
    video_rows = _rows_of(features.video_ids, videos["media_id"].tolist())
    return Dataset(
        images=_media_set(images, ns, captions),
        image_views=np.asarray(features.image_views, dtype=np.float32)[image_rows],
        videos=_media_set(videos, ns, captions),
        video_frames=np.asarray(features.video_frames, dtype=np.float32)[video_rows],
        video_thumbs=np.asarray(features.video_thumbs, dtype=np.float32)[video_rows],
        backbone=features.backbone,
        skipped=skipped,
        **_context_arrays(context, {IMAGE: images, VIDEO: videos}),
    )


def _context_arrays(context: pd.DataFrame | None, rows: dict[str, pd.DataFrame]) -> dict:
    if context is None or context.shape[1] == 0:
        return {}
    numeric = context.astype(float)
    filled = {m: numeric.reindex(r["media_id"].astype(str)) for m, r in rows.items()}
    for media, table in filled.items():
        if table.isna().any(axis=None):
            missing = int(table.isna().any(axis=1).sum())
            log.warning("%s: %d items without context features get the means", media, missing)
    means = numeric.mean()
    return {
        "context": {m: t.fillna(means).fillna(0.0).to_numpy(np.float64) for m, t in filled.items()},
        "context_columns": tuple(str(c) for c in numeric.columns),
    }


class RunData:
    """A run folder's files through typed readers, each file read at most once.

    A stage builds one and asks for what it needs (``run.media``, ``run.features``,
    ``run.dataset``…): the first request reads the file, later ones reuse it. Where each
    file lives is :class:`~instapop.runfolder.RunFolder`'s business; this is its reader.

    Parameters
    ----------
    run_dir : the run folder.
    """

    def __init__(self, run_dir: Path) -> None:
        self.folder = RunFolder(run_dir)

    @property
    def root(self) -> Path:
        return self.folder.root

    @functools.cached_property
    def media(self) -> pd.DataFrame:
        """``media.csv`` (see :func:`instapop.ingest.load_media`)."""
        from instapop.ingest import load_media

        return load_media(self.root)

    @functools.cached_property
    def posts(self) -> pd.DataFrame:
        """``posts.csv`` (see :func:`instapop.context.read_posts`)."""
        from instapop.context import read_posts

        return read_posts(self.root)

    @functools.cached_property
    def summary(self) -> dict:
        """``summary.json`` of ingest and labels, or {} in a folder from before it existed."""
        path = self.folder.summary
        return json.loads(path.read_text()) if path.is_file() else {}

    @functools.cached_property
    def features(self):
        """``features/`` as an ``embed.extract.FeatureSet``."""
        from instapop.embed.extract import FeatureSet

        return FeatureSet.load(self.folder.features)

    @functools.cached_property
    def removed(self) -> set[str]:
        """Media ids dedup removed (none, with a warning, when dedup has not run)."""
        from instapop.dedup import load_dedup, removed_ids

        if not self.folder.dedup.is_file():
            log.warning("%s: no dedup.csv, near-duplicates are not removed (run `instapop dedup`)", self.root)
            return set()
        return removed_ids(load_dedup(self.root))

    @functools.cached_property
    def context(self) -> pd.DataFrame | None:
        """``context.csv``, or None (with a warning) when ingest did not write one."""
        if not self.folder.context.is_file():
            log.warning("%s: no context.csv: the ranker sees the picture only (rerun ingest)", self.root)
            return None
        from instapop.context import load_context

        return load_context(self.root)

    @functools.cached_property
    def captions(self) -> pd.Series | None:
        """Each post's caption from ``posts.csv`` (index post id), or None (with a warning) without it."""
        if not self.folder.posts.is_file():
            log.warning("%s: no posts.csv: the ranker reads no caption words (rerun ingest)", self.root)
            return None
        return self.posts.set_index("post_id")["caption"]

    @functools.cached_property
    def dataset(self) -> Dataset:
        """What the models train on: ``media.csv`` + ``features/`` - ``dedup.csv`` removals,
        with each item's context and caption."""
        dataset = build_dataset(self.media, self.features, self.removed, self.context, self.captions)
        # the target ingest chose; a run folder from before targets has none
        dataset.target = (self.summary.get("target") or {}).get("name", "por")
        return dataset

    @functools.cached_property
    def cv_results(self) -> dict:
        """``cv_results.json``."""
        path = self.folder.cv_results
        if not path.is_file():
            raise InstapopError(f"{path} not found: run `instapop evaluate {self.root}` first")
        return json.loads(path.read_text())


def load_run_dataset(run_dir: Path) -> Dataset:
    """The dataset of a run folder (:attr:`RunData.dataset`).

    Parameters
    ----------
    run_dir : pathlib.Path
        A run folder after ingest and embed (dedup optional: without ``dedup.csv`` nothing is
        removed, and a warning says so).
    """
    return RunData(run_dir).dataset


def _quantile_classes(values: np.ndarray, n_classes: int) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    cuts = np.quantile(values, np.arange(1, n_classes) / n_classes)
    return np.searchsorted(cuts, values).astype(np.int64)


def planted_dataset(
    n_images: int,
    n_videos: int,
    signal: float = 2.0,
    seed: int = 0,
    dim: int = 1280,
    n_views: int = 3,
    n_frames: int = 15,
    ns: tuple[int, ...] = (2, 3),
    siblings: int = 3,
) -> Dataset:
    """A Gaussian-feature dataset with a planted popularity direction, for tests and benchmarks.

    Each post holds 1..``siblings`` items whose features share a post-level component (like
    carousel siblings or reposts) and the post's PoR. A post's log PoR is a standard normal
    "popularity", added to its features along one hidden unit direction times ``signal``
    (0: no signal, classes independent of the features).
    Classes are PoR terciles / medians over the whole set, per media type, and the percentile
    the mid-rank of PoR in the whole set.

    Parameters
    ----------
    n_images, n_videos : int
        Items per media type.
    signal : float
        Strength of the planted direction relative to the unit feature noise.
    seed : int
        Everything is drawn from this seed.
    dim, n_views, n_frames : int
        Feature size D, views per image K and frames per video T.
    ns : tuple of int
        The N values to label.
    siblings : int
        Largest number of items per post.
    """
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)

    def media_set(kind: str, n: int) -> tuple[MediaSet, np.ndarray]:
        post_sizes = rng.integers(1, siblings + 1, size=n)
        post = np.repeat(np.arange(n), post_sizes)[:n]  # item -> post
        popularity = rng.normal(size=n)  # per post
        post_features = rng.normal(size=(n, dim)) + signal * popularity[:, None] * direction
        log_por = popularity[post]
        features = (post_features[post] + 0.5 * rng.normal(size=(n, dim))).astype(np.float32)
        labels = {k: _quantile_classes(log_por, k) for k in ns}
        times = np.datetime64("2020-01-01") + (post * 86_400).astype("timedelta64[s]")
        items = MediaSet(
            ids=[f"{kind}{i}" for i in range(n)],
            groups=np.array([f"{kind}-post{p}" for p in post]),
            timestamps=times.astype("datetime64[ns]"),
            por=np.exp(log_por) * 0.05,
            labels=labels,
            percentile=(rankdata(log_por) - 0.5) / n,  # one window: the whole set
        )
        return items, features

    images, image_clean = media_set("img", n_images)
    videos, video_base = media_set("vid", n_videos)
    image_views = image_clean[:, None, :] + 0.1 * rng.normal(size=(n_images, n_views, dim))
    image_views[:, 0] = image_clean
    video_frames = video_base[:, None, :] + 0.5 * rng.normal(size=(n_videos, n_frames, dim))
    return Dataset(
        images=images,
        image_views=image_views.astype(np.float32),
        videos=videos,
        video_frames=video_frames.astype(np.float32),
        video_thumbs=video_frames[:, 0].astype(np.float32),
        backbone="planted-gaussian",
    )
