"""Short H.264 videos of a scene with the signal object drifting across it, written with PyAV.

Encoding is single-threaded with fixed x264 settings so that the same seed gives
byte-identical files on any machine.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from instapop.synthetic._draw import OBJECT_SCALE, object_sprite, paste_sprite, render_background

# (width, height) of the video file per aspect, and frames per second, for each --video-size
VIDEO_SIZES = {
    "small": ({"square": (256, 256), "portrait": (256, 320), "landscape": (256, 134)}, 10),
    "720p": ({"square": (720, 720), "portrait": (720, 900), "landscape": (1280, 720)}, 30),
}
ORIGINAL_CRF = 26
REPOST_CRF = 31  # a re-upload is re-encoded, here harder


def write_video(
    path: Path,
    size: tuple[int, int],
    fps: int,
    duration_s: float,
    label: str,
    scene_seed: int,
    object_seed: int,
    crf: int,
) -> tuple[Image.Image, list[int]]:
    """Render and encode one video; return its first frame and the object's box in that frame.

    Frames are composed directly in the YUV 4:2:0 planes H.264 stores: the background is
    converted once and only the object's square is blended per frame, which is several
    times cheaper than converting every RGB frame.
    """
    w, h = size
    background, sprite, start, end = _scene(size, label, scene_seed, object_seed)
    n_frames = int(round(duration_s * fps))
    positions = [_even(start + (end - start) * (i / max(n_frames - 1, 1))) for i in range(n_frames)]
    composer = _YuvComposer(background, sprite)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.codec_context.thread_count = 1  # x264 output depends on its thread count
        stream.codec_context.options = {"preset": "ultrafast", "crf": str(crf), "threads": "1"}
        for i, (x, y) in enumerate(positions):
            frame = av.VideoFrame.from_ndarray(composer.frame(x, y), format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    first = background.copy()
    return first, paste_sprite(first, sprite, *positions[0])


def first_frame(
    size: tuple[int, int], label: str, scene_seed: int, object_seed: int
) -> tuple[Image.Image, list[int]]:
    """The first frame :func:`write_video` would draw, and the object's box in it, without the video:
    the cover of a video that was not downloaded (``instaloader --no-videos``)."""
    background, sprite, start, _ = _scene(size, label, scene_seed, object_seed)
    first = background.copy()
    return first, paste_sprite(first, sprite, *_even(start))


def _scene(
    size: tuple[int, int], label: str, scene_seed: int, object_seed: int
) -> tuple[Image.Image, Image.Image, np.ndarray, np.ndarray]:
    """A video's background, its object's sprite, and where the object starts and ends (top-left)."""
    w, h = size
    background = render_background(size, scene_seed)
    rng = np.random.default_rng([object_seed, 2])
    diameter = 2 * int(round(rng.uniform(*OBJECT_SCALE) * min(w, h) / 2))  # even: whole chroma samples
    sprite = object_sprite(label, diameter, rng)
    start = rng.uniform(0, 1, 2) * [w - diameter, h - diameter]
    end = np.clip(start + rng.uniform(-0.15, 0.15, 2) * [w, h], 0, [w - diameter, h - diameter])
    return background, sprite, start, end


def _even(xy: np.ndarray) -> tuple[int, int]:
    x, y = (2 * np.round(np.asarray(xy) / 2)).astype(int)
    return int(x), int(y)


def _to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited-range Y at full and Cb, Cr at half resolution (what yuv420p H.264 holds)."""
    rgb = rgb.astype(np.float32)
    y = 16 + rgb @ np.float32([65.481, 128.553, 24.966]) / 255
    cb = 128 + rgb @ np.float32([-37.797, -74.203, 112.0]) / 255
    cr = 128 + rgb @ np.float32([112.0, -93.786, -18.214]) / 255
    return y, _half(cb), _half(cr)


def _half(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape[0] // 2, plane.shape[1] // 2
    return plane[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))


class _YuvComposer:
    """Pastes one RGBA sprite onto one background, in yuv420p, at any even position."""

    def __init__(self, background: Image.Image, sprite: Image.Image) -> None:
        self.w, self.h = background.size
        planes = _to_yuv(np.asarray(background))
        self.background = np.concatenate(
            [np.clip(np.round(p), 0, 255).astype(np.uint8).ravel() for p in planes]
        )
        rgba = np.asarray(sprite)
        alpha = rgba[..., 3].astype(np.float32) / 255
        self.sprite = _to_yuv(rgba[..., :3])
        self.alpha = (alpha, _half(alpha), _half(alpha))

    def frame(self, x: int, y: int) -> np.ndarray:
        """The (h * 3 / 2, w) yuv420p array of the background with the sprite's corner at (x, y)."""
        out = self.background.copy()
        w, h = self.w, self.h
        offsets = (0, w * h, w * h + (w // 2) * (h // 2))
        shapes = ((h, w), (h // 2, w // 2), (h // 2, w // 2))
        for k, (offset, shape) in enumerate(zip(offsets, shapes, strict=True)):
            plane = out[offset : offset + shape[0] * shape[1]].reshape(shape)
            scale = 1 if k == 0 else 2
            sprite, alpha = self.sprite[k], self.alpha[k]
            region = plane[
                y // scale : y // scale + sprite.shape[0], x // scale : x // scale + sprite.shape[1]
            ]
            blended = region + alpha * (sprite - region)
            region[...] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
        return out.reshape(h * 3 // 2, w)


def thumbnail(first_frame: Image.Image, box: list[int], width: int = 1080) -> tuple[Image.Image, list[int]]:
    """The video's ``.jpg`` thumbnail: its first frame upscaled to Instagram's 1080 px width, and the box."""
    scale = width / first_frame.width
    height = int(round(first_frame.height * scale))
    return first_frame.resize((width, height), Image.Resampling.BILINEAR), [
        int(round(v * scale)) for v in box
    ]
