"""Explanations for the CNN-RNN video model: which frames matter, and where in them.

Frame importance is **occlusion over time**: frame t is replaced by the video's
mean frame embedding and the drop in the target class's probability is that
frame's importance. Occlusion is chosen over gradient x input because a GRU's
gradients are local (they say how the output moves for an infinitesimal change
of a frame) while occlusion answers the question a person asks, "what if this
frame were not there", and costs only one batched forward pass of T sequences.
Replacing by the mean (rather than zeros or dropping the frame) keeps the
sequence length and keeps the input close to what the model saw in training.

Grad-CAM on a frame treats the video model, with every other frame fixed, as a
head on that frame's embedding (:class:`FrameHead`), so the image Grad-CAM
applies unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageDraw

from instapop.explain.gradcam import GradCam, gradcam

if TYPE_CHECKING:
    from instapop.embed.backbone import Lite0


def _probs(video_model: torch.nn.Module, sequences: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(video_model(sequences), dim=1).numpy()


def frame_importance(
    video_model: torch.nn.Module, frames: np.ndarray, target: int | None = None
) -> np.ndarray:
    """Share of the target class's evidence carried by each frame, by occlusion over time.

    Parameters
    ----------
    video_model : module mapping (n, T, D) frame embeddings to (n, n_classes) logits, in eval mode.
    frames : (T, D) frame embeddings of one video (``FeatureSet.video_frames[i]``).
    target : class to explain; ``None`` explains the predicted class.

    Returns
    -------
    (T,) float array, >= 0, summing to 1. Frame t's raw score is
    ``max(0, p(target | video) - p(target | frame t replaced by the mean frame))``;
    when no single frame lowers the probability (e.g. a static video) every frame gets 1/T.
    """
    seq = torch.as_tensor(np.asarray(frames, dtype=np.float32))
    n_frames = seq.shape[0]
    occluded = seq.repeat(n_frames, 1, 1)  # (T, T, D): sequence t has frame t occluded
    occluded[torch.arange(n_frames), torch.arange(n_frames)] = seq.mean(dim=0)
    full = _probs(video_model, seq[None])[0]
    target = int(np.argmax(full)) if target is None else int(target)
    drops = np.maximum(full[target] - _probs(video_model, occluded)[:, target], 0.0)
    total = float(drops.sum())
    if total <= 1e-9:
        return np.full(n_frames, 1.0 / n_frames)
    return drops / total


class FrameHead(torch.nn.Module):
    """The video model seen as a head on one frame's embedding, the other frames held fixed.

    Parameters
    ----------
    video_model : (n, T, D) -> logits module.
    frames : (T, D) embeddings of the video's frames.
    index : the frame whose embedding is the head's input.
    """

    def __init__(self, video_model: torch.nn.Module, frames: np.ndarray, index: int) -> None:
        super().__init__()
        self.video_model = video_model
        self.register_buffer("frames", torch.as_tensor(np.asarray(frames, dtype=np.float32)))
        self.index = index

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        # (n, D) -> (n, T, D) with frame `index` replaced; torch.cat keeps the gradient path
        n = embedding.shape[0]
        before = self.frames[: self.index].expand(n, -1, -1)
        after = self.frames[self.index + 1 :].expand(n, -1, -1)
        return self.video_model(torch.cat([before, embedding[:, None, :], after], dim=1))


def frame_gradcam(
    backbone: Lite0,
    video_model: torch.nn.Module,
    embeddings: np.ndarray,
    image: np.ndarray,
    index: int,
    target: int | None = None,
) -> GradCam:
    """Grad-CAM of the video model on frame ``index`` (pixels ``image``), other frames fixed.

    Parameters
    ----------
    backbone : torch Lite0.
    video_model : (n, T, D) -> logits module, in eval mode.
    embeddings : (T, D) stored frame embeddings of the video.
    image : uint8 (224, 224, 3) pixels of frame ``index``.
    index : which frame to explain.
    target : class to explain; ``None`` explains the class predicted with this frame's pixels.

    Returns
    -------
    GradCam over the frame.
    """
    return gradcam(backbone, FrameHead(video_model, embeddings, index).eval(), image, target)


def filmstrip(
    frames: np.ndarray,
    importance: np.ndarray,
    thumb: int = 96,
    bar_height: int = 28,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """One row of frames, each above a bar as tall as its importance.

    Parameters
    ----------
    frames : uint8 (T, H, W, 3) frames.
    importance : (T,) non-negative importances (e.g. :func:`frame_importance`).
    thumb : side of each frame in the strip, pixels.
    bar_height : height of the bar area under the frames, pixels; the most important frame's
        bar fills it and is drawn red, the others orange.
    times : optional (T,) frame times in seconds, written in each bar area.

    Returns
    -------
    uint8 (thumb + bar_height, T * thumb, 3) image.
    """
    n_frames = len(frames)
    strip = Image.new("RGB", (n_frames * thumb, thumb + bar_height), "white")
    draw = ImageDraw.Draw(strip)
    peak = max(float(np.max(importance)), 1e-12)
    top = int(np.argmax(importance))
    for t, frame in enumerate(frames):
        left = t * thumb
        strip.paste(Image.fromarray(frame).resize((thumb, thumb), Image.BILINEAR), (left, 0))
        height = round(bar_height * float(importance[t]) / peak)
        colour = (214, 39, 40) if t == top else (255, 160, 60)
        if height > 0:
            draw.rectangle(
                [left + 2, thumb + bar_height - height, left + thumb - 3, thumb + bar_height - 1], fill=colour
            )
        label = f"{importance[t]:.0%}" if times is None else f"{times[t]:.1f}s {importance[t]:.0%}"
        draw.text((left + 3, thumb + 2), label, fill=(0, 0, 0))
    return np.asarray(strip)
