"""Procedural pictures: varied scenes and the two objects that carry the planted signal.

The "popular" object is a large daisy-like flower, the "unpopular" one a ball with the
dark seams of a basketball. Both are things an ImageNet CNN knows well (daisy,
basketball), so a frozen EfficientNet-Lite0 separates them linearly whatever the scene.
Each is drawn once as an RGBA sprite and pasted, so a video can move it cheaply frame by
frame.

Everything else varies as much as a brand's real feed does, because near-duplicate
detection reads distances *relative* to how far apart ordinary pictures are: a feed of
look-alike pictures would put unrelated posts as close as reposts. A scene is one of eight
background families (photo-like texture, gradient, stripes, checks, tabletop, bokeh,
bricks, landscape) in any hue, with neutral props (bottles, boxes, mugs, books, shoes,
lines of text) in varied colours, sizes and places; ``BUSY_SHARE`` of scenes are collages
of two families with many props, the odd posts of a feed. The flower varies in petal
colour, count, width, rings and tilt, the ball in colour, seams and light. Families and
object colours are drawn with Zipf-like odds: a feed has its usual looks and rare ones.
Scene colours are never pale-warm or orange, so nothing in the scene looks like either
object.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

OBJECT_SCALE = (0.32, 0.55)  # object diameter as a fraction of the image's shorter side
BUSY_SHARE = 0.3  # scenes that are collages of two backgrounds with many props: the odd posts of a feed

# Pale petal colours (every one has R > 200 and G > 150) and warm ball colours (R well above G above B).
_PETAL_COLOURS = (
    (250, 250, 245),
    (252, 228, 238),
    (250, 245, 205),
    (236, 236, 255),
    (252, 214, 226),
    (246, 232, 250),
    (255, 238, 170),
    (250, 220, 200),
)
_DISC_COLOURS = ((236, 180, 24), (244, 196, 40), (226, 168, 20), (240, 170, 50))
_BALL_COLOURS = (
    (226, 110, 32),
    (214, 92, 26),
    (236, 132, 44),
    (200, 96, 40),
    (205, 70, 40),
    (190, 110, 60),
    (232, 120, 70),
    (178, 84, 36),
)
_SEAM_COLOURS = ((40, 22, 12), (24, 20, 20), (62, 34, 20))


def _favourite(rng: np.random.Generator, n: int) -> int:
    """An index in 0..n-1 with Zipf-like odds (1, 1/2, 1/3, ...): a feed has its usual looks and rare ones."""
    odds = 1.0 / np.arange(1, n + 1)
    return int(rng.choice(n, p=odds / odds.sum()))


def render_background(size: tuple[int, int], scene_seed: int) -> Image.Image:
    """A scene drawn from ``scene_seed``: a background family (a collage of two in busy scenes), props, grain.

    Smooth fields are computed at reduced scale and upsampled, props are drawn with PIL,
    so a 1080 px background costs milliseconds.
    """
    rng = np.random.default_rng([scene_seed, 1])
    image = _FAMILIES[_favourite(rng, len(_FAMILIES))](rng, size)
    busy = rng.random() < BUSY_SHARE
    if busy:  # a second scene over half the picture: a collage, a shop window, a market stall
        other = _FAMILIES[int(rng.integers(len(_FAMILIES)))](rng, size)
        half = _half_box(rng, size)
        image.paste(other.crop(half), half[:2])
    _props(rng, image, (10, 22) if busy else (3, 11))
    return _grain(rng, image)


def _half_box(rng: np.random.Generator, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The left, right, top or bottom 35-65 % of a picture."""
    w, h = size
    cut = rng.uniform(0.35, 0.65)
    return (
        (0, 0, int(cut * w), h),
        (int(cut * w), 0, w, h),
        (0, 0, w, int(cut * h)),
        (0, int(cut * h), w, h),
    )[int(rng.integers(4))]


def _object_like(rgb: np.ndarray) -> bool:
    """Whether a colour could pass for a petal (pale, warm) or the ball (orange)."""
    r, g, b = rgb
    return bool((r > 200 and g > 150) or (r > g + 30 and g > b - 10))


def _scene_colour(rng: np.random.Generator) -> np.ndarray:
    """A scenery colour of any hue and saturation, never one that looks like either object."""
    while True:
        hsv = (rng.uniform(0, 1), rng.uniform(0.05, 0.8), rng.uniform(0.15, 0.78))
        rgb = np.array(colorsys.hsv_to_rgb(*hsv)) * 255
        if not _object_like(rgb):
            return rgb


def _upsampled(rng: np.random.Generator, cells: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Random values on a coarse ``cells`` grid, smoothly upsampled to ``size``: one noise octave."""
    tiny = Image.fromarray(rng.random((cells[1], cells[0])).astype(np.float32), "F")
    return np.asarray(tiny.resize(size, Image.Resampling.BICUBIC))


def _fractal(rng: np.random.Generator, size: tuple[int, int], stretch: float = 1.0) -> np.ndarray:
    """Fractal noise in 0..1: octaves from a few cells to fine grain, optionally stretched along x."""
    persistence = rng.uniform(0.45, 0.7)
    base = rng.uniform(2, 4)
    field = np.zeros((size[1], size[0]), np.float32)
    for octave in range(6):
        cells_y = int(base * 2**octave) + 1
        cells_x = max(2, int(cells_y / stretch))
        field += persistence**octave * _upsampled(rng, (cells_x, cells_y), size)
    field -= field.min()
    return field / max(float(field.max()), 1e-6)


def _ramp(field: np.ndarray, n_colours: int, rng: np.random.Generator) -> np.ndarray:
    """Colour a 0..1 field through a ramp of ``n_colours`` scenery colours."""
    palette = np.stack([_scene_colour(rng) for _ in range(n_colours)])
    stops = np.linspace(0, 1, n_colours)
    rgb = [np.interp(field, stops, palette[:, c]) for c in range(3)]
    return np.clip(np.dstack(rgb), 0, 255).astype(np.uint8)


def _from_small(pixels: np.ndarray, size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)


def _small(size: tuple[int, int], factor: int) -> tuple[int, int]:
    return max(4, size[0] // factor), max(4, size[1] // factor)


def _texture(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Photo-like texture (foliage, stone, fabric, wood): fractal noise through a colour ramp."""
    stretch = float(rng.choice([1.0, 1.0, rng.uniform(3, 8)]))  # sometimes grained like wood or cloth
    small = _small(size, 3)
    return _from_small(_ramp(_fractal(rng, small, stretch), int(rng.integers(2, 5)), rng), size)


def _gradient_field(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A linear two-colour gradient with soft colour blobs over it, at 1/8 scale."""
    w, h = _small(size, 8)
    c1, c2 = _scene_colour(rng), _scene_colour(rng)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.linspace(0, 1, w)[None, :] * np.cos(angle) + np.linspace(0, 1, h)[:, None] * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    field = c1 + (c2 - c1) * t[..., None]
    blobs = _ramp(_upsampled(rng, (4, 4), (w, h)), 2, rng)
    return np.clip(0.7 * field + 0.3 * blobs, 0, 255).astype(np.uint8)


def _gradient(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    return _from_small(_gradient_field(rng, size), size)


def _stripes(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A gradient with stripes of another colour at any angle and width."""
    image = _gradient(rng, size)
    w, h = size
    period = rng.uniform(0.04, 0.2) * max(w, h)
    angle = rng.uniform(0, np.pi)
    along = np.array([np.cos(angle), np.sin(angle)])  # across the stripes
    side = np.array([-along[1], along[0]]) * np.hypot(w, h)  # along a stripe
    centre, fill = np.array([w / 2, h / 2]), rng.uniform(0.25, 0.6) * period
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for k in np.arange(-np.hypot(w, h), np.hypot(w, h), period):
        a, b = centre + along * k, centre + along * (k + fill)
        draw.polygon([tuple(a - side), tuple(a + side), tuple(b + side), tuple(b - side)], fill=255)
    return _tinted(rng, image, mask)


def _checks(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A gradient with a checkerboard (tiles, gingham) of another colour."""
    image = _gradient(rng, size)
    w, h = size
    period = rng.uniform(0.04, 0.16) * max(w, h)
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for i, x in enumerate(np.arange(0, w, period)):
        for j, y in enumerate(np.arange(0, h, period)):
            if (i + j) % 2:
                draw.rectangle([x, y, x + period, y + period], fill=255)
    return _tinted(rng, image, mask)


def _tinted(rng: np.random.Generator, image: Image.Image, mask: Image.Image) -> Image.Image:
    """Blend a flat scenery colour into ``image`` where ``mask`` is set, at 20-60 % opacity."""
    tint = Image.new("RGB", image.size, tuple(int(c) for c in _scene_colour(rng)))
    opacity = rng.uniform(0.2, 0.6)
    return Image.composite(Image.blend(image, tint, opacity), image, mask)


def _tabletop(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A product shot: a wall (texture or gradient) above a grained table top."""
    w, h = size
    wall = (_texture if rng.random() < 0.5 else _gradient)(rng, size)
    table = _from_small(_ramp(_fractal(rng, _small(size, 3), rng.uniform(4, 10)), 2, rng), size)
    edge = int(rng.uniform(0.35, 0.7) * h)
    wall.paste(table.crop((0, edge, w, h)), (0, edge))
    ImageDraw.Draw(wall).line([0, edge, w, edge], fill=(30, 30, 34), width=max(1, h // 300))
    return wall


def _bokeh(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """An out-of-focus background: soft discs of light over a dark-to-mid gradient."""
    w, h = size
    small = _small(size, 4)
    layer = Image.fromarray(_gradient_field(rng, small)).resize(small, Image.Resampling.BILINEAR)
    glow = Image.new("RGB", small, (0, 0, 0))
    draw = ImageDraw.Draw(glow)
    for _ in range(int(rng.integers(8, 30))):
        x, y = rng.uniform(0, 1, 2) * small
        r = rng.uniform(0.02, 0.1) * max(small)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c * 0.5) for c in _scene_colour(rng)))
    return ImageChops.add(layer, glow.filter(ImageFilter.GaussianBlur(max(small) / 150))).resize(
        size, Image.Resampling.BILINEAR
    )


def _bricks(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """A wall of bricks or tiles in offset rows, each a slightly different shade, with mortar lines."""
    w, h = size
    mortar, brick = _scene_colour(rng), _scene_colour(rng)
    image = Image.new("RGB", size, tuple(int(c) for c in mortar))
    draw = ImageDraw.Draw(image)
    height = rng.uniform(0.04, 0.12) * h
    length = height * rng.uniform(1.2, 3.5)
    gap = max(1.0, height * rng.uniform(0.05, 0.15))
    for row, y in enumerate(np.arange(0, h, height)):
        for x in np.arange(-(row % 2) * length / 2, w, length):
            shade = np.clip(brick * rng.uniform(0.85, 1.1), 0, 255).astype(int)
            draw.rectangle(
                [x + gap, y + gap, x + length - gap, y + height - gap], fill=tuple(int(c) for c in shade)
            )
    return image


def _landscape(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Outdoors: a sky gradient above a textured ground, meeting at a wavy horizon."""
    w, h = size
    sky = _gradient(rng, size)
    ground = _texture(rng, size)
    small = _small(size, 8)
    horizon = rng.uniform(0.3, 0.7) * h + 0.08 * h * (_upsampled(rng, (5, 2), (small[0], 2))[0] - 0.5)
    rows = np.arange(h)[:, None]
    columns = np.interp(np.arange(w), np.linspace(0, w - 1, small[0]), horizon)[None, :]
    mask = Image.fromarray(((rows > columns) * 255).astype(np.uint8))
    return Image.composite(ground, sky, mask)


_FAMILIES: tuple[Callable[[np.random.Generator, tuple[int, int]], Image.Image], ...] = (
    _texture,
    _gradient,
    _stripes,
    _checks,
    _tabletop,
    _bokeh,
    _bricks,
    _landscape,
)


def _grain(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """Sensor-like grain: a random 128 px tile of small noise repeated over the image."""
    w, h = image.size
    tile = rng.integers(0, 7, (128, 128, 1), dtype=np.uint8)
    noise = np.tile(tile, (h // 128 + 1, w // 128 + 1, 3))[:h, :w]
    return ImageChops.add(image, Image.fromarray(noise), scale=1.0, offset=-3)


# Neutral props as polygons in unit coordinates: x across, y up from the base (y < 0 is above).
_PROPS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "bottle": (
        (
            (-0.22, 0),
            (0.22, 0),
            (0.22, -0.62),
            (0.08, -0.78),
            (0.08, -1.0),
            (-0.08, -1.0),
            (-0.08, -0.78),
            (-0.22, -0.62),
        ),
        ((-0.1, -0.92), (0.1, -0.92), (0.1, -1.02), (-0.1, -1.02)),
    ),
    "box": (
        ((-0.4, 0), (0.2, 0), (0.2, -0.6), (-0.4, -0.6)),
        ((-0.4, -0.6), (0.2, -0.6), (0.4, -0.75), (-0.2, -0.75)),
        ((0.2, 0), (0.4, -0.15), (0.4, -0.75), (0.2, -0.6)),
    ),
    "mug": (
        ((-0.3, 0), (0.2, 0), (0.22, -0.6), (-0.32, -0.6)),
        (
            (0.2, -0.12),
            (0.4, -0.2),
            (0.4, -0.42),
            (0.21, -0.5),
            (0.21, -0.42),
            (0.32, -0.38),
            (0.32, -0.24),
            (0.2, -0.2),
        ),
    ),
    "book": (
        ((-0.5, 0), (0.5, 0), (0.5, -0.18), (-0.5, -0.18)),
        ((-0.46, -0.18), (0.42, -0.18), (0.42, -0.34), (-0.46, -0.34)),
        ((-0.4, -0.34), (0.48, -0.34), (0.48, -0.48), (-0.4, -0.48)),
    ),
    "shoe": (
        (
            (-0.5, 0),
            (0.5, 0),
            (0.52, -0.08),
            (0.3, -0.12),
            (0.05, -0.3),
            (-0.2, -0.42),
            (-0.45, -0.45),
            (-0.52, -0.1),
        ),
        ((-0.52, 0), (0.52, 0), (0.52, -0.05), (-0.52, -0.05)),
    ),
}


def _props(rng: np.random.Generator, image: Image.Image, count: tuple[int, int]) -> None:
    """Scatter ``count`` (low, high exclusive) neutral props and text-like strokes, each in its own colour."""
    draw = ImageDraw.Draw(image)
    w, h = image.size
    side = min(w, h)
    names = list(_PROPS)
    for _ in range(int(rng.integers(*count))):
        if rng.random() < 0.2:
            _text_strokes(rng, draw, (w, h))
            continue
        parts = _PROPS[names[int(rng.integers(len(names)))]]
        scale = rng.uniform(0.08, 0.3) * side
        angle = rng.normal(0, 0.25)
        origin = rng.uniform(0, 1, 2) * [w, h]  # where the prop stands
        colour = _scene_colour(rng)
        for k, part in enumerate(parts):
            shade = colour * (1.0 - 0.18 * k)  # each face a little darker: reads as a solid
            draw.polygon(_placed(part, origin, scale, angle), fill=tuple(int(c) for c in shade))


def _placed(
    points: tuple[tuple[float, float], ...], origin: np.ndarray, scale: float, angle: float
) -> list[tuple[float, float]]:
    """Unit-coordinate points scaled, rotated by ``angle`` and moved to ``origin``."""
    xy = np.asarray(points) * scale
    ca, sa = np.cos(angle), np.sin(angle)
    moved = np.stack([xy[:, 0] * ca - xy[:, 1] * sa, xy[:, 0] * sa + xy[:, 1] * ca], axis=1) + origin
    return [(float(x), float(y)) for x, y in moved]


def _text_strokes(rng: np.random.Generator, draw: ImageDraw.ImageDraw, size: tuple[int, int]) -> None:
    """A block of 1-4 lines of 'words' (short thick strokes), like a sign or a printed label."""
    w, h = size
    height = rng.uniform(0.012, 0.035) * min(w, h)
    x0, y = rng.uniform(0, 0.7) * w, rng.uniform(0, 0.95) * h
    colour = tuple(int(c) for c in _scene_colour(rng) * 0.6)
    for _ in range(int(rng.integers(1, 5))):
        x = x0
        for _ in range(int(rng.integers(2, 7))):
            length = rng.uniform(1.5, 6) * height
            draw.rectangle([x, y, x + length, y + height], fill=colour)
            x += length + 0.8 * height
        y += 1.8 * height


def object_sprite(label: str, diameter: int, rng: np.random.Generator) -> Image.Image:
    """The signal object as an RGBA sprite ``diameter`` pixels square: a daisy or a ball."""
    if label == "popular":
        return _daisy(diameter, rng)
    return _ball(diameter, rng)


def _daisy(d: int, rng: np.random.Generator) -> Image.Image:
    """Pale petals (one or two rings) around a yellow, dotted disc, tilted as if seen at an angle."""
    sprite = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sprite)
    c = d / 2
    base = np.array(_PETAL_COLOURS[_favourite(rng, len(_PETAL_COLOURS))])
    disc = rng.uniform(0.13, 0.19) * d
    rings = [(int(rng.integers(10, 33)), 1.0)]
    if rng.random() < 0.35:  # a double flower: an inner ring of shorter petals between the outer ones
        rings.append((rings[0][0], 0.75))
    for ring, (n_petals, reach) in enumerate(rings):
        r_in, r_out = 0.8 * disc, 0.49 * d * reach
        half_width = min(0.55 * np.pi * (r_in + r_out) / n_petals, 0.1 * d) * rng.uniform(0.85, 1.1)
        start = rng.uniform(0, 2 * np.pi) + ring * np.pi / n_petals
        for k in range(n_petals):
            a = start + 2 * np.pi * k / n_petals + rng.normal(0, 0.04)
            length = (r_out - r_in) * rng.uniform(0.9, 1.0)
            mid = r_in + length / 2
            petal = _ellipse_points(c + np.cos(a) * mid, c + np.sin(a) * mid, length / 2, half_width, a)
            shade = np.clip(base + rng.normal(0, 6, 3) - 8 * ring, 0, 255).astype(int)
            draw.polygon(petal, fill=(*shade, 255), outline=(*(shade * 0.88).astype(int), 255))
    _disc(draw, c, disc, d, rng)
    return _tilted(sprite, rng)


def _disc(draw: ImageDraw.ImageDraw, c: float, radius: float, d: int, rng: np.random.Generator) -> None:
    colour = np.array(_DISC_COLOURS[int(rng.integers(len(_DISC_COLOURS)))])
    draw.ellipse(
        [c - radius, c - radius, c + radius, c + radius],
        fill=(*colour, 255),
        outline=(*(colour * 0.78).astype(int), 255),
        width=max(1, d // 80),
    )
    for _ in range(int(40 * (d / 400) ** 2) + 8):
        rr, aa = radius * 0.85 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
        dot = max(1, d / 150)
        x, y = c + rr * np.cos(aa), c + rr * np.sin(aa)
        draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=(*(colour * 0.7).astype(int), 255))


def _tilted(sprite: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The round sprite squashed to 85-100 % in one direction and turned: a flower seen at an angle.

    It stays inside its square, so a video can move it without clipping.
    """
    d = sprite.width
    squash = max(1, int(round(d * rng.uniform(0.85, 1.0))))
    flat = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    flat.paste(sprite.resize((d, squash), Image.Resampling.BILINEAR), (0, (d - squash) // 2))
    return flat.rotate(float(rng.uniform(0, 180)), resample=Image.Resampling.BILINEAR)


def _ellipse_points(
    cx: float, cy: float, a: float, b: float, angle: float, n: int = 24
) -> list[tuple[float, float]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = a * np.cos(t), b * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return list(zip((cx + x * ca - y * sa).tolist(), (cy + x * sa + y * ca).tolist(), strict=True))


def _ball(d: int, rng: np.random.Generator) -> Image.Image:
    """A warm-coloured, shaded ball with the dark seams of a basketball, lit from a random side."""
    base = np.array(_BALL_COLOURS[_favourite(rng, len(_BALL_COLOURS))], dtype=np.float32)
    base = np.clip(base * rng.uniform(0.92, 1.05), 0, 255)
    yy, xx = (np.mgrid[0:d, 0:d].astype(np.float32) + 0.5) / d * 2 - 1  # -1..1 across the sprite
    inside = xx**2 + yy**2 <= 1.0
    towards = rng.uniform(0, 2 * np.pi)
    light = 0.5 * np.array([np.cos(towards), np.sin(towards)])  # the highlight's place
    shade = 1.05 - rng.uniform(0.35, 0.5) * np.sqrt((xx - light[0]) ** 2 + (yy - light[1]) ** 2)
    pebbles = rng.normal(1.0, 0.03, (d, d)).astype(np.float32)
    rgb = np.clip(base * (shade * pebbles)[..., None], 0, 255).astype(np.uint8)
    alpha = (inside * 255).astype(np.uint8)
    sprite = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    seams = Image.new("L", (d, d), 0)
    draw = ImageDraw.Draw(seams)
    width = max(1, int(d * rng.uniform(1 / 70, 1 / 40)))
    tilt = rng.uniform(0, np.pi)
    c = d / 2
    for a in (tilt, tilt + np.pi / 2):  # two great circles seen edge-on
        draw.line(
            [c - c * np.cos(a), c - c * np.sin(a), c + c * np.cos(a), c + c * np.sin(a)],
            fill=255,
            width=width,
        )
    bulge = rng.uniform(0.85, 1.05)
    for side in (-1, 1):  # the two curved seams
        off = side * bulge * d
        draw.ellipse(
            [c + off - 0.8 * d, c - 0.8 * d, c + off + 0.8 * d, c + 0.8 * d], outline=255, width=width
        )
    seams = seams.rotate(np.degrees(tilt), resample=Image.Resampling.BILINEAR)
    dark = Image.new("RGBA", (d, d), (*_SEAM_COLOURS[int(rng.integers(len(_SEAM_COLOURS)))], 255))
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
    """A near-duplicate as hard as a real repost: crop 2-6 % of the area, resize back, shift colours mildly.

    Real reposts are re-crops and re-uploads, not re-shoots: a few per cent lost at the
    edges, a slightly different edit (brightness, contrast, saturation, white balance
    within a few per cent) and another JPEG quality (chosen by the writer). Returns the
    new picture and the object's box in its coordinates.
    """
    rng = np.random.default_rng([repost_seed, 3])
    w, h = image.size
    keep = np.sqrt(1 - rng.uniform(0.02, 0.06))  # the same share of each side, so the aspect stays
    left, top = rng.uniform(0, 1, 2) * (1 - keep) * np.array([w, h])
    crop = (int(left), int(top), int(left + keep * w), int(top + keep * h))
    copy = image.crop(crop).resize((w, h), Image.Resampling.BICUBIC)
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        copy = enhancer(copy).enhance(float(rng.uniform(0.96, 1.04)))
    gains = rng.uniform(0.97, 1.03, 3)  # a warmer or cooler edit
    copy = copy.point([min(255, int(v * g)) for g in gains for v in range(256)])
    sx, sy = w / (crop[2] - crop[0]), h / (crop[3] - crop[1])
    new_box = [
        int(np.clip((box[0] - crop[0]) * sx, 0, w)),
        int(np.clip((box[1] - crop[1]) * sy, 0, h)),
        int(np.clip((box[2] - crop[0]) * sx, 0, w)),
        int(np.clip((box[3] - crop[1]) * sy, 0, h)),
    ]
    return copy, new_box
