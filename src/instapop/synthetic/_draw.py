"""Procedural pictures: varied backgrounds and the two objects that carry the planted signal.

The "popular" object is a large daisy-like flower, the "unpopular" one an orange ball
with dark seams. Both are things an ImageNet CNN knows well (daisy, basketball), so a
frozen EfficientNet-Lite0 separates them linearly whatever the background. Each is
drawn once as an RGBA sprite and pasted, so a video can move it cheaply frame by frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

OBJECT_SCALE = (0.30, 0.55)  # object diameter as a fraction of the image's shorter side

_PETAL_COLOURS = ((250, 250, 245), (252, 228, 238), (250, 245, 205), (236, 236, 255))
_BALL_COLOURS = ((226, 110, 32), (214, 92, 26), (236, 132, 44), (200, 96, 40))


def render_background(size: tuple[int, int], scene_seed: int) -> Image.Image:
    """A background drawn from ``scene_seed``: gradient, soft blobs, a pattern, clutter shapes, grain.

    The smooth colour field is computed at 1/8 scale and upsampled, the rest is drawn
    with PIL, so a 1080 px background costs milliseconds.
    """
    rng = np.random.default_rng([scene_seed, 1])
    w, h = size
    small = (max(2, w // 8), max(2, h // 8))
    field = 0.75 * _gradient(rng, *small) + 0.25 * _blobs(rng, *small)
    image = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).resize(size, Image.Resampling.BILINEAR)
    image = _pattern(rng, image)
    _clutter(rng, image)
    return _grain(rng, image)


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    """A background colour: random, pulled towards grey so the objects stand out."""
    return 0.6 * rng.uniform(20, 235, 3) + 0.4 * rng.uniform(90, 170)


def _gradient(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    c1, c2 = _muted_colour(rng), _muted_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    x = np.linspace(0, 1, w)[None, :]
    y = np.linspace(0, 1, h)[:, None]
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return c1 + (c2 - c1) * t[..., None]


def _blobs(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Low-frequency colour blobs: a tiny random image upsampled smoothly."""
    tiny = rng.uniform(40, 220, (4, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(tiny).resize((w, h), Image.Resampling.BICUBIC), dtype=float)


def _pattern(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Darken a pattern into the image: nothing, stripes or a checkerboard."""
    kind = rng.choice(["none", "stripes", "checker"], p=[0.4, 0.35, 0.25])
    w, h = image.size
    period = rng.uniform(0.04, 0.15) * max(w, h)
    depth = rng.uniform(0.06, 0.16)
    angle = rng.uniform(0, np.pi)
    if kind == "none":
        return image
    mask = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(mask)
    reach = np.hypot(w, h)
    if kind == "stripes":
        along = np.array([np.cos(angle), np.sin(angle)])  # across the stripes
        side = np.array([-along[1], along[0]]) * reach  # along a stripe
        centre = np.array([w / 2, h / 2])
        for k in np.arange(-reach, reach, period):
            a, b = centre + along * k, centre + along * (k + period / 2)
            draw.polygon([tuple(a - side), tuple(a + side), tuple(b + side), tuple(b - side)], fill=255)
    else:
        for i, x in enumerate(np.arange(0, w, period)):
            for j, y in enumerate(np.arange(0, h, period)):
                if (i + j) % 2:
                    draw.rectangle([x, y, x + period, y + period], fill=255)
    darker = image.point([int(v * (1 - depth)) for v in range(256)] * 3)
    return Image.composite(darker, image, mask)


def _grain(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Sensor-like grain: a random 128 px tile of small noise repeated over the image."""
    w, h = image.size
    tile = rng.integers(0, 7, (128, 128, 1), dtype=np.uint8)
    noise = np.tile(tile, (h // 128 + 1, w // 128 + 1, 3))[:h, :w]
    return ImageChops.add(image, Image.fromarray(noise), scale=1.0, offset=-3)


def _clutter(rng: np.random.Generator, image: Image.Image) -> None:
    """Small everyday shapes (rectangles, ellipses, lines, triangles) scattered over the scene."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    side = min(w, h)
    for _ in range(int(rng.integers(4, 13))):
        colour = tuple(int(c) for c in _muted_colour(rng))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.02, 0.12) * side
        shape = rng.integers(4)
        if shape == 0:
            draw.rectangle([x - r, y - r * rng.uniform(0.3, 1.0), x + r, y + r], fill=colour)
        elif shape == 1:
            draw.ellipse([x - r, y - r * rng.uniform(0.4, 1.0), x + r, y + r], fill=colour)
        elif shape == 2:
            a = rng.uniform(0, np.pi)
            draw.line(
                [x - 2 * r * np.cos(a), y - 2 * r * np.sin(a), x + 2 * r * np.cos(a), y + 2 * r * np.sin(a)],
                fill=colour,
                width=max(1, int(r / 6)),
            )
        else:
            angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2.1, 4.2])
            draw.polygon([(x + r * np.cos(a), y + r * np.sin(a)) for a in angles], fill=colour)


def object_sprite(label: str, diameter: int, rng: np.random.Generator) -> Image.Image:
    """The signal object as an RGBA sprite ``diameter`` pixels wide: a daisy or a ball."""
    if label == "popular":
        return _daisy(diameter, rng)
    return _ball(diameter, rng)


def _daisy(d: int, rng: np.random.Generator) -> Image.Image:
    """White-ish petals around a yellow, dotted disc."""
    sprite = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sprite)
    c = d / 2
    n_petals = int(rng.integers(13, 22))
    base = np.array(_PETAL_COLOURS[int(rng.integers(len(_PETAL_COLOURS)))])
    r_in, r_out = 0.12 * d, 0.49 * d
    half_width = min(0.5 * np.pi * (r_in + r_out) / n_petals, 0.1 * d)
    start = rng.uniform(0, 2 * np.pi)
    for k in range(n_petals):
        a = start + 2 * np.pi * k / n_petals + rng.normal(0, 0.04)
        length = (r_out - r_in) * rng.uniform(0.85, 1.0)
        petal = _ellipse_points(
            c + np.cos(a) * (r_in + length / 2),
            c + np.sin(a) * (r_in + length / 2),
            length / 2,
            half_width,
            a,
        )
        shade = np.clip(base + rng.normal(0, 6, 3), 0, 255).astype(int)
        draw.polygon(petal, fill=(*shade, 255), outline=(*(shade * 0.8).astype(int), 255))
    disc = 0.16 * d
    draw.ellipse(
        [c - disc, c - disc, c + disc, c + disc],
        fill=(236, 180, 24, 255),
        outline=(190, 120, 10, 255),
        width=max(1, d // 80),
    )
    for _ in range(int(40 * (d / 400) ** 2) + 8):
        rr, aa = disc * 0.85 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
        dot = max(1, d / 150)
        x, y = c + rr * np.cos(aa), c + rr * np.sin(aa)
        draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=(170, 100, 10, 255))
    return sprite


def _ellipse_points(
    cx: float, cy: float, a: float, b: float, angle: float, n: int = 24
) -> list[tuple[float, float]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = a * np.cos(t), b * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return list(zip((cx + x * ca - y * sa).tolist(), (cy + x * sa + y * ca).tolist(), strict=True))


def _ball(d: int, rng: np.random.Generator) -> Image.Image:
    """An orange, shaded ball with the dark seams of a basketball."""
    base = np.array(_BALL_COLOURS[int(rng.integers(len(_BALL_COLOURS)))], dtype=np.float32)
    yy, xx = (np.mgrid[0:d, 0:d].astype(np.float32) + 0.5) / d * 2 - 1  # -1..1 across the sprite
    inside = xx**2 + yy**2 <= 1.0
    light = np.array([-0.35, -0.4]) + rng.normal(0, 0.08, 2)
    shade = 1.05 - 0.45 * np.sqrt((xx - light[0]) ** 2 + (yy - light[1]) ** 2)
    pebbles = rng.normal(1.0, 0.03, (d, d)).astype(np.float32)
    rgb = np.clip(base * (shade * pebbles)[..., None], 0, 255).astype(np.uint8)
    alpha = (inside * 255).astype(np.uint8)
    sprite = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    seams = Image.new("L", (d, d), 0)
    draw = ImageDraw.Draw(seams)
    width = max(1, d // 55)
    tilt = rng.uniform(-0.5, 0.5)
    c = d / 2
    for a in (tilt, tilt + np.pi / 2):  # two great circles seen edge-on
        draw.line(
            [c - c * np.cos(a), c - c * np.sin(a), c + c * np.cos(a), c + c * np.sin(a)],
            fill=255,
            width=width,
        )
    for side in (-1, 1):  # the two curved seams
        off = side * 0.95 * d
        draw.ellipse(
            [c + off - 0.8 * d, c - 0.8 * d, c + off + 0.8 * d, c + 0.8 * d], outline=255, width=width
        )
    seams = seams.rotate(np.degrees(tilt), resample=Image.Resampling.BILINEAR)
    dark = Image.new("RGBA", (d, d), (40, 22, 12, 255))
    mask = Image.fromarray(np.minimum(np.asarray(seams), alpha))
    sprite.paste(dark, (0, 0), mask)
    return sprite


def place_object(image: Image.Image, label: str, object_seed: int) -> list[int]:
    """Draw the signal object at a random position and scale; return its box ``[x0, y0, x1, y1]``."""
    rng = np.random.default_rng([object_seed, 2])
    w, h = image.size
    diameter = int(round(rng.uniform(*OBJECT_SCALE) * min(w, h)))
    sprite = object_sprite(label, diameter, rng)
    x, y = int(rng.integers(0, w - diameter + 1)), int(rng.integers(0, h - diameter + 1))
    return paste_sprite(image, sprite, x, y)


def paste_sprite(image: Image.Image, sprite: Image.Image, x: int, y: int) -> list[int]:
    """Paste an RGBA sprite at (x, y); return the box of its visible pixels."""
    image.paste(sprite, (x, y), sprite)
    x0, y0, x1, y1 = sprite.getchannel("A").getbbox()
    return [x + x0, y + y0, x + x1, y + y1]


def render_picture(
    size: tuple[int, int], label: str, scene_seed: int, object_seed: int, framing: float = 1.0
) -> tuple[Image.Image, list[int]]:
    """A background with the signal object on it, and the object's box.

    ``framing`` > 1 renders the scene that much larger and keeps a window of ``size``
    at a random place: the same scene shot from closer, as in another photo of a shoot.
    """
    if framing == 1.0:
        image = render_background(size, scene_seed)
    else:
        rng = np.random.default_rng([object_seed, 5])
        big = render_background((int(size[0] * framing), int(size[1] * framing)), scene_seed)
        x, y = (rng.uniform(0, 1, 2) * [big.width - size[0], big.height - size[1]]).astype(int)
        image = big.crop((int(x), int(y), int(x) + size[0], int(y) + size[1]))
    return image, place_object(image, label, object_seed)


def repost_copy(image: Image.Image, box: list[int], repost_seed: int) -> tuple[Image.Image, list[int]]:
    """A hard near-duplicate: crop 3-8 % of the area, resize back, jitter brightness, contrast, colour.

    Returns the new picture and the object's box in its coordinates.
    """
    rng = np.random.default_rng([repost_seed, 3])
    w, h = image.size
    keep = np.sqrt(1 - rng.uniform(0.03, 0.08))  # the same share of each side, so the aspect stays
    left, top = rng.uniform(0, 1, 2) * (1 - keep) * np.array([w, h])
    crop = (int(left), int(top), int(left + keep * w), int(top + keep * h))
    copy = image.crop(crop).resize((w, h), Image.Resampling.BICUBIC)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        copy = enhancer(copy).enhance(float(rng.uniform(0.94, 1.06)))
    if rng.random() < 0.3:  # some reposts went through a filter app
        copy = copy.filter(ImageFilter.GaussianBlur(radius=0.6))
    sx, sy = w / (crop[2] - crop[0]), h / (crop[3] - crop[1])
    new_box = [
        int(np.clip((box[0] - crop[0]) * sx, 0, w)),
        int(np.clip((box[1] - crop[1]) * sy, 0, h)),
        int(np.clip((box[2] - crop[0]) * sx, 0, w)),
        int(np.clip((box[3] - crop[1]) * sy, 0, h)),
    ]
    return copy, new_box
