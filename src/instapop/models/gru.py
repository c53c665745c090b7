"""The paper's CNN-RNN on frame embeddings: GRU(8) -> GRU(6) -> dropout -> Dense(8) -> head.

The GRUs are written out rather than taken from ``nn.GRU`` because:

- Keras' ``GRU(dropout=0.2)`` drops *inputs* with one mask per sequence, reused at every time
  step; ``nn.GRU``'s ``dropout`` argument means something else (between stacked layers).
- For an image-to-video "static video" every frame is the same embedding, so with a mask shared
  over time the input projection of the first GRU (1280 -> 24, nearly all of the model's FLOPs)
  is the same at every step: it is computed once per image and broadcast over time.
- Cross-validation trains all folds' models side by side (see ``layers.py``).

The gate maths is torch's (and Keras' default ``reset_after=True``):
``r, z = sigmoid(W x + U h)``, ``n = tanh(W_n x + r * (U_n h + b_n))``, ``h' = (1 - z) n + z h``.
"""

from __future__ import annotations

import torch
from torch import nn

from instapop.models.layers import SequenceDropout, StackedLinear, add_member_axis


class GRULayer(nn.Module):
    """One GRU layer with Keras-style input dropout; returns every hidden state.

    Parameters
    ----------
    input_dim, units : int
        Input features and hidden units.
    dropout : float
        Input dropout rate, one mask per sequence.
    members : int
        Independent layers side by side.
    """

    def __init__(self, input_dim: int, units: int, dropout: float, members: int = 1) -> None:
        super().__init__()
        self.units = units
        self.dropout = SequenceDropout(dropout)
        self.input_proj = StackedLinear(members, input_dim, 3 * units)
        self.hidden_proj = StackedLinear(members, units, 3 * units)

    def input_gates(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout + input projection: (E, n, T, D) -> (E, n, T, 3H), or static (E, n, D) -> (E, n, 3H)."""
        return self.input_proj(self.dropout(x))

    def recur(self, gates: torch.Tensor) -> torch.Tensor:
        """Run the recurrence on input gates (E, n, T, 3H); returns hidden states (E, n, T, H)."""
        units = self.units
        weight, bias = self.hidden_proj.weight, self.hidden_proj.bias[:, None, :]
        # The loop is bound by per-operation overhead, forward and backward, so it is written with
        # as few operations as possible: split and unbind once (one backward op each, where
        # per-step slices cost one each), and r and z share one sigmoid.
        gx_rz, gx_n = (part.unbind(2) for part in gates.split([2 * units, units], dim=-1))
        h = gates.new_zeros(*gates.shape[:2], units)
        states = []
        for t in range(gates.shape[2]):
            gh_rz, gh_n = torch.baddbmm(bias, h, weight).split([2 * units, units], dim=-1)
            r, z = torch.sigmoid(gx_rz[t] + gh_rz).chunk(2, dim=-1)
            n = torch.tanh(torch.addcmul(gx_n[t], r, gh_n))
            h = torch.lerp(n, h, z)  # (1 - z) n + z h
            states.append(h)
        return torch.stack(states, dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (E, n, T, D) -> (E, n, T, H)
        return self.recur(self.input_gates(x))


class VideoGRU(nn.Module):
    """The paper's video classifier on frame embeddings.

    GRU(8, return sequences, dropout) -> GRU(6, dropout) -> dropout -> Dense(8, ReLU) -> linear
    head over N classes (softmax cross-entropy for every N, as :class:`ImageHead`).

    Parameters
    ----------
    dim : int
        Frame embedding size D.
    n_classes : int
        Number of popularity classes N.
    units : tuple of int
        Units of the two GRU layers (paper: 8, 6).
    dense_units : int
        Units of the dense layer before the head (paper: 8).
    dropout : float
        Input dropout of both GRUs and dropout before the dense layer (paper: 0.2).
    members : int
        Independent models side by side (cross-validation); 1 for a saved model.

    Examples
    --------
    >>> model = VideoGRU(1280, 2).eval()
    >>> model(torch.zeros(3, 15, 1280)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        dim: int,
        n_classes: int,
        units: tuple[int, int] = (8, 6),
        dense_units: int = 8,
        dropout: float = 0.2,
        members: int = 1,
    ) -> None:
        super().__init__()
        self.members = members
        self.dropout = SequenceDropout(dropout)
        self.gru1 = GRULayer(dim, units[0], dropout, members)
        self.gru2 = GRULayer(units[0], units[1], dropout, members)
        self.dense = StackedLinear(members, units[1], dense_units)
        self.head = StackedLinear(members, dense_units, n_classes)

    def forward(
        self, frames: torch.Tensor | None = None, static: torch.Tensor | None = None, n_steps: int = 15
    ) -> torch.Tensor:
        """Logits for real videos, static image sequences, or both (videos first).

        Parameters
        ----------
        frames : torch.Tensor, optional
            Frame embeddings (E, n_v, T, D), or (n_v, T, D) for a single model.
        static : torch.Tensor, optional
            Image embeddings (E, n_i, D) or (n_i, D), each read as ``n_steps`` identical frames.
        n_steps : int
            Length of the static sequences (when ``frames`` is given, its T is used).

        Returns
        -------
        torch.Tensor
            Logits (E, n_v + n_i, N), or (n_v + n_i, N) for single-model inputs.
        """
        if frames is None and static is None:
            raise ValueError("VideoGRU needs frames, static embeddings or both; got neither")
        gates, added = [], False
        if frames is not None:
            frames, added = add_member_axis(frames, self.members, item_dims=3)
            n_steps = frames.shape[2]
            gates.append(self.gru1.input_gates(frames))  # (E, n_v, T, 3H)
        if static is not None:
            static, added = add_member_axis(static, self.members, item_dims=2)
            # projected once per image, then the same gates at every step: (E, n_i, T, 3H)
            gates.append(self.gru1.input_gates(static)[:, :, None, :].expand(-1, -1, n_steps, -1))
        h1 = self.gru1.recur(torch.cat(gates, dim=1))  # (E, n, T, H1)
        h2 = self.gru2(h1)[:, :, -1]  # last state (E, n, H2)
        hidden = torch.relu(self.dense(self.dropout(h2)))
        logits = self.head(hidden)
        return logits[0] if added else logits
