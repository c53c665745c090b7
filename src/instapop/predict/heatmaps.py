"""A candidate's explanation as PNG bytes: an image's Grad-CAM overlay, a video's filmstrip.

Called under the predictor's torch lock: the torch backbone and heads run one at a time.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from instapop.config import Config
from instapop.predict.scorers import MediaScorer

if TYPE_CHECKING:
    from instapop.embed.backbone import Lite0


def png(image: np.ndarray, size: tuple[int, int] | None = None) -> bytes:
    """PNG bytes of an RGB array, resized to ``size`` (width, height) if given."""
    from PIL import Image

    picture = Image.fromarray(image)
    if size is not None and size != picture.size:
        picture = picture.resize(size, Image.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def image_heatmap(
    backbone: Lite0,
    image: np.ndarray,
    shown_size: tuple[int, int] | None,
    scorer: MediaScorer,
    context: np.ndarray | None,
    config: Config,
) -> bytes:
    """The Grad-CAM overlay of an image, in the proportions a person sees it (``shown_size``)."""
    from instapop.explain.gradcam import gradcam, overlay

    head, target = scorer.explainer(context)
    cam = gradcam(backbone, head, image, target)
    blended = overlay(image, cam.heatmap)
    if shown_size is None or config.center_crop:
        return png(blended)
    # The network saw the whole picture squeezed into a square: stretch the overlay back
    # to the picture's proportions so that it lines up with the original a person sees.
    width, height = shown_size
    scale = config.image_size / min(width, height)
    return png(blended, (round(width * scale), round(height * scale)))


def video_filmstrip(
    backbone: Lite0, sample: Any, frames: np.ndarray, scorer: MediaScorer, context: np.ndarray | None
) -> bytes:
    """A video's sampled frames with their importance, its most important frame overlaid with Grad-CAM."""
    from instapop.explain.gradcam import overlay
    from instapop.explain.video import filmstrip, frame_gradcam, frame_importance

    video_model, target = scorer.explainer(context)
    importance = frame_importance(video_model, frames, target)
    top = int(np.argmax(importance))
    cam = frame_gradcam(backbone, video_model, frames, sample.frames[top], top, target)
    shown = sample.frames.copy()
    shown[top] = overlay(sample.frames[top], cam.heatmap)
    return png(filmstrip(shown, importance, times=sample.times))
