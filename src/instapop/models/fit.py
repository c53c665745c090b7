"""One training loop for every model: Adam + softmax cross-entropy, best validation epoch kept.

``fit`` trains the E members of a stacked model (see ``layers.py``) at once, each on its own
rows of shared data tensors, and gives each member its own best epoch, as the paper's callback
does for each fold.

Batching: an epoch has S = ceil(largest member's item count / batch_size) steps; each input's
rows of a member are shuffled and cut into S near-equal chunks, so every member sees each of
its items exactly once per epoch in batches of at most ``batch_size`` (members with fewer items
get slightly smaller batches). Where a model has two inputs (videos and static images for
image-to-video), every batch holds the same share of each.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from instapop.config import Config
from instapop.models.layers import SequenceDropout


@dataclass(frozen=True)
class Input:
    """One model input: a tensor over the whole data set and the rows each member uses.

    Attributes
    ----------
    data : torch.Tensor
        Features of every item: (n_all, ...) or, with ``views``, (n_all, K, ...).
    labels : torch.Tensor
        Class of every item (n_all,), int64.
    rows : tuple of torch.Tensor
        For each member, the rows of ``data`` it trains (or validates) on.
    views : bool
        ``data`` holds K augmented views per item; one view per item is drawn every epoch.
    """

    data: torch.Tensor
    labels: torch.Tensor
    rows: tuple[torch.Tensor, ...]
    views: bool = False

    def gather(self, rows: torch.Tensor, view: torch.Tensor | None = None) -> torch.Tensor:
        """Items at ``rows`` (any shape), at the given views when the data holds views."""
        if not self.views:
            return self.data[rows]
        return self.data[rows, view if view is not None else torch.zeros_like(rows)]


@dataclass
class FitResult:
    """What a member's training returns; the model keeps the chosen weights.

    Attributes
    ----------
    best_epoch : int
        1-based epoch whose weights were kept (the last one without validation data).
    val_accuracy : float or None
        Validation accuracy of the kept epoch.
    val_probs : numpy.ndarray or None
        Class probabilities of the member's validation rows with the kept weights, (n_val, N).
    history : list of float
        Validation accuracy after each epoch.
    """

    best_epoch: int
    val_accuracy: float | None = None
    val_probs: np.ndarray | None = None
    history: list[float] = field(default_factory=list)


@contextmanager
def training_threads(threads: int) -> Iterator[None]:
    """Fix the threads of torch and of the BLAS and OpenMP pools while training, restoring them after.

    Results can depend on the thread count, so it is a setting (``Config.train_threads``).
    These models are small: their steps are bound by per-operation overhead, and threads cost
    more than they gain (on a busy machine, many times more), hence 1 by default. The same goes
    for the BLAS under scikit-learn's logistic-regression probe: 15 fits on 1,473 real
    embeddings took 18.3 s with OpenBLAS on 2 threads and 5.4 s on one. ``0`` uses every
    available core.
    """
    from threadpoolctl import threadpool_limits

    from instapop.runtime import resolve_threads

    count = resolve_threads(threads)
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(count):
            yield
    finally:
        torch.set_num_threads(before)


def use_generator_for_dropout(model: nn.Module, generator: torch.Generator) -> None:
    """Draw every dropout mask of ``model`` from ``generator`` rather than the global RNG."""
    for module in model.modules():
        if isinstance(module, SequenceDropout):
            module.generator = generator


def pad_rows(rows: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member row lists -> padded (E, max_len) rows (padding: row 0) and a validity mask."""
    width = max(len(r) for r in rows)
    padded = torch.zeros(len(rows), width, dtype=torch.int64)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for member, member_rows in enumerate(rows):
        padded[member, : len(member_rows)] = member_rows
        mask[member, : len(member_rows)] = True
    return padded, mask


def predict_proba(model: nn.Module, *inputs: torch.Tensor) -> np.ndarray:
    """Softmax probabilities of a model in evaluation mode, in one full batch.

    Parameters
    ----------
    model : nn.Module
        A model returning logits (..., N).
    *inputs : torch.Tensor
        The model's positional inputs.

    Returns
    -------
    numpy.ndarray
        Probabilities, shaped as the logits.
    """
    was_training = model.training
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(*inputs), dim=-1).numpy()
    model.train(was_training)
    return probs


def _epoch_chunks(
    part: Input, n_steps: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Shuffle each member's rows and cut them into ``n_steps`` near-equal chunks.

    Returns rows (E, S, C), validity mask (E, S, C) and, for data with views, a random view
    per item (E, S, C).
    """
    width = max(math.ceil(len(r) / n_steps) for r in part.rows)
    rows = torch.zeros(len(part.rows), n_steps, width, dtype=torch.int64)
    mask = torch.zeros(len(part.rows), n_steps, width, dtype=torch.bool)
    for member, member_rows in enumerate(part.rows):
        n = len(member_rows)
        position = torch.arange(n)
        step = position * n_steps // n  # non-decreasing: chunk sizes differ by at most one
        slot = position - torch.searchsorted(step, step)
        rows[member, step, slot] = member_rows[torch.randperm(n, generator=generator)]
        mask[member, step, slot] = True
    views = torch.randint(part.data.shape[1], rows.shape, generator=generator) if part.views else None
    return rows, mask, views


def _train_epoch(
    model: nn.Module,
    train: tuple[Input, ...],
    config: Config,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> None:
    model.train()
    n_items = max(sum(len(part.rows[m]) for part in train) for m in range(len(train[0].rows)))
    n_steps = max(1, math.ceil(n_items / config.batch_size))
    chunks = [_epoch_chunks(part, n_steps, generator) for part in train]
    for step in range(n_steps):
        inputs, labels, masks = [], [], []
        for part, (rows, mask, views) in zip(train, chunks, strict=True):
            step_rows = rows[:, step]
            inputs.append(part.gather(step_rows, None if views is None else views[:, step]))
            labels.append(part.labels[step_rows])
            masks.append(mask[:, step])
        logits = model(*inputs)  # (E, B, N)
        weight = torch.cat(masks, dim=1).to(logits.dtype)
        item_loss = F.cross_entropy(logits.transpose(1, 2), torch.cat(labels, dim=1), reduction="none")
        # each member's mean loss over its real items; summed, so members do not interact
        loss = ((item_loss * weight).sum(1) / weight.sum(1).clamp(min=1.0)).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _validate(model: nn.Module, val: Input, padded: torch.Tensor, mask: torch.Tensor, inputs: torch.Tensor):
    probs = predict_proba(model, inputs)  # (E, V, N)
    correct = (probs.argmax(-1) == val.labels[padded].numpy()) & mask.numpy()
    accuracy = correct.sum(1) / mask.numpy().sum(1)
    return probs, accuracy


def fit(
    model: nn.Module,
    train: tuple[Input, ...],
    config: Config,
    seed: int,
    val: Input | None = None,
    epochs: int | None = None,
) -> list[FitResult]:
    """Train every member of ``model`` with Adam and cross-entropy; keep each one's best epoch.

    As the paper's callback does, each member ends with the weights of its epoch of highest
    validation accuracy (the first such epoch on ties). Without validation data the last
    epoch's weights stay.

    Parameters
    ----------
    model : nn.Module
        A stacked model (``members`` = E) returning logits (E, B, N) for inputs (E, B, ...).
        Initialise it under a fixed seed for reproducible runs.
    train : tuple of Input
        The model's inputs in order; each holds E row lists.
    config : Config
        ``lr``, ``epochs`` and ``batch_size`` are used.
    seed : int
        Seeds dropout, shuffling and the choice of augmented views: one generator of the run's
        own, so trainings in parallel threads stay reproducible.
    val : Input, optional
        Clean validation data with E row lists (views, if any, use view 0).
    epochs : int, optional
        Overrides ``config.epochs``.

    Returns
    -------
    list of FitResult
        One per member.
    """
    generator = torch.Generator().manual_seed(seed)
    use_generator_for_dropout(model, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    members = len(train[0].rows)
    results = [FitResult(best_epoch=0) for _ in range(members)]
    if val is not None:
        val_rows, val_mask = pad_rows(val.rows)
        val_inputs = val.gather(val_rows)
        best_accuracy = np.full(members, -1.0)
        best_state = {name: p.detach().clone() for name, p in model.named_parameters()}
    for epoch in range(1, (epochs or config.epochs) + 1):
        _train_epoch(model, train, config, optimizer, generator)
        if val is None:
            for result in results:
                result.best_epoch = epoch
            continue
        probs, accuracy = _validate(model, val, val_rows, val_mask, val_inputs)
        improved = accuracy > best_accuracy
        best_accuracy = np.where(improved, accuracy, best_accuracy)
        keep = torch.from_numpy(improved)
        for name, p in model.named_parameters():
            best_state[name][keep] = p.detach()[keep]
        for member, result in enumerate(results):
            result.history.append(float(accuracy[member]))
            if improved[member]:
                n_val = len(val.rows[member])
                result.best_epoch, result.val_accuracy = epoch, float(accuracy[member])
                result.val_probs = probs[member, :n_val]
    if val is not None:
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(best_state[name])
    model.eval()
    return results
