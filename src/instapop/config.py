"""One frozen dataclass of plain defaults: the paper's configuration.

Every number the paper names (15 frames, GRU 8 -> 6, dropout 0.2, Adam 1e-3,
15 epochs, 224x224, 5 folds x 3 repeats) lives here as a default, never as a
constant buried in a module. Override with ``dataclasses.replace`` or the CLI.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Config:
    # --- labels (paper §2-3) ---
    n_classes: tuple[int, ...] = (2, 3)  # popularity-class settings to build
    window_days: float = 56.0  # rolling window centred on each post (8 weeks)
    min_window_posts: int = 20  # widen the window until it holds this many posts

    # --- media and embeddings (paper §4.1, §4.2) ---
    backbone: str = "lite0"  # built-in EfficientNet-Lite0, or a path to an .onnx file
    engine: str = "onnx"  # bulk extraction engine: "onnx" or "torch"
    image_size: int = 224
    center_crop: bool = False  # the paper resizes the whole image
    n_frames: int = 15  # frames per video
    frame_interval_s: float = 1.0  # one frame a second over the first n_frames seconds
    n_views: int = 15  # augmented views per image, view 0 is the clean image
    batch_size_embed: int = 32

    # --- near-duplicates (paper §4.1) ---
    dup_threshold: float | None = None  # None: found from the NN-distance histogram
    video_duration_tol_s: float = 0.5
    video_fps_tol: float = 1.0

    # --- models (paper §4.2) ---
    dropout: float = 0.2
    gru_units: tuple[int, int] = (8, 6)
    dense_units: int = 8
    lr: float = 1e-3
    epochs: int = 15
    batch_size: int = 32

    # --- validation (paper §5.2) ---
    n_splits: int = 5
    n_repeats: int = 3
    grouped_folds: bool = True  # False gives the paper's plain stratified folds

    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        for name in ("n_classes", "gru_units"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Config:
        return cls.from_dict(json.loads(Path(path).read_text()))


PAPER = Config()
