"""Finished rows of the cross-validation table, one file each, so that a killed evaluation resumes.

A row's file is named by the SHA-256 of exactly what the row reads, so that a change of
anything else (a Grad-CAM, report or generator option) reuses it, and a change of what it
reads trains it again:

- instapop's version and the format of a checkpointed row (:data:`ROW_FORMAT`);
- the settings every row reads (:data:`VALIDATION_FIELDS`) and those its approach declares
  (``Approach.config_fields``);
- the items and features of its media type, and of the media its approach also trains on
  (``Approach.also_reads``), with their labels at its N (:func:`media_digest`), and the items'
  context when the approach reads it;
- its media type, approach, N and its folds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from instapop import __version__
from instapop.config import Config
from instapop.datasets import Dataset
from instapop.embed.cache import cache_key, write_atomically
from instapop.media_types import IMAGE, MEDIA_TYPES
from instapop.models.approaches import approach

log = logging.getLogger(__name__)

# What a checkpointed row holds: the results' schema when that last changed (3). Schema 4 added
# the intervals, which are not checkpointed but computed from a row's predictions whenever it is
# read (runner.with_intervals), so the rows of schema 3 still serve.
ROW_FORMAT = 3

# Settings every row reads: its folds (n_splits, n_repeats, grouped_folds, seed), its array
# shapes (n_repeats), its trainings' seeds (seed). train_threads too: the number of torch and
# BLAS threads can change how sums are split, and so a result's last bits. train_workers only
# says how many rows train at once: each row trains alike whatever it is.
VALIDATION_FIELDS = ("n_splits", "n_repeats", "grouped_folds", "seed", "train_threads")


def media_digest(data: Dataset, media: str) -> str:
    """SHA-256 of one media type's items and features: ids, posts, times, target values,
    within-window percentiles and the backbone's embeddings (every N's labels are hashed apart)."""
    items = data.images if media == IMAGE else data.videos
    features = data.image_views if media == IMAGE else data.video_frames
    digest = hashlib.sha256(data.backbone.encode())
    digest.update(json.dumps([items.ids, items.groups.tolist()]).encode())
    for array in (items.timestamps, items.por, items.percentile, features):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _array_digest(array: np.ndarray | None) -> str:
    return "" if array is None else hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


class RowCheckpoints:
    """Finished rows of the table, one JSON file each, named by what the row reads (see the module).

    Change any of it and the row is computed again: a stale file is never read. Files are
    written atomically (temporary file and rename), so a kill leaves a whole row or none; an
    unreadable one counts as missing.

    Parameters
    ----------
    folder : where the row files live (``RUN/checkpoints/cv`` in a study).
    dataset, config : what the evaluation runs on.
    """

    def __init__(self, folder: Path, dataset: Dataset, config: Config) -> None:
        self.folder = Path(folder)
        self.dataset = dataset
        self.config = config
        self._media = {media: media_digest(dataset, media) for media in MEDIA_TYPES}  # the costly part, once

    def key(self, media: str, name: str, n_classes: int, folds: np.ndarray) -> str:
        """The file name (without ``.json``) of the row of approach ``name`` on ``media`` at N."""
        spec = approach(name)
        fields = sorted({*VALIDATION_FIELDS, *spec.config_fields})
        settings = json.dumps({field: getattr(self.config, field) for field in fields})
        read = sorted({media, *spec.also_reads})
        data = []
        for kind in read:
            items = self.dataset.images if kind == IMAGE else self.dataset.videos
            data += [self._media[kind], _array_digest(items.labels[n_classes])]
        if spec.needs_context:
            context = [self.dataset.context.get(kind) for kind in read]
            data += [json.dumps(list(self.dataset.context_columns)), *map(_array_digest, context)]
        fold_digest = _array_digest(np.asarray(folds, dtype=np.int64))
        return cache_key(
            __version__, str(ROW_FORMAT), settings, *data, media, name, str(n_classes), fold_digest
        )

    def load(self, key: str) -> dict[str, Any] | None:
        """The row saved under ``key``, or None."""
        path = self.folder / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable checkpoint, computing the row again (%s)", path, err)
            return None

    def save(self, key: str, row: dict[str, Any]) -> None:
        """Store a finished row under ``key``, atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / f"{key}.json", json.dumps(row).encode())

    def keep_only(self, keys: set[str]) -> None:
        """Remove the row files of other settings or data: they can never be read again."""
        for path in self.folder.glob("*.json"):
            if path.stem not in keys:
                path.unlink(missing_ok=True)
