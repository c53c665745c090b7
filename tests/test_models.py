"""The paper's models and the shared training loop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from instapop.config import Config
from instapop.models import ImageHead, Input, MaxOverTime, VideoGRU, fit, predict_proba, training_threads
from instapop.models.gru import GRULayer
from instapop.models.layers import sequence_dropout

CONFIG = dataclasses.replace(Config(), epochs=6, batch_size=16, lr=0.03)  # a fast learner for small tests


@pytest.fixture(autouse=True)
def one_thread():
    with training_threads(1):
        yield


def separable(n: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes split by the sign of the first feature."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    return x, (x[:, 0] > 0).long()


def test_gru_layer_matches_torch_gru() -> None:
    torch.manual_seed(0)
    reference = nn.GRU(12, 5, batch_first=True)
    layer = GRULayer(12, 5, dropout=0.0)
    with torch.no_grad():
        layer.input_proj.weight.copy_(reference.weight_ih_l0.T[None])
        layer.input_proj.bias.copy_(reference.bias_ih_l0[None])
        layer.hidden_proj.weight.copy_(reference.weight_hh_l0.T[None])
        layer.hidden_proj.bias.copy_(reference.bias_hh_l0[None])
    x = torch.randn(4, 7, 12)
    expected, _ = reference(x)
    torch.testing.assert_close(layer(x[None])[0], expected, atol=1e-5, rtol=1e-5)


def test_static_sequences_equal_repeated_frames() -> None:
    torch.manual_seed(0)
    model = VideoGRU(32, 3, members=2).eval()
    frames, images = torch.randn(2, 4, 15, 32), torch.randn(2, 3, 32)
    repeated = images[:, :, None, :].expand(-1, -1, 15, -1)
    mixed = model(frames, images)
    assert mixed.shape == (2, 7, 3)
    torch.testing.assert_close(mixed[:, 4:], model(repeated), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(mixed[:, :4], model(frames), atol=1e-6, rtol=1e-5)


def test_single_model_takes_inputs_without_member_axis() -> None:
    head = ImageHead(16, 2).eval()
    x = torch.randn(5, 16)
    torch.testing.assert_close(head(x), head(x[None])[0])
    video = MaxOverTime(head)
    frames = torch.randn(5, 15, 16)
    torch.testing.assert_close(video(frames), head(frames.amax(dim=1)))
    with pytest.raises(ValueError, match="member axis"):
        ImageHead(16, 2, members=3)(x)


def test_sequence_dropout_keeps_one_mask_over_time() -> None:
    torch.manual_seed(0)
    x = torch.ones(2, 6, 15, 40)
    out = sequence_dropout(x, 0.5, training=True)
    dropped = out == 0
    assert dropped.any() and not dropped.all()
    assert torch.equal(dropped, dropped[:, :, :1].expand_as(dropped))  # same units at every step
    assert torch.equal(sequence_dropout(x, 0.5, training=False), x)


def test_fit_learns_and_keeps_the_best_epoch() -> None:
    x, y = separable(300, 8, seed=1)
    rows = (torch.arange(0, 200), torch.arange(100, 300))
    val_rows = (torch.arange(200, 300), torch.arange(0, 100))
    torch.manual_seed(0)
    model = ImageHead(8, 2, members=2)
    results = fit(model, (Input(x, y, rows),), CONFIG, seed=3, val=Input(x, y, val_rows))
    for member, result in enumerate(results):
        assert result.val_accuracy == max(result.history) >= 0.9
        assert result.best_epoch == result.history.index(result.val_accuracy) + 1
        # the model now holds the kept epoch's weights
        probs = predict_proba(model, x[val_rows[member]][None].expand(2, -1, -1))[member]
        np.testing.assert_allclose(probs, result.val_probs, atol=1e-6)


def test_video_gru_learns_from_frames_and_static_images() -> None:
    x, y = separable(160, 8, seed=2)
    frames = x[:, None, :] + 0.3 * torch.randn(160, 15, 8, generator=torch.Generator().manual_seed(0))
    views = torch.stack([x, x + 0.1], dim=1)
    torch.manual_seed(0)
    model = VideoGRU(8, 2)
    train = (Input(frames, y, (torch.arange(100),)), Input(views, y, (torch.arange(100),), views=True))
    result = fit(
        model,
        train,
        dataclasses.replace(CONFIG, epochs=8),
        seed=0,
        val=Input(frames, y, (torch.arange(100, 160),)),
    )
    assert result[0].val_accuracy >= 0.85


def test_fit_is_deterministic_per_seed() -> None:
    x, y = separable(120, 8, seed=4)
    views = torch.stack([x, x + 0.5 * torch.randn_like(x)], dim=1)

    def weights(seed: int) -> torch.Tensor:
        torch.manual_seed(0)
        model = ImageHead(8, 2)
        fit(model, (Input(views, y, (torch.arange(120),), views=True),), CONFIG, seed=seed)
        return model.linear.weight.detach().clone()

    assert torch.equal(weights(5), weights(5))
    assert not torch.equal(weights(5), weights(6))
