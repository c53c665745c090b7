"""The :class:`Predictor`: a saved model and its backbone, loaded once, that score and rank
candidate files, carousels included (see :mod:`instapop.predict`)."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from instapop.config import Config
from instapop.context import candidate_context, describe_fallbacks, read_context_defaults
from instapop.errors import BadInputError, InstapopError
from instapop.media_types import CAROUSEL, IMAGE, VIDEO
from instapop.predict.candidates import Candidate
from instapop.predict.card import class_names, embedding_config, model_card
from instapop.predict.files import (
    UNREADABLE,
    UNSUPPORTED,
    Refused,
    check_video_length,
    checked_image_size,
    checked_media_type,
    named_inputs,
    peek_media_type,
)
from instapop.predict.heatmaps import image_heatmap, video_filmstrip
from instapop.predict.plans import Limits, Plan, plan_for
from instapop.predict.scorers import MediaScorer, Verdict, expected_class, media_scorers, verdict_from_probs

if TYPE_CHECKING:
    from instapop.embed.backbone import Encoder, Lite0
    from instapop.training import SavedModel

log = logging.getLogger(__name__)


class Predictor:
    """A saved model and its backbone, loaded once, that score and rank candidate posts.

    Build it with :meth:`load`. ``score_paths`` may be called from several threads:
    the ONNX Runtime session runs concurrently, the torch parts (heads, Grad-CAM) one at a time.

    Examples
    --------
    >>> predictor = Predictor.load(Path("run/model"))                    # doctest: +SKIP
    >>> ranked = predictor.rank(predictor.score_paths([Path("candidates")]))  # doctest: +SKIP
    >>> ranked[0].name, ranked[0].expected_score                          # doctest: +SKIP
    ('candidates/beach.jpg', 0.91)
    """

    def __init__(
        self,
        model: SavedModel,
        encoder: Encoder,
        config: Config,
        limits: Limits,
        context_defaults: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.config = config
        self.limits = limits
        self.class_names = class_names(model.n_classes)
        self.scorers = media_scorers(model, context_defaults)
        self._torch_lock = threading.Lock()
        self._lite0: Lite0 | None = None

    @classmethod
    def load(
        cls,
        model_dir: Path,
        cache_dir: Path | None = None,
        limits: Limits | None = None,
        explain: bool = False,
    ) -> Predictor:
        """Load the saved model and the backbone session it was trained on.

        Parameters
        ----------
        model_dir : a ``model/`` folder written by ``instapop train``.
        cache_dir : where the backbone's ONNX graph is cached (default: the feature cache).
        limits : bounds on each candidate (default :class:`Limits`).
        explain : also load the torch backbone for Grad-CAM now rather than on first use.

        Raises
        ------
        InstapopError : the model folder is missing, damaged, or names a backbone this
            installation cannot build.
        """
        from instapop.embed.backbone import load_encoder
        from instapop.training import load_model

        model = load_model(Path(model_dir))
        config = embedding_config(model)
        encoder = load_encoder(config, cache_dir)
        if encoder.name != model.backbone:
            raise InstapopError(
                f"{model_dir}: the model was trained on backbone {model.backbone!r} "
                f"but this installation builds {encoder.name!r}"
            )
        predictor = cls(model, encoder, config, limits or Limits(), read_context_defaults(Path(model_dir)))
        if explain:
            predictor._backbone_for_gradcam()
        return predictor

    # --- scoring -----------------------------------------------------------------

    def score_paths(
        self,
        paths: list[Path],
        explain: bool = False,
        plan: Plan | None = None,
        plans: dict[str, Plan] | None = None,
    ) -> list[Candidate]:
        """Score files and folders, in the order found (rank them with :meth:`rank`).

        Parameters
        ----------
        paths : image or video files, or folders of them; a folder inside a given folder
            is one carousel.
        explain : attach a heatmap PNG to each image and a filmstrip PNG to each video.
        plan : planned time and caption of every candidate (default: none given).
        plans : per-candidate plans (:func:`~instapop.predict.read_plan`), by name; they win over ``plan``.

        Returns
        -------
        One Candidate per file or carousel; a file that cannot be scored gets ``error``
        (naming it and saying why) and the others are still scored.
        """
        default = (plan or Plan()).checked(self.limits)
        plans = {name: p.checked(self.limits) for name, p in (plans or {}).items()}
        return [
            self._score_carousel(name, path, explain, plan_for(name, plans, default))
            if path.is_dir()
            else self._score_file(name, path, explain, plan_for(name, plans, default), (1, 1))
            for name, path in named_inputs(paths)
        ]

    def _score_file(
        self,
        name: str,
        path: Path,
        explain: bool,
        plan: Plan,
        place: tuple[int, int],
        video_share: float | None = None,
    ) -> Candidate:
        """Score one file at ``place`` (carousel size, position); ``video_share``: its post's, or its own."""
        media_type = "unknown"
        try:
            media_type = checked_media_type(path, self.limits)
            scorer = self._scorer(path, media_type)
            share = float(media_type == VIDEO) if video_share is None else video_share
            context, fallbacks = self._context(scorer, plan, place, share)
            score = self._score_image if media_type == IMAGE else self._score_video
            verdict, heatmap = score(path, scorer, context, plan.caption, explain)
        except BadInputError as err:  # MediaError from decoding is a BadInputError too
            log.info("not scored: %s", err)
            kind = err.kind if isinstance(err, Refused) else UNREADABLE
            return Candidate(name, media_type, plan=plan, error=str(err), error_kind=kind)
        candidate = Candidate(name, media_type, plan=plan, heatmap_png=heatmap)
        return self._scored(candidate, dataclasses.replace(verdict, fallbacks=tuple(fallbacks)), scorer)

    def _score_carousel(self, name: str, folder: Path, explain: bool, plan: Plan) -> Candidate:
        entries = [path for _, path in named_inputs([folder])]
        kinds = [None if path.is_dir() else peek_media_type(path) for path in entries]
        share = sum(kind == VIDEO for kind in kinds) / max(len(entries), 1)
        items = [
            self._not_media(name + path.name, path)
            if path.is_dir()
            else self._score_file(name + path.name, path, explain, plan, (len(entries), k), share)
            for k, path in enumerate(entries, start=1)
        ]
        failed = [item for item in items if not item.ok]
        if not items or failed:
            reason = failed[0].error if failed else f"{folder}: the carousel folder holds no media files"
            kind = failed[0].error_kind if failed else UNSUPPORTED
            return Candidate(name, CAROUSEL, plan=plan, error=reason, error_kind=kind, items=items)
        verdict = self._carousel_verdict(items)
        scorer = self.scorers[items[0].media_type]
        return self._scored(Candidate(name, CAROUSEL, plan=plan, items=items), verdict, scorer)

    def _carousel_verdict(self, items: list[Candidate]) -> Verdict:
        """The post's verdict: every item carries its post's label in training, so the mean of theirs.

        Classifiers: the mean probabilities. Rankers: the mean percentile, moves and
        probabilities, the class of the mean percentile by the first item's cuts, the first
        item's caption terms (the items share the caption). A carousel
        mixing a ranker's items with a classifier's: the mean score, classed by the first
        item's approach.
        """
        fallbacks = tuple(dict.fromkeys(f for item in items for f in item.fallbacks))
        ranked = all(item.percentile is not None for item in items)
        if not ranked and all(item.probs for item in items):
            return dataclasses.replace(
                verdict_from_probs(np.mean([item.probs for item in items], axis=0)), fallbacks=fallbacks
            )
        score = float(np.mean([item.score for item in items]))
        return Verdict(
            int(self.scorers[items[0].media_type].classify(np.array([score]))[0]),
            score,
            probs=tuple(np.mean([item.probs for item in items], axis=0)) if ranked else (),
            percentile=score if ranked else None,
            picture=_mean_or_none([item.picture for item in items]),
            context=_mean_or_none([item.context for item in items]),
            words=_mean_or_none([item.words for item in items]),
            words_up=tuple(items[0].words_up),
            words_down=tuple(items[0].words_down),
            fallbacks=fallbacks,
        )

    def _scored(self, candidate: Candidate, verdict: Verdict, scorer: MediaScorer) -> Candidate:
        candidate.probs = list(verdict.probs)
        candidate.predicted_class = verdict.predicted_class
        candidate.score = verdict.score
        candidate.expected_score = expected_class(verdict.probs) if verdict.probs else math.nan
        candidate.percentile, candidate.picture, candidate.context = (
            verdict.percentile,
            verdict.picture,
            verdict.context,
        )
        candidate.words, candidate.words_up, candidate.words_down = (
            verdict.words,
            list(verdict.words_up),
            list(verdict.words_down),
        )
        candidate.fallbacks = list(verdict.fallbacks)
        candidate.context_note = self._context_note(candidate, scorer)
        return candidate

    def _context_note(self, candidate: Candidate, scorer: MediaScorer) -> str:
        """What a person should know about the context used; "" for a picture-only model given none."""
        scorers = [self.scorers[i.media_type] for i in candidate.items] or [scorer]
        if not any(s.uses_context for s in scorers):
            if candidate.plan == Plan():
                return ""
            return f"this model ({scorer.approach}) ranks by the picture alone: time and caption unused"
        defaults = next(s.context_defaults for s in scorers if s.uses_context) or {}
        assumed = describe_fallbacks(candidate.fallbacks, defaults)
        return f"assumed the profile's {assumed}" if assumed else "time and caption as given"

    def _scorer(self, path: Path, media_type: str) -> MediaScorer:
        scorer = self.scorers.get(media_type)
        if scorer is None:
            raise Refused(
                f"{path}: this model has no {media_type} model (it was trained without {media_type}s)",
                UNSUPPORTED,
            )
        return scorer

    @staticmethod
    def _context(
        scorer: MediaScorer, plan: Plan, place: tuple[int, int], video_share: float
    ) -> tuple[np.ndarray | None, list[str]]:
        """The context row the scorer reads (None if it reads none) and the inputs it had to assume."""
        if not scorer.uses_context:
            return None, []
        size, position = place
        defaults = scorer.context_defaults or {}
        return candidate_context(plan.when, plan.caption, size, position, video_share, defaults)

    @staticmethod
    def _not_media(name: str, path: Path) -> Candidate:
        reason = f"{path}: a folder inside a carousel folder is not a media item"
        return Candidate(name, "unknown", error=reason, error_kind=UNSUPPORTED)

    def _score_image(
        self,
        path: Path,
        scorer: MediaScorer,
        context: np.ndarray | None,
        caption: str | None,
        explain: bool,
    ) -> tuple[Verdict, bytes | None]:
        """Verdict of one image with its post's context row and caption; its explanation PNG if asked."""
        from instapop.media import load_image

        shown_size = checked_image_size(path, self.limits)
        image = load_image(
            path,
            size=self.config.image_size,
            center_crop=self.config.center_crop,
            max_pixels=self.limits.max_image_pixels,
        )
        embedding = self.encoder.encode(image[None])[0]  # (D,)
        with self._torch_lock:
            verdict = scorer.verdict(embedding, context, caption)
            heatmap = None
            if explain:
                backbone = self._backbone_for_gradcam()
                heatmap = image_heatmap(backbone, image, shown_size, scorer, context, self.config)
        return verdict, heatmap

    def _score_video(
        self,
        path: Path,
        scorer: MediaScorer,
        context: np.ndarray | None,
        caption: str | None,
        explain: bool,
    ) -> tuple[Verdict, bytes | None]:
        """Verdict of one video with its post's context row and caption; its explanation PNG if asked."""
        from instapop.media import sample_video

        check_video_length(path, self.limits)
        sample = sample_video(
            path,
            n_frames=self.config.n_frames,
            interval_s=self.config.frame_interval_s,
            size=self.config.image_size,
            max_duration_s=self.limits.max_video_s,
            max_pixels=self.config.video_max_pixels,
            max_fps=self.config.video_max_fps,
            center_crop=self.config.center_crop,
        )
        frames = self.encoder.encode(sample.frames)  # (T, D), one batch per video
        with self._torch_lock:
            verdict = scorer.verdict(frames, context, caption)
            strip = None
            if explain:
                strip = video_filmstrip(self._backbone_for_gradcam(), sample, frames, scorer, context)
        return verdict, strip

    def _backbone_for_gradcam(self) -> Lite0:
        """The torch backbone Grad-CAM needs, built on first use (call it under the torch lock)."""
        if self._lite0 is None:
            from instapop.embed.backbone import lite0_torch

            self._lite0 = lite0_torch()
        return self._lite0

    # --- ranking and the model card ------------------------------------------------

    @staticmethod
    def rank(candidates: list[Candidate]) -> list[Candidate]:
        """Best first by score, ties by name; errors last, by name. Sets ``rank``.

        Returns new Candidates; the ones given are left as they were.
        """
        scored = sorted((c for c in candidates if c.ok), key=lambda c: (-c.score, c.name))
        failed = sorted((c for c in candidates if not c.ok), key=lambda c: c.name)
        ranked = [dataclasses.replace(c, rank=i) for i, c in enumerate(scored, start=1)]
        return ranked + [dataclasses.replace(c, rank=None) for c in failed]

    def model_card(self) -> dict[str, Any]:
        """What a person should know before trusting a ranking: classes, data, CV accuracy."""
        return model_card(self.model)

    def ranking_json(self, ranked: list[Candidate], heatmaps: bool = True) -> dict[str, Any]:
        """The JSON the CLI (``--json``, without heatmaps) and the API return for a ranking."""
        return {
            "n_classes": self.model.n_classes,
            "class_names": self.class_names,
            "context": self.context_card(),
            "candidates": [c.to_dict(self.class_names, heatmaps) for c in ranked],
        }

    def context_card(self) -> dict[str, Any]:
        """Which media types' models read the context, and the profile's typical values they assume."""
        reading = {media: s for media, s in self.scorers.items() if s.uses_context}
        defaults = next((s.context_defaults for s in reading.values()), None)
        typical = None
        if defaults:
            keys = ("typical_hour", "typical_weekday", "median_gap_hours", "last_post")
            typical = {key: defaults[key] for key in keys}
        return {"used_by": sorted(reading), "typical": typical}


def _mean_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))
