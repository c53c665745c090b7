"""The records every source reader returns (documented in the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic")
VIDEO_SUFFIXES = (".mp4", ".mov")
MEDIA_SUFFIXES = IMAGE_SUFFIXES + VIDEO_SUFFIXES


@dataclass(frozen=True)
class Media:
    """One image or video of a post.

    Attributes
    ----------
    media_id : unique within a profile (Instaloader: the file name without extension).
    media_type : ``"image"`` or ``"video"``.
    path : the file.
    thumbnail : a video's cover image, if there is one.
    child_index : 1-based position in a carousel; 0 for a single-media post.
    """

    media_id: str
    media_type: str
    path: Path
    thumbnail: Path | None = None
    child_index: int = 0

    @property
    def cover_only(self) -> bool:
        """A video known by its cover alone (``instaloader --no-videos``): ``path`` is the cover picture."""
        return self.media_type == "video" and self.path.suffix.lower() in IMAGE_SUFFIXES

    @classmethod
    def cover_of_video(cls, media_id: str, cover: Path, child_index: int = 0) -> Media:
        """A video whose file is absent, modelled by its cover picture (its path and its thumbnail)."""
        return cls(media_id, "video", cover, cover, child_index)


@dataclass(frozen=True)
class Post:
    """One post: when, how it was received, and its media.

    Attributes
    ----------
    post_id : unique within a profile.
    timestamp : when it went up, epoch seconds UTC.
    likes, comments : the counts (never negative, never hidden).
    media : the media that exist on disk, in carousel order.
    source : the file (or ``file:line``) it was read from, for messages.
    shortcode : the Instagram short code, if known.
    caption : its text ("" when none).
    post_type : the source's own word for it (``"image"``, ``"video"``,
        ``"carousel"``, ``"reel"``...), or "".
    reach, shares, saves : optional insights (Meta exports), None when unknown.
    views : video views or plays, None when unknown (0 as the source gives it: often a
        placeholder for "not counted").
    flags : what a person should know about it, e.g. ``"partial"`` (some
        carousel children not downloaded) or ``"bytes replaced"`` (a caption
        with bytes that were not UTF-8).
    missing : file names of the media the metadata lists but the folder lacks.
    """

    post_id: str
    timestamp: int
    likes: int
    comments: int
    media: tuple[Media, ...]
    source: str
    shortcode: str = ""
    caption: str = ""
    post_type: str = ""
    reach: int | None = None
    shares: int | None = None
    saves: int | None = None
    views: int | None = None
    flags: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """One item (post file, row, media) left out.

    Attributes
    ----------
    reason : the category, counted in the summary ("media missing", "future date"...).
    item : the file or ``file:line``.
    detail : a sentence for a person, naming the item and the reason.
    """

    reason: str
    item: str
    detail: str

    @classmethod
    def because(cls, reason: str, item: str | Path, why: str) -> Skipped:
        """The record for ``item`` left out for ``reason``; ``why`` gives the specifics."""
        return cls(reason, str(item), f"{item}: {why}")


@dataclass(frozen=True)
class SourceData:
    """Everything one reader found in one source.

    Attributes
    ----------
    posts : the usable posts, in no particular order.
    skipped : items left out, with their reasons.
    follower_files : files holding a follower count (Instaloader profile JSONs).
    side_files : files recognised and not needed, counted by kind
        (``{"comments": 416, "location": 3, ...}``).
    orphan_media : media files that no post's metadata names (paths).
    one_post_per_second : posts in the same second are one post read twice (Instaloader names
        a post's files by its second); False where a post's id is its identity (an export's
        Post ID: two posts published in one minute are two posts).
    """

    posts: tuple[Post, ...]
    skipped: tuple[Skipped, ...]
    follower_files: tuple[Path, ...] = ()
    side_files: dict[str, int] = field(default_factory=dict)
    orphan_media: tuple[str, ...] = ()
    one_post_per_second: bool = False


class ItemSkipped(Exception):
    """Raised inside a reader for one item that cannot be used; carries its :class:`Skipped` record."""

    def __init__(self, reason: str, item: str | Path, why: str) -> None:
        self.why = why
        self.record = Skipped.because(reason, item, why)
        super().__init__(self.record.detail)
