"""One ranker across media (``ranker_pooled``): what the videos gain, what CV never trains on,
what a saved model scores, what its checkpoints read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from instapop.config import Config
from instapop.context import CONTEXT_COLUMNS
from instapop.datasets import Dataset, planted_dataset
from instapop.media_types import IMAGE, VIDEO
from instapop.models.approaches import Problem, approach
from instapop.models.crossval import DatasetTensors, Split
from instapop.models.pooled import MEDIA_FLAG, PooledItems
from instapop.models.ranker import Ranker
from instapop.predict.scorers import media_scorers
from instapop.training import load_model, train_final
from instapop.validation import evaluate, row_of
from instapop.validation.backtest import backtest
from instapop.validation.checkpoints import RowCheckpoints
from instapop.validation.folds import plan_media, repeated_folds

FAST = Config(
    n_repeats=1,
    n_classes=(2,),
    approaches=("ranker", "ranker_pooled", "majority"),
    inner_splits=3,
    ranker_alphas=(1.0, 100.0, 1e4),
    ranker_context_weights=(1.0, 10.0),
    pool_below=1000,  # the images too, to compare what pooling costs them
)


def few_videos(seed: int = 1) -> Dataset:
    """300 images and 25 videos (one a post) with the same planted direction, and two context
    columns of noise: the videos alone are too few to find the direction in 64 dimensions."""
    data = planted_dataset(300, 25, signal=1.0, seed=seed, dim=64, siblings=1, ns=(2,))
    rng = np.random.default_rng(seed)
    context = {IMAGE: rng.normal(size=(300, 2)), VIDEO: rng.normal(size=(25, 2))}
    return dataclasses.replace(data, context=context, context_columns=CONTEXT_COLUMNS[:2])


@pytest.fixture(scope="module")
def data() -> Dataset:
    return few_videos()


@pytest.fixture(scope="module")
def results(data) -> dict:
    return evaluate(data, FAST, progress=False)


def test_the_videos_rank_better_with_the_images_beside_them(results) -> None:
    alone = row_of(results, VIDEO, "ranker", 2)["spearman"]["mean"]
    pooled = row_of(results, VIDEO, "ranker_pooled", 2)["spearman"]["mean"]
    assert pooled > alone + 0.2, (pooled, alone)
    # the images, 12 times as many, lose nothing to the videos beside them
    images = [row_of(results, IMAGE, name, 2)["spearman"]["mean"] for name in ("ranker", "ranker_pooled")]
    assert images[1] > images[0] - 0.05, images


def shared_posts(data: Dataset) -> Dataset:
    """Each video in the post of one image (a carousel of an image and a video)."""
    videos = dataclasses.replace(data.videos, groups=data.images.groups[: len(data.videos) * 4 : 4].copy())
    return dataclasses.replace(data, videos=videos)


@pytest.mark.parametrize("media", [IMAGE, VIDEO])
def test_cv_never_trains_on_an_item_of_a_scored_post(data, media, monkeypatch) -> None:
    data = shared_posts(data)
    items = data.images if media == IMAGE else data.videos
    folds = repeated_folds(items, 2, FAST)
    split = Split.from_folds(folds, items, 2, FAST, with_callback=False)
    problem = Problem(data, DatasetTensors(data, 2), media, 2, FAST, split)
    seen: list[np.ndarray] = []
    fit = PooledItems.fit
    monkeypatch.setattr(PooledItems, "fit", lambda self, rows, *a: seen.append(rows) or fit(self, rows, *a))
    approach("ranker_pooled").cross_validate(problem)

    pooled = PooledItems.of(problem)
    own = pooled.offset[media]
    for rows, train, val in zip(seen, split.train, split.val, strict=True):
        scored_posts = items.groups[val.numpy()]
        assert not np.isin(pooled.items.groups[rows], scored_posts).any()
        # and nothing else is held back: every own training item, every other item outside those posts
        others = np.setdiff1d(np.arange(len(pooled.items.groups)), own + np.arange(len(items)))
        allowed = others[~np.isin(pooled.items.groups[others], scored_posts)]
        assert set(rows) == set(train.numpy() + own) | set(allowed)


def test_a_saved_pooled_model_scores_a_video_and_an_image(data, results, tmp_path) -> None:
    config = dataclasses.replace(FAST, approaches=("ranker_pooled", "majority"))
    pooled_rows = [row for row in results["rows"] if row["approach"] in config.approaches]
    folder = train_final(data, results | {"rows": pooled_rows}, config, 2, tmp_path / "model")
    model = load_model(folder)
    assert model.image_approach == model.video_approach == "ranker_pooled"
    entry = model.config["models"][VIDEO]
    assert entry["ranker"]["context_columns"] == [*CONTEXT_COLUMNS[:2], MEDIA_FLAG]
    assert "trained on 300 images and 25 videos together" in (folder / "card.md").read_text()

    # the pooled ranker itself, from the saved tensors: what each type's loaded ranker must equal
    saved = approach("ranker_pooled").fit_final(Problem(data, DatasetTensors(data, 2), VIDEO, 2, config), 0)
    pooled = Ranker.from_saved(saved.tensors, saved.meta["ranker"])
    scorers = media_scorers(model)
    context = np.zeros(len(CONTEXT_COLUMNS))
    context[:2] = (0.5, -1.0)
    for media, embedding in ((IMAGE, data.image_views[0, 0]), (VIDEO, data.video_frames[0])):
        assert model.ranker(media).context_columns == CONTEXT_COLUMNS[:2]  # the flag is not asked of predict
        verdict = scorers[media].verdict(embedding, context)
        picture = np.atleast_2d(embedding.mean(axis=0) if media == VIDEO else embedding)  # one space
        flag = 1.0 if media == VIDEO else 0.0
        expected = pooled.score(picture, np.array([[0.5, -1.0, flag]]))[0]
        assert verdict.percentile == pytest.approx(expected, abs=1e-6)
        assert verdict.predicted_class in (0, 1) and verdict.context != 0.0


def test_a_row_is_trained_again_when_the_other_media_changes(data, tmp_path) -> None:
    folds = repeated_folds(data.images, 2, FAST)
    moved = dataclasses.replace(data.videos, percentile=data.videos.percentile[::-1].copy())
    changed = dataclasses.replace(data, videos=moved)
    keys = {
        name: [RowCheckpoints(tmp_path, d, FAST).key(IMAGE, name, 2, folds) for d in (data, changed)]
        for name in ("ranker", "ranker_pooled")
    }
    assert keys["ranker"][0] == keys["ranker"][1]  # the image ranker reads no video
    assert keys["ranker_pooled"][0] != keys["ranker_pooled"][1]


def test_by_default_only_a_small_media_type_is_pooled(data) -> None:
    config = Config(n_classes=(2,), n_repeats=1, approaches=("ranker_pooled", "majority"))
    sizes = {IMAGE: 300, VIDEO: 25}
    assert config.pool_below < sizes[IMAGE] and "ranker_pooled" in Config().approaches
    plans = {media: plan_media(items, media, 2, config, sizes) for media, items in
             ((IMAGE, data.images), (VIDEO, data.videos))}  # fmt: skip
    assert plans[VIDEO].skip_reason("ranker_pooled") is None
    reason = plans[IMAGE].skip_reason("ranker_pooled")
    assert "300 images are enough for a model of their own" in reason
    assert plans[IMAGE].skip_reason("majority") is None  # nothing else is held back
    # a type alone has nothing to pool with
    alone = plan_media(data.videos, VIDEO, 2, config, {IMAGE: 0, VIDEO: 25})
    assert alone.skip_reason("ranker_pooled") == "no images to learn from besides the videos"
    # the backtest keeps the same rule
    rows = {(r["media"], r["approach"]): r for r in backtest(data, config, progress=False)["rows"]}
    assert rows[IMAGE, "ranker_pooled"]["skipped"] == reason
    assert rows[VIDEO, "ranker_pooled"]["pooled"]["n"] == 10  # the last 40 % of the 25 videos
