"""PoR and popularity classes: quantile balance inside every window, splits per media type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from instapop.config import Config
from instapop.labels import (
    UNLABELLED,
    follower_change,
    global_classes,
    label_media,
    popularity_rate,
    quantile_classes,
    rolling_classes,
    rolling_percentiles,
)

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2020-01-01", tz="UTC")


def days(*offsets: float) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([START + d * DAY for d in offsets])


def test_popularity_rate_by_hand():
    por = popularity_rate([100, 50, 7], [10, 0, 3], [1000, 0, np.nan])
    assert por[0] == pytest.approx(0.11)
    assert np.isnan(por[1:]).all()


@pytest.mark.parametrize(
    "values,n,expected",
    [
        ([6, 1, 5, 2, 4, 3], 3, [2, 0, 2, 0, 1, 1]),  # terciles of six: two each
        ([1, 2, 3, 4, 5], 2, [0, 0, 1, 1, 1]),  # the median post goes up
        ([1, 1, 1, 2], 2, [0, 0, 0, 1]),  # tied posts share their mid-rank's class
        ([3.0, 3.0], 3, [1, 1]),
    ],
)
def test_quantile_classes_by_hand(values, n, expected):
    assert quantile_classes(values, n).tolist() == expected


def irregular_history(n: int, seed: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Posting times with bursts and long gaps, so some windows must widen."""
    rng = np.random.default_rng(seed)
    gaps = np.where(rng.random(n) < 0.15, rng.uniform(10, 60, n), rng.exponential(1.5, n))
    times = START + pd.to_timedelta(np.cumsum(gaps), unit="D").round("s")
    return pd.DatetimeIndex(times), rng.lognormal(-3, 0.5, n)


def window_by_definition(t: np.ndarray, i: int, window_days: float, min_posts: int) -> np.ndarray:
    """Members of post i's window, straight from the definition (brute force over all posts)."""
    distance = np.abs(t - t[i])
    half = max(window_days / 2, np.sort(distance)[min(min_posts, len(t)) - 1])
    return np.flatnonzero(distance <= half)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_rolling_classes_are_balanced_quantiles_of_every_window(n_classes):
    """Each post's class is its quantile position in its own window.

    "Balanced within every window" holds for that assignment: ranking the
    members of any post's window among themselves gives class sizes that differ
    by at most one (no ties here). The classes the members actually carry come
    from their *own* windows, centred elsewhere, so those are only balanced on
    average; the last assertion checks that looser property overall.
    """
    times, por = irregular_history(300, seed=n_classes)
    window_days, min_posts = 21.0, 12
    t = np.asarray((times - START) / DAY)

    classes = rolling_classes(times, por, n_classes, window_days, min_posts)

    widened = 0
    for i in range(len(t)):
        members = window_by_definition(t, i, window_days, min_posts)
        assert len(members) >= min_posts
        widened += np.ptp(t[members]) > window_days
        in_window = quantile_classes(por[members], n_classes)
        sizes = np.bincount(in_window, minlength=n_classes)
        assert sizes.max() - sizes.min() <= 1
        assert classes[i] == in_window[np.flatnonzero(members == i)[0]]
    assert widened > 20  # the bursts-and-gaps history really exercises widening
    overall = np.bincount(classes, minlength=n_classes) / len(classes)
    assert np.abs(overall - 1 / n_classes).max() < 0.1


def test_ties_share_a_class_and_unbalance_by_at_most_the_tie():
    times, por = irregular_history(200, seed=7)
    por = np.round(por * 50) / 50  # PoR on a coarse grid: many ties
    t = np.asarray((times - START) / DAY)

    classes = rolling_classes(times, por, 3, 28.0, 15)

    for i in range(len(t)):
        members = window_by_definition(t, i, 28.0, 15)
        in_window = quantile_classes(por[members], 3)
        sizes = np.bincount(in_window, minlength=3)
        largest_tie = np.unique(por[members], return_counts=True)[1].max()
        assert sizes.max() - sizes.min() <= 1 + largest_tie
        for value in np.unique(por[members]):
            assert len(set(in_window[por[members] == value])) == 1
        assert classes[i] == in_window[np.flatnonzero(members == i)[0]]


def test_window_widens_symmetrically_to_hold_min_posts():
    times = days(0, 1, 2, 3, 100)
    por = np.array([0.5, 0.4, 0.1, 0.2, 0.3])

    # Post at day 100: its 3 nearest are itself, day 3 (97 d) and day 2 (98 d), so the
    # window spans days 2..198 and holds por 0.1, 0.2, 0.3: it is the top tercile.
    classes = rolling_classes(times, por, 3, window_days=4.0, min_window_posts=3)

    assert classes[4] == 2
    # Post at day 0: the 4-day window (days -2..2) already holds 3 posts: 0.5, 0.4, 0.1.
    assert classes[0] == 2 and classes[2] == 0


def test_order_of_input_does_not_matter_and_nan_is_unlabelled():
    times, por = irregular_history(80, seed=3)
    por[[5, 40]] = np.nan
    shuffle = np.random.default_rng(0).permutation(80)

    classes = rolling_classes(times, por, 3, 30.0, 10)
    shuffled = rolling_classes(times[shuffle], por[shuffle], 3, 30.0, 10)

    assert classes[[5, 40]].tolist() == [UNLABELLED, UNLABELLED]
    assert (shuffled == classes[shuffle]).all()
    with pytest.raises(ValueError, match="at least 2"):
        rolling_classes(times, por, 1, 30.0, 10)


def test_a_wrong_follower_stretch_piles_up_globally_but_not_in_rolling_windows():
    """Paper Fig. 2: PoR inflated for three months by an underestimated follower count."""
    rng = np.random.default_rng(0)
    n = 1200
    times = START + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 365, n)), unit="D")
    t = np.asarray((times - START) / DAY)
    por = 0.08 * np.exp(-t / 1000) * rng.lognormal(0, 0.25, n)  # PoR declines as followers grow
    stretch = (t > 500) & (t < 590)
    por[stretch] *= 2.5  # follower history 60 % too low there
    inner = (t > 530) & (t < 560)  # posts whose 8-week window lies inside the stretch

    global_top = (global_classes(por, 3)[stretch] == 2).mean()
    rolling = rolling_classes(times, por, 3, 56.0, 20)

    assert global_top > 0.9
    assert (rolling[stretch] == 2).mean() < 0.5
    inner_shares = np.bincount(rolling[inner], minlength=3) / inner.sum()
    assert ((inner_shares > 0.15) & (inner_shares < 0.5)).all()  # about a third each, ~30 posts


def test_every_media_item_carries_its_posts_class_for_its_own_type():
    posts = pd.DataFrame(
        {
            "post_id": ["P1", "P2", "P3", "P4", "P5"],
            "timestamp": days(0, 1, 2, 3, 4),
            "likes": [300, 100, 200, 500, 400],
            "comments": [0, 0, 0, 0, 0],
            "followers": [1000.0] * 5,
            "n_images": [1, 1, 1, 0, 0],
            "n_videos": [0, 0, 1, 1, 1],
        }
    )
    media = pd.DataFrame(
        {
            "media_id": ["a", "b", "c1", "c2", "d", "e"],
            "post_id": ["P1", "P2", "P3", "P3", "P4", "P5"],
            "media_type": ["image", "image", "image", "video", "video", "video"],
        }
    )

    labelled = label_media(media, posts, Config(n_classes=(3,), window_days=100.0, min_window_posts=3))

    # Image split P2 < P3 < P1; video split P3 < P5 < P4: the mixed post P3 is middle and bottom.
    assert labelled["class_3"].tolist() == [2, 0, 1, 0, 2, 1]
    assert labelled["global_class_3"].tolist() == [2, 0, 1, 0, 2, 1]
    assert labelled["por"].tolist() == pytest.approx([0.3, 0.1, 0.2, 0.2, 0.5, 0.4])
    assert labelled["percentile"].tolist() == pytest.approx([5 / 6, 1 / 6, 3 / 6, 1 / 6, 5 / 6, 3 / 6])


def test_percentile_is_the_mid_rank_in_the_window_by_hand():
    times = days(0, 1, 2, 3, 100)
    por = np.array([0.5, 0.4, 0.1, 0.2, 0.3])

    # Same windows as the widening test: day 100 widens to days 2..198 (0.1, 0.2, 0.3), its
    # PoR is the top of three: (2 + 1/2) / 3. Day 0 sees 0.5, 0.4, 0.1 (days -2..2).
    percentile = rolling_percentiles(times, por, window_days=4.0, min_window_posts=3)

    assert percentile[4] == pytest.approx(2.5 / 3)
    assert percentile[0] == pytest.approx(2.5 / 3)
    assert percentile[2] == pytest.approx(0.5 / 4)  # day 2: days 0..4 hold four posts, it is lowest


def test_percentile_ties_share_the_mid_rank_and_nan_stays_nan():
    times = days(0, 1, 2, 3)
    percentile = rolling_percentiles(times, [0.1, 0.2, 0.2, np.nan], window_days=100.0, min_window_posts=1)

    assert percentile[:3] == pytest.approx([0.5 / 3, 2 / 3, 2 / 3])  # tie: (1 + 2/2) / 3
    assert np.isnan(percentile[3])


def test_classes_are_the_floor_of_n_times_the_percentile():
    times, por = irregular_history(150, seed=5)
    por[::7] = np.round(por[::7], 2)  # some ties
    percentile = rolling_percentiles(times, por, 28.0, 15)

    for n in (2, 3, 5):
        classes = rolling_classes(times, por, n, 28.0, 15)
        assert (classes == np.floor(n * percentile + 1e-9)).all()
    assert ((percentile > 0) & (percentile < 1)).all()


def test_follower_change_is_measured_inside_each_window_not_across_the_years():
    """A profile that grew tenfold over years, slowly: every window sees a small change."""
    timestamps = days(*range(0, 3650, 10))
    slow = pd.DataFrame({"timestamp": timestamps, "followers": np.geomspace(1_000, 10_000, len(timestamps))})
    change = follower_change(slow, Config(window_days=56, min_window_posts=3))
    assert change["max"] < 0.05 and change["posts_over"] == 0 and change["posts"] == len(timestamps)
    jump = slow.assign(followers=np.where(np.arange(len(timestamps)) < 100, 1_000.0, 1_500.0))
    change = follower_change(jump, Config(window_days=56, min_window_posts=3))
    assert change["max"] == pytest.approx(0.5)
    # only the posts whose window straddles the jump: 28 days either side, one post per 10 days
    assert 0 < change["posts_over"] <= 6
    assert follower_change(slow.assign(followers=np.nan), Config()) is None


# --------------------------------------------------------------------------- views targets


def _reels(views: list[float]) -> pd.DataFrame:
    """Six posts a day apart: four videos (views as given), then two images (never any views)."""
    return pd.DataFrame(
        {
            "post_id": [f"P{i}" for i in range(6)],
            "timestamp": days(0, 1, 2, 3, 4, 5),
            "likes": [90, 190, 290, 390, 50, 60],
            "comments": [10, 10, 10, 10, 0, 0],
            "followers": [1000.0] * 6,
            "n_images": [0, 0, 0, 0, 1, 1],
            "n_videos": [1, 1, 1, 1, 0, 0],
            "reach": [np.nan] * 6,
            "views": [*views, np.nan, np.nan],
        }
    )


def test_views_rate_where_known_and_por_on_its_scale_where_not():
    from instapop.targets import VIEWS, VIEWS_RATE, views_target

    posts = _reels([1000, 4000, np.nan, 0])  # views-rate 0.1 and 0.05; PoR 0.1, 0.2, 0.3, 0.4
    por = popularity_rate(posts["likes"], posts["comments"], posts["followers"])

    rate = views_target(VIEWS_RATE, posts, por)

    # views-rate / PoR = followers / views: 1.0 and 0.25, median 0.625
    assert rate.values.tolist() == pytest.approx([0.1, 0.05, *(0.625 * np.array([0.3, 0.4, 0.05, 0.06]))])
    assert rate.fallback.tolist() == [False, False, True, True, True, True]
    assert rate.reason.startswith("views unknown (null or 0) for 2 of 4 videos and 2 of 2 image posts:")
    assert "PoR x 0.625 (the median views-rate / PoR of the 2 posts with both)" in rate.reason
    assert rate.summary() == {"to": "por", "posts": 4, "scale": 0.625, "reason": rate.reason}
    views = views_target(VIEWS, posts, por)
    assert views.values[:2].tolist() == [1000, 4000] and views.scale == 15000  # of 10000 and 20000
    everything = views_target(VIEWS_RATE, _reels([1000, 2000, 3000, 4000]).iloc[:4], por[:4])
    assert everything.summary() is None and everything.reason == ""


def test_views_rate_with_no_views_at_all_ranks_by_por_and_says_so(tmp_path):
    """`instapop labels RUN --target views-rate` on a download whose view counts are all null."""
    from typer.testing import CliRunner

    from instapop.cli import app
    from instapop.stages import ProfileInput, RunInputs, run_stage
    from test_ingest import write_profile

    write_profile(tmp_path / "p", n_posts=24)  # no node has a view count; its profile JSON gives followers
    run = tmp_path / "run"
    config = Config(n_classes=(2, 3), window_days=20.0, min_window_posts=5)
    run_stage("ingest", run, inputs=RunInputs(ProfileInput(tmp_path / "p")), config=config)
    run_stage("labels", run)
    por_media = pd.read_csv(run / "media.csv")

    outcome = CliRunner().invoke(app, ["labels", str(run), "--target", "views-rate"])

    assert outcome.exit_code == 0, outcome.output
    summary = pd.read_json(run / "summary.json", typ="series")
    fallback = summary["target"]["fallback"]
    assert summary["target"]["name"] == "views-rate" and fallback["posts"] == 24 and fallback["to"] == "por"
    assert fallback["reason"].startswith("views unknown (null or 0) for 18 of 18 videos and 6 of 6 image")
    assert fallback["reason"] in summary["target"]["why"] and fallback["reason"] in outcome.output
    media = pd.read_csv(run / "media.csv")
    for column in ("percentile", "class_2", "class_3", "global_class_3"):  # every post ranked by its PoR
        assert media[column].tolist() == pytest.approx(por_media[column].tolist()), column


def test_a_views_target_needs_views_or_a_follower_history():
    from instapop.targets import VIEWS_RATE, choose_target

    unknown = _reels([np.nan, 0, np.nan, np.nan])
    with pytest.raises(ValueError, match="needs views per post, or a follower history"):
        choose_target(VIEWS_RATE, unknown, has_history=False)
    assert choose_target(VIEWS_RATE, unknown, has_history=True).name == VIEWS_RATE
    assert choose_target(VIEWS_RATE, _reels([10, 0, 0, 0]), has_history=False).name == VIEWS_RATE
    assert choose_target(None, unknown, has_history=True).name == "por"  # never chosen unasked
