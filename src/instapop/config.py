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

from instapop.runfolder import RunFolder


@dataclass(frozen=True)
class Config:
    # --- labels (paper §2-3) ---
    n_classes: tuple[int, ...] = (2, 3)  # popularity-class settings to build
    window_days: float = 56.0  # rolling window centred on each post (8 weeks)
    min_window_posts: int = 20  # widen the window until it holds this many posts
    target: str | None = None  # what popularity means: "por", "reach-rate", "reach", "views",
    # "views-rate" (instapop.targets);
    # None: ingest chooses from the data (reach-rate when every post has reach) and records its choice
    # --- ingest and follower history (issue 2) ---
    follower_fit_points: int = 3  # nearest known points in the log-linear fit outside the history
    max_json_bytes: int = 16 * 2**20  # metadata decompressing past this is refused (xz-bomb guard)

    # --- media and embeddings (paper §4.1, §4.2) ---
    backbone: str = "lite0"  # built-in EfficientNet-Lite0, or a path to an .onnx file
    engine: str = "onnx"  # bulk extraction engine: "onnx" or "torch"
    image_size: int = 224
    center_crop: bool = False  # the paper resizes the whole image
    n_frames: int = 15  # frames per video
    frame_interval_s: float = 1.0  # one frame a second over the first n_frames seconds
    n_views: int = 15  # augmented views per image, view 0 is the clean image
    batch_size_embed: int = 32
    # --- media decoding, backbone, feature cache (issue 3, items 1-4) ---
    max_image_pixels: int = 100_000_000  # larger images are refused (decompression-bomb guard)
    video_max_pixels: int = 2560 * 1440  # larger frames are refused: Instagram serves at most 1080x1920
    video_max_fps: float = 60.0  # faster videos are refused: decode cost grows with fps
    video_max_duration_s: float | None = None  # None: any length (only the first seconds are decoded)
    embed_threads: int = 0  # inference and decode threads; 0 = every core this process may use
    aug_translate: float = 0.1  # augmented views: shift up to 10 % of width / height (paper §4.2)
    aug_zoom: float = 0.1  # zoom in or out by up to 10 %
    aug_brightness: float = 0.2  # brightness, contrast, saturation: factor in 1 +- this
    aug_contrast: float = 0.2
    aug_saturation: float = 0.2
    onnx_dim: int = 1280  # backbone from an .onnx file: its declared output length per image,
    onnx_offset: float = 127.0  # its input scaling (pixel - offset) / scale (Keras EfficientNet: 0 and 1)
    onnx_scale: float = 128.0
    onnx_layout: str = "nchw"  # and its input layout: "nchw" (PyTorch exports) or "nhwc" (Keras / tf2onnx)
    # --- many profiles on Ray (issue 12) ---
    batch_shard_items: int = 64  # media items per embedding task: a kill loses at most one per worker
    batch_worker_cpus: int = 1  # CPUs (threads) of each embedding actor and each per-profile study task

    # --- near-duplicates (paper §4.1) ---
    dup_threshold: float | None = None  # None: found from the NN-distance histogram; set: the bound on
    # candidate pairs (every pair within it is verified), or with dup_verify off the duplicate threshold
    dup_verify: bool = True  # verify candidates by the pictures (local features, geometry, pixels); False:
    # the paper's rule: every pair within the threshold (dup_outlier_k spreads below the median) is one
    video_duration_tol_s: float = 0.5
    video_fps_tol: float = 1.0
    dup_outlier_k: float = 3.0  # automatic threshold without verification (and the framed-picture fence):
    # this many robust spreads below the median log NN distance
    exclude: tuple[str, ...] = ()  # media ids or paths a person wants out of training (logos, product
    # sheets): dedup marks them removed, so no later stage uses them
    dup_sheet_max_pairs: int = 40  # removed pairs drawn in dedup_pairs.png; the rest are counted
    dup_candidate_k: float = 0.0  # candidates: pairs within this many robust spreads below the median NN
    # distance (0: closer than the median image is to its nearest neighbour)
    dup_candidate_neighbours: int = 2  # and one among the other's this many nearest neighbours
    verify_side: int = 400  # pictures decoded to about this many pixels squared for verification
    verify_features: int = 1000  # SIFT keypoints kept per picture
    verify_ransac_px: float = 4.0  # RANSAC: a match fits the map within this many pixels (at verify_side)
    verify_min_inliers: int = 12  # matches that must fit one map
    verify_max_anisotropy: float = 1.35  # the map's two scales may differ this much (a stretch edit)
    verify_min_contained: float = 0.6  # share of one picture the map must lay inside the other
    verify_max_second: float = 0.05  # a second map fitting this share of the first's inliers (and at
    # least verify_min_inliers): a part of the picture moved against the rest, a re-shoot
    verify_min_agreement: float = 0.83  # share of textured overlap tiles whose pixels must agree

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
    logreg_c: float | None = None  # logistic-regression baseline: inverse L2 strength on standardised
    # embeddings; None = chosen among logreg_cs by inner CV on the training folds (C = 1 over-fits
    # 1,280 dimensions: 0.622 vs 0.655 at N = 2 on the development profile); the paper setup uses 1.0
    logreg_cs: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
    logreg_max_iter: int = 1000  # its L-BFGS iteration cap
    epoch_callback: str = "inner"  # best epoch picked on: "inner" = a held-out slice of the training folds
    # (honest), "fold" = the scored fold itself, as the paper's callback (optimistic by a few points)
    train_threads: int = 1  # torch threads while training: tiny models gain nothing from more; 0 = all cores
    train_workers: int = 0  # cross-validation rows trained at once, in threads; 0 = one per core.
    # Results do not depend on it (each training has its own generator).
    approaches: tuple[str, ...] = (  # what evaluate cross-validates and train may choose from
        "image", "video", "image_to_video", "video_to_image", "ranker", "ranker_pooled", "majority", "logreg"
    )  # fmt: skip
    pool_below: int = 200  # the pooled ranker runs for a media type with fewer items than this
    # (and some of the other type): it lends a small type what the other teaches; a larger type
    # has enough of its own, and each of its rows would cost an image ranker's (docs/models.md)
    model_classes: int | None = None  # N of the saved model; None: the largest of n_classes
    inner_splits: int = 5  # grouped folds inside the training folds that choose a penalty (ranker, logreg)
    # time-ordered backtest beside the CV: the last backtest_share of each media type's posts by date,
    # in backtest_blocks blocks, each scored by approaches trained on the posts before it only
    backtest_share: float = 0.4
    backtest_blocks: int = 4

    # --- the ranker (issue 11): ridge regression of the within-window PoR percentile ---
    ranker_alphas: tuple[float, ...] = (  # ridge penalties tried by inner CV (standardised features)
        10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0
    )  # fmt: skip
    ranker_context_weights: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)  # weight of a standardised context
    # column against one embedding dimension, chosen with the penalty (a dozen columns beside 1,280)
    ranker_words_weights: tuple[float, ...] = (0.0, 30.0)  # weight of the caption words (an
    # L2-normalised TF-IDF row) against one embedding dimension, chosen with the penalty; 0: none.
    # Each nonzero weight costs an eigendecomposition per inner fold: one about doubles the ranker's
    # cross-validation; (0, 10, 30, 100) scored no better on the caption-effect profiles (docs/captions.md)
    ranker_words_max_features: int = 20_000  # largest vocabulary of caption n-grams (and of tokens)
    ranker_post_picture: bool = True  # each item read as its post's mean picture (a carousel is liked
    # as a whole): picture-only Spearman 0.489 -> 0.512 on the development profile (docs/models.md)

    # --- explain and report (issue 5) ---
    gradcam_per_class: int = 3  # Grad-CAM images per class: the most confident correct ones (Fig. 9)
    videos_per_class: int = 1  # explained videos per class: the most confident correct ones
    top_frames: int = 2  # frames of an explained video that also get a Grad-CAM
    region_min_size: int = 10  # smallest t-SNE cluster tested for a popularity region
    region_alpha: float = 0.01  # significance of a region, after the Bonferroni correction
    low_confidence_days: float = 30.0  # follower estimate further than this from data: low-confidence label

    # --- synthetic profile generator (issue 2, item 5) ---
    synth_base_por: float = 0.06  # PoR of an average image post at the start of the synthetic profile
    synth_base_elasticity: float = 0.5  # base PoR ~ followers ** -this: big audiences engage less per head
    synth_signal_factor: float = 1.6  # PoR x this for the "popular" object, / this for the "unpopular" one
    synth_video_factor: float = 0.55  # posts with a video: about 45 % lower PoR (paper Fig. 1b)
    synth_repost_factor: float = 0.75  # a repost reaches an audience that has seen it: lower PoR
    synth_weekend_factor: float = 1.0  # PoR x this on Saturdays and Sundays (UTC); 1: no weekday effect
    synth_caption_factor: float = 1.0  # PoR x this for posts whose caption carries a planted word; 1: none
    synth_por_noise: float = 0.1  # sigma of the log-normal PoR noise
    synth_repost_fraction: float = 0.05  # share of posts that re-post earlier media
    synth_same_shoot_fraction: float = 0.04  # share of posts that are a variant of the previous shoot
    synth_wrong_followers_factor: tuple[float, float] = (0.5, 0.55)  # history 45-50 % too low on t0-t1

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
        for name in (
            "n_classes",
            "gru_units",
            "synth_wrong_followers_factor",
            "approaches",
            "logreg_cs",
            "ranker_alphas",
            "ranker_context_weights",
            "ranker_words_weights",
            "exclude",
        ):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path) -> Config:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @property
    def model_n(self) -> int:
        """N of the model ``train`` saves: ``model_classes``, else the largest evaluated N."""
        return self.model_classes or max(self.n_classes)

    def paper(self) -> Config:
        """This configuration restricted to the paper's protocol (``--paper``): its four approaches
        and the two baselines, the probe with C = 1, no ranker."""
        return dataclasses.replace(self, approaches=PAPER_APPROACHES, logreg_c=1.0)


PAPER_APPROACHES = ("image", "video", "image_to_video", "video_to_image", "majority", "logreg")


PAPER = Config()

# A run folder's settings: what its outputs were made with. The first stage (ingest, or ``instapop
# run``) writes them; a later stage starts from them, and the options given on its command line
# change them, each change appended to the overrides log so that a person sees who changed what.
# The log (RunFolder.config_overrides): [{"stage": ..., "changes": {name: {"from": .., "to": ..}}}]


def start_run_config(run_dir: Path, config: Config) -> None:
    """Write a new run's settings into ``run_dir`` and forget an earlier run's overrides.

    Parameters
    ----------
    run_dir : the run folder (created if missing).
    config : the settings of the first stage.
    """
    run = RunFolder(run_dir)
    run.root.mkdir(parents=True, exist_ok=True)
    config.save(run.config)
    run.config_overrides.unlink(missing_ok=True)


def load_run_config(run_dir: Path) -> Config:
    """The settings saved in ``run_dir`` (see :func:`start_run_config`), or the paper's defaults."""
    path = RunFolder(run_dir).config
    return Config.load(path) if path.is_file() else Config()


def update_run_config(run_dir: Path, config: Config, stage: str) -> dict[str, dict[str, Any]]:
    """Save ``config`` as the run's settings after ``stage`` ran with it; log what it changed.

    Call it once the stage has succeeded, so that the saved settings stay those the run
    folder's outputs were made with.

    Parameters
    ----------
    run_dir : the run folder.
    config : the settings the stage ran with: the run's, with the options given to it.
    stage : the stage's name, as recorded in the overrides log.

    Returns
    -------
    The changes, ``{name: {"from": saved value, "to": new value}}`` (empty: nothing written).
    """
    run = RunFolder(run_dir)
    before, after = load_run_config(run_dir).to_dict(), config.to_dict()
    changes = {name: {"from": before[name], "to": new} for name, new in after.items() if new != before[name]}
    if changes:
        log = run.config_overrides
        entries = json.loads(log.read_text()) if log.is_file() else []
        entries.append({"stage": stage, "changes": changes})
        log.write_text(json.dumps(entries, indent=2) + "\n")
        config.save(run.config)
    return changes
