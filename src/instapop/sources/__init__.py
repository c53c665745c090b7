"""Readers of a profile's posts, one per input format, all returning the same records.

Formats read: an Instaloader profile folder (:mod:`instapop.sources.instaloader`,
its bounded JSON reading in :mod:`instapop.sources.jsonfile`) and a
``manifest.csv`` (:mod:`instapop.sources.manifest`). :func:`read_source` picks
the reader from the path. A reader never labels anything: ``instapop.ingest``
turns the records into tables, follower estimates and labels, so changing the
number of classes or the window never means reading the files again.

The records (frozen dataclasses in :mod:`instapop.sources.records`):

- :class:`Post` -- one post: ``post_id``, ``timestamp`` (epoch seconds UTC),
  ``likes``, ``comments``, ``media`` (a tuple of :class:`Media`), ``source``
  (the file or ``file:line``, for messages); optional ``shortcode``,
  ``caption``, ``post_type``, ``reach``, ``shares``, ``saves`` (None when
  unknown), ``flags`` (e.g. ``"partial"``, ``"bytes replaced"``) and
  ``missing`` (media the metadata names but the folder lacks).
- :class:`Media` -- one image or video: ``media_id`` (unique in the profile),
  ``media_type`` (``"image"``/``"video"``), ``path``, ``thumbnail`` (a video's
  cover or None), ``child_index`` (1-based in a carousel, 0 otherwise).
- :class:`Skipped` -- one item left out: ``reason`` (the category counted in
  the summary), ``item`` (file or ``file:line``), ``detail`` (a sentence naming
  the item and the reason).
- :class:`SourceData` -- what one reader returns: ``posts``, ``skipped``,
  ``follower_files`` (files holding a follower count), ``side_files`` (counts
  of recognised files not needed, by kind) and ``orphan_media``.

A new reader raises :class:`ItemSkipped` for a bad item inside its loop and
collects the records; :mod:`instapop.sources.fields` holds the shared checks
(counts, timestamps, text) so every format gives the same reasons.
"""

from __future__ import annotations

from pathlib import Path

from instapop.errors import InstapopError
from instapop.sources.instaloader import profile_follower_count, read_instaloader_folder
from instapop.sources.jsonfile import OversizedFileError, load_instaloader_json, read_json_file
from instapop.sources.manifest import MANIFEST_COLUMNS, MANIFEST_NAME, read_manifest
from instapop.sources.records import (
    IMAGE_SUFFIXES,
    MEDIA_SUFFIXES,
    VIDEO_SUFFIXES,
    ItemSkipped,
    Media,
    Post,
    Skipped,
    SourceData,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "MEDIA_SUFFIXES",
    "VIDEO_SUFFIXES",
    "ItemSkipped",
    "Media",
    "OversizedFileError",
    "Post",
    "Skipped",
    "SourceData",
    "load_instaloader_json",
    "profile_follower_count",
    "read_instaloader_folder",
    "read_json_file",
    "read_manifest",
    "read_source",
]


def read_source(path: Path, max_json_bytes: int, now: float | None = None) -> SourceData:
    """Read a profile's posts with the reader its path calls for.

    Parameters
    ----------
    path : an Instaloader profile folder, a folder holding ``manifest.csv``, or
        the path of a manifest CSV (its folder is the dataset folder).
    max_json_bytes : largest (decompressed) metadata file read.
    now : posts dated after this (epoch seconds, default: now) are skipped.

    Returns
    -------
    SourceData

    Raises
    ------
    InstapopError
        When the path does not exist or holds nothing readable.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_manifest(path, path.parent.resolve(), now)
    if not path.is_dir():
        raise InstapopError(f"{path}: no such folder")
    if (path / MANIFEST_NAME).is_file():
        return read_manifest(path / MANIFEST_NAME, path.resolve(), now)
    return read_instaloader_folder(path.resolve(), max_json_bytes, now)
