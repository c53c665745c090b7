"""Attach a brand's own media files to posts read from an export (Business Suite CSV, Graph API pages).

An export names posts, not files, so the files are found in a media folder by a
key each post carries, in this order:

1. a user-given mapping CSV ``post_id,file[,position]`` (``file`` relative to the
   media folder; ``position`` 1, 2, ... orders a carousel);
2. the shortcode from the permalink (``/p/<code>/``, ``/reel/<code>/``, ``/tv/<code>/``);
3. the post id.

A key ``K`` matches ``K.<ext>`` (a single image or video) and ``K_1.<ext>``,
``K_2.<ext>``... (carousel items in that order). An image with the same name as a
video (``K.jpg`` beside ``K.mp4``) is the video's thumbnail; a video post (a reel) with only
``K.jpg`` is kept as a cover-only video, modelled by that thumbnail. A post whose key
matches no file is skipped ("no media file"); a file no post claims is listed
as orphan media. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from instapop.errors import InstapopError
from instapop.media_types import IMAGE, VIDEO
from instapop.sources.records import IMAGE_SUFFIXES, MEDIA_SUFFIXES, VIDEO_SUFFIXES, Media, Post, Skipped

_PERMALINK = re.compile(r"/(?:p|reel|reels|tv)/([A-Za-z0-9_-]+)")
_CHILD = re.compile(r"^(.+)_(\d{1,3})$")
MAPPING_COLUMNS = ("post_id", "file")


@dataclass(frozen=True)
class ExportOptions:
    """How to read an export and where its media are.

    Attributes
    ----------
    media_dir : the brand's media folder (default: ``media/`` beside the export, else its folder).
    media_map : a ``post_id,file[,position]`` CSV naming each post's files.
    timezone : the zone an export's times are written in (IANA name; Meta writes the account's zone).
    date_order : ``"auto"`` (English exports month first, other languages day first, unless a
        date in the file rules that out), ``"mdy"`` or ``"dmy"``.
    """

    media_dir: Path | None = None
    media_map: Path | None = None
    timezone: str = "UTC"
    date_order: str = "auto"


def shortcode_from_permalink(permalink: str) -> str:
    """The shortcode of ``https://www.instagram.com/p/<code>/`` or ``/reel/<code>/``; "" when none."""
    found = _PERMALINK.search(permalink or "")
    return found.group(1) if found else ""


def default_media_dir(export: Path) -> Path:
    """``media/`` beside (or inside, for a folder) the export if it exists, else the export's folder."""
    folder = export if export.is_dir() else export.parent
    return folder / "media" if (folder / "media").is_dir() else folder


class MediaFolder:
    """The media files of a folder (recursively), found by name key."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise InstapopError(f"{root}: media folder not found (give it with --media)")
        self.root = root.resolve()
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        self.children: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for path in sorted(self.root.rglob("*")):
            # A link leading out of the folder is not the brand's file: never read through it.
            inside = not path.is_symlink() or self.root in path.resolve().parents
            if inside and path.is_file() and path.suffix.lower() in MEDIA_SUFFIXES:
                self.by_stem[path.stem].append(path)
        for stem in self.by_stem:
            child = _CHILD.match(stem)
            if child:
                self.children[child.group(1)].append((int(child.group(2)), stem))
        self.claimed: set[Path] = set()

    def stems_for(self, key: str) -> list[tuple[int, str]]:
        """(position, stem) of the files a key names: its carousel items, else the single file."""
        if key in self.children:
            return sorted(self.children[key])
        return [(0, key)] if key in self.by_stem else []

    def media(self, stem: str, position: int) -> Media:
        """The :class:`Media` of one stem: a video (with a same-name image as thumbnail) or an image."""
        return self.media_of(self.by_stem[stem], position)

    def media_of(self, files: list[Path], position: int) -> Media:
        """The :class:`Media` of files sharing a stem (a video first, an image as its thumbnail)."""
        stem = files[0].stem
        videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if videos:
            self.claimed.update([videos[0], *images[:1]])
            return Media(stem, VIDEO, videos[0], images[0] if images else None, position)
        self.claimed.add(images[0])
        return Media(stem, IMAGE, images[0], None, position)

    def unclaimed(self) -> list[str]:
        """Media files no post took, as paths."""
        return [str(p) for files in self.by_stem.values() for p in files if p not in self.claimed]


def attach_media(
    posts: list[Post], media_dir: Path, media_map: Path | None = None
) -> tuple[list[Post], list[Skipped], list[str]]:
    """Give every post its media files.

    Parameters
    ----------
    posts : posts read from an export, ``media`` empty.
    media_dir : the folder of the brand's files.
    media_map : optional ``post_id,file[,position]`` CSV; it overrides the name keys for the posts it names.

    Returns
    -------
    (posts with media, posts skipped for want of media, media files no post claimed).
    """
    folder = MediaFolder(media_dir)
    mapped = read_media_map(media_map, folder.root) if media_map else {}
    kept: list[Post] = []
    skipped: list[Skipped] = []
    for post in posts:
        if post.post_id in mapped:
            media = tuple(_mapped_media(folder, mapped[post.post_id]))
        else:
            media = _named_media(folder, post)
        media = _cover_only(post, media)
        empty = [m for m in media if m.path.stat().st_size == 0]
        if empty:
            skipped.append(Skipped.because("empty media file", post.source, f"{empty[0].path} is empty"))
        elif not media:
            keys = " or ".join(f"{k}.*, {k}_1.*" for k in _keys(post))
            why = f"post {post.post_id}: no media file named {keys} in {folder.root}"
            skipped.append(Skipped.because("no media file", post.source, why))
        else:
            kept.append(dataclasses.replace(post, media=media))
    return kept, skipped, folder.unclaimed()


def _cover_only(post: Post, media: tuple[Media, ...]) -> tuple[Media, ...]:
    """A video post whose one file is a picture: its thumbnail was saved, not the video; it stands for it."""
    if post.post_type == "video" and len(media) == 1 and media[0].media_type == "image":
        return (Media.cover_of_video(media[0].media_id, media[0].path, media[0].child_index),)
    return media


def _keys(post: Post) -> list[str]:
    return [k for k in dict.fromkeys([post.shortcode, post.post_id]) if k]


def _named_media(folder: MediaFolder, post: Post) -> tuple[Media, ...]:
    for key in _keys(post):
        stems = folder.stems_for(key)
        if stems:
            return tuple(folder.media(stem, position) for position, stem in stems)
    return ()


def _mapped_media(folder: MediaFolder, files: list[tuple[int, Path]]) -> list[Media]:
    """The files a mapping names, in position order; a video's same-name image beside it is its thumbnail."""
    ordered = [path for _, path in sorted(files, key=lambda f: f[0])]
    media = []
    for i, path in enumerate(ordered, start=1):
        beside = [path.with_suffix(s) for s in IMAGE_SUFFIXES if path.with_suffix(s).is_file()]
        thumbs = beside if path.suffix.lower() in VIDEO_SUFFIXES else []
        media.append(folder.media_of([path, *thumbs], i if len(ordered) > 1 else 0))
    return media


def read_media_map(path: Path, root: Path) -> dict[str, list[tuple[int, Path]]]:
    """A ``post_id,file[,position]`` CSV as {post id: [(position, file)]}; files must lie in ``root``.

    Raises
    ------
    InstapopError
        When the CSV lacks a column, or names a file outside the media folder or not there.
    """
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip().lower() for c in reader.fieldnames or []]
        missing = [c for c in MAPPING_COLUMNS if c not in columns]
        if missing:
            raise InstapopError(
                f"{path}: media mapping lacks columns {missing}; expected post_id,file[,position]"
            )
        mapping: dict[str, list[tuple[int, Path]]] = defaultdict(list)
        for line, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
            file = (root / row["file"]).resolve()
            if root not in file.parents:
                raise InstapopError(f"{path}:{line}: {row['file']!r} is outside the media folder {root}")
            if not file.is_file() or file.suffix.lower() not in MEDIA_SUFFIXES:
                raise InstapopError(f"{path}:{line}: {row['file']!r} is not an image or video in {root}")
            position = row.get("position") or "0"
            if not position.isdigit():
                raise InstapopError(f"{path}:{line}: position {position!r} is not a whole number")
            mapping[row["post_id"]].append((int(position), file))
    return dict(mapping)
