"""One run folder: the path of every file a stage writes or reads, named in one place.

A stage takes ``RunFolder(run_dir)`` and asks for ``run.media``, ``run.cv_results``…
instead of joining names itself, so a file's name lives here only (see
docs/architecture.md for what each holds). No imports from the rest of the package:
every module may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunFolder:
    """The files of one run folder, by stage."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- the run's settings (config.load_run_config, update_run_config)
    @property
    def config(self) -> Path:
        """The settings the folder's outputs were made with (written by the first stage)."""
        return self.root / "config.json"

    @property
    def config_overrides(self) -> Path:
        """What later stages changed in ``config.json``, in order."""
        return self.root / "config_overrides.json"

    # --- ingest and labels
    @property
    def media(self) -> Path:
        return self.root / "media.csv"

    @property
    def posts(self) -> Path:
        return self.root / "posts.csv"

    @property
    def excluded(self) -> Path:
        return self.root / "excluded.csv"

    @property
    def followers(self) -> Path:
        return self.root / "followers.csv"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def context(self) -> Path:
        """Per media item, the context a user knows before publishing."""
        return self.root / "context.csv"

    # --- embeddings, near-duplicates
    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def dedup(self) -> Path:
        return self.root / "dedup.csv"

    @property
    def dedup_summary(self) -> Path:
        return self.root / "dedup.json"

    @property
    def dedup_hist(self) -> Path:
        return self.root / "dedup_hist.png"

    @property
    def dedup_pairs(self) -> Path:
        return self.root / "dedup_pairs.png"

    # --- validation, final models, explanations, report
    @property
    def cv_results(self) -> Path:
        return self.root / "cv_results.json"

    @property
    def cv_markdown(self) -> Path:
        return self.root / "cv_results.md"

    @property
    def cv_predictions(self) -> Path:
        return self.root / "cv_predictions.csv"

    @property
    def context_drivers(self) -> Path:
        """How well the picture, the context and both predict popularity (fitted by evaluate)."""
        return self.root / "context_drivers.json"

    @property
    def cv_checkpoints(self) -> Path:
        """Finished cross-validation rows, for a rerun after a kill."""
        return self.root / "checkpoints" / "cv"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def model_card(self) -> Path:
        """The model's card: approach per media type, N, target, class boundaries (written last)."""
        return self.model / "config.json"

    @property
    def explain(self) -> Path:
        return self.root / "explain"

    @property
    def explain_json(self) -> Path:
        return self.explain / "explain.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    # --- the whole study
    @property
    def stages(self) -> Path:
        """What each stage of ``instapop run`` did."""
        return self.root / "stages.json"

    @property
    def timings(self) -> Path:
        return self.root / "timings.json"
