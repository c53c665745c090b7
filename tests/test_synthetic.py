"""The synthetic profile generator: Instaloader layout, node shapes, planted signal, ground truth."""

from __future__ import annotations

import csv
import json
import lzma
import re
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from instapop.cli import app
from instapop.config import PAPER
from instapop.errors import BadInputError, InstapopError
from instapop.synthetic import generate_profile, load_ground_truth, plan_profile

INSTAGRAM_SIZES = {(1080, 1080), (1080, 1350), (1080, 566)}


@pytest.fixture(scope="module")
def profile(make_profile):
    return make_profile()  # the session's shared 60-post profile


@pytest.fixture(scope="module")
def truth(profile) -> dict:
    return load_ground_truth(profile.ground_truth)


def read_structure(path: Path) -> dict:
    data = lzma.decompress(path.read_bytes()) if path.name.endswith(".xz") else path.read_bytes()
    return json.loads(data)


def counts_from_node(node: dict) -> tuple[int, int, int]:
    """(likes, comments, timestamp) the way the module docstring says each shape holds them."""
    if "iphone_struct" in node:
        return node["edge_media_preview_like"]["count"], node["comments"], node["date"]
    likes = (node.get("edge_media_preview_like") or node["edge_liked_by"])["count"]
    comments = (node.get("edge_media_to_comment") or node["edge_media_to_parent_comment"])["count"]
    return likes, comments, node["taken_at_timestamp"]


def shape_of(node: dict) -> str:
    if "iphone_struct" in node:
        return "iphone"
    return "web" if "pk" in node and "code" in node else "graphql"


def folder_bytes(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    first = generate_profile(tmp_path / "a", n_posts=12, seed=5, progress=False)
    again = generate_profile(tmp_path / "b", n_posts=12, seed=5, progress=False)
    other = generate_profile(tmp_path / "c", n_posts=12, seed=6, progress=False)
    a, b, c = (folder_bytes(p.profile_dir.parent) for p in (first, again, other))
    assert a == b
    assert any(name.endswith(".mp4") for name in a)
    assert set(a) != set(c)


def test_every_node_shape_is_written_as_json_and_json_xz_with_the_right_counts(profile, truth):
    seen = set()
    for base, post in truth["posts"].items():
        path = profile.profile_dir / post["json"]
        structure = read_structure(path)
        assert structure["instaloader"]["node_type"] == "Post"
        node = structure["node"]
        assert shape_of(node) == post["shape"]
        likes, comments, timestamp = counts_from_node(node)
        assert (likes, comments) == (post["likes"], post["comments"])
        assert datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d_%H-%M-%S_UTC") == base
        seen.add((post["shape"], path.suffix))
    assert seen == {(shape, suffix) for shape in ("graphql", "iphone", "web") for suffix in (".json", ".xz")}


def test_carousels_mix_images_and_videos_and_children_are_typed_by_is_video(profile, truth):
    mixed = 0
    for post in truth["posts"].values():
        if not post["is_carousel"]:
            continue
        kinds = [truth["media"][m]["media_type"] for m in post["media_ids"]]
        assert 2 <= len(kinds) <= 5
        assert post["media_ids"] == [f"{post['media_ids'][0][:-2]}_{i}" for i in range(1, len(kinds) + 1)]
        node = read_structure(profile.profile_dir / post["json"])["node"]
        children = [edge["node"]["is_video"] for edge in node["edge_sidecar_to_children"]["edges"]]
        assert children == [k == "video" for k in kinds]
        mixed += len(set(kinds)) == 2
    assert mixed >= 1


def test_videos_decode_with_a_duration_of_3_to_30_seconds_and_have_thumbnails(profile, truth):
    videos = {m: e for m, e in truth["media"].items() if e["media_type"] == "video"}
    assert videos
    for media_id, entry in videos.items():
        with av.open(str(profile.profile_dir / entry["path"])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            n_frames = sum(1 for _ in container.decode(video=0))
            assert (stream.width, stream.height) == (entry["video_width"], entry["video_height"])
        assert n_frames / entry["fps"] == pytest.approx(entry["duration_s"], abs=1 / entry["fps"])
        assert 3.0 <= entry["duration_s"] <= 30.0
        with Image.open(profile.profile_dir / entry["thumbnail"]) as thumb:
            assert thumb.width == 1080 and thumb.size == (entry["width"], entry["height"])
        numbered = media_id == f"{entry['post']}_1" and not entry["is_carousel"]  # 4.13: _1.mp4 + _2.jpg
        assert entry["thumbnail"] == (f"{entry['post']}_2.jpg" if numbered else f"{media_id}.jpg")
    assert any(e["thumbnail"].endswith("_2.jpg") and not e["is_carousel"] for e in videos.values())


def object_colour_share(picture: Image.Image, box: list[int], label: str) -> float:
    """Share of the box's pixels that look like the object: bright petals/disc, or orange ball."""
    rgb = np.asarray(picture.convert("RGB").crop(box), dtype=int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    petals_or_disc = (r > 200) & (g > 150)  # white-ish petals and a yellow disc
    orange = (r > g + 40) & (g > b)
    return float((petals_or_disc if label == "popular" else orange).mean())


def test_ground_truth_boxes_hold_the_drawn_object_and_every_file_is_accounted_for(profile, truth):
    expected = {"id", *truth["side_files"], *truth["orphan_media"]}
    assert truth["side_files"] and len(truth["orphan_media"]) == 2
    for media_id, entry in truth["media"].items():
        shown = profile.profile_dir / (entry["thumbnail"] or entry["path"])
        expected |= {entry["path"], entry["thumbnail"]} - {None}
        with Image.open(shown) as picture:
            assert picture.size == (entry["width"], entry["height"])
            if entry["media_type"] == "image":
                assert picture.size in INSTAGRAM_SIZES
            x0, y0, x1, y1 = entry["box"]
            assert 0 <= x0 < x1 <= picture.width and 0 <= y0 < y1 <= picture.height
            assert 0.25 <= (x1 - x0) / min(picture.size) <= 0.6, media_id
            assert object_colour_share(picture, entry["box"], entry["signal"]) > 0.4, media_id
            other = "unpopular" if entry["signal"] == "popular" else "popular"
            assert object_colour_share(picture, entry["box"], other) < 0.3, media_id
        assert truth["posts"][entry["post"]]["signal"] == entry["signal"]
    for base, post in truth["posts"].items():
        expected.add(post["json"])
        if (profile.profile_dir / f"{base}.txt").exists():
            expected.add(f"{base}.txt")
    extras = sorted({p.name for p in profile.profile_dir.iterdir()} - expected)
    patterns = (
        r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_UTC_profile_pic\.jpg",
        r"iterator_\w+\.json\.xz",
        r"synthetic_brand_\d+\.json\.xz",
    )
    assert [[bool(re.fullmatch(p, name)) for p in patterns] for name in extras] == [
        [True, False, False],
        [False, True, False],
        [False, False, True],
    ]


def test_side_files_are_outside_the_profile_and_profile_files_are_instaloaders(profile, truth):
    assert profile.followers_csv.parent == profile.ground_truth.parent == profile.profile_dir.parent
    (profile_json,) = profile.profile_dir.glob("synthetic_brand_*.json.xz")
    node = read_structure(profile_json)
    assert node["instaloader"]["node_type"] == "Profile"
    assert node["node"]["edge_followed_by"]["count"] > 0
    download = datetime.strptime(truth["download_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert profile_json.stat().st_mtime == download.timestamp()
    (iterator,) = profile.profile_dir.glob("iterator_*.json.xz")
    assert read_structure(iterator)["instaloader"]["node_type"] == "FrozenNodeIterator"
    assert len(list(profile.profile_dir.glob("*_UTC_profile_pic.jpg"))) == 1


def test_reposts_come_weeks_later_and_include_carousel_cases(truth):
    pairs = truth["duplicate_pairs"]
    assert len(pairs) == round(PAPER.synth_repost_fraction * len(truth["posts"]))
    for original, repost in pairs:
        first, later = truth["media"][original], truth["media"][repost]
        gap = datetime.fromisoformat(truth["posts"][later["post"]]["timestamp"]) - datetime.fromisoformat(
            truth["posts"][first["post"]]["timestamp"]
        )
        assert gap.days >= 21
        assert later["repost_of"] == original and first["signal"] == later["signal"]
        assert first["media_type"] == later["media_type"]
    assert any(truth["media"][a]["is_carousel"] != truth["media"][b]["is_carousel"] for a, b in pairs)


def test_same_shoot_variants_share_the_scene_but_not_the_picture(profile, truth):
    assert truth["same_shoot_pairs"]
    for first, second in truth["same_shoot_pairs"]:
        a, b = truth["media"][first], truth["media"][second]
        assert a["signal"] == b["signal"] and a["repost_of"] is None and b["repost_of"] is None
        assert [first, second] not in truth["duplicate_pairs"]
        gap = datetime.fromisoformat(truth["posts"][b["post"]]["timestamp"]) - datetime.fromisoformat(
            truth["posts"][a["post"]]["timestamp"]
        )
        assert 1 <= gap.days <= 7
        assert a["box"] != b["box"]


def read_history(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    days = np.array([datetime.fromisoformat(r["date"]).replace(tzinfo=UTC).timestamp() for r in rows])
    return days, np.array([float(r["followers"]) for r in rows])


def test_follower_history_is_sparse_growing_and_too_low_over_the_wrong_stretch(profile, truth):
    days, reported = read_history(profile.followers_csv)
    assert np.all(np.diff(days) > 0) and np.diff(days).max() <= 41 * 86_400
    wrong = truth["wrong_followers"]
    posts = sorted(truth["posts"].values(), key=lambda p: p["timestamp"])
    times = np.array([datetime.fromisoformat(p["timestamp"]).timestamp() for p in posts])
    assert days[0] < times[0] and days[-1] > times[-1]
    inflation = np.array([p["followers"] for p in posts]) / np.interp(times, days, reported)
    inside = np.array([p["in_wrong_stretch"] for p in posts])
    assert inside.any() and not inside.all()
    assert np.allclose(inflation[inside], 1 / wrong["factor"], rtol=0.1)
    assert reported[-1] > reported[0]  # growth, read outside the wrong stretch


def plan_table(n_posts: int, seed: int, signal: bool) -> dict[str, np.ndarray]:
    plan = plan_profile(n_posts, seed, signal, PAPER)
    history_days = np.array(
        [datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp() for d, _ in plan.history]
    )
    history = np.array([c for _, c in plan.history], dtype=float)
    times = np.array([p.timestamp for p in plan.posts])
    wrong = (
        datetime.fromisoformat(plan.wrong_start).replace(tzinfo=UTC).timestamp(),
        datetime.fromisoformat(plan.wrong_end).replace(tzinfo=UTC).timestamp(),
    )
    return {
        "time": times,
        "por": np.array([(p.likes + p.comments) / p.followers for p in plan.posts]),
        "por_from_history": np.array([p.likes + p.comments for p in plan.posts])
        / np.interp(times, history_days, history),
        "popular": np.array([p.label == "popular" for p in plan.posts]),
        "has_video": np.array([p.has_video for p in plan.posts]),
        "has_image": np.array([any(m.kind == "image" for m in p.media) for p in plan.posts]),
        "n_images": np.array([sum(m.kind == "image" for m in p.media) for p in plan.posts]),
        "in_stretch": (times >= wrong[0]) & (times <= wrong[1]),
    }


def test_a_long_profile_posts_more_often_instead_of_into_the_future():
    # ingest skips posts dated after the ingest: a 1,850-post bench profile once lost 707 of them
    short, long = plan_profile(300, 0, True, PAPER), plan_profile(1850, 0, True, PAPER)
    short_gaps = np.diff([p.timestamp for p in short.posts]) / 86_400
    long_times = np.array([p.timestamp for p in long.posts])
    end_of_2025 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert 2.0 < short_gaps.mean() < 2.8  # a short profile keeps its natural rhythm
    assert (np.diff(long_times) >= 3600).all()
    assert long_times[-1] < end_of_2025 and long.download_time < datetime.now(UTC).timestamp()
    assert long_times[-1] - long_times[0] > 6 * 365 * 86_400  # squeezed, not cut short


def test_without_signal_popularity_is_independent_of_the_drawn_object():
    for signal, low, high in ((False, -0.06, 0.06), (True, 0.6, 1.0)):
        table = plan_table(3000, seed=11, signal=signal)
        images = ~table["has_video"]
        # compare each post with its 50 neighbours: PoR drifts over years as the audience grows
        log_por = np.log(table["por"][images])
        chunks = np.arange(len(log_por)) // 50
        local = log_por - np.array([np.median(log_por[chunks == c]) for c in chunks])
        corr = np.corrcoef(table["popular"][images], local)[0, 1]
        assert low < corr < high, (signal, corr)


def test_posts_with_video_have_about_45_percent_lower_por():
    table = plan_table(3000, seed=12, signal=True)
    ratio = np.median(table["por"][table["has_video"]]) / np.median(table["por"][~table["has_video"]])
    assert 0.45 < ratio < 0.65


def rolling_top_half(time: np.ndarray, por: np.ndarray, half_width_days: float = 28, min_posts: int = 20):
    """Above the median of a centred window, widened until it holds ``min_posts`` posts."""
    top = np.zeros(len(time), dtype=bool)
    for i, t in enumerate(time):
        half = half_width_days * 86_400
        while np.sum(np.abs(time - t) <= half) < min(min_posts, len(time)):
            half *= 1.25
        top[i] = por[i] > np.median(por[np.abs(time - t) <= half])
    return top


def test_rolling_median_split_recovers_the_signal_and_resists_the_wrong_stretch():
    table = plan_table(300, seed=0, signal=True)
    image_posts = table["has_image"]
    time, por = table["time"][image_posts], table["por_from_history"][image_posts]
    popular, weight = table["popular"][image_posts], table["n_images"][image_posts]
    rolling = rolling_top_half(time, por)
    agreement = np.sum((rolling == popular) * weight) / weight.sum()  # per media item
    assert agreement >= 0.9
    stretch = table["in_stretch"][image_posts]
    global_top = por > np.median(por)
    assert global_top[stretch].mean() >= 0.75  # the global split piles the stretch into the top half
    assert 0.35 <= rolling[stretch].mean() <= 0.65


def test_bad_arguments_and_foreign_folders_are_refused(tmp_path):
    with pytest.raises(InstapopError, match="n_posts"):
        generate_profile(tmp_path / "x", n_posts=1)
    with pytest.raises(InstapopError, match="video_size"):
        generate_profile(tmp_path / "x", n_posts=5, video_size="4k")
    (tmp_path / "mine" / "profile").mkdir(parents=True)
    (tmp_path / "mine" / "profile" / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(InstapopError, match="not empty"):
        generate_profile(tmp_path / "mine", n_posts=5)
    assert (tmp_path / "mine" / "profile" / "holiday.jpg").read_bytes() == b"precious"


def test_load_ground_truth_names_a_file_that_is_not_one(tmp_path):
    path = tmp_path / "ground_truth.json"
    path.write_text(json.dumps({"media": {}}))
    with pytest.raises(BadInputError, match="ground_truth.json.*missing"):
        load_ground_truth(path)


def test_synth_command_writes_a_profile_and_a_rerun_replaces_it(tmp_path):
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["synth", str(tmp_path / "demo"), "--posts", "6", "--seed", "2"])
        assert result.exit_code == 0, result.output
    assert f"profile: {tmp_path / 'demo' / 'profile'}" in result.output
    truth = load_ground_truth(tmp_path / "demo" / "ground_truth.json")
    assert len(truth["posts"]) == 6 and truth["params"]["signal"] is True
    jsons = [p for p in (tmp_path / "demo" / "profile").iterdir() if p.name.endswith((".json", ".json.xz"))]
    assert len(jsons) == 6 + 2 + len(truth["side_files"])  # posts, Profile, resume file, --comments files


# --------------------------------------------------------------------------- reels-first profiles and exports


def test_synth_reels_writes_a_reels_first_download_as_no_videos_leaves_it(tmp_path):
    result = CliRunner().invoke(app, ["synth", str(tmp_path / "reels"), "--reels"])
    assert result.exit_code == 0, result.output

    folder = tmp_path / "reels" / "profile"
    truth = load_ground_truth(tmp_path / "reels" / "ground_truth.json")
    posts = list(truth["posts"].values())
    assert len(posts) == 150 and truth["params"]["reels"] is True
    videos = [m for m in truth["media"].values() if m["media_type"] == "video"]
    covers = [m for m in videos if m["cover_only"]]
    # issue 19's profile whatever the seed: 135 reels (a reel reposts a reel), 90 of them covers
    assert sum(p["has_video"] for p in posts) == len(videos) == 135 and len(covers) == 90
    files = {p.name for p in folder.iterdir()}
    for media in covers:  # <base>.jpg + JSON (+ the caption .txt), no .mp4
        assert media["path"] == media["thumbnail"] == f"{media['post']}.jpg"
        assert not any(name.startswith(media["post"]) and name.endswith(".mp4") for name in files)
        assert truth["posts"][media["post"]]["json"] in files
    assert sum(f"{media['post']}.txt" in files for media in covers) >= 0.8 * len(covers)  # 90 % have captions
    assert sum(name.endswith(".mp4") for name in files) == len(videos) - len(covers)
    views = [p["views"] for p in posts if p["has_video"]]
    assert sum(v is None for v in views) >= 10 and sum(v == 0 for v in views) >= 10
    assert sum(bool(v) for v in views) >= 0.5 * len(views)


def test_an_export_shows_two_posts_of_one_minute(tmp_path):
    brand = generate_profile(tmp_path / "brand", n_posts=10, seed=3, format="business-suite", progress=False)
    with brand.profile_dir.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    times = [row["Publish time"] for row in rows]
    (twice,) = {t for t in times if times.count(t) == 2}
    assert len({row["Post ID"] for row in rows if row["Publish time"] == twice}) == 2
    truth = load_ground_truth(brand.ground_truth)
    seconds = sorted(datetime.fromisoformat(p["timestamp"]).timestamp() for p in truth["posts"].values())
    assert min(np.diff(seconds)) == 30  # one pair 30 s apart, every other pair an hour or more


def test_a_reels_profile_goes_through_the_study_with_its_covers_as_videos(tmp_path, feature_cache):
    """A 60-post reels-first download through the study and predict, by views-rate.

    Every post is kept; every cover-only video is embedded (as a still of its cover) and
    dedup finds the planted repost of one; the video models learn the signal from covers
    and frames, and views-rate, where views are unknown PoR, carries it; the report says so and
    counts the cover-only videos; the model ranks a candidate reel and a candidate cover picture.
    """
    import dataclasses

    from instapop.stages import ProfileInput, RunInputs, run_stage, run_stages
    from instapop.validation import row_of
    from support import TEST_CONFIG

    brand = generate_profile(tmp_path / "brand", n_posts=60, seed=3, reels=True, progress=False)
    truth = load_ground_truth(brand.ground_truth)
    run = tmp_path / "run"
    inputs = RunInputs(ProfileInput(brand.profile_dir, (brand.followers_csv,)), feature_cache, progress=False)
    config = dataclasses.replace(TEST_CONFIG, target="views-rate")
    run_stages(run, ("ingest", "labels", "embed", "dedup", "evaluate"), inputs, config)

    summary = json.loads((run / "summary.json").read_text())
    covers = {media_id for media_id, m in truth["media"].items() if m.get("cover_only")}
    assert summary["posts"] == 60 and summary["excluded"] == {}
    assert summary["cover_only_videos"] == len(covers) >= 30
    assert "views unknown (null or 0) for" in summary["target"]["fallback"]["reason"]
    features = json.loads((run / "features" / "features.json").read_text())
    assert covers <= set(features["video_ids"]) and features["failed"] == []
    stills = {row["media_id"] for row in features["video_info"] if row["duration"] == 0}
    assert stills == covers
    (pair,) = [pair for pair in truth["duplicate_pairs"] if set(pair) <= covers]  # a reel reposted
    with (run / "dedup.csv").open() as fh:
        removed = {row["media_id"] for row in csv.DictReader(fh) if row["kept"] == "False"}
    assert set(pair) & removed
    cv = json.loads((run / "cv_results.json").read_text())
    video, majority = (row_of(cv, "video", a, 2)["accuracy"]["mean"] for a in ("video", "majority"))
    assert video >= majority + 0.2
    run_stage("train", run)  # its few images are scored by the video model when none validates
    html = run_stage("report", run).read_text()
    assert summary["target"]["fallback"]["reason"] in html and "labels rest on the view counts" in html
    assert f"{len(covers)} of {summary['media']['video']} videos have only their cover picture" in html

    from instapop.predict import Predictor

    predictor = Predictor.load(run / "model", cache_dir=feature_cache)
    reel = next(brand.profile_dir.glob("*.mp4"))
    cover = brand.profile_dir / truth["media"][sorted(covers)[0]]["path"]
    ranked = predictor.rank(predictor.score_paths([reel, cover]))
    assert [c.media_type for c in ranked if c.ok] and all(c.ok for c in ranked), [c.error for c in ranked]
    assert {c.media_type for c in ranked} == {"video", "image"}  # a cover picture is a candidate picture
    assert predictor.model_card()["borrowed"] == {"image": "video"}  # 6 images: too few to validate
