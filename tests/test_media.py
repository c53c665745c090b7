"""Image decoding and video frame sampling, on small files written here (Pillow, PyAV).

The file builders at the top are also used by tests/test_embed.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from instapop.media import MediaError, frame_times, load_image, sample_video

RED, BLUE = (255, 0, 0), (0, 0, 255)


# --------------------------------------------------------------------------- file builders


def split_image(width: int, height: int, first=RED, second=BLUE, vertical: bool = False) -> Image.Image:
    """Left half ``first``, right half ``second`` (top / bottom when ``vertical``)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    if vertical:
        pixels[: height // 2], pixels[height // 2 :] = first, second
    else:
        pixels[:, : width // 2], pixels[:, width // 2 :] = first, second
    return Image.fromarray(pixels)


def write_jpeg(path: Path, width: int = 320, height: int = 400, seed: int = 0) -> Path:
    """A smooth, photo-like JPEG (random low-frequency colour field)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC).save(path, quality=90)
    return path


def write_truncated_jpeg(path: Path) -> Path:
    """The first half of a noisy JPEG."""
    data = io.BytesIO()
    noise = np.random.default_rng(3).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(data, format="JPEG")
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    return path


def write_png_bomb(path: Path, side: int = 20_000) -> Path:
    """A 1-bit PNG of side x side pixels: 50 kB on disk, 1.2 GB once decoded to RGB."""
    Image.new("1", (side, side), 0).save(path, compress_level=9)
    return path


def write_video(
    path: Path,
    width: int = 64,
    height: int = 48,
    fps: int = 10,
    seconds: float = 3.0,
    rotation: float | None = None,
    faststart: bool = False,
    frame: np.ndarray | None = None,
    keyint: int | None = None,
) -> Path:
    """An H.264 MP4 whose frame i has colour (10 + 6 (i mod 40), 10 + 6 (i div 40), 128): readable back.

    ``keyint``: a keyframe every ``keyint`` frames, with B-frames (frames decoded out of order).
    """
    options = {"preset": "ultrafast", "qp": "10"}
    if keyint is not None:
        options |= {
            "preset": "fast",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=2",
        }
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(round(fps * seconds)):
            pixels = frame if frame is not None else np.full((height, width, 3), _index_colour(i), np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def _index_colour(i: int) -> tuple[int, int, int]:
    return 10 + 6 * (i % 40), 10 + 6 * (i // 40), 128


def _frame_index(frames: np.ndarray) -> np.ndarray:
    """Invert write_video's colour code."""
    red, green = (frames[..., c].reshape(len(frames), -1).mean(axis=1) for c in (0, 1))
    return (np.round((red - 10) / 6) + 40 * np.round((green - 10) / 6)).astype(int)


def write_audio_only_mp4(path: Path) -> Path:
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024 * 20), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 44100
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_zero_second_video(path: Path) -> Path:
    """A one-frame MP4 whose movie, track, media and sample durations all read 0."""
    data = bytearray(write_video(path, fps=30, seconds=1 / 30).read_bytes())
    # Offsets of the (version 0) duration fields from each box's type code; stts: the first sample delta.
    for box, offset in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20), (b"stts", 16)):
        at = data.find(box)
        assert at > 0 and data[at + 4] == 0, f"{box} missing or not version 0"
        data[at + offset : at + offset + 4] = bytes(4)
    path.write_bytes(bytes(data))
    return path


def truncate(path: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def write_noise(path: Path, image_format: str) -> Path:
    """A noisy 200 x 200 image in ``image_format`` (JPEG, PNG, WEBP, HEIF)."""
    noise = np.random.default_rng(3).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, format=image_format)
    return path


def corrupt(path: Path, keep: int = 16) -> Path:
    """Keep the first ``keep`` bytes (the format's signature), replace the rest with random bytes."""
    data = path.read_bytes()
    path.write_bytes(data[:keep] + np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return path


def write_png_header(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A 60-byte PNG that declares width x height pixels (huge dimensions, no data behind them)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def bad_media(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of bad media file the issues list: name -> (path, words the refusal must contain)."""
    folder.mkdir(parents=True, exist_ok=True)
    broken, unknown = "truncated or corrupt", "not an image format"
    video_as_jpeg = "video (MP4/MOV) under an image name"
    wrong_name = write_video(folder / "clip.mp4", seconds=0.5).rename(folder / "clip.jpg")
    return {
        "truncated jpeg": (write_truncated_jpeg(folder / "truncated.jpg"), "truncated"),
        "corrupt jpeg": (corrupt(write_noise(folder / "corrupt.jpg", "JPEG"), keep=4), broken),
        "zero-byte jpeg": (empty(folder / "zero.jpg"), "empty file"),
        "truncated png": (truncate(write_noise(folder / "truncated.png", "PNG")), "truncated"),
        "corrupt png": (corrupt(write_noise(folder / "corrupt.png", "PNG"), keep=8), unknown),
        "truncated webp": (truncate(write_noise(folder / "truncated.webp", "WEBP")), broken),
        "zero-byte heic": (empty(folder / "zero.heic"), "empty file"),
        "truncated heic": (truncate(write_noise(folder / "truncated.heic", "HEIF")), broken),
        "corrupt heic": (corrupt(write_noise(folder / "corrupt.heic", "HEIF"), keep=12), unknown),
        "png bomb": (write_png_bomb(folder / "bomb.png"), "decompression bomb"),
        "huge dimensions": (write_png_header(folder / "huge.png"), "decompression bomb"),
        "video named .jpg": (wrong_name, video_as_jpeg),
        "zero-byte mp4": (empty(folder / "zero.mp4"), "empty file"),
        "corrupt mp4": (corrupt(write_video(folder / "bad.mp4", seconds=2), 32), "cannot open as a video"),
        "mp4 without video": (write_audio_only_mp4(folder / "audio_only.mp4"), "no video stream"),
        "truncated mp4": (truncate(write_video(folder / "cut.mp4", seconds=4)), "truncated"),
        "0-second video": (write_zero_second_video(folder / "zero_seconds.mp4"), "0.00 s long"),
        "4K 60 fps": (write_video(folder / "uhd.mp4", 4096, 2160, fps=60, seconds=0.05), "4096x2160"),
    }


BAD_VIDEO_KINDS = [
    "zero-byte mp4",
    "corrupt mp4",
    "mp4 without video",
    "truncated mp4",
    "0-second video",
    "4K 60 fps",
]
BAD_IMAGE_KINDS = [
    "truncated jpeg",
    "corrupt jpeg",
    "zero-byte jpeg",
    "truncated png",
    "corrupt png",
    "truncated webp",
    "zero-byte heic",
    "truncated heic",
    "corrupt heic",
    "png bomb",
    "huge dimensions",
    "video named .jpg",
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return bad_media(tmp_path_factory.mktemp("bad-media"))


# --------------------------------------------------------------------------- images


def test_load_image_gives_square_uint8_rgb(tmp_path):
    image = load_image(write_jpeg(tmp_path / "a.jpg", 1080, 1350), size=224)
    assert image.shape == (224, 224, 3) and image.dtype == np.uint8


def test_draft_decoding_stays_close_to_a_full_decode(tmp_path):
    path = write_jpeg(tmp_path / "big.jpg", 1080, 1350, seed=1)
    full = np.asarray(Image.open(path).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR), float)
    assert np.abs(load_image(path).astype(float) - full).mean() < 2.0


def test_exif_orientation_is_applied(tmp_path):
    # Stored top red / bottom blue; orientation 6 means "rotate 90° clockwise to display",
    # so the displayed image is red on the right.
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    split_image(80, 60, vertical=True).save(path, exif=exif, quality=95)
    image = load_image(path, size=32).astype(int)
    assert image[16, 28, 0] > 200 and image[16, 28, 2] < 60  # right: red
    assert image[16, 3, 2] > 200 and image[16, 3, 0] < 60  # left: blue


@pytest.mark.parametrize(
    ("mode", "make", "expected"),
    [
        ("RGBA transparent", lambda: Image.new("RGBA", (40, 40), (0, 0, 0, 0)), (255, 255, 255)),
        ("LA", lambda: Image.new("LA", (40, 40), (100, 255)), (100, 100, 100)),
        ("L", lambda: Image.new("L", (40, 40), 77), (77, 77, 77)),
        ("CMYK", lambda: Image.new("CMYK", (40, 40), (0, 255, 255, 0)), (255, 0, 0)),
        ("I;16", lambda: Image.fromarray(np.full((40, 40), 40000, np.uint16)), (156, 156, 156)),
        ("P transparent", lambda: _palette_with_transparency(), (255, 255, 255)),
    ],
)
def test_any_mode_becomes_8bit_rgb(tmp_path, mode, make, expected):
    image = make()
    path = tmp_path / ("x.tif" if image.mode == "CMYK" else "x.png")
    image.save(path)
    pixels = load_image(path, size=16)
    assert pixels.shape == (16, 16, 3)
    assert np.abs(pixels.astype(int) - expected).max() <= 2, mode


def _palette_with_transparency() -> Image.Image:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0] * 256)
    image.info["transparency"] = 0
    return image


def test_heic_photos_are_read(tmp_path):
    path = tmp_path / "iphone.heic"
    split_image(200, 120).save(path, format="HEIF", quality=90)  # pillow-heif's writer
    pixels = load_image(path, size=32).astype(int)
    left, right = pixels[:, :12].mean(axis=(0, 1)), pixels[:, -12:].mean(axis=(0, 1))
    assert left[0] > 200 and left[2] < 60 and right[2] > 200 and right[0] < 60


def test_center_crop_drops_the_sides(tmp_path):
    pixels = np.zeros((100, 300, 3), np.uint8)
    pixels[:, :100] = RED  # only in the left third
    path = tmp_path / "wide.png"
    Image.fromarray(pixels).save(path)
    assert load_image(path, size=32)[:, :5, 0].mean() > 200  # squashed: red stays on the left
    assert load_image(path, size=32, center_crop=True)[..., 0].max() < 10  # cropped away


def test_the_kind_lists_cover_every_bad_file(bad_files):
    assert sorted(BAD_IMAGE_KINDS + BAD_VIDEO_KINDS) == sorted(bad_files)


@pytest.mark.parametrize("kind", BAD_IMAGE_KINDS)
def test_bad_images_are_refused_naming_file_and_reason(bad_files, kind):
    path, words = bad_files[kind]
    with pytest.raises(MediaError) as caught:
        load_image(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_own_pixel_limit_refuses_a_decode_below_pillows(tmp_path):
    path = tmp_path / "large.png"
    Image.new("RGB", (2000, 1000)).save(path)
    with pytest.raises(MediaError, match="2,000,000 pixels"):
        load_image(path, max_pixels=1_000_000)


def test_not_an_image_is_refused(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    with pytest.raises(MediaError, match="cannot decode image"):
        load_image(path)


# --------------------------------------------------------------------------- videos


def test_frame_times_follow_the_paper():
    assert frame_times(40.0).tolist() == list(range(15))  # one a second over the first 15 s
    short = frame_times(6.0)  # shorter than 15 s: 15 frames evenly over its length
    assert len(short) == 15 and short[0] == 0 and short[-1] < 6.0
    assert np.allclose(np.diff(short), 6.0 / 15)


def test_long_video_gives_one_frame_per_second(tmp_path):
    sample = sample_video(write_video(tmp_path / "long.mp4", fps=2, seconds=18), size=32)
    assert sample.frames.shape == (15, 32, 32, 3)
    assert sample.times.tolist() == list(range(15))
    assert _frame_index(sample.frames).tolist() == [2 * t for t in range(15)]
    assert (sample.duration, sample.fps, sample.width, sample.height) == (18.0, 2.0, 64, 48)


def test_sampling_across_keyframes_and_b_frames(tmp_path):
    # Keyframes every 0.7 s, B-frames: only the GOPs holding a sample time are decoded.
    sample = sample_video(write_video(tmp_path / "gops.mp4", fps=10, seconds=17, keyint=7), size=16)
    assert _frame_index(sample.frames).tolist() == [10 * t for t in range(15)]


def test_short_video_is_sampled_over_its_whole_length(tmp_path):
    sample = sample_video(write_video(tmp_path / "short.mp4", fps=10, seconds=3), size=32)
    assert sample.frames.shape == (15, 32, 32, 3)
    # 15 frames over 3 s: one every 0.2 s, i.e. every second frame at 10 fps.
    assert _frame_index(sample.frames).tolist() == [2 * t for t in range(15)]


def test_rotation_metadata_is_applied(tmp_path):
    # Stored landscape, left red / right blue, with the display matrix of a phone held
    # upright (-90°: rotate clockwise to show): displayed portrait, red on top.
    frame = np.asarray(split_image(64, 32))
    path = write_video(tmp_path / "phone.mp4", 64, 32, fps=5, seconds=1, rotation=-90, frame=frame)
    sample = sample_video(path, n_frames=3, size=32)
    assert (sample.width, sample.height) == (32, 64)
    top, bottom = sample.frames[0, 4, 16].astype(int), sample.frames[0, -4, 16].astype(int)
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("kind", BAD_VIDEO_KINDS)
def test_bad_videos_are_refused_naming_file_and_reason(bad_files, kind):
    path, words = bad_files[kind]
    with pytest.raises(MediaError) as caught:
        sample_video(path, max_pixels=2560 * 1440, max_fps=60)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_truncated_faststart_mp4_is_refused(tmp_path):
    # With the index at the front, the file opens and the cut only shows while decoding.
    path = truncate(write_video(tmp_path / "fast.mp4", fps=10, seconds=20, faststart=True), 0.3)
    with pytest.raises(MediaError, match="truncated"):
        sample_video(path)


def test_video_bounds_are_configurable(tmp_path):
    path = write_video(tmp_path / "clip.mp4", fps=30, seconds=1)
    with pytest.raises(MediaError, match="30.0 fps is over the limit of 25 fps"):
        sample_video(path, max_fps=25)
    with pytest.raises(MediaError, match="over the limit of 0.5 s"):
        sample_video(path, max_duration_s=0.5)
    assert sample_video(path, max_pixels=64 * 48, max_fps=30, size=16).frames.shape == (15, 16, 16, 3)


def test_a_picture_samples_as_a_still_video_of_its_displayed_size(tmp_path):
    # A cover-only video's path is its cover: every frame is the cover, duration and fps 0.
    cover = write_jpeg(tmp_path / "cover.jpg", 300, 500, seed=4)
    sample = sample_video(cover, n_frames=4, size=32, max_pixels=100)  # a picture is not bound as frames
    assert sample.still and (sample.duration, sample.fps, sample.width, sample.height) == (0.0, 0.0, 300, 500)
    assert sample.frames.shape == (4, 32, 32, 3) and (sample.times == 0).all()
    assert all(np.array_equal(frame, load_image(cover, size=32)) for frame in sample.frames)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter: 60 wide, 80 high
    split_image(80, 60, vertical=True).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    turned = sample_video(tmp_path / "turned.jpg", n_frames=2, size=32)
    assert (turned.width, turned.height) == (60, 80)
    assert not sample_video(write_video(tmp_path / "clip.mp4", fps=10, seconds=2), n_frames=2, size=32).still
