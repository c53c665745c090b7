"""Read an Instaloader profile folder into :class:`Post` records.

Per post, Instaloader writes ``<base>.json.xz`` (or ``<base>.json`` with
``--no-compress-json``) in the envelope ``{"node": {...}, "instaloader":
{"node_type": "Post", ...}}`` next to its media. Media are matched by the JSON
file's own stem, so custom ``--filename-pattern`` downloads work too:

- an image post: ``<base>.jpg``;
- a video post: ``<base>.mp4`` with its cover ``<base>.jpg``, or, as 4.13 writes
  it, ``<base>_1.mp4`` with the cover ``<base>_2.jpg`` (any one numbered video
  with any numbered image, when the metadata says the post is one video); a video whose
  file was not downloaded (``--no-videos``) but whose cover ``<base>.jpg`` was is kept as a
  *cover-only* video (:attr:`Media.cover_only`: the cover is its path and its thumbnail);
- a carousel: ``<base>_1 … _N``, each child typed by its own metadata (a video child
  without its ``.mp4`` is cover-only too); children not downloaded are listed in the
  post's ``missing`` and the post is flagged ``partial`` (it is dropped only when none
  is there).

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

Views are the largest positive count among ``video_view_count``, ``video_play_count``,
``view_count``, ``play_count`` and ``iphone_struct``'s ``view_count``, ``play_count``;
unknown (None) when all are null or 0.

Instaloader's other files are recognised and counted, never read as posts:
``<base>_comments.json`` (``--comments``), ``<base>_location.txt``, the caption
``<base>.txt`` (read when the JSON has no caption), ``id``,
``<date>_profile_pic.jpg``, resume files (``iterator_*.json.xz``). Media that no
metadata names are listed as orphans. Nothing is decoded here: media are checked
for existence and size only.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from instapop.errors import BadInputError, InstapopError
from instapop.media_types import CAROUSEL, IMAGE, VIDEO
from instapop.sources import fields
from instapop.sources.jsonfile import OversizedFileError, read_json_file
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

_TYPENAMES = {"GraphImage": IMAGE, "GraphVideo": VIDEO, "GraphSidecar": CAROUSEL}
_IPHONE_MEDIA_TYPES = {1: IMAGE, 2: VIDEO, 8: CAROUSEL}
_RESUME_NODE_TYPES = ("FrozenNodeIterator",)
_METADATA_SUFFIXES = (".json.xz", ".json")
# Side files by the end of their name (Instaloader's own names).
_SIDE_ENDINGS = {
    "_comments.json": "comments",
    "_comments.json.xz": "comments",
    "_location.txt": "location",
    "_profile_pic.jpg": "profile pic",
}
_NUMBERED = re.compile(r"(?P<base>.+)_(?P<n>\d+)(?P<suffix>\.[^.]+)")


@dataclass
class _Folder:
    """One listing of the profile folder: usable files with their sizes, refused symlinks."""

    root: Path
    sizes: dict[str, int]
    refused: set[str]
    # "<base>" -> [(n, "<base>_<n>.<ext>")] for every numbered media file, by n
    numbered: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


def read_instaloader_folder(root: Path, max_json_bytes: int, now: float | None = None) -> SourceData:
    """Read every post of an Instaloader profile folder.

    Parameters
    ----------
    root : the profile folder.
    max_json_bytes : largest (decompressed) metadata file read.
    now : posts dated after this (epoch seconds, default: now) are skipped as "future date".

    Returns
    -------
    SourceData: posts, skipped items, profile JSONs (follower counts), side-file
    counts and orphan media.

    Raises
    ------
    InstapopError
        When the folder holds no Instaloader metadata.
    """
    root = Path(root)
    skipped: list[Skipped] = []
    folder = _scan_folder(root, skipped)
    side_files: Counter[str] = Counter()
    metadata = []
    for name in sorted(folder.sizes):
        kind = _side_kind(name)
        if kind:
            side_files[kind] += 1
        elif _metadata_base(name) is not None:
            metadata.append(name)
    if not metadata:
        raise InstapopError(f"{root}: no Instaloader metadata (*.json.xz, *.json) and no manifest.csv")
    posts: list[Post] = []
    profile_jsons: list[Path] = []
    for name in tqdm(metadata, desc="reading posts", unit="file", disable=None):
        path = root / name
        try:
            if folder.sizes[name] == 0:  # cheaper than opening it: thousands of these must be quick
                raise ItemSkipped("malformed JSON", path, "empty file (0 bytes)")
            data, replaced = _load_envelope(path, max_json_bytes)
            node_type = data["instaloader"].get("node_type")
            if node_type == "Profile":
                profile_jsons.append(_checked_profile(path, data))
            elif node_type == "Post":
                posts.append(_post_from_node(path, data["node"], folder, replaced, now))
            elif node_type in _RESUME_NODE_TYPES:
                side_files["resume"] += 1
            else:
                raise ItemSkipped("not a post", path, f"node_type {fields.short(node_type)} is not a post")
        except ItemSkipped as skip:
            skipped.append(skip.record)
    bases = {_metadata_base(name) for name in metadata}
    orphans = _unclaimed_media(folder, posts, bases, side_files)
    return SourceData(
        tuple(posts),
        tuple(skipped),
        tuple(profile_jsons),
        dict(sorted(side_files.items())),
        tuple(orphans),
        one_post_per_second=True,
    )


def profile_follower_count(data: dict[str, Any]) -> int | None:
    """The follower count in an Instaloader Profile JSON, or None if it holds none.

    Parameters
    ----------
    data : the decoded file (``{"node": ..., "instaloader": ...}``) or a bare node.
    """
    node = data.get("node", data)
    if not isinstance(node, dict):
        return None
    count = _dict(node.get("edge_followed_by")).get("count", node.get("follower_count"))
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


# --------------------------------------------------------------------------- the folder


def _scan_folder(root: Path, skipped: list[Skipped]) -> _Folder:
    folder = _Folder(root, {}, set())
    with os.scandir(root) as entries:
        for entry in entries:
            if not _utf8(entry.name):  # the run's CSV and JSON files could not name it
                shown = str(root / entry.name).encode("utf-8", "replace").decode()
                skipped.append(Skipped.because("file name not UTF-8", shown, "file name is not valid UTF-8"))
                continue
            refusal = _symlink_refusal(root, entry) if entry.is_symlink() else None
            if refusal:
                folder.refused.add(entry.name)
                skipped.append(Skipped.because(*refusal))
            elif entry.is_file():
                folder.sizes[entry.name] = entry.stat().st_size
                numbered = _NUMBERED.fullmatch(entry.name)
                if numbered and numbered["suffix"] in MEDIA_SUFFIXES:
                    folder.numbered.setdefault(numbered["base"], []).append((int(numbered["n"]), entry.name))
    for names in folder.numbered.values():
        names.sort()
    return folder


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def _symlink_refusal(root: Path, entry: os.DirEntry) -> tuple[str, str, str] | None:
    """(reason, item, why) for a symlink that leads out of the folder or nowhere; None if it stays inside."""
    try:
        target = Path(entry.path).resolve(strict=True)
    except (OSError, RuntimeError):  # a missing target, or a loop (RuntimeError before Python 3.13)
        return "broken symlink", entry.path, "symlink to nothing (its target is missing, or a loop)"
    if not _inside(root, target):
        return "symlink out of folder", entry.path, "symlink leading out of the folder"
    return None


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def _metadata_base(name: str) -> str | None:
    for suffix in _METADATA_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _side_kind(name: str) -> str | None:
    """The kind of an Instaloader side file, or None for metadata, media and unknown files."""
    for ending, kind in _SIDE_ENDINGS.items():
        if name.endswith(ending):
            return kind
    if name == "id":
        return "id"
    if name.startswith("iterator_") and _metadata_base(name) is not None:
        return "resume"
    return None


def _unclaimed_media(
    folder: _Folder, posts: list[Post], bases: set[str], side_files: Counter[str]
) -> list[str]:
    """Orphan media (no metadata names them); other unused files are counted in ``side_files``."""
    used = {m.path.name for post in posts for m in post.media}
    used |= {m.thumbnail.name for post in posts for m in post.media if m.thumbnail}
    orphans = []
    for name in sorted(folder.sizes):
        if name in used or _side_kind(name) or _metadata_base(name) is not None:
            continue
        stem, dot, suffix = name.rpartition(".")
        numbered = _NUMBERED.fullmatch(name)
        owner = (
            stem if stem in bases else numbered["base"] if numbered and numbered["base"] in bases else None
        )
        if dot and f".{suffix}" in MEDIA_SUFFIXES:
            if owner is None:
                orphans.append(str(folder.root / name))
            else:
                side_files["media not used"] += 1  # a file of an excluded post, or an extra copy
        elif f".{suffix}" == ".txt" and owner is not None:
            side_files["caption"] += 1
        else:
            side_files["other"] += 1
    return orphans


# --------------------------------------------------------------------------- one post


def _load_envelope(path: Path, max_bytes: int) -> tuple[dict[str, Any], bool]:
    try:
        data, replaced = read_json_file(path, max_bytes)
    except OversizedFileError as err:
        raise ItemSkipped("file too large", path, str(err).removeprefix(f"{path}: ")) from err
    except BadInputError as err:
        raise ItemSkipped("malformed JSON", path, str(err).removeprefix(f"{path}: ")) from err
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("instaloader"), dict)
        or not isinstance(data.get("node"), dict)
    ):
        raise ItemSkipped(
            "malformed JSON", path, "no Instaloader envelope ({'node': ..., 'instaloader': ...})"
        )
    return data, replaced


def _checked_profile(path: Path, data: dict[str, Any]) -> Path:
    if profile_follower_count(data) is None:
        raise ItemSkipped("count missing", path, "profile JSON without a positive follower count")
    return path


def _post_from_node(
    path: Path, node: dict[str, Any], folder: _Folder, replaced: bool, now: float | None
) -> Post:
    iphone = _dict(node.get("iphone_struct"))
    base = _metadata_base(path.name)
    kind = _post_kind(path, node, iphone)
    if kind == CAROUSEL:
        media, missing = _carousel_media(folder, base, _child_types(path, node, iphone), path)
    else:
        media, missing = (_single_media(folder, base, kind, path),), ()
    flags = (("partial",) if missing else ()) + (("bytes replaced",) if replaced else ())
    return Post(
        post_id=_post_id(node, iphone, base),
        timestamp=fields.timestamp(
            path,
            _first_given(
                node.get("taken_at_timestamp"), node.get("date"), node.get("taken_at"), iphone.get("taken_at")
            ),
            now,
        ),
        likes=_likes(path, node, iphone),
        comments=_comments(path, node, iphone),
        media=media,
        source=str(path),
        shortcode=_id_text(node.get("shortcode") or node.get("code") or iphone.get("code")),
        caption=_caption(node) or _caption_file(folder, base),
        post_type=kind,
        views=_views(node, iphone),
        flags=flags,
        missing=missing,
    )


def _post_kind(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> str:
    typename = node.get("__typename")
    if isinstance(typename, str) and typename.removeprefix("XDT") in _TYPENAMES:
        return _TYPENAMES[typename.removeprefix("XDT")]
    media_type = node.get("media_type", iphone.get("media_type"))
    if isinstance(media_type, int) and not isinstance(media_type, bool) and media_type in _IPHONE_MEDIA_TYPES:
        return _IPHONE_MEDIA_TYPES[media_type]
    if isinstance(node.get("is_video"), bool):
        return VIDEO if node["is_video"] else IMAGE
    raise ItemSkipped("unknown post type", path, f"unknown post type (__typename {fields.short(typename)})")


def _child_types(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> list[str]:
    """Each carousel child's own type: ``is_video`` of GraphQL children, else the API ``media_type``."""
    edges = _dict(node.get("edge_sidecar_to_children")).get("edges")
    if isinstance(edges, list) and edges:
        return [
            VIDEO if _dict(_dict(edge).get("node")).get("is_video") is True else IMAGE for edge in edges
        ]
    children = node.get("carousel_media") or iphone.get("carousel_media")
    if isinstance(children, list) and children:
        return [VIDEO if _dict(child).get("media_type") == 2 else IMAGE for child in children]
    raise ItemSkipped("unknown post type", path, "carousel post without children in its metadata")


def _carousel_media(
    folder: _Folder, base: str, kinds: list[str], source: Path
) -> tuple[tuple[Media, ...], tuple[str, ...]]:
    """The children on disk, and a description of each one missing; skipped when none is there."""
    found: list[Media] = []
    missing: list[str] = []
    for i, kind in enumerate(kinds, start=1):
        try:
            found.append(_find_media(folder, f"{base}_{i}", kind, i, source))
        except ItemSkipped as skip:
            missing.append(skip.why)
    if not found:
        raise ItemSkipped("media missing", source, f"no carousel item downloaded ({'; '.join(missing)})")
    return tuple(found), tuple(missing)


def _single_media(folder: _Folder, base: str, kind: str, source: Path) -> Media:
    """The media of a one-item post; a video may be numbered, ``<base>_1.mp4`` + cover ``<base>_2.jpg``."""
    if kind == VIDEO and _first_present(folder, base, VIDEO_SUFFIXES) is None:
        numbered = folder.numbered.get(base, [])
        videos = [name for _, name in numbered if name.endswith(VIDEO_SUFFIXES)]
        if len(videos) == 1:
            stem = videos[0].rpartition(".")[0]
            covers = [name for _, name in numbered if name.endswith(IMAGE_SUFFIXES)]
            path = _existing(folder, stem, VIDEO_SUFFIXES, source, VIDEO)
            return Media(stem, VIDEO, path, folder.root / covers[0] if covers else None, 0)
    return _find_media(folder, base, kind, 0, source)


def _find_media(folder: _Folder, stem: str, media_type: str, child_index: int, source: Path) -> Media:
    if media_type == VIDEO:
        cover = _first_present(folder, stem, IMAGE_SUFFIXES)
        if cover is not None and _first_present(folder, stem, VIDEO_SUFFIXES) is None:
            # Downloaded with --no-videos: the cover is all there is, and it stands for the video.
            cover = _existing(folder, stem, IMAGE_SUFFIXES, source, "cover")
            return Media.cover_of_video(stem, cover, child_index)
        path = _existing(folder, stem, VIDEO_SUFFIXES, source, VIDEO, f" and its cover {stem}.jpg")
        return Media(stem, VIDEO, path, cover, child_index)
    return Media(stem, IMAGE, _existing(folder, stem, IMAGE_SUFFIXES, source, IMAGE), None, child_index)


def _existing(
    folder: _Folder, stem: str, suffixes: tuple[str, ...], source: Path, what: str, also: str = ""
) -> Path:
    """The file ``stem`` + one of ``suffixes``; ``also`` names what else is missing in the message."""
    path = _first_present(folder, stem, suffixes)
    if path is None:
        refused = [stem + s for s in suffixes if stem + s in folder.refused]
        why = f"{refused[0]} is a refused symlink" if refused else "not downloaded?"
        raise ItemSkipped("media missing", source, f"{what} {stem}{suffixes[0]}{also} missing ({why})")
    if folder.sizes[path.name] == 0:
        raise ItemSkipped("empty media file", source, f"{path.name} is empty")
    return path


def _first_present(folder: _Folder, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        if stem + suffix in folder.sizes:
            return folder.root / (stem + suffix)
    return None


# --------------------------------------------------------------------------- fields


def _post_id(node: dict[str, Any], iphone: dict[str, Any], base: str) -> str:
    # The web node's ``id`` is "<pk>_<owner id>"; ``pk`` is the media id itself.
    for value in (node.get("pk"), node.get("id"), iphone.get("pk"), node.get("shortcode"), node.get("code")):
        if _id_text(value):
            return _id_text(value)
    return base


def _id_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return fields.text(value)


def _likes(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> int:
    if (
        node.get("like_and_view_counts_disabled") is True
        or iphone.get("like_and_view_counts_disabled") is True
    ):
        raise ItemSkipped("likes hidden", path, "likes hidden by the profile (like_and_view_counts_disabled)")
    value = _first_given(
        _edge_count(node, "edge_media_preview_like"),
        _edge_count(node, "edge_liked_by"),
        node.get("like_count"),
        iphone.get("like_count"),
    )
    if fields.number(path, "likes", value) == -1:
        raise ItemSkipped("likes hidden", path, "likes hidden by the profile (count -1)")
    return fields.count(path, "likes", value)


def _comments(path: Path, node: dict[str, Any], iphone: dict[str, Any]) -> int:
    value = _first_given(
        _edge_count(node, "edge_media_to_comment"),
        _edge_count(node, "edge_media_to_parent_comment"),
        node.get("comments"),
        node.get("comment_count"),
        iphone.get("comment_count"),
    )
    return fields.count(path, "comments", value)


def _views(node: dict[str, Any], iphone: dict[str, Any]) -> int | None:
    """The largest positive view or play count the node holds; None when every one is null or 0.

    Instagram fills these unevenly (GraphQL ``video_view_count``/``video_play_count``, the
    web node's and ``iphone_struct``'s ``view_count``/``play_count``) and often leaves them
    null or 0 for a reel that was watched: a count that is absent or not a positive number
    means unknown, never "not watched", and never makes the post unusable.
    """
    counts = [
        *(node.get(key) for key in ("video_view_count", "video_play_count", "view_count", "play_count")),
        *(iphone.get(key) for key in ("view_count", "play_count")),
    ]
    numbers = [c for c in counts if isinstance(c, int | float) and not isinstance(c, bool)]
    return max((int(c) for c in numbers if 0 < c <= fields.MAX_COUNT), default=None)


def _edge_count(node: dict[str, Any], key: str) -> Any:
    return _dict(node.get(key)).get("count")


def _first_given(*values: Any) -> Any:
    """The first value that could be a number (a number or a string); None when there is none."""
    return next((value for value in values if isinstance(value, int | float | str)), None)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _caption(node: dict[str, Any]) -> str:
    edges = _dict(node.get("edge_media_to_caption")).get("edges")
    if isinstance(edges, list) and edges:
        return fields.text(_dict(_dict(edges[0]).get("node")).get("text"))
    caption = node.get("caption")
    return fields.text(caption.get("text") if isinstance(caption, dict) else caption)


def _caption_file(folder: _Folder, base: str) -> str:
    name = f"{base}.txt"
    if name not in folder.sizes:
        return ""
    try:
        return (folder.root / name).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # unreadable: the post is still usable without its caption
        return ""
