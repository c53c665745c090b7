"""Read an Instaloader download (or a CSV manifest) into labelled post and media tables.

An Instaloader profile folder holds, per post, ``<base>.json.xz`` (or
``<base>.json`` with ``--no-compress-json``) in the envelope
``{"node": {...}, "instaloader": {"node_type": "Post", ...}}`` next to its media:
``<base>.jpg`` (the image, or a video's thumbnail), ``<base>.mp4``, carousel
items ``<base>_1 … _N`` and the caption ``<base>.txt``. Media are matched by
the JSON file's own stem, so custom ``--filename-pattern`` downloads work too.

Three node shapes occur and are all read:

- GraphQL: ``__typename`` (``GraphImage``/``GraphVideo``/``GraphSidecar``, or the
  same with an ``XDT`` prefix), ``taken_at_timestamp``, likes in
  ``edge_media_preview_like.count`` or ``edge_liked_by.count``, comments in
  ``edge_media_to_comment.count`` or ``edge_media_to_parent_comment.count``,
  children in ``edge_sidecar_to_children.edges[].node`` typed by ``is_video``;
- iPhone API (4.13+, logged in): ``date``, ``comments`` as an int, ``caption``
  as a string and ``iphone_struct`` with ``like_count``, ``comment_count``,
  ``taken_at``, ``media_type`` (1 image, 2 video, 8 carousel), ``carousel_media``;
- the 4.16 web node: the web API's fields at the top level (``code``, ``pk``,
  ``taken_at``, ``like_count``, ``comment_count``, ``media_type``, ``carousel_media``).

Nothing is decoded here: media are checked for existence and size only.
Every post or file that cannot be used is listed in ``excluded`` with a reason.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from tqdm import tqdm

from instapop.config import PAPER, Config
from instapop.errors import BadInputError, InstapopError
from instapop.followers import (
    FollowerHistory,
    OversizedFileError,
    load_instaloader_json,
    profile_follower_count,
    read_followers,
)
from instapop.labels import MEDIA_TYPES, label_media, post_classes

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("post_id", "timestamp", "likes", "comments", "media")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic")
VIDEO_SUFFIXES = (".mp4", ".mov")
MEDIA_COLUMNS = [
    "media_id",
    "post_id",
    "shortcode",
    "timestamp",
    "media_type",
    "path",
    "thumbnail",
    "is_carousel",
    "child_index",
    "likes",
    "comments",
    "followers",
    "confidence_days",
]
_STRING_COLUMNS = ("media_id", "post_id", "shortcode", "media_type", "path", "thumbnail")
_TYPENAMES = {"GraphImage": "image", "GraphVideo": "video", "GraphSidecar": "carousel"}
_IPHONE_MEDIA_TYPES = {1: "image", 2: "video", 8: "carousel"}
_NOT_POSTS = ("FrozenNodeIterator",)
_ISO = "%Y-%m-%dT%H:%M:%SZ"


class _Skipped(Exception):
    """One item cannot be used: ``reason`` is the category counted in the summary, ``why`` the specifics."""

    def __init__(self, reason: str, item: str | Path, why: str) -> None:
        self.reason = reason
        self.item = str(item)
        self.detail = f"{item}: {why}"
        super().__init__(self.detail)


@dataclass
class _Media:
    media_id: str
    media_type: str
    path: Path
    thumbnail: Path | None
    child_index: int


@dataclass
class _Post:
    post_id: str
    shortcode: str
    timestamp: int  # epoch seconds, UTC
    likes: int
    comments: int
    caption: str
    source: Path
    media: list[_Media] = field(default_factory=list)


# --------------------------------------------------------------------------- result


@dataclass
class IngestResult:
    """Labelled media, kept posts, excluded items and the follower history of one profile."""

    media: pd.DataFrame
    posts: pd.DataFrame
    excluded: pd.DataFrame
    followers: FollowerHistory
    config: Config
    profile_dir: Path | None = None

    def write(self, out_dir: Path) -> None:
        """Write media.csv, posts.csv, excluded.csv, followers.csv and summary.json into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _with_iso_times(self.media, "timestamp").to_csv(out_dir / "media.csv", index=False)
        _with_iso_times(self.posts, "timestamp").to_csv(out_dir / "posts.csv", index=False)
        self.excluded.to_csv(out_dir / "excluded.csv", index=False)
        _with_iso_times(self.followers.points, "date").to_csv(out_dir / "followers.csv", index=False)
        (out_dir / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")

    def summary(self) -> dict[str, Any]:
        """Counts a person (or a test) checks first: posts, media, exclusions, dates, classes, followers."""
        times = self.posts["timestamp"]
        return {
            "profile": str(self.profile_dir) if self.profile_dir else None,
            "posts": len(self.posts),
            "media": {t: int((self.media["media_type"] == t).sum()) for t in MEDIA_TYPES},
            "excluded": dict(sorted(Counter(self.excluded["reason"]).items())),
            "date_range": [times.min().strftime(_ISO), times.max().strftime(_ISO)] if len(times) else None,
            "classes": self._class_counts("class"),
            "global_classes": self._class_counts("global_class"),
            "followers": self._follower_summary(),
            "labels": {
                "n_classes": list(self.config.n_classes),
                "window_days": self.config.window_days,
                "min_window_posts": self.config.min_window_posts,
            },
        }

    def describe(self) -> str:
        """A few lines for a person: what was read, what was left out, how the classes fell."""
        s = self.summary()
        first, last = (day[:10] for day in s["date_range"])
        excluded = ", ".join(f"{n} {reason}" for reason, n in s["excluded"].items()) or "none"
        f, media = s["followers"], s["media"]
        lines = [
            f"{s['posts']} posts, {media['image']} images + {media['video']} videos, {first} to {last}",
            f"excluded: {excluded}",
            f"followers: {f['points']} known points ({', '.join(f['sources']) or 'none'}); "
            f"{f['posts_extrapolated']} posts extrapolated; "
            f"confidence median {f['confidence_days_median']} d, max {f['confidence_days_max']} d",
        ]
        for media_type, by_n in s["classes"].items():
            counts = "; ".join(
                f"N={n}: " + "/".join(str(c) for c in classes.values()) for n, classes in by_n.items()
            )
            lines.append(f"{media_type} classes (rolling {self.config.window_days:g} d): {counts}")
        return "\n".join(lines)

    def _class_counts(self, kind: str) -> dict[str, dict[str, dict[str, int]]]:
        counts: dict[str, dict[str, dict[str, int]]] = {}
        for media_type in MEDIA_TYPES:
            items = self.media[self.media["media_type"] == media_type]
            counts[media_type] = {
                str(n): {str(c): int(k) for c, k in sorted(Counter(items[f"{kind}_{n}"]).items())}
                for n in self.config.n_classes
            }
        return counts

    def _follower_summary(self) -> dict[str, Any]:
        points = self.followers.points
        confidence = self.posts["confidence_days"]
        finite = confidence[np.isfinite(confidence)]
        return {
            "points": len(points),
            "sources": sorted({part for source in points["source"] for part in source.split("+")}),
            "posts_extrapolated": int(self.posts["extrapolated"].sum()),
            "confidence_days_median": round(float(finite.median()), 1) if len(finite) else None,
            "confidence_days_max": round(float(finite.max()), 1) if len(finite) else None,
        }


def _with_iso_times(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].dt.strftime(_ISO)
    return out


def load_media(run_dir: Path) -> pd.DataFrame:
    """Read ``run_dir/media.csv`` back with its dtypes (timestamp as UTC datetime, ids as strings).

    Parameters
    ----------
    run_dir : a run folder written by ``IngestResult.write``.

    Returns
    -------
    The media table.
    """
    path = Path(run_dir) / "media.csv"
    if not path.is_file():
        raise InstapopError(f"{path}: not found; run `instapop ingest` first")
    media = pd.read_csv(path, dtype={c: str for c in _STRING_COLUMNS}, keep_default_na=False, na_values={})
    media["timestamp"] = pd.to_datetime(media["timestamp"], utc=True, format="ISO8601")
    for column in ("followers", "confidence_days", "por"):
        if column in media:
            media[column] = pd.to_numeric(media[column], errors="coerce")
    media["is_carousel"] = media["is_carousel"].astype(str).str.lower() == "true"
    return media


# --------------------------------------------------------------------------- ingest


def ingest_profile(
    profile_dir: Path, followers: list[Path], config: Config = PAPER, followers_date: str | None = None
) -> IngestResult:
    """Read a profile's posts and follower history; label every media item.

    Parameters
    ----------
    profile_dir : an Instaloader profile folder, a folder holding ``manifest.csv``,
        or the path of a manifest CSV (its folder is the dataset folder).
    followers : follower-history files (see ``read_followers``); the folder's
        Instaloader Profile JSON is added as one more point.
    config : label settings and the metadata size bound.
    followers_date : date of the count in profile JSONs (default: file mtime).

    Returns
    -------
    IngestResult with one media row per image/video (carousel children included).

    Raises
    ------
    InstapopError
        When the folder does not exist, holds no post metadata, or no post is usable.
    """
    profile_dir = Path(profile_dir)
    if profile_dir.is_file() and profile_dir.suffix.lower() == ".csv":
        posts, skipped, profile_jsons = _read_manifest(profile_dir, profile_dir.parent.resolve())
    elif not profile_dir.is_dir():
        raise InstapopError(f"{profile_dir}: no such folder")
    elif (profile_dir / MANIFEST_NAME).is_file():
        posts, skipped, profile_jsons = _read_manifest(profile_dir / MANIFEST_NAME, profile_dir.resolve())
    else:
        posts, skipped, profile_jsons = _read_instaloader_folder(profile_dir.resolve(), config.max_json_bytes)
    posts = _drop_repeats(posts, skipped)
    if not posts:
        raise InstapopError(f"{profile_dir}: no usable posts ({_reason_counts(skipped)})")
    history = read_followers(
        [*followers, *profile_jsons], followers_date, config.follower_fit_points, config.max_json_bytes
    )
    skipped += [_Skipped("follower row unreadable", item, reason) for item, reason in history.problems]
    for item in skipped:
        log.warning("skipped %s", item.detail)
    if history.points.empty:
        log.warning("no follower history: followers, PoR and classes are left empty (classes -1)")
    post_table = _post_table(posts, history)
    post_table = pd.concat([post_table, post_classes(post_table, config)], axis=1)
    media = label_media(_media_table(posts, post_table), post_table, config)
    return IngestResult(media, post_table, _excluded_table(skipped), history, config, profile_dir)


def _reason_counts(skipped: list[_Skipped]) -> str:
    if not skipped:
        return "nothing found"
    return ", ".join(f"{n} {reason}" for reason, n in sorted(Counter(s.reason for s in skipped).items()))


def _post_table(posts: list[_Post], history: FollowerHistory) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "post_id": [p.post_id for p in posts],
            "shortcode": [p.shortcode for p in posts],
            "timestamp": pd.to_datetime([p.timestamp for p in posts], unit="s", utc=True),
            "likes": [p.likes for p in posts],
            "comments": [p.comments for p in posts],
            "n_images": [sum(m.media_type == "image" for m in p.media) for p in posts],
            "n_videos": [sum(m.media_type == "video" for m in p.media) for p in posts],
            "is_carousel": [len(p.media) > 1 or p.media[0].child_index > 0 for p in posts],
            "caption": [p.caption for p in posts],
            "source": [str(p.source) for p in posts],
        }
    )
    table = table.sort_values(["timestamp", "post_id"], ignore_index=True)
    estimate = history.at(table["timestamp"])
    table[["followers", "confidence_days", "extrapolated"]] = estimate
    return table


def _media_table(posts: list[_Post], post_table: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {
            "media_id": m.media_id,
            "post_id": p.post_id,
            "media_type": m.media_type,
            "path": str(m.path),
            "thumbnail": str(m.thumbnail) if m.thumbnail else "",
            "child_index": m.child_index,
        }
        for p in posts
        for m in p.media
    ]
    per_post = post_table[
        [
            "post_id",
            "shortcode",
            "timestamp",
            "is_carousel",
            "likes",
            "comments",
            "followers",
            "confidence_days",
        ]
    ]
    media = pd.DataFrame(rows).merge(per_post, on="post_id", how="left")
    return media.sort_values(["timestamp", "post_id", "child_index"], ignore_index=True)[MEDIA_COLUMNS]


def _excluded_table(skipped: list[_Skipped]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": [s.item for s in skipped],
            "reason": [s.reason for s in skipped],
            "detail": [s.detail for s in skipped],
        }
    )


def _drop_repeats(posts: list[_Post], skipped: list[_Skipped]) -> list[_Post]:
    """Keep one post per id, per second and per media id; the rest are listed (first file name wins)."""
    kept: list[_Post] = []
    seen_ids: dict[str, _Post] = {}
    seen_seconds: dict[int, _Post] = {}
    seen_media: dict[str, _Post] = {}
    for post in sorted(posts, key=lambda p: (p.timestamp, str(p.source))):
        clashes = [m.media_id for m in post.media if m.media_id in seen_media]
        if post.post_id in seen_ids:
            first = seen_ids[post.post_id]
            skipped.append(
                _Skipped("duplicate post", post.source, f"post {post.post_id} also in {first.source}")
            )
        elif clashes:
            first = seen_media[clashes[0]]
            why = f"media id {clashes[0]} (the file name without extension) already used by {first.source}"
            skipped.append(_Skipped("duplicate media id", post.source, why))
        elif post.timestamp in seen_seconds:
            first = seen_seconds[post.timestamp]
            when = pd.Timestamp(post.timestamp, unit="s", tz="UTC").strftime(_ISO)
            skipped.append(
                _Skipped(
                    "same second as another post",
                    post.source,
                    f"posted in the same second ({when}) as {first.source}; only the first is kept",
                )
            )
        else:
            seen_ids[post.post_id] = seen_seconds[post.timestamp] = post
            seen_media.update((m.media_id, post) for m in post.media)
            kept.append(post)
    return kept


# --------------------------------------------------------------------------- Instaloader folder


@dataclass
class _Folder:
    """One listing of the profile folder: usable files with their sizes, refused symlinks."""

    root: Path
    sizes: dict[str, int]
    refused: set[str]


def _scan_folder(root: Path, skipped: list[_Skipped]) -> _Folder:
    sizes: dict[str, int] = {}
    refused: set[str] = set()
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_symlink() and not _inside(root, Path(entry.path).resolve()):
                refused.add(entry.name)
                skipped.append(
                    _Skipped("symlink out of folder", entry.path, "symlink leading out of the folder")
                )
            elif entry.is_file():
                sizes[entry.name] = entry.stat().st_size
    return _Folder(root, sizes, refused)


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _metadata_base(name: str) -> str | None:
    for suffix in (".json.xz", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _read_instaloader_folder(root: Path, max_bytes: int) -> tuple[list[_Post], list[_Skipped], list[Path]]:
    skipped: list[_Skipped] = []
    folder = _scan_folder(root, skipped)
    metadata = sorted(name for name in folder.sizes if _metadata_base(name) is not None)
    if not metadata:
        raise InstapopError(f"{root}: no Instaloader metadata (*.json.xz, *.json) and no {MANIFEST_NAME}")
    posts: list[_Post] = []
    profile_jsons: list[Path] = []
    for name in tqdm(metadata, desc="reading posts", unit="file", disable=None):
        path = root / name
        try:
            data = _load_envelope(path, max_bytes)
            node_type = data["instaloader"].get("node_type")
            if node_type == "Profile":
                profile_jsons.append(_checked_profile(path, data))
            elif node_type == "Post":
                posts.append(_post_from_node(path, data["node"], folder))
            elif node_type not in _NOT_POSTS and not name.startswith("iterator_"):
                raise _Skipped("not a post", path, f"node_type {node_type!r} is not a post")
        except _Skipped as skip:
            skipped.append(skip)
    return posts, skipped, profile_jsons


def _load_envelope(path: Path, max_bytes: int) -> dict[str, Any]:
    try:
        data = load_instaloader_json(path, max_bytes)
    except OversizedFileError as err:
        raise _Skipped("file too large", path, str(err).removeprefix(f"{path}: ")) from err
    except BadInputError as err:
        raise _Skipped("malformed JSON", path, str(err).removeprefix(f"{path}: ")) from err
    if not isinstance(data.get("instaloader"), dict) or not isinstance(data.get("node"), dict):
        raise _Skipped("malformed JSON", path, "no Instaloader envelope ({'node': ..., 'instaloader': ...})")
    return data


def _checked_profile(path: Path, data: dict[str, Any]) -> Path:
    if profile_follower_count(data) is None:
        raise _Skipped("count missing", path, "profile JSON without a positive follower count")
    return path


def _post_from_node(path: Path, node: dict[str, Any], folder: _Folder) -> _Post:
    iphone = node.get("iphone_struct") if isinstance(node.get("iphone_struct"), dict) else {}
    base = _metadata_base(path.name)
    kind = _post_kind(path, node, iphone)
    if kind == "carousel":
        children = _child_types(path, node, iphone)
        media = [_find_media(folder, f"{base}_{i}", t, i, path) for i, t in enumerate(children, start=1)]
    else:
        media = [_find_media(folder, base, kind, 0, path)]
    return _Post(
        post_id=_post_id(node, iphone, base),
        shortcode=str(node.get("shortcode") or node.get("code") or iphone.get("code") or ""),
        timestamp=_timestamp(path, node, iphone),
        likes=_likes(path, node, iphone),
        comments=_comments(path, node, iphone),
        caption=_caption(node) or _caption_file(folder, base),
        source=path,
        media=media,
    )


def _post_kind(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> str:
    typename = node.get("__typename")
    if isinstance(typename, str) and typename.removeprefix("XDT") in _TYPENAMES:
        return _TYPENAMES[typename.removeprefix("XDT")]
    media_type = node.get("media_type", iphone.get("media_type"))
    if media_type in _IPHONE_MEDIA_TYPES:
        return _IPHONE_MEDIA_TYPES[media_type]
    if isinstance(node.get("is_video"), bool):
        return "video" if node["is_video"] else "image"
    raise _Skipped("unknown post type", path, f"unknown post type (__typename {typename!r})")


def _child_types(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> list[str]:
    """Each carousel child's own type: ``is_video`` of GraphQL children, else the API ``media_type``."""
    edges = (node.get("edge_sidecar_to_children") or {}).get("edges")
    if edges:
        return ["video" if (edge.get("node") or {}).get("is_video") else "image" for edge in edges]
    children = node.get("carousel_media") or iphone.get("carousel_media")
    if children:
        return ["video" if child.get("media_type") == 2 else "image" for child in children]
    raise _Skipped("unknown post type", path, "carousel post without children in its metadata")


def _find_media(folder: _Folder, stem: str, media_type: str, child_index: int, source: Path) -> _Media:
    if media_type == "video":
        path = _existing(folder, stem, VIDEO_SUFFIXES, source, "video")
        thumbnail = _first_present(folder, stem, IMAGE_SUFFIXES)
        return _Media(stem, "video", path, thumbnail, child_index)
    return _Media(stem, "image", _existing(folder, stem, IMAGE_SUFFIXES, source, "image"), None, child_index)


def _existing(folder: _Folder, stem: str, suffixes: tuple[str, ...], source: Path, what: str) -> Path:
    path = _first_present(folder, stem, suffixes)
    if path is None:
        refused = [stem + s for s in suffixes if stem + s in folder.refused]
        why = f"{refused[0]} is a symlink leading out of the folder" if refused else "not downloaded?"
        raise _Skipped("media missing", source, f"{what} {stem}{suffixes[0]} missing ({why})")
    if folder.sizes[path.name] == 0:
        raise _Skipped("empty media file", source, f"{path.name} is empty")
    return path


def _first_present(folder: _Folder, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        if stem + suffix in folder.sizes:
            return folder.root / (stem + suffix)
    return None


def _post_id(node: dict[str, Any], iphone: dict[str, Any], base: str) -> str:
    # The web node's ``id`` is "<pk>_<owner id>"; ``pk`` is the media id itself.
    for value in (node.get("pk"), node.get("id"), iphone.get("pk"), node.get("shortcode"), node.get("code")):
        if value not in (None, ""):
            return str(value)
    return base


def _timestamp(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> int:
    for value in (
        node.get("taken_at_timestamp"),
        node.get("date"),
        node.get("taken_at"),
        iphone.get("taken_at"),
    ):
        if _is_number(value):
            return int(value)
    raise _Skipped("timestamp missing", path, "no taken_at_timestamp / date / taken_at")


def _likes(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> int:
    if node.get("like_and_view_counts_disabled") or iphone.get("like_and_view_counts_disabled"):
        raise _Skipped("likes hidden", path, "likes hidden by the profile (like_and_view_counts_disabled)")
    value = _first_count(
        _edge_count(node, "edge_media_preview_like"),
        _edge_count(node, "edge_liked_by"),
        node.get("like_count"),
        iphone.get("like_count"),
    )
    if value == -1:
        raise _Skipped("likes hidden", path, "likes hidden by the profile (count -1)")
    return _checked_count(path, "likes", value)


def _comments(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> int:
    value = _first_count(
        _edge_count(node, "edge_media_to_comment"),
        _edge_count(node, "edge_media_to_parent_comment"),
        node.get("comments"),
        node.get("comment_count"),
        iphone.get("comment_count"),
    )
    return _checked_count(path, "comments", value)


def _edge_count(node: dict[str, Any], key: str) -> Any:
    edge = node.get(key)
    return edge.get("count") if isinstance(edge, dict) else None


def _first_count(*values: Any) -> Any:
    return next((value for value in values if _is_number(value)), None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _checked_count(item: str | Path, what: str, value: Any) -> int:
    if value is None:
        raise _Skipped("count missing", item, f"{what} count absent")
    if value < 0:
        raise _Skipped("negative count", item, f"{what} count is negative ({value})")
    return int(value)


def _caption(node: dict[str, Any]) -> str:
    edges = (node.get("edge_media_to_caption") or {}).get("edges") or []
    if edges:
        return str((edges[0].get("node") or {}).get("text") or "")
    caption = node.get("caption")
    if isinstance(caption, dict):
        return str(caption.get("text") or "")
    return caption if isinstance(caption, str) else ""


def _caption_file(folder: _Folder, base: str) -> str:
    name = f"{base}.txt"
    if name not in folder.sizes:
        return ""
    return (folder.root / name).read_text(encoding="utf-8", errors="replace").strip()


# --------------------------------------------------------------------------- manifest


def _read_manifest(path: Path, root: Path) -> tuple[list[_Post], list[_Skipped], list[Path]]:
    """Posts from a ``post_id,timestamp,likes,comments,media`` CSV; media paths relative to ``root``."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in MANIFEST_COLUMNS if c not in columns]
        if missing:
            raise InstapopError(
                f"{path}: manifest lacks columns {missing}; expected {list(MANIFEST_COLUMNS)}"
            )
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    if not rows:
        raise InstapopError(f"{path}: manifest has no rows")
    posts: list[_Post] = []
    skipped: list[_Skipped] = []
    for line, row in tqdm(list(enumerate(rows, start=2)), desc="reading manifest", unit="row", disable=None):
        try:
            posts.append(_post_from_row(f"{path}:{line}", row, root))
        except _Skipped as skip:
            skipped.append(skip)
    return posts, skipped, []


def _post_from_row(item: str, row: dict[str, str], root: Path) -> _Post:
    paths = [p.strip() for p in re.split(r"[;|]", row["media"]) if p.strip()]
    if not paths:
        raise _Skipped("manifest row invalid", item, "no media paths")
    media = [
        _manifest_media(item, rel, root, i if len(paths) > 1 else 0) for i, rel in enumerate(paths, start=1)
    ]
    return _Post(
        post_id=row["post_id"] or _invalid(item, "empty post_id"),
        shortcode=row.get("shortcode", ""),
        timestamp=_manifest_time(item, row["timestamp"]),
        likes=_checked_count(item, "likes", _manifest_int(item, "likes", row["likes"])),
        comments=_checked_count(item, "comments", _manifest_int(item, "comments", row["comments"])),
        caption=row.get("caption", ""),
        source=Path(item),
        media=media,
    )


def _invalid(item: str, why: str) -> NoReturn:
    raise _Skipped("manifest row invalid", item, f"{why}")


def _manifest_time(item: str, text: str) -> int:
    if text.lstrip("-").isdigit():
        return int(text)
    stamp = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    if pd.isna(stamp):
        _invalid(item, f"unreadable timestamp {text!r} (ISO 8601 or epoch seconds)")
    return int(stamp.timestamp())


def _manifest_int(item: str, what: str, text: str) -> int | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return _invalid(item, f"{what} {text!r} is not an integer")


def _manifest_media(item: str, rel: str, root: Path, child_index: int) -> _Media:
    relative = PurePosixPath(rel.replace("\\", "/"))
    path = (root / relative).resolve()
    if relative.is_absolute() or ".." in relative.parts or not _inside(root, path):
        raise _Skipped("path outside folder", item, f"media path {rel!r} leaves the dataset folder {root}")
    if not path.is_file():
        raise _Skipped("media missing", item, f"media {rel!r} not found")
    if path.stat().st_size == 0:
        raise _Skipped("empty media file", item, f"{rel!r} is empty")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        thumbs = [path.with_suffix(s) for s in IMAGE_SUFFIXES if path.with_suffix(s).is_file()]
        return _Media(path.stem, "video", path, thumbs[0] if thumbs else None, child_index)
    if suffix in IMAGE_SUFFIXES:
        return _Media(path.stem, "image", path, None, child_index)
    raise _Skipped("manifest row invalid", item, f"{rel!r} is neither an image nor a video")
