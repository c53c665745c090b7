"""CV checkpoints: a row is trained again only when something it reads changes."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from instapop.config import Config
from instapop.media_types import IMAGE, MEDIA_TYPES, VIDEO
from instapop.models.approaches import Problem, approach, approaches_for
from instapop.models.crossval import DatasetTensors, Split
from instapop.validation import evaluate, repeated_folds
from instapop.validation.checkpoints import VALIDATION_FIELDS

# every approach runs (the pooled ranker for both types too): each must declare what it reads
CONFIG = Config(epochs=1, n_repeats=1, n_classes=(2,), pool_below=10**6)
ROWS = {(media, a.name) for media in MEDIA_TYPES for a in approaches_for(media, CONFIG.approaches)}
NEURAL = {(media, name) for media, name in ROWS if approach(name).neural}


@pytest.fixture(scope="module")
def checkpointed(planted_small, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of every row's checkpoint, trained once with CONFIG."""
    folder = tmp_path_factory.mktemp("cv-checkpoints")
    evaluate(planted_small, CONFIG, progress=False, checkpoints=folder)
    return folder


def reused_rows(data, config: Config, checkpointed: Path, tmp_path: Path) -> set[tuple[str, str]]:
    """The (media, approach) rows an evaluation with ``config`` reads back from a copy of the checkpoints."""
    folder = shutil.copytree(checkpointed, tmp_path / "checkpoints")
    for path in folder.glob("*.json"):  # a mark that only a row read back from its file carries
        path.write_text(json.dumps(json.loads(path.read_text()) | {"from_checkpoint": True}))
    rows = evaluate(data, config, progress=False, checkpoints=folder)["rows"]
    assert len(list(folder.glob("*.json"))) == len(rows)  # the files of retrained rows are gone
    return {(row["media"], row["approach"]) for row in rows if row.get("from_checkpoint")}


def test_changing_options_no_row_reads_reuses_every_row(planted_small, checkpointed, tmp_path) -> None:
    unrelated = dataclasses.replace(
        CONFIG,
        gradcam_per_class=5,  # explain
        top_frames=1,
        region_alpha=0.05,  # report
        synth_signal_factor=2.0,  # the synthetic generator
        dup_threshold=1.0,  # an earlier stage's setting: its effect is in the data
        train_workers=1,  # how many rows train at once
    )
    assert reused_rows(planted_small, unrelated, checkpointed, tmp_path) == ROWS


def test_a_neural_setting_retrains_only_the_neural_rows(planted_small, checkpointed, tmp_path) -> None:
    more_epochs = dataclasses.replace(CONFIG, epochs=2)
    assert NEURAL and reused_rows(planted_small, more_epochs, checkpointed, tmp_path) == ROWS - NEURAL


def test_a_baseline_setting_retrains_only_its_rows(planted_small, checkpointed, tmp_path) -> None:
    other_cs = dataclasses.replace(CONFIG, logreg_cs=(1e-3, 1e-2))
    logreg = {(media, "logreg") for media in MEDIA_TYPES}
    assert reused_rows(planted_small, other_cs, checkpointed, tmp_path) == ROWS - logreg


def test_the_seed_retrains_every_row(planted_small, checkpointed, tmp_path) -> None:
    assert reused_rows(planted_small, dataclasses.replace(CONFIG, seed=1), checkpointed, tmp_path) == set()


def test_other_image_features_retrain_the_rows_reading_images(planted_small, checkpointed, tmp_path) -> None:
    moved = dataclasses.replace(planted_small, image_views=planted_small.image_views + np.float32(1e-3))
    reading_images = {(m, a) for m, a in ROWS if IMAGE in (m, *approach(a).also_reads)}
    assert {(VIDEO, "image_to_video"), (VIDEO, "video_to_image")} <= reading_images
    assert reused_rows(moved, CONFIG, checkpointed, tmp_path) == ROWS - reading_images


class RecordingConfig(Config):
    """A Config that notes the name of every field read from it."""

    read: ClassVar[set[str]] = set()

    def __getattribute__(self, name: str):
        if name in RecordingConfig.__dataclass_fields__:
            RecordingConfig.read.add(name)
        return super().__getattribute__(name)


@pytest.mark.parametrize("media", MEDIA_TYPES)
def test_each_approach_reads_only_the_settings_it_declares(planted_small, media: str) -> None:
    items = planted_small.images if media == IMAGE else planted_small.videos
    split = Split.from_folds(repeated_folds(items, 2, CONFIG), items, 2, CONFIG)
    problem = Problem(planted_small, DatasetTensors(planted_small, 2), media, 2, CONFIG, split)
    recording = dataclasses.replace(problem, config=RecordingConfig.from_dict(CONFIG.to_dict()))
    for spec in approaches_for(media, CONFIG.approaches):
        RecordingConfig.read.clear()
        spec.cross_validate(recording)
        undeclared = RecordingConfig.read - {*VALIDATION_FIELDS, *spec.config_fields}
        assert not undeclared, f"{spec.name} reads {sorted(undeclared)}: add them to its config_fields"
