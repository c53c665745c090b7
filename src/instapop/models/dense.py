"""Dense heads on frozen embeddings: the paper's image classifier and its video-to-image variant."""

from __future__ import annotations

import torch
from torch import nn

from instapop.models.layers import SequenceDropout, StackedLinear, add_member_axis


class ImageHead(nn.Module):
    """Dropout then one linear layer: frozen backbone embedding -> class logits.

    The paper uses a single sigmoid output for N = 2 and a softmax for N = 3; a sigmoid on
    ``z`` equals a 2-way softmax on ``(0, z)``, so this head always emits N logits and is
    trained with softmax cross-entropy for every N.

    Parameters
    ----------
    dim : int
        Embedding size (1280 for EfficientNet-Lite0).
    n_classes : int
        Number of popularity classes N.
    dropout : float
        Dropout rate before the linear layer (paper: 0.2).
    members : int
        Independent models held side by side (cross-validation); 1 for a saved model.

    Examples
    --------
    >>> head = ImageHead(1280, 3).eval()
    >>> head(torch.zeros(4, 1280)).shape
    torch.Size([4, 3])
    """

    def __init__(self, dim: int, n_classes: int, dropout: float = 0.2, members: int = 1) -> None:
        super().__init__()
        self.dropout = SequenceDropout(dropout)
        self.linear = StackedLinear(members, dim, n_classes)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        # (E, n, D) -> (E, n, N); or (n, D) -> (n, N) for a single model
        x, added = add_member_axis(embeddings, self.linear.weight.shape[0], item_dims=2)
        logits = self.linear(self.dropout(x))
        return logits[0] if added else logits


class MaxOverTime(nn.Module):
    """Video-to-image at inference: a video's embedding is the maximum of its frame embeddings.

    Parameters
    ----------
    head : nn.Module
        A module on (n, D) embeddings, usually an :class:`ImageHead`.
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # (..., T, D) -> (..., D) -> (..., N)
        return self.head(frames.amax(dim=-2))
