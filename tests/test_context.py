"""Context features: hand-made posts with known hours, weekdays, gaps and caption counts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from instapop.context import (
    CONTEXT_COLUMNS,
    candidate_context,
    caption_features,
    context_defaults,
    describe_fallbacks,
    load_context,
    media_context,
    parse_when,
    predictive_value,
    read_posts,
    readable_timing,
    write_context,
)
from instapop.errors import InstapopError

# Three posts: a single image on Monday 00:00, a 3-item carousel (2 images + 1 video)
# on Saturday 18:00 (5 days 18 h later), a single video on Sunday 06:00 (12 h later).
POSTS = pd.DataFrame(
    {
        "post_id": ["p2", "p1", "p3"],  # out of order on purpose: gaps follow time, not rows
        "timestamp": ["2024-06-08T18:00:00Z", "2024-06-03T00:00:00Z", "2024-06-09T06:00:00Z"],
        "n_images": [2, 1, 0],
        "n_videos": [1, 0, 1],
        "caption": ["Sunset 🌅👍🏽 with @ana and @bo.b #beach #sea #sun", "", "🇯🇵 👨‍👩‍👧 ♪ mail a@b.com"],
    }
)
MEDIA = pd.DataFrame(
    {
        "media_id": ["m1", "m2_1", "m2_2", "m2_3", "m3"],
        "post_id": ["p1", "p2", "p2", "p2", "p3"],
        "child_index": [0, 1, 2, 3, 0],
    }
)


@pytest.fixture(scope="module")
def context() -> pd.DataFrame:
    return media_context(MEDIA, POSTS)


def test_columns_index_and_no_nan(context):
    assert list(context.columns) == list(CONTEXT_COLUMNS)
    assert list(context.index) == list(MEDIA["media_id"])
    assert np.isfinite(context.to_numpy()).all()


def test_hour_on_the_circle_and_one_hot_weekday(context):
    hour = np.degrees(np.arctan2(context["hour_sin"], context["hour_cos"])) % 360 / 15
    np.testing.assert_allclose(hour.loc[["m1", "m2_1", "m3"]], [0, 18, 6], atol=1e-9)
    weekday = context.filter(like="weekday_").idxmax(axis=1)
    assert list(weekday) == ["weekday_mon", "weekday_sat", "weekday_sat", "weekday_sat", "weekday_sun"]
    assert (context.filter(like="weekday_").sum(axis=1) == 1).all()


def test_gap_since_previous_post_and_first_post_fill(context):
    gaps = np.expm1(context["log_gap_hours"])
    assert gaps["m2_1"] == pytest.approx(5 * 24 + 18)
    assert gaps["m3"] == pytest.approx(12)
    # the first post has no previous one: the median of the others' log gaps
    assert context.loc["m1", "log_gap_hours"] == pytest.approx(np.median(np.log1p([138, 12])))


def test_carousel_shape_and_video_share(context):
    assert list(context["carousel_size"]) == [1, 3, 3, 3, 1]
    assert list(context["position"]) == [1, 1, 2, 3, 1]
    np.testing.assert_allclose(context["video_share"], [0, 1 / 3, 1 / 3, 1 / 3, 1])


def test_caption_counts(context):
    counts = np.expm1(context[["log_caption_chars", "log_hashtags", "log_mentions", "log_emoji"]]).round()
    assert list(counts.loc["m1"]) == [0, 0, 0, 0]
    chars = len(POSTS.loc[0, "caption"])
    assert list(counts.loc["m2_2"]) == [chars, 3, 2, 2]  # 🌅 and 👍🏽 (skin tone counted once)
    # a flag, a ZWJ family and ♪ are three emoji; an e-mail address is no mention
    assert list(counts.loc["m3"])[1:] == [0, 0, 3]


def test_caption_features_of_a_plain_caption():
    row = caption_features("#a #b no tags here")
    assert row["log_hashtags"] == pytest.approx(math.log1p(2))
    assert row["log_emoji"] == 0.0


def test_deterministic_and_order_free():
    shuffled = media_context(MEDIA.sample(frac=1, random_state=1), POSTS.sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(shuffled.loc[MEDIA["media_id"]], media_context(MEDIA, POSTS))


def test_media_of_an_unknown_post_is_an_error():
    with pytest.raises(InstapopError, match="p9"):
        media_context(MEDIA.assign(post_id=["p1", "p2", "p2", "p2", "p9"]), POSTS)


def test_write_and_load_round_trip(tmp_path, context):
    media = MEDIA.merge(POSTS[["post_id", "timestamp"]], on="post_id").assign(
        shortcode="", media_type="image", path="", thumbnail="", is_carousel=False
    )
    media.to_csv(tmp_path / "media.csv", index=False)
    POSTS.to_csv(tmp_path / "posts.csv", index=False)
    assert load_context(tmp_path).round(9).equals(context.loc[media["media_id"]].round(9))  # computed
    write_context(tmp_path)
    pd.testing.assert_frame_equal(load_context(tmp_path), context.loc[media["media_id"]], atol=1e-8)
    assert read_posts(tmp_path)["caption"].iloc[1] == ""


def test_candidate_with_everything_given_matches_a_published_post(context):
    history = context_defaults(context, POSTS)
    history["last_post"] = "2024-06-08T18:00:00Z"
    row, fallbacks = candidate_context("2024-06-09T06:00:00", POSTS.loc[2, "caption"], 1, 1, 1.0, history)
    assert fallbacks == []
    np.testing.assert_allclose(row, context.loc["m3"].to_numpy(), atol=1e-12)


def test_candidate_without_inputs_uses_the_profile_means(context):
    history = context_defaults(context, POSTS)
    row, fallbacks = candidate_context(None, None, None, None, None, history)
    assert fallbacks == ["when", "caption", "carousel"]
    np.testing.assert_allclose(row, context.mean().to_numpy())
    assert "typical timing (mostly" in describe_fallbacks(fallbacks, history)


def test_candidate_before_the_last_post_has_an_unknown_gap(context):
    history = context_defaults(context, POSTS)
    assert history["last_post"] == "2024-06-09T06:00:00Z"
    row, fallbacks = candidate_context(
        pd.Timestamp("2024-06-09T08:00", tz="Asia/Tokyo"), "", 1, 1, 0.0, history
    )
    assert fallbacks == ["gap"]
    assert row[CONTEXT_COLUMNS.index("weekday_sat")] == 1  # Sunday 08:00 in Tokyo is Saturday 23:00 UTC
    typical_gap = math.log1p(history["median_gap_hours"])
    assert row[CONTEXT_COLUMNS.index("log_gap_hours")] == pytest.approx(typical_gap)


def test_parse_when_reads_offsets_and_rejects_garbage():
    assert parse_when("2025-06-01T19:00+09:00") == pd.Timestamp("2025-06-01T10:00Z")
    assert parse_when("2025-06-01 19:00") == pd.Timestamp("2025-06-01T19:00Z")
    with pytest.raises(InstapopError, match="not a date"):
        parse_when("next tuesday")


def test_the_ingest_stage_writes_the_context_of_every_item(make_run):
    from instapop.ingest import load_media

    run_dir = make_run(60, upto="ingest")
    context = load_context(run_dir)
    assert (run_dir / "context.csv").is_file()
    assert list(context.index) == list(load_media(run_dir)["media_id"])
    assert np.isfinite(context.to_numpy()).all()
    assert context["video_share"].max() > 0  # the generator posts videos


def test_the_generator_plants_a_weekend_effect_on_por_only():
    import dataclasses

    from instapop.config import PAPER
    from instapop.synthetic._plan import is_weekend, plan_profile

    plain = plan_profile(200, 5, True, PAPER)
    planted = plan_profile(200, 5, True, dataclasses.replace(PAPER, synth_weekend_factor=1.5))
    weekend = is_weekend([p.timestamp for p in plain.posts])
    days = [pd.Timestamp(p.timestamp, unit="s").day_name() for p in plain.posts]
    assert [day in ("Saturday", "Sunday") for day in days] == list(weekend) and 0 < weekend.sum() < 200
    ratio = np.array([b.por / a.por for a, b in zip(plain.posts, planted.posts, strict=True)])
    np.testing.assert_allclose(ratio, np.where(weekend, 1.5, 1.0))
    assert [p.media for p in plain.posts] == [p.media for p in planted.posts]  # same pictures


def test_synth_cli_records_the_weekend_factor(tmp_path):
    from typer.testing import CliRunner

    from instapop.cli import app
    from instapop.synthetic import load_ground_truth

    result = CliRunner().invoke(app, ["synth", str(tmp_path), "--posts", "4", "--weekend-factor", "1.5"])
    assert result.exit_code == 0, result.output
    assert load_ground_truth(tmp_path / "ground_truth.json")["params"]["synth_weekend_factor"] == 1.5
    refused = CliRunner().invoke(app, ["synth", str(tmp_path / "x"), "--posts", "4", "--weekend-factor", "0"])
    assert refused.exit_code == 2 and "weekend factor must be positive" in refused.output


def test_readable_timing_reads_hour_weekday_and_gap_back(context):
    timing = readable_timing(context)
    assert list(timing.loc[["m1", "m2_1", "m3"], "hour"]) == [0, 18, 6]
    assert list(timing.loc[["m1", "m2_1", "m3"], "weekday"]) == [0, 5, 6]
    assert timing.loc["m3", "gap_hours"] == pytest.approx(12)


def test_the_heat_map_averages_each_slot_and_blanks_thin_cells():
    from instapop.report.figures import MIN_CELL_POSTS, context_effects, timing_grid

    rows = [(1, 5, 1.0)] * MIN_CELL_POSTS + [(2, 5, 0.0)] * MIN_CELL_POSTS + [(20, 2, 0.5)]
    timing = pd.DataFrame(rows, columns=["hour", "weekday", "target"]).assign(gap_hours=24.0)
    means, counts = timing_grid(timing)
    assert means.shape == (8, 7) and means[0, 5] == pytest.approx(0.5) and counts[0, 5] == 2 * MIN_CELL_POSTS
    assert np.isnan(means[6, 2]) and counts[6, 2] == 1  # one post at 20:00 on a Wednesday: too few
    assert context_effects(timing, "percentile").startswith(b"\x89PNG")


def test_predictive_value_finds_what_carries_the_target():
    rng = np.random.default_rng(0)
    n = 300
    picture, context = rng.normal(size=(n, 20)), rng.normal(size=(n, 4))
    target = picture[:, 0] + 0.3 * rng.normal(size=n)
    value = predictive_value(target, {"picture": picture, "context": context}, np.arange(n) // 2)
    assert set(value) == {"picture", "context", "picture + context"}
    assert value["picture"] > 0.8 and abs(value["context"]) < 0.2 and value["picture + context"] > 0.8


# --- the ranker finds a weekday effect planted by the generator ---------------------------------

RANKER_ONLY = {"approaches": ("ranker", "majority")}
WEEKEND_FACTOR = 2.0  # strong enough for 60 posts (about 17 on weekends) to show it


def weekend_gap(model_dir: Path) -> float:
    """Mean weekend weight minus mean weekday weight of the saved image ranker (percentile units)."""
    from instapop.training import load_model

    ranker = load_model(model_dir).ranker("image")
    weights = dict(zip(ranker.context_columns, ranker.context_weight, strict=True))
    days = [weights[f"weekday_{d}"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    return float(np.mean(days[5:]) - np.mean(days[:5]))


@pytest.fixture(scope="module")
def weekend_model(tmp_path_factory, feature_cache) -> Path:
    """The session's 60-post profile (same pictures: the feature cache hits) with weekend PoR x 2."""
    import dataclasses

    from instapop.config import PAPER
    from instapop.stages import ProfileInput, RunInputs, run_stages, stages_upto
    from instapop.synthetic import generate_profile
    from support import TEST_CONFIG

    planted = dataclasses.replace(PAPER, synth_weekend_factor=WEEKEND_FACTOR)
    profile = generate_profile(tmp_path_factory.mktemp("weekend"), 60, seed=7, config=planted, progress=False)
    config = dataclasses.replace(TEST_CONFIG, **RANKER_ONLY)
    run_dir = tmp_path_factory.mktemp("weekend-run")
    inputs = RunInputs(ProfileInput(profile.profile_dir, (profile.followers_csv,)), feature_cache, False)
    run_stages(run_dir, stages_upto("train"), inputs, config)
    return run_dir / "model"


def test_the_ranker_finds_the_planted_weekend_effect(weekend_model, make_run):
    plain = weekend_gap(make_run(60, upto="train", **RANKER_ONLY) / "model")
    planted = weekend_gap(weekend_model)
    assert planted > 0.1 and planted > plain + 0.1, (planted, plain)


def test_a_planned_saturday_outscores_a_wednesday_for_the_same_picture(
    weekend_model, feature_cache, make_profile
):
    from instapop.predict import Plan, Predictor
    from support import planted_media

    predictor = Predictor.load(weekend_model, cache_dir=feature_cache)
    picture = planted_media(make_profile(24, seed=99), "image")[:1]
    saturday, wednesday = (
        predictor.score_paths(picture, plan=Plan(when, "New in #shop"))[0]
        for when in ("2030-06-01T12:00", "2030-05-29T12:00")
    )
    assert saturday.fallbacks == wednesday.fallbacks == []
    assert saturday.picture == pytest.approx(wednesday.picture)
    assert saturday.score - wednesday.score == pytest.approx(saturday.context - wednesday.context)
    assert saturday.score > wednesday.score + 0.05


def test_cli_ingest_writes_context_csv_too(make_profile, tmp_path):
    from typer.testing import CliRunner

    from instapop.cli import app
    from instapop.ingest import load_media

    profile = make_profile()
    args = ["ingest", str(profile.profile_dir), "--followers", str(profile.followers_csv)]
    args += ["--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "context.csv", dtype={"media_id": str}, index_col="media_id")
    assert list(written.index) == list(load_media(tmp_path)["media_id"])
