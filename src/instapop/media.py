"""Safe media decoding: images with Pillow, video frames with PyAV, both to RGB squares.

Every failure becomes a :class:`MediaError` that names the file and the reason,
so a caller can skip the item, list it, and go on with the rest.

Images are decoded at reduced size where the format allows it (JPEG DCT scaling,
Pillow's *draft* mode): a 1080x1350 post decodes at 270x338 before the resize to
224x224, which makes decoding cheaper than the network. Videos are sampled as the
paper does (§4.2): one frame a second over the first 15 s, or 15 frames evenly
over the whole length of a shorter video. A video known only by its cover (its
file not downloaded) is sampled from the cover as a still (:func:`still_video`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from instapop.config import PAPER
from instapop.errors import BadInputError
from instapop.sources.records import IMAGE_SUFFIXES

log = logging.getLogger(__name__)
register_heif_opener()  # HEIC photos (iPhones save them) open in Pillow like any other image

_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# ISO-media brands of still images (HEIC/AVIF): an "ftyp" box with another brand is a video.
_STILL_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif")
# A target time may lie up to this many frame intervals past the last decoded frame
# (containers often declare the display time of the last frame as part of the duration).
_END_SLACK_FRAMES = 2


class MediaError(BadInputError):
    """A media file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


# --------------------------------------------------------------------------- images


def load_image(
    path: Path,
    size: int = 224,
    center_crop: bool = False,
    max_pixels: int = PAPER.max_image_pixels,
) -> np.ndarray:
    """Decode an image file into a ``size`` x ``size`` RGB array.

    EXIF orientation is applied; RGBA, greyscale, palette, CMYK and 16-bit images
    become 8-bit RGB (transparent pixels over white). JPEGs are decoded at the
    smallest DCT scale that still covers ``size`` in both directions.

    Parameters
    ----------
    path : image file (anything Pillow reads: JPEG, PNG, WebP, HEIC, ...).
    size : side of the square output.
    center_crop : crop the central square before resizing instead of resizing the
        whole image (the paper resizes the whole image, squashing its aspect ratio).
    max_pixels : images whose decoded raster would exceed this many pixels are
        refused (decompression-bomb guard).

    Returns
    -------
    uint8 array of shape (size, size, 3).

    Raises
    ------
    MediaError
        For an empty, truncated, unreadable or oversized file.
    """
    path = Path(path)
    _check_not_empty(path)
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale
            _check_pixels(path, image.size, max_pixels)
            rgb = _to_rgb(ImageOps.exif_transpose(image))
            return resize_square(rgb, size, center_crop)
    except Image.DecompressionBombError as err:
        raise MediaError(path, f"refused as a possible decompression bomb ({err})") from err
    except UnidentifiedImageError as err:
        raise MediaError(path, _unidentified_reason(path)) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise MediaError(path, f"cannot decode image ({str(err).strip()}): truncated or corrupt") from err


def resize_square(image: Image.Image, size: int, center_crop: bool = False) -> np.ndarray:
    """Resize an RGB image to ``size`` x ``size`` (bilinear, antialiased) and return its pixels.

    Parameters
    ----------
    image : RGB Pillow image.
    size : side of the square output.
    center_crop : crop the central square first instead of squashing the aspect ratio.

    Returns
    -------
    uint8 array of shape (size, size, 3).
    """
    if center_crop:
        side = min(image.size)
        left = (image.width - side) // 2
        top = (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    return np.array(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def _check_not_empty(path: Path) -> None:
    try:
        n_bytes = path.stat().st_size
    except OSError as err:
        raise MediaError(path, f"cannot read file ({err.strerror or err})") from err
    if n_bytes == 0:
        raise MediaError(path, "empty file (0 bytes)")


def _unidentified_reason(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp" and head[8:12] not in _STILL_BRANDS:
        return "cannot decode image: the file holds a video (MP4/MOV) under an image name"
    return "cannot decode image: not an image format Pillow reads (corrupt, or another kind of file)"


def _check_pixels(path: Path, dims: tuple[int, int], max_pixels: int) -> None:
    width, height = dims
    if width * height > max_pixels:
        raise MediaError(
            path,
            f"refused as a possible decompression bomb: {width}x{height} = {width * height:,} pixels "
            f"to decode, over the limit of {max_pixels:,} (Config.max_image_pixels)",
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any Pillow mode; transparency is flattened onto white as Instagram shows it."""
    if image.mode == "RGB":
        return image
    if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own I;16 -> L conversion clips at 255 instead of scaling, which
        # turns most 16-bit images white; keep the high byte instead.
        high_byte = (np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(high_byte).convert("RGB")
    return image.convert("RGB")


# --------------------------------------------------------------------------- videos


@dataclass(frozen=True)
class VideoSample:
    """Frames sampled from a video, with the stream's properties.

    Attributes
    ----------
    frames : uint8 (T, size, size, 3) RGB frames, rotation metadata applied.
    times : (T,) seconds from the video's start that each frame was taken for.
    duration : the video's length in seconds.
    fps : average frame rate.
    width, height : displayed frame size (after rotation).
    """

    frames: np.ndarray
    times: np.ndarray
    duration: float
    fps: float
    width: int
    height: int

    @property
    def still(self) -> bool:
        """A picture seen as a video (:func:`still_video`): every frame is the same. No decoded video
        lasts 0 s (:func:`sample_video` refuses one)."""
        return self.duration == 0


def frame_times(duration: float, n_frames: int = 15, interval_s: float = 1.0) -> np.ndarray:
    """Times (s) of the frames to sample: the paper's one-per-interval rule, denser for short videos.

    Parameters
    ----------
    duration : video length in seconds (> 0).
    n_frames : frames to sample.
    interval_s : spacing when the video is long enough to hold ``n_frames`` of them.

    Returns
    -------
    float array of ``n_frames`` increasing times in ``[0, duration)``.
    """
    step = interval_s if duration >= n_frames * interval_s else duration / n_frames
    return np.arange(n_frames) * step


def sample_video(
    path: Path,
    n_frames: int = 15,
    interval_s: float = 1.0,
    size: int = 224,
    max_duration_s: float | None = None,
    max_pixels: int | None = None,
    max_fps: float | None = None,
    center_crop: bool = False,
) -> VideoSample:
    """Sample ``n_frames`` RGB frames from a video (paper §4.2), decoding only the GOPs that hold them.

    Neither straight decoding nor seeking wins everywhere (bench/embed.py): with
    keyframes 8 s apart every seek re-decodes most of a GOP, with keyframes 2 s
    apart straight decoding wastes every other GOP. So the packets up to the last
    sample time are read first (cheap, no decoding), split at keyframes, and only
    the GOPs containing a sample time are decoded, each up to its last sample.

    Parameters
    ----------
    path : video file (MP4/MOV, anything FFmpeg reads).
    n_frames : frames to sample.
    interval_s : one frame every ``interval_s`` seconds for long-enough videos.
    size : side of the square output frames.
    max_duration_s, max_pixels, max_fps : refuse longer videos, larger frames
        (width x height) or faster frame rates; None means no bound.
    center_crop : crop the central square before resizing (see :func:`resize_square`).

    Returns
    -------
    VideoSample; of a picture (a video's cover, its file not downloaded) the still of
    :func:`still_video`, bounded as images are, not by the video bounds (a brand's own cover
    file may be larger than any frame Instagram serves).

    Raises
    ------
    MediaError
        For an empty, truncated or unreadable file, no video stream, a 0-second
        video, or a video over one of the bounds.
    """
    import av

    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return still_video(path, n_frames, size, center_crop=center_crop)
    _check_not_empty(path)
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise MediaError(
            path, f"cannot open as a video ({err.strerror or err}): truncated, corrupt or not a video file"
        ) from err
    try:
        with container:
            if not container.streams.video:
                raise MediaError(path, "no video stream (audio-only or not a video)")
            stream = container.streams.video[0]
            duration, fps = _duration_and_fps(path, container, stream)
            _check_video_bounds(path, stream, duration, fps, max_duration_s, max_pixels, max_fps)
            times = frame_times(duration, n_frames, interval_s)
            picked = _decode_at(path, container, stream, times, duration, fps)
            rotation = picked[0].rotation
            images = [_rotated(frame.to_image(), rotation) for frame in picked]
    except av.FFmpegError as err:
        raise MediaError(path, f"cannot decode video ({err.strerror or err})") from err
    width, height = images[0].size
    frames = np.stack([resize_square(image, size, center_crop) for image in images])
    return VideoSample(frames=frames, times=times, duration=duration, fps=fps, width=width, height=height)


def still_video(
    path: Path,
    n_frames: int = 15,
    size: int = 224,
    max_pixels: int | None = None,
    center_crop: bool = False,
) -> VideoSample:
    """A picture as a video that shows it throughout: how a cover-only video is seen.

    ``instaloader --no-videos`` (or an export's media folder holding a reel's thumbnail
    only) keeps the video's cover and not the video, so the cover is all that is known of
    what it shows. Every one of the ``n_frames`` frames is the picture, at time 0; duration
    and fps are 0 (:attr:`VideoSample.still`); width and height are the picture's as shown.

    Raises
    ------
    MediaError
        As :func:`load_image`.
    """
    path = Path(path)
    frame = load_image(path, size, center_crop, max_pixels or PAPER.max_image_pixels)
    with Image.open(path) as image:
        width, height = image.size
        if image.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8):  # turned a quarter
            width, height = height, width
    frames = np.repeat(frame[None], n_frames, axis=0)
    return VideoSample(frames, np.zeros(n_frames), duration=0.0, fps=0.0, width=width, height=height)


def _duration_and_fps(path: Path, container, stream) -> tuple[float, float]:
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000  # AV_TIME_BASE: microseconds
    else:
        raise MediaError(path, "video duration unknown (no duration in the stream or container)")
    rate = stream.average_rate or stream.guessed_rate
    if duration <= 0 or not rate:
        raise MediaError(path, f"video is {duration:.2f} s long: no frames to sample")
    return duration, float(rate)


def _check_video_bounds(
    path: Path,
    stream,
    duration: float,
    fps: float,
    max_duration_s: float | None,
    max_pixels: int | None,
    max_fps: float | None,
) -> None:
    width, height = stream.codec_context.width, stream.codec_context.height
    if max_pixels is not None and width * height > max_pixels:
        raise MediaError(
            path,
            f"video frames of {width}x{height} are over the limit of {max_pixels:,} pixels "
            "(Config.video_max_pixels); re-encode it smaller or raise the limit",
        )
    if max_fps is not None and fps > max_fps + 1e-6:
        raise MediaError(
            path, f"video at {fps:.1f} fps is over the limit of {max_fps:g} fps (Config.video_max_fps)"
        )
    if max_duration_s is not None and duration > max_duration_s:
        raise MediaError(
            path,
            f"video of {duration:.1f} s is over the limit of {max_duration_s:g} s "
            "(Config.video_max_duration_s)",
        )


def _decode_at(path: Path, container, stream, times: np.ndarray, duration: float, fps: float) -> list:
    """The frame on screen at each time in ``times`` (the first frame for times before it)."""
    import av

    try:
        gops, start, complete = _gops_until(container, stream, times[-1])
        if not gops:
            raise MediaError(path, "no video packets (truncated or empty stream)")
        starts = [_seconds(gop[0].pts, stream) - start if gop[0].pts is not None else 0.0 for gop in gops]
        picked: list = [None] * len(times)
        last_frame = None
        for g, targets in _targets_by_gop(starts, times).items():
            frames, last_frame = _decode_gop(stream, gops[g], start, times[targets])
            for k, frame in zip(targets, frames, strict=True):
                picked[k] = frame
    except av.FFmpegError as err:
        raise MediaError(path, f"video data is corrupt or truncated ({err.strerror or err})") from err
    if last_frame is None or any(frame is None for frame in picked):
        raise MediaError(path, "no decodable video frames (truncated or corrupt stream)")
    reached = _seconds(last_frame.pts, stream) - start
    if not complete and times[-1] > reached + _END_SLACK_FRAMES / fps:
        raise MediaError(
            path, f"video stream ends at {reached:.2f} s but declares {duration:.2f} s: the file is truncated"
        )
    return picked


def _seconds(pts: int, stream) -> float:
    return float(pts * stream.time_base)


def _gops_until(container, stream, last_time: float) -> tuple[list[list], float, bool]:
    """Packets in decode order, split at keyframes, up to the first keyframe after ``last_time``.

    Returns the GOPs, the stream's start time, and whether a keyframe after ``last_time``
    was reached (False: the stream ended first).
    """
    gops: list[list] = []
    start = _seconds(stream.start_time, stream) if stream.start_time is not None else None
    for packet in container.demux(stream):
        if packet.size == 0:  # the demuxer's end-of-stream marker
            continue
        if start is None and packet.pts is not None:
            start = _seconds(packet.pts, stream)
        if packet.is_keyframe or not gops:
            past_last = start is not None and packet.pts is not None
            if gops and past_last and _seconds(packet.pts, stream) - start > last_time:
                return gops, start, True
            gops.append([])
        gops[-1].append(packet)
    return gops, start or 0.0, False


def _targets_by_gop(starts: list[float], times: np.ndarray) -> dict[int, list[int]]:
    """Sample indices grouped by the GOP whose frames are on screen at their times."""
    groups: dict[int, list[int]] = {}
    for k, t in enumerate(times):
        g = max(0, int(np.searchsorted(starts, t + 1e-6, side="right")) - 1)
        groups.setdefault(g, []).append(k)
    return groups


def _decode_gop(stream, packets: list, start: float, times: np.ndarray) -> tuple[list, object]:
    """Decode one GOP up to the frame on screen at each of ``times``; also return the last frame decoded.

    Only the picked frames are kept: a long GOP of 720p frames would not fit in memory.
    """
    codec = stream.codec_context
    codec.flush_buffers()  # forget the previous GOP (and any end-of-stream state)
    picked: list = []
    previous = None
    for packet in [*packets, None]:  # None drains the frames still held for reordering
        for frame in codec.decode(packet):
            if frame.pts is None:
                continue
            # From the stream's time base: frames drained at the end carry none of their own.
            now = _seconds(frame.pts, stream) - start
            while len(picked) < len(times) and now > times[len(picked)] + 1e-6:
                picked.append(previous if previous is not None else frame)
            if len(picked) == len(times):
                return picked, frame
            previous = frame
    return picked + [previous] * (len(times) - len(picked)), previous


def _rotated(image: Image.Image, rotation: int) -> Image.Image:
    """Apply a display-matrix rotation (degrees counter-clockwise, as FFmpeg reports it)."""
    if rotation % 360 == 0:
        return image
    return image.rotate(rotation, expand=True)
