"""The shipped Lite0 weights are real, the two engines agree, and any ONNX model plugs in."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn
import torch

from instapop.config import Config
from instapop.embed.backbone import (
    LITE0_NAME,
    Encoder,
    OnnxEncoder,
    TorchEncoder,
    lite0_onnx,
    lite0_torch,
    load_encoder,
    to_input,
)
from instapop.errors import InstapopError
from instapop.media import load_image

SKLEARN_IMAGES = Path(sklearn.__file__).parent / "datasets" / "images"
# ImageNet classes a daisy photo may land in: daisy, yellow lady's slipper, pot (flowerpot).
FLOWER_CLASSES = {985, 986, 738}


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """Two natural photos shipped with scikit-learn: a daisy and a Chinese temple."""
    return np.stack([load_image(SKLEARN_IMAGES / name) for name in ("flower.jpg", "china.jpg")])


@pytest.fixture(scope="module")
def lite0():
    return lite0_torch()


@pytest.fixture(scope="module")
def onnx_encoder(feature_cache: Path) -> Encoder:
    return load_encoder(Config(engine="onnx"), feature_cache)


def test_shipped_weights_classify_a_daisy_as_a_flower(lite0, photos):
    with torch.no_grad():
        logits = lite0(to_input(photos[:1]))
    top5 = set(torch.topk(logits, 5).indices[0].tolist())
    assert top5 & FLOWER_CLASSES, f"top-5 classes {sorted(top5)}"


def test_onnx_and_torch_embeddings_agree(lite0, onnx_encoder, photos):
    torch_features = TorchEncoder(lite0).encode(photos)
    onnx_features = onnx_encoder.encode(photos)
    assert onnx_features.shape == (2, 1280) and onnx_features.dtype == np.float32
    assert np.abs(onnx_features - torch_features).max() < 1e-4
    assert np.abs(onnx_features[0] - onnx_features[1]).max() > 0.1  # different photos differ


def test_same_image_embeds_identically_across_sessions_and_batches(onnx_encoder, feature_cache, photos):
    again = load_encoder(Config(engine="onnx"), feature_cache)  # a new session on the cached graph
    alone = again.encode(photos[:1])
    batched = onnx_encoder.encode(np.concatenate([photos, photos[::-1]]))
    assert np.array_equal(alone[0], batched[0]) and np.array_equal(alone[0], batched[3])


def test_encoders_report_their_identity(onnx_encoder, lite0):
    for encoder, engine in ((onnx_encoder, "onnx"), (TorchEncoder(lite0), "torch")):
        assert isinstance(encoder, Encoder)
        identity = (encoder.name, encoder.engine, encoder.input_size, encoder.dim)
        assert identity == (LITE0_NAME, engine, 224, 1280)


def test_graph_is_exported_once_and_reused(feature_cache):
    path = lite0_onnx(feature_cache)
    mtime = path.stat().st_mtime_ns
    assert lite0_onnx(feature_cache) == path and path.stat().st_mtime_ns == mtime
    assert not list(path.parent.glob("*.tmp"))


def test_feature_map_keeps_gradients_for_gradcam(lite0, photos):
    x = to_input(photos[:1])
    feature_map = lite0.feature_map(x)
    assert feature_map.shape == (1, 1280, 7, 7) and feature_map.requires_grad
    logits = lite0.net._fc(feature_map.mean(dim=(2, 3)))
    (gradient,) = torch.autograd.grad(logits[0, 985], feature_map)  # what Grad-CAM weighs the map with
    assert gradient.shape == feature_map.shape and gradient.abs().sum() > 0
    with torch.no_grad():
        assert torch.allclose(lite0(x), logits)  # forward = classifier over the pooled map


def test_to_input_scales_like_the_lite_models():
    pixels = np.array([0, 127, 255], np.uint8).reshape(1, 1, 3, 1).repeat(3, axis=3)
    x = to_input(pixels)
    assert x.shape == (1, 3, 1, 3)
    assert torch.allclose(x[0, 0, 0], torch.tensor([-127 / 128, 0.0, 1.0]))


def test_encoders_refuse_wrong_input(onnx_encoder):
    with pytest.raises(ValueError, match="uint8"):
        onnx_encoder.encode(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(ValueError, match="224"):
        onnx_encoder.encode(np.zeros((1, 100, 100, 3), np.uint8))


# --------------------------------------------------------------------------- a user's ONNX model


class _TinyNhwcModel(torch.nn.Module):
    """A stand-in for a Keras export: NHWC input of 0..255 pixels, 8 features out."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x.permute(0, 3, 1, 2) / 255.0)).mean(dim=(2, 3))


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("user-model") / "tiny.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter's own notice
        torch.onnx.export(
            _TinyNhwcModel().eval(), (torch.zeros(1, 32, 32, 3),), str(path), dynamo=False, input_names=["x"]
        )
    return path


def _user_config(path: Path, **overrides) -> Config:
    declared = {"image_size": 32, "onnx_dim": 8, "onnx_offset": 0.0, "onnx_scale": 1.0, "onnx_layout": "nhwc"}
    return dataclasses.replace(Config(backbone=str(path)), **{**declared, **overrides})


def test_user_onnx_model_with_declared_size_scaling_and_layout(tiny_onnx):
    encoder = load_encoder(_user_config(tiny_onnx))
    assert isinstance(encoder, OnnxEncoder)
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = _TinyNhwcModel()(torch.from_numpy(images.astype(np.float32))).numpy()
    assert np.abs(encoder.encode(images) - expected).max() < 1e-5
    assert encoder.name.startswith("onnx-tiny-") and "nhwc" in encoder.name and encoder.dim == 8


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"onnx_dim": 1280}, "outputs 8 values per image; declared dim is 1280"),
        ({"onnx_layout": "nchw"}, "cannot run it"),
        ({"engine": "torch"}, "runs with engine 'onnx'"),
    ],
)
def test_user_onnx_model_declared_wrongly_is_refused(tiny_onnx, overrides, message):
    with pytest.raises(InstapopError, match=message):
        load_encoder(_user_config(tiny_onnx, **overrides))


def test_unknown_backbone_or_engine_is_refused(tmp_path):
    with pytest.raises(InstapopError, match="unknown backbone"):
        load_encoder(Config(backbone="resnet50"))
    with pytest.raises(InstapopError, match="unknown engine"):
        load_encoder(Config(engine="tensorrt"), tmp_path)
    with pytest.raises(InstapopError, match="not found"):
        load_encoder(Config(backbone=str(tmp_path / "missing.onnx")))
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(InstapopError, match="ONNX Runtime cannot load it"):
        load_encoder(Config(backbone=str(tmp_path / "broken.onnx")))
