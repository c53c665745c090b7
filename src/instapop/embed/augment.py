"""The paper's image augmentation (§4.2), seeded, applied once to make K feature views per image.

The paper trains with the backbone frozen and augments on the fly: horizontal
flips, translations up to 10 %, 10 % zoom, brightness, contrast and saturation.
With a frozen backbone the same effect costs one forward pass per view if the
views are drawn once and embedded: view k is what epoch k would have seen.
View ``v`` depends only on ``(seed, v)``, so the first K views of a larger set are
the same K views, and a cache keyed by view index stays valid when K grows.

One view is one OpenCV affine warp (reflected border) and one pass of float
arithmetic for the three colour changes, with the formulas of Pillow's
``ImageEnhance`` (which rounds to 8 bits after each): a view costs a third of
what Pillow's transform and three enhancers took, a quarter of the network's
time per view before (bench/embed.py prints the steps).
"""

from __future__ import annotations

import cv2
import numpy as np

from instapop.config import PAPER, Config

# Bump when a view's pixels change for the same (image, seed, view): cached views stop matching.
AUGMENT_VERSION = 2
# ITU-R 601-2 luma, as Pillow's "L" conversion: the grey that contrast and saturation blend towards.
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


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
    views += [_augmented(image, np.random.default_rng([seed, v]), config) for v in range(1, n_views)]
    return np.stack(views)


def _augmented(image: np.ndarray, rng: np.random.Generator, config: Config) -> np.ndarray:
    flip = rng.random() < 0.5
    shift_x, shift_y = rng.uniform(-config.aug_translate, config.aug_translate, size=2)
    zoom = rng.uniform(1 - config.aug_zoom, 1 + config.aug_zoom)
    brightness, contrast, saturation = (
        1 + rng.uniform(-strength, strength)
        for strength in (config.aug_brightness, config.aug_contrast, config.aug_saturation)
    )
    moved = _flip_shift_zoom(image, flip, shift_x, shift_y, zoom)
    return _colour(moved, brightness, contrast, saturation)


def _flip_shift_zoom(
    image: np.ndarray, flip: bool, shift_x: float, shift_y: float, zoom: float
) -> np.ndarray:
    """One bilinear affine resampling: mirror, zoom about the centre, shift by a fraction of the size.

    Pixels from outside the image are reflected (Keras' default fill mode; OpenCV's
    BORDER_REFLECT_101 mirrors without repeating the edge pixel).
    """
    height, width = image.shape[:2]
    # Output pixel (x, y) samples the input at (a x + c, e y + f): the inverse map.
    scale = 1.0 / zoom
    a = -scale if flip else scale
    cx, cy = width / 2, height / 2
    inverse = np.array(
        [
            [a, 0.0, cx - a * cx - scale * shift_x * width + 0.5 * (a - 1)],
            [0.0, scale, cy - scale * cy - scale * shift_y * height + 0.5 * (scale - 1)],
        ]
    )
    return cv2.warpAffine(
        image,
        inverse,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def _colour(image: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """Brightness, then contrast about the mean grey, then saturation about each pixel's grey.

    Each step clips to [0, 255] as Pillow's enhancers do (a pixel made too bright stays white).
    """
    x = np.minimum(image.astype(np.float32) * np.float32(brightness), 255)
    mean = np.float32(np.rint((x @ _LUMA).mean()))
    x = np.clip(mean + (x - mean) * np.float32(contrast), 0, 255)
    grey = (x @ _LUMA)[..., None]
    x = grey + (x - grey) * np.float32(saturation)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
