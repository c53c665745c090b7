"""Candidate files: found in the folders given, typed by their first bytes (never by their name),
and refused before any pixel is decoded when they are over a :class:`~.plans.Limits` bound."""

from __future__ import annotations

from pathlib import Path

from instapop.errors import BadInputError
from instapop.media_types import IMAGE, VIDEO
from instapop.predict.plans import Limits

# Why a candidate could not be scored; the web API maps each kind to its HTTP status.
UNSUPPORTED, OVER_LIMIT, UNREADABLE = "unsupported", "over_limit", "unreadable"

# ISO-BMFF brands of still images (HEIF/HEIC/AVIF); any other `ftyp` file is a video (MP4/MOV/3GP).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
# QuickTime files without an `ftyp` box start with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_EXIF_ORIENTATION = 0x0112


class Refused(BadInputError):
    """A candidate that cannot be scored; ``kind`` says why (see ``Candidate.error_kind``)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def sniff_media_type(head: bytes) -> str | None:
    """``image``, ``video`` or None, from a file's first 16 bytes (its magic number).

    Accepts what Instagram takes: JPEG, PNG, WebP and HEIF/AVIF stills; MP4/MOV
    (ISO-BMFF and QuickTime) and Matroska/WebM videos.
    """
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return IMAGE
    if head[4:8] == b"ftyp":
        return IMAGE if head[8:12] in _HEIF_BRANDS else VIDEO
    if head[4:8] in _QUICKTIME_ATOMS or head.startswith(b"\x1a\x45\xdf\xa3"):
        return VIDEO
    return None


def peek_media_type(path: Path) -> str | None:
    """A file's media type by its first bytes, or None if it cannot be read (scoring says why)."""
    try:
        with path.open("rb") as handle:
            return sniff_media_type(handle.read(16))
    except OSError:
        return None


def named_inputs(paths: list[Path]) -> list[tuple[str, Path]]:
    """(name, path) of every candidate: files as given; a folder's files; its subfolders as carousels.

    Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``) are skipped.
    """
    named = []
    for path in map(Path, paths):
        if not path.is_dir():
            named.append((path.name, path))
            continue
        for entry in sorted(path.iterdir()):
            if entry.name.startswith("."):
                continue
            name = f"{path.name}/{entry.name}" + ("/" if entry.is_dir() else "")
            named.append((name, entry))
    return named


def checked_media_type(path: Path, limits: Limits) -> str:
    """``image`` or ``video`` by the file's content; :class:`Refused` when unreadable, too big or neither."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise Refused(f"{path}: cannot be read ({err.strerror})", UNREADABLE) from err
    if size > limits.max_file_bytes:
        raise Refused(f"{path}: {size} bytes is over the limit of {limits.max_file_bytes}", OVER_LIMIT)
    with path.open("rb") as handle:
        media_type = sniff_media_type(handle.read(16))
    if media_type is None:
        raise Refused(
            f"{path}: not an image or a video by its content "
            "(expected JPEG, PNG, WebP, HEIC, MP4, MOV or WebM)",
            UNSUPPORTED,
        )
    return media_type


def checked_image_size(path: Path, limits: Limits) -> tuple[int, int] | None:
    """(width, height) as shown (EXIF rotation applied), read from the header; refuses over-limit."""
    from PIL import Image, UnidentifiedImageError

    try:  # the header only: no pixel is decoded before the size is known to be safe
        with Image.open(path) as image:
            width, height = image.size
            quarter_turn = image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None  # load_image says what is wrong with it
    if width * height > limits.max_image_pixels:
        raise Refused(
            f"{path}: {width}x{height} pixels is over the limit of {limits.max_image_pixels}", OVER_LIMIT
        )
    return (height, width) if quarter_turn else (width, height)


def check_video_length(path: Path, limits: Limits) -> None:
    """Refuse a long video from its container's metadata, before any frame is decoded.

    sample_video enforces the same bound, but as an unreadable file; this makes it
    an over-limit refusal (HTTP 413), the reason a person should see.
    """
    import av

    try:
        with av.open(str(path)) as container:
            duration_s = container.duration / 1e6 if container.duration else 0.0
    except (av.FFmpegError, OSError):
        return  # sample_video says what is wrong with it
    if duration_s > limits.max_video_s:
        raise Refused(
            f"{path}: a {duration_s:.0f} s video is over the limit of {limits.max_video_s:.0f} s", OVER_LIMIT
        )
