"""Broken and hostile input (tests/badinput.py writes it): each item gets its reason, the run goes on."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badinput import (
    FOLLOWER_CSV,
    FOLLOWER_PROBLEMS,
    MAX_JSON_BYTES,
    POST_CASES,
    write_empty_files,
    write_post_corpus,
)
from instapop.config import Config
from instapop.errors import InstapopError
from instapop.ingest import ingest_profile
from instapop.media import load_image, sample_video
from instapop.sources import read_instaloader_folder, read_source
from test_ingest import T0, envelope, graphql_node, write_json, write_media, write_post
from test_media import write_noise, write_video

CONFIG = Config(n_classes=(2,), window_days=20.0, min_window_posts=3, max_json_bytes=MAX_JSON_BYTES)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every post-level case in one folder, ingested once with the bad follower CSV; the run written."""
    root = write_post_corpus(tmp_path_factory.mktemp("corpus") / "profile")
    followers = root.parent / "followers.csv"
    followers.write_text(FOLLOWER_CSV)
    result = ingest_profile(root, [followers], CONFIG)
    result.write(root.parent / "run")
    return result, followers


def test_the_corpus_holds_at_least_25_kinds():
    assert len({case.kind for case in POST_CASES}) >= 25


@pytest.mark.parametrize("case", POST_CASES, ids=lambda case: case.kind)
def test_each_bad_post_is_excluded_with_its_reason_or_kept(corpus, case):
    result, _ = corpus
    names = result.excluded["item"].map(lambda item: Path(item).name)
    excluded = dict(zip(names, result.excluded["reason"], strict=True))
    if case.reason == "kept":
        assert case.item not in excluded
        case.check(result)
    else:
        assert excluded.get(case.item) == case.reason
        detail = result.excluded.set_index("reason").loc[[case.reason], "detail"]
        assert any(case.item in text for text in detail)


def test_the_good_posts_and_the_run_files_survive_the_corpus(corpus, tmp_path):
    result, _ = corpus
    assert {f"90{i}" for i in range(6)} <= set(result.posts["post_id"])
    run = Path(result.profile_dir).parent / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["posts"] == len(result.posts) and sum(summary["excluded"].values()) == len(result.excluded)
    assert "comments" in summary["side_files"] and summary["partial_posts"]


def test_the_reports_data_quality_section_names_what_ingest_found(corpus):
    from instapop.report import build_report

    result, _ = corpus
    html = build_report(Path(result.profile_dir).parent / "run").read_text()
    quality = html[html.index("Data quality") :]
    for words in ("2019-05-14_09-37-08_UTC_1.jpg", "partial_2.jpg", "1 comments", "--followers-date"):
        assert words in quality, words


def test_follower_rows_with_bad_values_are_listed_and_doubts_reported(corpus):
    result, followers = corpus
    rows = result.excluded[result.excluded["reason"] == "follower row unreadable"]
    lines = [int(item.rsplit(":", 1)[1]) for item in rows["item"]]
    got = dict(zip(lines, rows["detail"], strict=True))
    assert sorted(got) == sorted(FOLLOWER_PROBLEMS)
    assert all(FOLLOWER_PROBLEMS[line] in detail for line, detail in got.items())
    warnings = result.summary()["follower_warnings"]
    assert any(str(followers) in w and "2020-10-15" in w and "more than once" in w for w in warnings)
    assert any(str(followers) in w and "not in date order" in w for w in warnings)
    assert result.followers.points["date"].is_monotonic_increasing
    assert result.followers.points["followers"].gt(0).all()


def test_a_folder_of_10000_empty_files_is_read_around(tmp_path):
    for i in range(3):
        write_post(tmp_path, f"good{i}", graphql_node(900 + i, T0 + i * 86_400, 50, 3, ["image"]), ["image"])
    write_empty_files(tmp_path, 10_000)

    result = ingest_profile(tmp_path, [], CONFIG)

    assert {"900", "901", "902"} <= set(result.posts["post_id"])
    reasons = result.excluded.set_index("item")["reason"]
    assert (
        reasons[[str(tmp_path / f"empty{i:05d}.json") for i in range(0, 10_000, 4)]] == "malformed JSON"
    ).all()
    assert len([p for p in result.orphan_media if Path(p).name.startswith("empty")]) == 2_500
    assert result.side_files["other"] >= 5_000  # the .txt (no post of that name) and suffix-less files


# --------------------------------------------------------------------------- media decoding


def test_a_one_frame_video_is_sampled_as_that_frame(tmp_path):
    sample = sample_video(write_video(tmp_path / "one.mp4", fps=30, seconds=1 / 30), size=16)
    assert sample.frames.shape == (15, 16, 16, 3)
    assert (sample.frames == sample.frames[0]).all()


def test_content_not_the_extension_decides_an_image(tmp_path):
    png_named_jpeg = write_noise(tmp_path / "really_png.jpg", "PNG")
    assert load_image(png_named_jpeg, size=16).shape == (16, 16, 3)


# --------------------------------------------------------------------------- fuzzing

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_KEYS = [
    "__typename",
    "id",
    "pk",
    "shortcode",
    "code",
    "is_video",
    "taken_at_timestamp",
    "date",
    "taken_at",
    "edge_media_preview_like",
    "edge_liked_by",
    "like_count",
    "edge_media_to_comment",
    "comments",
    "comment_count",
    "edge_media_to_caption",
    "caption",
    "media_type",
    "carousel_media",
    "edge_sidecar_to_children",
    "iphone_struct",
    "like_and_view_counts_disabled",
]
# A real node with any of its fields replaced by any JSON value: reaches the field checks,
# not only the envelope.
_NODE = st.builds(
    lambda base, changes: {**base, **changes},
    st.just(graphql_node(1, T0, 10, 2, ["image"])),
    st.dictionaries(st.sampled_from(_KEYS), _JSON | st.fixed_dictionaries({"count": _JSON}), max_size=4),
)


def _read_one(write) -> None:
    """Read a folder holding one post file (and its image); any outcome but a stray exception is fine."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root / "post.json")
        write_media(root, "post", ["image"])
        try:
            data = read_instaloader_folder(root, MAX_JSON_BYTES)
        except InstapopError:
            return
        assert len(data.posts) + len(data.skipped) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_JSON)
def test_any_json_value_as_a_post_file_is_a_post_or_a_skip(value):
    _read_one(lambda path: write_json(path, envelope(value) if isinstance(value, dict) else value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=_NODE)
def test_any_field_value_in_a_real_node_is_a_post_or_a_skip(node):
    _read_one(lambda path: write_json(path, envelope(node)))


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_a_post_file_is_a_post_or_a_skip(raw):
    _read_one(lambda path: path.write_bytes(raw))


_MANIFEST_CELL = st.text(max_size=12) | st.sampled_from(["a.jpg", "1600000000", "2020-09-20", "-1", "NaN"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(_MANIFEST_CELL, min_size=5, max_size=5), max_size=3),
    tail=st.binary(max_size=9),
)
def test_any_manifest_rows_are_posts_or_skips(rows, tail):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "a.jpg").write_bytes(b"\xff\xd8jpeg")
        lines = ["post_id,timestamp,likes,comments,media"] + [",".join(row) for row in rows]
        (root / "manifest.csv").write_bytes("\n".join(lines).encode() + tail)
        try:
            data = read_source(root, MAX_JSON_BYTES)
        except InstapopError:
            return
        assert len(data.posts) + len(data.skipped) >= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=_NODE)
def test_ingest_writes_its_files_whatever_a_node_holds(node):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "profile"
        root.mkdir()
        write_json(root / "post.json", envelope(node))
        write_media(root, "post", ["image"])
        try:
            result = ingest_profile(root, [], CONFIG)
        except InstapopError:
            return
        result.write(Path(folder) / "run")
        assert len(result.posts) == 1
