"""Read whatever a run folder holds, stage by stage; a stage not yet run reads as None."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from instapop.config import Config, load_run_config
from instapop.errors import InstapopError
from instapop.runfolder import RunFolder

log = logging.getLogger(__name__)


@dataclass
class RunFiles:
    """The run folder's tables and JSON files. ``None`` marks a stage that has not written its files.

    Attributes
    ----------
    run_dir : the folder.
    config : the run's ``config.json``, or the paper's defaults when there is none.
    media : ``media.csv``, ``timestamp`` parsed, plus a ``low_confidence`` flag (:func:`flag_low_confidence`).
    excluded, followers : ``excluded.csv``, ``followers.csv``.
    summary : ``summary.json``.
    dedup, dedup_summary : ``dedup.csv``, ``dedup.json``.
    cv : ``cv_results.json``.
    model_card : ``model/config.json``: the chosen approach per media type, N, target.
    explain : ``explain/explain.json``.
    stages : ``stages.json``: what each stage of ``instapop run`` did (see :meth:`stages_not_run`).
    failed : media the embeddings stage could not read (media_id, path, reason), from ``features/``.
    problems : files that exist but could not be read, (file, reason): the report shows them.
    """

    run_dir: Path
    config: Config
    media: pd.DataFrame | None = None
    excluded: pd.DataFrame | None = None
    followers: pd.DataFrame | None = None
    summary: dict | None = None
    dedup: pd.DataFrame | None = None
    dedup_summary: dict | None = None
    cv: dict | None = None
    model_card: dict | None = None
    explain: dict | None = None
    stages: dict | None = None
    failed: pd.DataFrame | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def folder(self) -> RunFolder:
        """The paths of the run folder's files."""
        return RunFolder(self.run_dir)

    def stages_not_run(self) -> dict[str, str]:
        """Why each stage the study could not run did not, for stages whose files are still absent
        (a stage run alone since then has written them, and ``stages.json`` is out of date)."""
        return {
            stage: f"{entry['status']}: {entry['reason']}"
            for stage, entry in (self.stages or {}).items()
            if entry["status"] != "done"
            and not any(getattr(self.folder, name).exists() for name in entry.get("outputs", ()))
        }


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"media_id": str, "post_id": str, "shortcode": str, "partner": str})


def _media(path: Path) -> pd.DataFrame:
    from instapop.ingest import load_media

    return load_media(path.parent)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _failed_media(features_dir: Path) -> pd.DataFrame:
    from instapop.embed.extract import FeatureSet

    return FeatureSet.load(features_dir).failed[["media_id", "path", "reason"]]


def flag_low_confidence(media: pd.DataFrame, followers: pd.DataFrame | None, max_days: float) -> pd.Series:
    """True where a label rests on a weak follower estimate.

    Weak means further than ``max_days`` from a known follower count, extrapolated
    beyond the first or last known count, or missing.
    """
    days = pd.to_numeric(media["confidence_days"], errors="coerce")
    low = days.isna() | (days > max_days) | media["followers"].isna()
    if followers is not None and len(followers):
        outside = (media["timestamp"] < followers["date"].min()) | (
            media["timestamp"] > followers["date"].max()
        )
        low |= outside
    return low


def _read(run: RunFiles, path: Path, reader, attribute: str) -> None:
    if not path.exists():
        return
    try:
        setattr(run, attribute, reader(path))
    except (OSError, ValueError, KeyError, InstapopError) as err:
        log.warning("%s: could not be read (%s)", path, err)
        run.problems.append((str(path), f"could not be read: {err}"))


def load_run(run_dir: Path) -> RunFiles:
    """Read every stage's files that exist in ``run_dir``.

    Parameters
    ----------
    run_dir : a run folder (see docs/architecture.md).

    Returns
    -------
    RunFiles; a file that exists but cannot be read is listed in ``problems`` rather than raised.
    """
    run_dir = Path(run_dir)
    run = RunFiles(run_dir, load_run_config(run_dir))
    folder = RunFolder(run_dir)
    for path, reader, attribute in (
        (folder.media, _media, "media"),
        (folder.excluded, _csv, "excluded"),
        (folder.followers, _csv, "followers"),
        (folder.summary, _json, "summary"),
        (folder.dedup, _csv, "dedup"),
        (folder.dedup_summary, _json, "dedup_summary"),
        (folder.cv_results, _json, "cv"),
        (folder.model_card, _json, "model_card"),
        (folder.explain_json, _json, "explain"),
        (folder.stages, _json, "stages"),
        (folder.features, _failed_media, "failed"),
    ):
        _read(run, path, reader, attribute)
    if run.followers is not None:
        run.followers["date"] = pd.to_datetime(run.followers["date"], utc=True)
    if run.media is not None:
        run.media["low_confidence"] = flag_low_confidence(
            run.media, run.followers, run.config.low_confidence_days
        )
    return run


def class_counts(values: pd.Series, n_classes: int) -> np.ndarray:
    """How many labelled items fall in each class 0..N-1 (unlabelled -1 left out)."""
    values = values[values >= 0].astype(int)
    return np.bincount(values, minlength=n_classes)[:n_classes]
