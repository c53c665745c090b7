"""Layers that hold E independent models ("members") side by side.

Cross-validation trains the same architecture on 5 folds x 3 repeats. Tiny models on CPU are
bound by per-operation overhead, not FLOPs, so the 15 trainings run as one: every weight gets
a leading member axis and one batched matmul serves all members. Adam's update is elementwise
and each member's loss only touches its own slice, so a member trains exactly as it would alone.
A saved model is simply one member (E = 1).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_INIT_LOCK = threading.Lock()


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Seed torch's global RNG for building a model, holding a lock while it draws its weights.

    Layers draw their initial weights from the global RNG. Cross-validation trains several
    models in threads (``Config.train_workers``), so seeding and drawing must not interleave
    with another thread's; training itself draws only from its own generator (see ``fit``).
    """
    with _INIT_LOCK:
        torch.manual_seed(seed)
        yield


class StackedLinear(nn.Module):
    """E independent linear layers: (E, ..., in) -> (E, ..., out).

    Initialised as ``nn.Linear`` is (uniform in +-1/sqrt(in)).

    Parameters
    ----------
    members, in_features, out_features : int
        Number of independent layers E and each layer's sizes.
    """

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        members, in_features = x.shape[0], x.shape[-1]
        flat = x.reshape(members, -1, in_features)
        out = torch.baddbmm(self.bias[:, None, :], flat, self.weight)
        return out.reshape(*x.shape[:-1], out.shape[-1])


def sequence_dropout(
    x: torch.Tensor, rate: float, training: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Inverted dropout with one mask per item, shared by all its time steps.

    ``x`` is (E, n, D) or (E, n, T, D); the mask is (E, n, D). For (E, n, D) this is ordinary
    dropout. The mask is drawn from ``generator`` (torch's global RNG when None).
    """
    if not training or rate == 0.0:
        return x
    noise = torch.rand(x.shape[0], x.shape[1], x.shape[-1], dtype=x.dtype, generator=generator)
    mask = noise.ge_(rate).mul_(1.0 / (1.0 - rate))  # in place: 1.0 where kept, then scaled
    return x * (mask if x.dim() == 3 else mask[:, :, None, :])


class SequenceDropout(nn.Module):
    """:func:`sequence_dropout` as a module; ``fit`` points its ``generator`` at the run's own.

    Parameters
    ----------
    rate : float
        Share of units dropped while training.
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sequence_dropout(x, self.rate, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


def add_member_axis(x: torch.Tensor, members: int, item_dims: int) -> tuple[torch.Tensor, bool]:
    """Accept a single model's input without the member axis when E = 1.

    Returns the input with a member axis and whether it was added (to drop it from the output).
    """
    if x.dim() == item_dims + 1:
        return x, False
    if members != 1:
        raise ValueError(f"{members} members need a leading member axis; got shape {tuple(x.shape)}")
    return x[None], True


class MediaAdapter(nn.Module):
    """One media type's model read on the other's input, to explain an item scored that way.

    ``to_video``: an image's embeddings (n, D) become one-frame videos (n, 1, D) for a video
    model; otherwise a video's frames (n, T, D) are averaged into a picture (n, D) for an
    image model. Differentiable, so Grad-CAM and frame importance work through it.
    """

    def __init__(self, module: nn.Module, to_video: bool) -> None:
        super().__init__()
        self.module, self.to_video = module, to_video

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x[:, None, :] if self.to_video else x.mean(dim=1))
