"""Hard cases for duplicate detection: copies that look different, different pictures that look alike.

``generate_dedup_cases(out_dir)`` writes pictures and ``dedup_cases.json``::

    out_dir/pictures/<name>.jpg | .png     every picture of every case, plus unrelated ones
    out_dir/dedup_cases.json               the ground truth

**Hard positives** (the same photograph, so a duplicate), each made from a fresh scene of
the generator's own drawing code (:mod:`instapop.synthetic._draw`) with its signal object:

- ``crop``: 50-80 % of the area kept, at another place, resized;
- ``jpeg``: re-encoded at JPEG quality 50-70 after a resize to 60-90 %;
- ``grade``: a colour grade (gamma, contrast, saturation, a warm or cool cast) and a crop of 5-15 %;
- ``border``: a white, black or coloured border of 5-10 % of the side on each side;
- ``caption``: a line of text on a translucent band over the lower part, as a repost's caption;
- ``logo``: a logo or sticker (a badge with a word) laid over a corner;
- ``screenshot``: a phone screenshot of the post: status bar, the app's header, the picture
  at the screen's width, the action icons and caption lines below.

**Hard negatives** (different pictures that an embedding finds close):

- ``reshoot``: the same scene shot again, the camera shifted by 6-12 % of the side and the
  same object moved by a third of the side or more;
- ``text_card``: text cards of one template (colour, frame, logo): the text differs;
- ``panorama``: the left and right halves of one wide picture, as two carousel slides;
- ``mirror``: a design and its mirror image.

Unrelated pictures (``singletons``) fill the set so that, as in a real feed, most
pictures have no copy: an automatic rule reading distances relative to ordinary
pictures needs ordinary pictures.

``dedup_cases.json``: ``{"pairs": [{"a", "b", "kind", "same"}], "pictures": {name: file},
"singletons": [name]}``; text cards of one template give every pair of the template.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from instapop.synthetic._draw import object_sprite, paste_sprite, render_background, render_picture

POSITIVE_KINDS = ("crop", "jpeg", "grade", "border", "caption", "logo", "screenshot")
NEGATIVE_KINDS = ("reshoot", "text_card", "panorama", "mirror")
CASE_QUALITY = 90  # JPEG quality of every picture but the re-encoded copies
_WORDS = (
    "new",
    "in",
    "store",
    "today",
    "summer",
    "sale",
    "collection",
    "limited",
    "edition",
    "thank",
    "you",
    "for",
    "every",
    "order",
    "launch",
    "event",
    "studio",
    "coffee",
    "weekend",
    "offer",
)


@dataclass(frozen=True)
class DedupCases:
    """Where the hard cases are.

    Attributes
    ----------
    folder : Path
        ``out_dir/pictures``: every picture.
    truth : Path
        ``out_dir/dedup_cases.json``.
    """

    folder: Path
    truth: Path


def generate_dedup_cases(
    out_dir: Path, per_kind: int = 4, singletons: int = 30, side: int = 480, seed: int = 0
) -> DedupCases:
    """Write hard positive and negative duplicate cases with their ground truth.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created).
    per_kind : int
        Cases of each kind (text cards: templates, each of three cards).
    singletons : int
        Unrelated pictures added to the set.
    side : int
        Shorter side of the pictures in pixels (the generator's posts have 1080).
    seed : int
        The same arguments give the same files.

    Returns
    -------
    DedupCases

    Examples
    --------
    >>> cases = generate_dedup_cases(Path("cases"), per_kind=2)  # doctest: +SKIP
    >>> json.loads(cases.truth.read_text())["pairs"][0]["kind"]  # doctest: +SKIP
    'crop'
    """
    out_dir = Path(out_dir)
    folder = out_dir / "pictures"
    folder.mkdir(parents=True, exist_ok=True)
    writer = _Writer(folder)
    pairs: list[dict[str, Any]] = []
    scene = 0
    for kind in POSITIVE_KINDS + NEGATIVE_KINDS:
        for n in range(per_kind):
            rng = np.random.default_rng([seed, scene, 11])
            made = _MAKERS[kind](rng, side, seed * 10_000 + scene)
            names = [
                writer.save(f"{kind}_{n}_{k}", picture, quality) for k, (picture, quality) in enumerate(made)
            ]
            same = kind in POSITIVE_KINDS
            pairs += [{"a": a, "b": b, "kind": kind, "same": same} for a, b in combinations(names, 2)]
            scene += 1
    alone = []
    for n in range(singletons):
        picture, _ = _scene(np.random.default_rng([seed, scene, 11]), side, seed * 10_000 + scene)
        alone.append(writer.save(f"single_{n}", picture, CASE_QUALITY))
        scene += 1
    truth = {"pairs": pairs, "pictures": writer.files, "singletons": alone}
    cases = DedupCases(folder=folder, truth=out_dir / "dedup_cases.json")
    cases.truth.write_text(json.dumps(truth, indent=1))
    return cases


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, str] = {}

    def save(self, name: str, picture: Image.Image, quality: int | None) -> str:
        """JPEG at ``quality``, or PNG (a screenshot) when ``quality`` is None."""
        path = self.folder / f"{name}.{'png' if quality is None else 'jpg'}"
        if quality is None:
            picture.save(path, format="PNG")
        else:
            picture.convert("RGB").save(path, format="JPEG", quality=quality)
        self.files[name] = str(path)
        return name


# --------------------------------------------------------------------------- scenes


def _aspect(rng: np.random.Generator, side: int) -> tuple[int, int]:
    """Square, portrait 4:5 or landscape, as posts are."""
    return [(side, side), (side, side * 5 // 4), (side * 3 // 2, side)][int(rng.integers(3))]


def _scene(rng: np.random.Generator, side: int, scene_seed: int) -> tuple[Image.Image, str]:
    label = ("popular", "unpopular")[int(rng.integers(2))]
    picture, _ = render_picture(_aspect(rng, side), label, scene_seed, scene_seed + 7_919)
    return picture, label


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.resize(size, Image.Resampling.BICUBIC)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(8, size))


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(_WORDS[int(i)] for i in rng.integers(len(_WORDS), size=n))


def _reencoded(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop_share(rng: np.random.Generator, image: Image.Image, share: float) -> Image.Image:
    """A crop keeping ``share`` of the area (aspect within 20 % of the original's), at a random place."""
    w, h = image.size
    stretch = rng.uniform(0.85, 1.15)
    cw = min(w, int(round(w * np.sqrt(share) * stretch)))
    ch = min(h, int(round(w * h * share / cw)))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch))


# --------------------------------------------------------------------------- hard positives

Made = list[tuple[Image.Image, int | None]]  # pictures of one case and their JPEG quality (None: PNG)


def _positive_crop(rng: np.random.Generator, side: int, seed: int) -> Made:
    original, _ = _scene(rng, side, seed)
    copy = _crop_share(rng, original, rng.uniform(0.5, 0.8))
    scale = min(original.size) / min(copy.size)  # enlarged back to a post's size, its own aspect kept
    return [
        (original, CASE_QUALITY),
        (_fit(copy, (round(copy.width * scale), round(copy.height * scale))), CASE_QUALITY),
    ]


def _positive_jpeg(rng: np.random.Generator, side: int, seed: int) -> Made:
    original, _ = _scene(rng, side, seed)
    scale = rng.uniform(0.6, 0.9)
    small = _fit(original, (int(original.width * scale), int(original.height * scale)))
    return [(original, CASE_QUALITY), (small, int(rng.integers(50, 71)))]


def _graded(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    gamma = rng.uniform(0.7, 1.4)
    image = image.point([int(255 * (v / 255) ** gamma) for v in range(256)] * 3)
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.75, 1.3))
    image = ImageEnhance.Color(image).enhance(rng.uniform(0.4, 1.6))
    cast = rng.uniform(0.85, 1.15, 3)  # a warm or cool look
    return image.point([min(255, int(v * g)) for g in cast for v in range(256)])


def _positive_grade(rng: np.random.Generator, side: int, seed: int) -> Made:
    original, _ = _scene(rng, side, seed)
    copy = _graded(rng, _crop_share(rng, original, rng.uniform(0.85, 0.95)))
    return [(original, CASE_QUALITY), (copy, CASE_QUALITY)]


def _positive_border(rng: np.random.Generator, side: int, seed: int) -> Made:
    original, _ = _scene(rng, side, seed)
    pad = int(rng.uniform(0.05, 0.1) * min(original.size))
    colour = [(255, 255, 255), (0, 0, 0), tuple(int(c) for c in rng.integers(0, 256, 3))][
        int(rng.integers(3))
    ]
    framed = ImageOps.expand(original, border=pad, fill=colour)
    return [(original, CASE_QUALITY), (_fit(framed, original.size), CASE_QUALITY)]


def _positive_caption(rng: np.random.Generator, side: int, seed: int) -> Made:
    """A line of white text on a translucent dark band across the lower part, as a repost's caption."""
    original, _ = _scene(rng, side, seed)
    w, h = original.size
    size = int(h * rng.uniform(0.045, 0.06))
    top = int(h * rng.uniform(0.72, 0.88))
    band = Image.new("RGBA", original.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    draw.rectangle([0, top - size // 2, w, top + 3 * size // 2], fill=(0, 0, 0, int(rng.integers(90, 170))))
    draw.text((int(0.05 * w), top), _words(rng, 4), font=_font(size), fill=(255, 255, 255, 255))
    captioned = Image.alpha_composite(original.convert("RGBA"), band).convert("RGB")
    return [(original, CASE_QUALITY), (captioned, CASE_QUALITY)]


def _positive_logo(rng: np.random.Generator, side: int, seed: int) -> Made:
    original, _ = _scene(rng, side, seed)
    copy = original.copy()
    w, h = copy.size
    d = int(min(w, h) * rng.uniform(0.14, 0.2))
    badge = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(badge)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    draw.ellipse(
        [0, 0, d - 1, d - 1], fill=(*colour, 255), outline=(255, 255, 255, 255), width=max(2, d // 20)
    )
    draw.text(
        (d // 2, d // 2),
        _WORDS[int(rng.integers(len(_WORDS)))],
        font=_font(d // 5),
        fill="white",
        anchor="mm",
    )
    corner = [(int(0.03 * w), int(0.03 * h)), (w - d - int(0.03 * w), h - d - int(0.03 * h))][
        int(rng.integers(2))
    ]
    copy.paste(badge, corner, badge)
    return [(original, CASE_QUALITY), (copy, CASE_QUALITY)]


def _positive_screenshot(rng: np.random.Generator, side: int, seed: int) -> Made:
    """The post as a phone shows it: status bar, header, the picture at the screen's width, icons, caption."""
    original, _ = _scene(rng, side, seed)
    screen_w = int(side * rng.uniform(0.9, 1.1))
    screen = Image.new("RGB", (screen_w, int(screen_w * 19.5 / 9)), (255, 255, 255))
    draw = ImageDraw.Draw(screen)
    unit = screen_w // 30
    draw.text((unit, unit // 2), "9:41", font=_font(int(1.4 * unit)), fill="black")  # status bar
    draw.rectangle([screen_w - 4 * unit, unit, screen_w - unit, 2 * unit], outline="black", width=2)
    draw.rectangle([screen_w - 4 * unit + 3, unit + 3, screen_w - 2 * unit, 2 * unit - 3], fill="black")
    header = 4 * unit  # the account's header: avatar and name
    draw.ellipse(
        [unit, header, 4 * unit, header + 3 * unit], fill=tuple(int(c) for c in rng.integers(0, 256, 3))
    )
    draw.text((5 * unit, header + unit // 2), "brand_account", font=_font(int(1.3 * unit)), fill="black")
    top = header + 4 * unit
    picture = _fit(original, (screen_w, int(original.height * screen_w / original.width)))
    screen.paste(picture, (0, top))
    y = top + picture.height + unit
    for k in range(3):  # like, comment, share
        draw.ellipse(
            [unit + 4 * k * unit, y, 3 * unit + 4 * k * unit, y + 2 * unit], outline="black", width=2
        )
    for line in range(3):
        draw.text(
            (unit, y + (3 + 2 * line) * unit), _words(rng, 5), font=_font(int(1.3 * unit)), fill="black"
        )
    return [(original, CASE_QUALITY), (screen, None)]


# --------------------------------------------------------------------------- hard negatives


def _negative_reshoot(rng: np.random.Generator, side: int, seed: int) -> Made:
    """One scene, two shots: the camera shifted 6-12 % of the side, the same object moved."""
    size = _aspect(rng, side)
    shift = rng.uniform(0.06, 0.12) * side
    big = render_background((size[0] + int(shift) + 1, size[1] + int(shift) + 1), seed)
    diameter = int(rng.uniform(0.32, 0.55) * min(size))
    sprite = object_sprite(("popular", "unpopular")[int(rng.integers(2))], diameter, rng)
    angle = rng.uniform(0, 2 * np.pi)
    shots = []
    for k, (dx, dy) in enumerate(
        [(0, 0), (int(shift * abs(np.cos(angle))), int(shift * abs(np.sin(angle))))]
    ):
        shot = big.crop((dx, dy, dx + size[0], dy + size[1]))
        # The object is a third of the side or more away from where it was in the first shot.
        x = int((0.05 if k == 0 else 0.95) * (size[0] - diameter))
        y = int(rng.uniform(0.05, 0.95) * (size[1] - diameter))
        paste_sprite(shot, sprite, x, y)
        shots.append((shot, CASE_QUALITY))
    return shots


def _negative_text_card(rng: np.random.Generator, side: int, seed: int) -> Made:
    """Three cards of one template: background, frame and logo shared, the text each card's own."""
    size = (side, side * 5 // 4) if rng.random() < 0.5 else (side, side)
    background = tuple(int(c) for c in rng.integers(0, 256, 3))
    ink = (255, 255, 255) if sum(background) < 380 else (20, 20, 20)
    template = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(template)
    unit = side // 24
    draw.rectangle([unit, unit, size[0] - unit, size[1] - unit], outline=ink, width=max(2, unit // 3))
    draw.ellipse([2 * unit, 2 * unit, 5 * unit, 5 * unit], outline=ink, width=max(2, unit // 4))
    draw.text((6 * unit, 2 * unit), "BRAND", font=_font(2 * unit), fill=ink)
    cards = []
    for _ in range(3):
        card = template.copy()
        write = ImageDraw.Draw(card)
        write.text((3 * unit, 7 * unit), _words(rng, 2).upper(), font=_font(int(2 * unit)), fill=ink)
        for line in range(int(rng.integers(5, 8))):
            write.text(
                (3 * unit, (11 + 2 * line) * unit), _words(rng, 3), font=_font(int(1.4 * unit)), fill=ink
            )
        cards.append((card, CASE_QUALITY))
    return cards


def _negative_panorama(rng: np.random.Generator, side: int, seed: int) -> Made:
    """One wide picture split into two square carousel slides: they meet at an edge, they share nothing."""
    wide, _ = render_picture(
        (2 * side, side), ("popular", "unpopular")[int(rng.integers(2))], seed, seed + 7_919
    )
    return [
        (wide.crop((0, 0, side, side)), CASE_QUALITY),
        (wide.crop((side, 0, 2 * side, side)), CASE_QUALITY),
    ]


def _negative_mirror(rng: np.random.Generator, side: int, seed: int) -> Made:
    original, _ = _scene(rng, side, seed)
    return [(original, CASE_QUALITY), (ImageOps.mirror(original), CASE_QUALITY)]


_MAKERS = {
    "crop": _positive_crop,
    "jpeg": _positive_jpeg,
    "grade": _positive_grade,
    "border": _positive_border,
    "caption": _positive_caption,
    "logo": _positive_logo,
    "screenshot": _positive_screenshot,
    "reshoot": _negative_reshoot,
    "text_card": _negative_text_card,
    "panorama": _negative_panorama,
    "mirror": _negative_mirror,
}
