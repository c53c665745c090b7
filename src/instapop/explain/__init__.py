"""Explanations: Grad-CAM for images, frame importance and Grad-CAM for videos, t-SNE map and regions."""

from __future__ import annotations

from instapop.explain.gradcam import GradCam, gradcam, overlay
from instapop.explain.tsne import Region, find_regions, tsne_map
from instapop.explain.video import filmstrip, frame_gradcam, frame_importance

__all__ = [
    "GradCam",
    "Region",
    "filmstrip",
    "find_regions",
    "frame_gradcam",
    "frame_importance",
    "gradcam",
    "overlay",
    "tsne_map",
]
