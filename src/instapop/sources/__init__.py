"""Readers of a profile's posts, one per input format, all returning the same records.

Formats read: an Instaloader profile folder (:mod:`instapop.sources.instaloader`,
its bounded JSON reading in :mod:`instapop.sources.jsonfile`), a
``manifest.csv`` (:mod:`instapop.sources.manifest`), a Meta Business Suite posts
export CSV (:mod:`instapop.sources.business_suite`) and a folder of Graph API
media pages (:mod:`instapop.sources.graph_api`); the last two name posts, not
files, and :mod:`instapop.sources.matching` finds their media in a folder.
:func:`source_format` tells the format from the path, :func:`read_source` reads it.
A reader never labels anything: ``instapop.ingest`` turns the records into
tables, follower estimates and labels, so changing the number of classes
or the window never means reading the files again.

The records (frozen dataclasses in :mod:`instapop.sources.records`):

- :class:`Post` -- one post: ``post_id``, ``timestamp`` (epoch seconds UTC),
  ``likes``, ``comments``, ``media`` (a tuple of :class:`Media`), ``source``
  (the file or ``file:line``, for messages); optional ``shortcode``,
  ``caption``, ``post_type``, ``reach``, ``shares``, ``saves``, ``views`` (None
  when unknown), ``flags`` (e.g. ``"partial"``, ``"bytes replaced"``) and
  ``missing`` (media the metadata names but the folder lacks).
- :class:`Media` -- one image or video: ``media_id`` (unique in the profile),
  ``media_type`` (``"image"``/``"video"``), ``path``, ``thumbnail`` (a video's
  cover or None), ``child_index`` (1-based in a carousel, 0 otherwise); a video
  whose file is absent is ``cover_only``, its cover its ``path`` and ``thumbnail``.
- :class:`Skipped` -- one item left out: ``reason`` (the category counted in
  the summary), ``item`` (file or ``file:line``), ``detail`` (a sentence naming
  the item and the reason).
- :class:`SourceData` -- what one reader returns: ``posts``, ``skipped``,
  ``follower_files`` (files holding a follower count), ``side_files`` (counts
  of recognised files not needed, by kind), ``orphan_media`` and
  ``one_post_per_second`` (Instaloader: two posts in one second are one post read
  twice; exports and manifests: a post's id is its identity).

A new reader raises :class:`ItemSkipped` for a bad item inside its loop and
collects the records; :mod:`instapop.sources.fields` holds the shared checks
(counts, timestamps, text) so every format gives the same reasons.
"""

from __future__ import annotations

import csv
from pathlib import Path

from instapop.errors import BadInputError, InstapopError
from instapop.sources.business_suite import is_business_suite_header, read_business_suite
from instapop.sources.graph_api import is_graph_page, read_graph_pages
from instapop.sources.instaloader import profile_follower_count, read_instaloader_folder
from instapop.sources.jsonfile import OversizedFileError, load_instaloader_json, read_json_file
from instapop.sources.manifest import MANIFEST_COLUMNS, MANIFEST_NAME, read_manifest
from instapop.sources.matching import ExportOptions
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
    "ExportOptions",
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
    "source_format",
]

INSTALOADER, MANIFEST, BUSINESS_SUITE, GRAPH_API = "instaloader", "manifest", "business-suite", "graph-api"


def source_format(path: Path, max_json_bytes: int) -> str:
    """Which reader a path calls for: ``manifest``, ``business-suite``, ``graph-api`` or ``instaloader``.

    A CSV file is a manifest when it has the manifest's columns, else an export; a folder
    is a manifest folder (``manifest.csv``), a folder of Graph API pages (its first
    readable ``*.json`` is a ``{"data": [...]}`` page), else an Instaloader folder.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
            header = [c.strip() for c in next(csv.reader(fh), [])]
        if all(c in header for c in MANIFEST_COLUMNS) or is_business_suite_header(header):
            return MANIFEST if "media" in header else BUSINESS_SUITE
        # Neither: the reader whose columns it half has explains what is missing.
        return MANIFEST if set(header) & set(MANIFEST_COLUMNS) else BUSINESS_SUITE
    if path.is_dir() and (path / MANIFEST_NAME).is_file():
        return MANIFEST
    if path.is_dir():
        for page in sorted(p for p in path.glob("*.json") if not p.name.lower().startswith("insights")):
            try:
                data, _ = read_json_file(page, max_json_bytes)
            except BadInputError:
                continue
            return GRAPH_API if is_graph_page(data) else INSTALOADER
    return INSTALOADER


def read_source(
    path: Path, max_json_bytes: int, now: float | None = None, export: ExportOptions | None = None
) -> SourceData:
    """Read a profile's posts with the reader its path calls for (see :func:`source_format`).

    Parameters
    ----------
    path : an Instaloader profile folder, a folder holding ``manifest.csv``, the
        path of a manifest CSV (its folder is the dataset folder), a Business Suite
        posts export CSV, or a folder of Graph API media pages.
    max_json_bytes : largest (decompressed) metadata file read.
    now : posts dated after this (epoch seconds, default: now) are skipped.
    export : media folder, media mapping, time zone and date order of an export
        (default: ``media/`` beside it, UTC, date order from the header's language).

    Returns
    -------
    SourceData

    Raises
    ------
    InstapopError
        When the path does not exist or holds nothing readable.
    """
    path = Path(path)
    if not path.exists():
        raise InstapopError(f"{path}: no such file or folder")
    export = export or ExportOptions()
    kind = source_format(path, max_json_bytes)
    if kind == BUSINESS_SUITE:
        return read_business_suite(path, export, now)
    if kind == MANIFEST:
        return read_manifest(path, path.parent.resolve(), now) if path.is_file() else read_manifest(
            path / MANIFEST_NAME, path.resolve(), now
        )
    if not path.is_dir():
        raise InstapopError(f"{path}: no such folder")
    if kind == GRAPH_API:
        return read_graph_pages(path, max_json_bytes, export, now)
    return read_instaloader_folder(path.resolve(), max_json_bytes, now)
