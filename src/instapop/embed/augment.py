"""The paper's image augmentation (§4.2), seeded, applied once to make K feature views per image.

The paper trains with the backbone frozen and augments on the fly: horizontal
flips, translations up to 10 %, 10 % zoom, brightness, contrast and saturation.
With a frozen backbone the same effect costs one forward pass per view if the
views are drawn once and embedded: view k is what epoch k would have seen.
View ``v`` depends only on ``(seed, v)``, so the first K views of a larger set are
the same K views, and a cache keyed by view index stays valid when K grows.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageEnhance

from instapop.config import PAPER, Config

# Pixels outside the shifted / zoomed image are filled by reflection (Keras'
# default fill mode); a margin this large covers the worst shift plus zoom-out.
_MARGIN = 0.25


def augment_views(image: np.ndarray, n_views: int, seed: int, config: Config = PAPER) -> np.ndarray:
    """Draw ``n_views`` augmented copies of an image; view 0 is the image itself.

    Parameters
    ----------
    image : uint8 (H, W, 3) RGB image, already at the network's input size.
    n_views : number of views to return (>= 1).
    seed : per-image seed; the same image, seed and view index give the same view.
    config : augmentation strengths (``aug_translate``, ``aug_zoom``, ``aug_brightness``,
        ``aug_contrast``, ``aug_saturation``).

    Returns
    -------
    uint8 array of shape (n_views, H, W, 3).

    Examples
    --------
    >>> import numpy as np
    >>> views = augment_views(np.zeros((32, 32, 3), np.uint8), n_views=3, seed=0)
    >>> views.shape
    (3, 32, 32, 3)
    """
    if n_views < 1:
        raise ValueError(f"n_views must be at least 1; got {n_views}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) image; got {image.dtype} {image.shape}")
    views = [image.copy()]
    if n_views > 1:
        padded = _reflect_padded(image)  # the same for every view: padded once (a third of a view's time)
        views += [
            _augmented(padded, image.shape[:2], np.random.default_rng([seed, v]), config)
            for v in range(1, n_views)
        ]
    return np.stack(views)


def _margins(height: int, width: int) -> tuple[int, int]:
    return math.ceil(_MARGIN * height), math.ceil(_MARGIN * width)


def _reflect_padded(image: np.ndarray) -> Image.Image:
    """The image with a reflected margin of ``_MARGIN`` of its size on each side."""
    pad_y, pad_x = _margins(*image.shape[:2])
    return Image.fromarray(np.pad(image, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect"))


def _augmented(
    padded: Image.Image, size: tuple[int, int], rng: np.random.Generator, config: Config
) -> np.ndarray:
    flip = rng.random() < 0.5
    shift_x, shift_y = rng.uniform(-config.aug_translate, config.aug_translate, size=2)
    zoom = rng.uniform(1 - config.aug_zoom, 1 + config.aug_zoom)
    brightness, contrast, saturation = (
        1 + rng.uniform(-strength, strength)
        for strength in (config.aug_brightness, config.aug_contrast, config.aug_saturation)
    )
    moved = _flip_shift_zoom(padded, size, flip, shift_x, shift_y, zoom)
    moved = ImageEnhance.Brightness(moved).enhance(brightness)
    moved = ImageEnhance.Contrast(moved).enhance(contrast)
    moved = ImageEnhance.Color(moved).enhance(saturation)
    return np.asarray(moved, dtype=np.uint8)


def _flip_shift_zoom(
    padded: Image.Image, size: tuple[int, int], flip: bool, shift_x: float, shift_y: float, zoom: float
) -> Image.Image:
    """One affine resampling of the padded (height, width) = ``size`` image: mirror, zoom about the centre,
    shift by a fraction of the size."""
    height, width = size
    pad_y, pad_x = _margins(height, width)
    # Output pixel (x, y) samples the padded input at (a x + c, e y + f): the inverse map.
    scale = 1.0 / zoom
    direction = -1.0 if flip else 1.0
    cx, cy = width / 2, height / 2
    a = scale * direction
    c = pad_x + cx - a * cx - scale * shift_x * width
    e = scale
    f = pad_y + cy - e * cy - scale * shift_y * height
    return padded.transform(
        (width, height), Image.Transform.AFFINE, (a, 0, c, 0, e, f), Image.Resampling.BILINEAR
    )
