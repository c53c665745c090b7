"""The ranker and the approach registry: what is learned, what is never seen, what a new approach needs."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pytest
import torch

from instapop.config import PAPER, Config
from instapop.datasets import Dataset, build_dataset, planted_dataset
from instapop.media_types import IMAGE
from instapop.models.approaches import REGISTRY, Approach, Fitted, Problem, register
from instapop.models.crossval import Outcome, assemble
from instapop.models.dense import ImageHead
from instapop.models.ranker import Ranker, picture_features, post_pictures
from instapop.training import load_model, train_final
from instapop.validation import cv_predictions, evaluate, row_of

FAST = Config(n_repeats=1, approaches=("ranker", "majority"), inner_splits=3, ranker_alphas=(1.0, 100.0, 1e4))


def fit_on(data: Dataset, rows: np.ndarray, percentile: np.ndarray | None = None, context=None) -> Ranker:
    items = data.images
    context = np.zeros((len(items), 0)) if context is None else context
    return Ranker.fit(
        IMAGE,
        picture_features(IMAGE, data.image_views),
        context,
        items.percentile if percentile is None else percentile,
        items.labels,
        items.groups,
        rows,
        FAST.ranker_alphas,
        FAST.inner_splits,
        seed=0,
        context_columns=tuple(f"c{i}" for i in range(context.shape[1])),
        context_weights=(1.0, 10.0),
    )


@pytest.fixture(scope="module")
def planted() -> Dataset:
    return planted_dataset(240, 0, signal=1.0, seed=3, dim=48, n_views=3)


def test_the_penalty_never_sees_rows_outside_the_training_folds(planted) -> None:
    rng = np.random.default_rng(0)
    train = np.sort(rng.choice(len(planted.images), 180, replace=False))
    ranker = fit_on(planted, train)
    # Structurally: every inner fit read training rows only.
    assert all(np.isin(rows, train).all() for rows in ranker.inner_rows) and len(ranker.inner_rows) == 3
    # Behaviourally: scrambling every other item's target changes nothing that was fitted.
    scrambled = planted.images.percentile.copy()
    outside = np.setdiff1d(np.arange(len(scrambled)), train)
    scrambled[outside] = rng.permutation(scrambled[outside])[::-1]
    again = fit_on(planted, train, scrambled)
    assert again.alpha == ranker.alpha and again.temperature == ranker.temperature
    np.testing.assert_array_equal(again.picture_weight, ranker.picture_weight)
    for n, cuts in ranker.cuts.items():
        np.testing.assert_array_equal(again.cuts[n], cuts)


def test_score_splits_into_picture_and_context_and_its_gradient_is_the_weight(planted) -> None:
    context = np.random.default_rng(1).normal(size=(len(planted.images), 2))
    ranker = fit_on(planted, np.arange(200), context=context)
    x = picture_features(IMAGE, planted.image_views[200:])
    picture, moved = ranker.contributions(x, context[200:])
    np.testing.assert_allclose(ranker.score(x, context[200:]), ranker.intercept + picture + moved)
    assert ranker.contributions(x)[1].tolist() == [0.0] * len(x)  # no context: the training mean
    step = 1e-3 * np.eye(x.shape[1])[5]
    slope = (ranker.score(x[:1] + step) - ranker.score(x[:1])) / 1e-3
    assert slope[0] == pytest.approx(ranker.embedding_gradient()[5], rel=1e-6)
    head = ranker.head(3)
    with torch.no_grad():
        logits = head(torch.from_numpy(x.astype(np.float32)))
    np.testing.assert_array_equal(logits.argmax(dim=1).numpy(), ranker.classes(ranker.score(x), 3))
    restored = Ranker.from_saved(ranker.tensors(), ranker.meta())
    np.testing.assert_allclose(restored.score(x, context[200:]), ranker.score(x, context[200:]))


def test_a_carousel_reads_as_its_mean_picture_at_the_length_of_one_picture() -> None:
    rng = np.random.default_rng(3)
    picture = np.abs(rng.normal(size=(5, 8)))
    groups = np.array([7, 7, 7, 9, 4])  # one carousel of three, two single pictures
    read = post_pictures(picture, groups)
    carousel = picture[:3]
    assert np.allclose(read[0], read[1]) and np.allclose(read[0], read[2])
    cosine = read[0] @ carousel.mean(axis=0) / np.linalg.norm(read[0]) / np.linalg.norm(carousel.mean(axis=0))
    assert cosine == pytest.approx(1.0)  # the mean's direction: what the post shows
    assert np.linalg.norm(read[0]) == pytest.approx(np.linalg.norm(carousel, axis=1).mean())
    assert np.linalg.norm(carousel.mean(axis=0)) < np.linalg.norm(read[0])  # the plain mean is shorter
    np.testing.assert_array_equal(read[3:], picture[3:])  # a single picture is its own post


def test_planted_signal_is_learned_and_shuffled_percentiles_stay_at_chance() -> None:
    learned = evaluate(planted_dataset(240, 0, signal=2.0, seed=4, dim=48, n_views=3), FAST, progress=False)
    shuffled_data = planted_dataset(240, 0, signal=2.0, seed=4, dim=48, n_views=3)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(shuffled_data.images))  # targets shuffled away from their pictures
    items = shuffled_data.images
    items.percentile = items.percentile[order]
    items.labels = {n: labels[order] for n, labels in items.labels.items()}
    chance = evaluate(shuffled_data, FAST, progress=False)
    for n in (2, 3):
        assert row_of(learned, IMAGE, "ranker", n)["accuracy"]["mean"] > 1 / n + 0.2
        assert row_of(learned, IMAGE, "ranker", n)["spearman"]["mean"] > 0.5
        assert abs(row_of(chance, IMAGE, "ranker", n)["accuracy"]["mean"] - 1 / n) < 0.1
        assert abs(row_of(chance, IMAGE, "ranker", n)["spearman"]["mean"]) < 0.15
    predictions = cv_predictions(learned)
    ranker = predictions[(predictions["approach"] == "ranker") & (predictions["n_classes"] == 3)]
    assert len(ranker) == 240 and set(ranker["fold"]) == set(range(5))
    assert ranker["score"].corr(ranker["percentile"], method="spearman") > 0.5


class NearestMean(Approach):
    """A toy approach: the class whose mean clean embedding is nearest, as a linear layer."""

    name, media, label = "toy_nearest_mean", (IMAGE,), "toy: nearest class mean"
    cost: ClassVar[int] = 0

    def architecture(self, media: str) -> str:
        return "ImageHead"

    def skeleton(self, media: str, card: dict, config: Config) -> torch.nn.Module:
        return ImageHead(card["dim"], card["n_classes"], config.dropout)

    def _head(self, problem: Problem, rows: np.ndarray) -> ImageHead:
        x, y = problem.tensors.clean.numpy()[rows], problem.labels[rows]
        means = np.stack([x[y == k].mean(axis=0) for k in range(problem.n_classes)])
        head = ImageHead(x.shape[1], problem.n_classes, problem.config.dropout)
        with torch.no_grad():  # -|x - m|^2 = 2 x.m - |m|^2 + const
            head.linear.weight.copy_(torch.from_numpy(2 * means.T[None]).float())
            head.linear.bias.copy_(torch.from_numpy(-(means**2).sum(axis=1)[None]).float())
        return head.eval()

    def cross_validate(self, problem: Problem) -> Outcome:
        probs = []
        for train, val in zip(problem.split.train, problem.split.val, strict=True):
            with torch.no_grad():
                logits = self._head(problem, train.numpy())(problem.tensors.clean[val])
            probs.append(torch.softmax(logits, -1).numpy())
        shape = (problem.config.n_repeats, len(problem.labels), problem.n_classes)
        return Outcome(assemble(problem.split.val, probs, shape), [None] * len(probs))

    def fit_final(self, problem: Problem, epochs: int) -> Fitted:
        return Fitted(self._head(problem, np.arange(len(problem.labels))))


@pytest.fixture
def toy_registered():
    register(NearestMean)
    yield REGISTRY[NearestMean.name]
    del REGISTRY[NearestMean.name]


def test_a_new_approach_is_one_class(toy_registered, planted_small, tmp_path) -> None:
    config = Config(n_repeats=1, approaches=(NearestMean.name, "majority"))
    results = evaluate(planted_small, config, progress=False)
    row = row_of(results, IMAGE, NearestMean.name, 3)
    assert row["accuracy"]["mean"] > 0.6  # the planted direction separates the class means
    model = load_model(train_final(planted_small, results, config, 3, tmp_path / "model"))
    assert model.image_approach == NearestMean.name and model.video_approach is None
    probs = model.predict_images(planted_small.image_views[:, 0])
    assert probs.shape == (len(planted_small.images), 3)
    assert (probs.argmax(1) == planted_small.images.labels[3]).mean() > 0.6
    assert "toy: nearest class mean" in (tmp_path / "model" / "card.md").read_text()


class _Features:
    """Random picture features for a synthetic run: only the context may explain PoR."""

    def __init__(self, media_ids: list[str], dim: int = 16) -> None:
        rng = np.random.default_rng(0)
        self.backbone = "random"
        self.image_ids = media_ids
        self.image_views = rng.normal(size=(len(media_ids), 2, dim)).astype(np.float32)
        self.video_ids: list[str] = []
        self.video_frames = np.zeros((0, 3, dim), np.float32)
        self.video_thumbs = np.zeros((0, dim), np.float32)


def test_the_ranker_finds_the_weekend_effect_planted_by_synth(tmp_path) -> None:
    from instapop.context import load_context
    from instapop.ingest import load_media
    from instapop.stages import ProfileInput, RunInputs, run_stages
    from instapop.synthetic import generate_profile

    config = dataclasses.replace(PAPER, synth_weekend_factor=2.0)
    profile = generate_profile(
        tmp_path / "data", n_posts=90, seed=2, signal=False, config=config, progress=False
    )
    source = ProfileInput(profile.profile_dir, (profile.followers_csv,))
    run_stages(tmp_path / "run", ("ingest", "labels"), RunInputs(source), config)
    media = load_media(tmp_path / "run")
    images = media[media["media_type"] == IMAGE]
    features = _Features(images["media_id"].tolist())
    data = build_dataset(images, features, context=load_context(tmp_path / "run"))
    columns = data.context_columns
    ranker = fit_on(data, np.arange(len(data.images)), context=data.context[IMAGE])
    weight = dict(zip(columns, ranker.context_weight, strict=True))
    weekend = min(weight["weekday_sat"], weight["weekday_sun"])
    weekdays = max(weight[f"weekday_{d}"] for d in ("mon", "tue", "wed", "thu", "fri"))
    assert weekend > weekdays  # posts on Saturdays and Sundays rank higher in their windows
