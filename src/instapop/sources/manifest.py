"""Read a ``manifest.csv`` (one post a row) into :class:`Post` records.

Columns: ``post_id,timestamp,likes,comments,media`` (and optionally
``shortcode``, ``caption``, ``views``); ``timestamp`` is ISO 8601 or epoch seconds;
``media`` lists paths relative to the manifest's folder, separated by ``;`` or
``|`` (more than one: a carousel). A video's thumbnail is an image of the same
name beside it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path, PurePosixPath
from typing import NoReturn

import pandas as pd
from tqdm import tqdm

from instapop.errors import InstapopError
from instapop.media_types import CAROUSEL, IMAGE, VIDEO
from instapop.sources import fields
from instapop.sources.records import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ItemSkipped,
    Media,
    Post,
    Skipped,
    SourceData,
)

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS = ("post_id", "timestamp", "likes", "comments", "media")


def read_manifest(path: Path, root: Path, now: float | None = None) -> SourceData:
    """Posts from a manifest CSV; media paths are relative to ``root`` and may not leave it.

    Parameters
    ----------
    path : the manifest.
    root : the dataset folder (resolved).
    now : posts dated after this (epoch seconds, default: now) are skipped as "future date".

    Returns
    -------
    SourceData with the posts and the rows skipped (``item`` is ``manifest:line``).

    Raises
    ------
    InstapopError
        When the manifest lacks a column or has no rows.
    """
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in MANIFEST_COLUMNS if c not in columns]
        if missing:
            raise InstapopError(
                f"{path}: manifest lacks columns {missing}; expected {list(MANIFEST_COLUMNS)}"
            )
        rows = [
            {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)} for row in reader
        ]
    if not rows:
        raise InstapopError(f"{path}: manifest has no rows")
    posts: list[Post] = []
    skipped: list[Skipped] = []
    for line, row in tqdm(list(enumerate(rows, start=2)), desc="reading manifest", unit="row", disable=None):
        try:
            posts.append(_post_from_row(f"{path}:{line}", row, root, now))
        except ItemSkipped as skip:
            skipped.append(skip.record)
    return SourceData(tuple(posts), tuple(skipped))


def _post_from_row(item: str, row: dict[str, str], root: Path, now: float | None) -> Post:
    paths = [p.strip() for p in re.split(r"[;|]", row["media"]) if p.strip()]
    if not paths:
        raise ItemSkipped("manifest row invalid", item, "no media paths")
    media = tuple(
        _manifest_media(item, rel, root, i if len(paths) > 1 else 0) for i, rel in enumerate(paths, start=1)
    )
    return Post(
        post_id=row["post_id"] or _invalid(item, "empty post_id"),
        timestamp=_manifest_time(item, row["timestamp"], now),
        likes=fields.count(item, "likes", row["likes"] or None),
        comments=fields.count(item, "comments", row["comments"] or None),
        media=media,
        source=item,
        shortcode=row.get("shortcode", ""),
        caption=row.get("caption", ""),
        post_type=CAROUSEL if len(media) > 1 else media[0].media_type,
        views=fields.count(item, "views", row["views"]) if row.get("views") else None,
    )


def _invalid(item: str, why: str) -> NoReturn:
    raise ItemSkipped("manifest row invalid", item, why)


def _manifest_time(item: str, text: str, now: float | None) -> int:
    try:
        seconds = fields.number(item, "timestamp", text or None)
    except ItemSkipped:
        stamp = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        if pd.isna(stamp):
            _invalid(item, f"unreadable timestamp {text!r} (ISO 8601 or epoch seconds)")
        seconds = stamp.timestamp()
    return fields.timestamp(item, seconds, now)


def _manifest_media(item: str, rel: str, root: Path, child_index: int) -> Media:
    relative = PurePosixPath(rel.replace("\\", "/"))
    try:
        path = (root / relative).resolve()
        is_file = path.is_file()
    except (OSError, RuntimeError, ValueError) as err:  # a loop, a NUL byte, a name too long
        raise ItemSkipped("media missing", item, f"media {rel!r} cannot be looked up ({err})") from err
    if relative.is_absolute() or ".." in relative.parts or not (path == root or root in path.parents):
        raise ItemSkipped("path outside folder", item, f"media path {rel!r} leaves the dataset folder {root}")
    if not is_file:
        raise ItemSkipped("media missing", item, f"media {rel!r} not found")
    if path.stat().st_size == 0:
        raise ItemSkipped("empty media file", item, f"{rel!r} is empty")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        thumbs = [path.with_suffix(s) for s in IMAGE_SUFFIXES if path.with_suffix(s).is_file()]
        return Media(path.stem, VIDEO, path, thumbs[0] if thumbs else None, child_index)
    if suffix in IMAGE_SUFFIXES:
        return Media(path.stem, IMAGE, path, None, child_index)
    raise ItemSkipped("manifest row invalid", item, f"{rel!r} is neither an image nor a video")
