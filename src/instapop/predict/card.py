"""The model card: what a person should know before trusting a ranking, read from a saved
model's ``config.json`` (written by :func:`instapop.training.train_final`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from instapop.config import Config
from instapop.cv_rows import MAJORITY
from instapop.media_types import IMAGE, VIDEO

if TYPE_CHECKING:
    from instapop.training import SavedModel


def class_names(n_classes: int) -> list[str]:
    """Plain names for N popularity classes, least popular first."""
    names = {2: ["less popular", "more popular"], 3: ["low", "medium", "high"]}
    return names.get(n_classes, [f"class {k}" for k in range(n_classes)])


def embedding_config(model: SavedModel) -> Config:
    """The Config the model's embeddings were made with (backbone, input size, frame sampling)."""
    saved = model.config.get("config", {})
    known = {f.name for f in dataclasses.fields(Config)}
    return Config.from_dict({key: value for key, value in saved.items() if key in known})


def model_card(model: SavedModel) -> dict[str, Any]:
    """Classes with their boundaries, the target, the training dates and CV accuracy, from ``config.json``.

    ``media`` holds, per media type with a model of its own: the approach and why it was chosen,
    the boundaries between classes in the latest label window, in the units of the model's
    target (``target``: PoR, reach-rate or reach; what a new post must beat), and the
    approach's CV accuracy beside the majority-class baseline.
    """
    from instapop.targets import FORMULAS

    card = model.config
    cv = card["cv"]
    target = card.get("target", "por")  # models trained before targets ranked PoR
    approaches = {IMAGE: model.image_approach, VIDEO: model.video_approach}
    return {
        "n_classes": model.n_classes,
        "class_names": class_names(model.n_classes),
        "target": {"name": target, "formula": FORMULAS[target]},
        "backbone": model.backbone,
        "date_range": card["date_range"],
        "cv_protocol": {key: cv[key] for key in ("n_splits", "n_repeats", "grouped_folds")},
        "media": {media: _media_card(card, media, a) for media, a in approaches.items() if a is not None},
        # media types without a validated approach of their own, and whose model scores them
        "borrowed": {m: model.scored_by(m) for m in approaches if model.scored_by(m) != m},
    }


def _media_card(card: dict[str, Any], media: str, approach: str) -> dict[str, Any]:
    rows = card["cv"].get(media, {})
    accuracy = rows.get(approach, {}).get("accuracy", {})
    window = card["class_boundaries"].get(media) or {}
    return {
        "approach": approach,
        "choice": card["choice"][media],
        "boundaries": window.get("boundaries"),
        "window": {key: window.get(key) for key in ("window_start", "window_end", "window_posts")},
        "cv_accuracy": accuracy.get("mean"),
        "cv_std": accuracy.get("std"),
        "majority_accuracy": rows.get(MAJORITY, {}).get("accuracy", {}).get("mean"),
        "trained_on": card["trained_on"][media],
    }
