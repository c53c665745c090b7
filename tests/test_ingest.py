"""Reading Instaloader folders and manifests into labelled media tables."""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from instapop.cli import app
from instapop.config import Config
from instapop.errors import InstapopError
from instapop.ingest import MEDIA_COLUMNS, ingest_profile, load_media

T0 = 1_600_000_000  # 2020-09-13T12:26:40Z
DAY = 86_400
SMALL = Config(n_classes=(2, 3), window_days=20.0, min_window_posts=5)

# --------------------------------------------------------------------------- node builders
# Written from the field lists in Instaloader's structures.py (GraphQL, iPhone API, 4.16 web node).


def _typename(kinds: list[str], xdt: bool = False) -> str:
    kind = "Sidecar" if len(kinds) > 1 else kinds[0].capitalize()
    return ("XDTGraph" if xdt else "Graph") + kind


def graphql_node(
    pk,
    ts,
    likes,
    comments,
    kinds,
    *,
    xdt=False,
    likes_key="edge_media_preview_like",
    comments_key="edge_media_to_comment",
):
    node = {
        "__typename": _typename(kinds, xdt),
        "id": str(pk),
        "shortcode": f"C{pk}",
        "is_video": kinds == ["video"],
        "taken_at_timestamp": ts,
        likes_key: {"count": likes},
        comments_key: {"count": comments},
        "edge_media_to_caption": {"edges": [{"node": {"text": f"post {pk}"}}]},
    }
    if len(kinds) > 1:
        # A carousel child is typed by its own is_video (its typename may even be missing).
        children = [{"node": {"is_video": kind == "video", "display_url": "u"}} for kind in kinds]
        node["edge_sidecar_to_children"] = {"edges": children}
    return node


_API_TYPES = {"image": 1, "video": 2}


def iphone_node(pk, ts, likes, comments, kinds):
    struct = {
        "pk": pk,
        "code": f"C{pk}",
        "taken_at": ts,
        "like_count": likes,
        "comment_count": comments,
        "media_type": 8 if len(kinds) > 1 else _API_TYPES[kinds[0]],
        "caption": {"text": f"post {pk}"},
    }
    if len(kinds) > 1:
        struct["carousel_media"] = [{"media_type": _API_TYPES[kind]} for kind in kinds]
    node = {
        "shortcode": f"C{pk}",
        "id": pk,
        "__typename": _typename(kinds),
        "is_video": kinds == ["video"],
        "date": ts,
        "caption": f"post {pk}",
        "edge_media_preview_like": {"count": likes},
        "comments": comments,
        "iphone_struct": struct,
    }
    if len(kinds) > 1:
        node["edge_sidecar_to_children"] = {"edges": [{"node": {"is_video": k == "video"}} for k in kinds]}
    return node


def web_node(pk, ts, likes, comments, kinds):
    """The 4.16 node: web API fields at the top level (no GraphQL count edges here)."""
    node = {
        "code": f"C{pk}",
        "pk": str(pk),
        "id": f"{pk}_999",
        "taken_at": ts,
        "like_count": likes,
        "comment_count": comments,
        "media_type": 8 if len(kinds) > 1 else _API_TYPES[kinds[0]],
        "caption": {"text": f"post {pk}"},
        "like_and_view_counts_disabled": False,
    }
    if len(kinds) > 1:
        node["carousel_media"] = [{"media_type": _API_TYPES[kind]} for kind in kinds]
    return node


SHAPES = {"graphql": graphql_node, "iphone": iphone_node, "web": web_node}


def envelope(node, node_type="Post"):
    return {"node": node, "instaloader": {"node_type": node_type, "version": "4.16"}}


def write_json(path: Path, data) -> None:
    raw = json.dumps(data).encode()
    path.write_bytes(lzma.compress(raw) if path.name.endswith(".xz") else raw)


def write_media(root: Path, base: str, kinds: list[str]) -> None:
    stems = [base] if len(kinds) == 1 else [f"{base}_{i}" for i in range(1, len(kinds) + 1)]
    for stem, kind in zip(stems, kinds, strict=True):
        (root / f"{stem}.jpg").write_bytes(b"\xff\xd8jpeg")  # never decoded by ingest
        if kind == "video":
            (root / f"{stem}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")


def write_post(root: Path, base: str, node: dict, kinds: list[str], compressed: bool = True) -> Path:
    path = root / (f"{base}.json.xz" if compressed else f"{base}.json")
    write_json(path, envelope(node))
    write_media(root, base, kinds)
    return path


def base_name(ts: int) -> str:
    return pd.Timestamp(ts, unit="s", tz="UTC").strftime("%Y-%m-%d_%H-%M-%S_UTC")


def write_profile_json(root: Path, followers: int, mtime: int) -> Path:
    path = root / "brand_999.json.xz"
    write_json(
        path,
        envelope({"id": "999", "username": "brand", "edge_followed_by": {"count": followers}}, "Profile"),
    )
    os.utime(path, (mtime, mtime))
    return path


def write_profile(root: Path, n_posts: int = 24, seed: int = 0) -> Path:
    """A folder cycling through all shapes, both file kinds, singles and mixed carousels."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    layouts = [["image"], ["video"], ["image", "video", "image"], ["video", "image"]]
    shapes = list(SHAPES)
    for i in range(n_posts):
        ts = T0 + i * 2 * DAY + int(rng.integers(0, 3600))
        kinds = layouts[i % len(layouts)]
        node = SHAPES[shapes[i % 3]](
            1000 + i, ts, int(rng.integers(50, 500)), int(rng.integers(0, 40)), kinds
        )
        write_post(root, base_name(ts), node, kinds, compressed=i % 2 == 0)
    write_profile_json(root, 5000, T0 + (n_posts + 5) * 2 * DAY)
    write_json(
        root / "iterator_0001.json.xz", {"node": {}, "instaloader": {"node_type": "FrozenNodeIterator"}}
    )
    return root


@pytest.fixture
def followers_csv(tmp_path: Path) -> Path:
    path = tmp_path / "followers.csv"
    path.write_text("date,followers\n2020-09-01,2000\n2020-10-15,3000\n2020-12-01,4000\n")
    return path


# --------------------------------------------------------------------------- node shapes


@pytest.mark.parametrize("compressed", [True, False], ids=["json.xz", "json"])
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize(
    "kinds", [["image"], ["video"], ["video", "image", "video"]], ids=["image", "video", "mix"]
)
def test_every_node_shape_reads_counts_time_and_media_types(tmp_path, shape, kinds, compressed):
    ts = T0 + 12_345
    node = SHAPES[shape](4242, ts, likes=321, comments=17, kinds=kinds)
    write_post(tmp_path, "custom-name", node, kinds, compressed)  # a custom --filename-pattern

    result = ingest_profile(tmp_path, [], SMALL)

    assert result.excluded.empty
    post = result.posts.iloc[0]
    assert (post["post_id"], post["shortcode"], post["likes"], post["comments"]) == ("4242", "C4242", 321, 17)
    assert post["timestamp"] == pd.Timestamp(ts, unit="s", tz="UTC")
    assert post["caption"] == "post 4242"
    media = result.media
    assert media["media_type"].tolist() == kinds
    carousel = len(kinds) > 1
    expected_ids = [f"custom-name_{i}" for i in range(1, len(kinds) + 1)] if carousel else ["custom-name"]
    assert media["media_id"].tolist() == expected_ids
    assert media["child_index"].tolist() == (list(range(1, len(kinds) + 1)) if carousel else [0])
    assert media["is_carousel"].tolist() == [carousel] * len(kinds)
    videos = media[media["media_type"] == "video"]
    assert all(
        p.endswith(".mp4") and t.endswith(".jpg")
        for p, t in zip(videos["path"], videos["thumbnail"], strict=True)
    )
    assert (media.loc[media["media_type"] == "image", "thumbnail"] == "").all()


@pytest.mark.parametrize(
    "likes_key,comments_key",
    [("edge_liked_by", "edge_media_to_parent_comment"), ("edge_media_preview_like", "edge_media_to_comment")],
)
def test_graphql_alternative_count_keys_and_xdt_typenames(tmp_path, likes_key, comments_key):
    node = graphql_node(
        7, T0, 11, 3, ["image", "video"], xdt=True, likes_key=likes_key, comments_key=comments_key
    )
    write_post(tmp_path, "p", node, ["image", "video"])

    result = ingest_profile(tmp_path, [], SMALL)

    assert (result.posts.loc[0, "likes"], result.posts.loc[0, "comments"]) == (11, 3)
    assert result.media["media_type"].tolist() == ["image", "video"]


def test_profile_json_gives_a_follower_point_and_iterator_files_are_skipped(tmp_path):
    write_profile(tmp_path, n_posts=8)

    result = ingest_profile(tmp_path, [], SMALL)

    assert result.posts.shape[0] == 8 and result.excluded.empty
    assert result.followers.points["followers"].tolist() == [5000.0]
    assert (result.media["followers"] == 5000.0).all()


def test_labels_for_another_n_or_window_come_from_the_records_read_once(tmp_path, followers_csv):
    from instapop.ingest import ingest_records
    from instapop.sources import read_source

    write_profile(tmp_path / "p", n_posts=24)
    source = read_source(tmp_path / "p", SMALL.max_json_bytes)
    for path in (tmp_path / "p").iterdir():  # no post is read again (the profile JSON is a follower file)
        if path not in source.follower_files:
            path.unlink()

    other = Config(n_classes=(4,), window_days=40.0, min_window_posts=5)
    relabelled = ingest_records(source, [followers_csv], other)

    assert set(relabelled.media["class_4"]) <= set(range(4)) and "class_2" not in relabelled.media
    assert len(relabelled.posts) == 24


def test_followers_date_overrides_the_profile_json_mtime(tmp_path):
    write_profile(tmp_path, n_posts=4)

    result = ingest_profile(tmp_path, [], SMALL, followers_date="2020-09-20")

    assert result.followers.points["date"].tolist() == [pd.Timestamp("2020-09-20", tz="UTC")]


def test_media_rows_carry_their_posts_label_for_their_own_type(tmp_path, followers_csv):
    write_profile(tmp_path, n_posts=40)

    result = ingest_profile(tmp_path, [followers_csv], SMALL)

    media, posts = result.media, result.posts.set_index("post_id")
    assert list(media.columns[: len(MEDIA_COLUMNS)]) == MEDIA_COLUMNS
    for _, item in media.iterrows():
        post = posts.loc[item["post_id"]]
        for n in SMALL.n_classes:
            assert item[f"class_{n}"] == post[f"{item['media_type']}_class_{n}"]
            assert item[f"global_class_{n}"] == post[f"{item['media_type']}_global_class_{n}"]
        expected_por = (post["likes"] + post["comments"]) / post["followers"]
        assert item["por"] == pytest.approx(expected_por)
    for n in SMALL.n_classes:
        assert set(media[f"class_{n}"]) <= set(range(n))


def test_write_and_load_media_round_trip(tmp_path, followers_csv):
    write_profile(tmp_path / "p", n_posts=12)
    result = ingest_profile(tmp_path / "p", [followers_csv], SMALL)
    result.write(tmp_path / "run")

    loaded = load_media(tmp_path / "run")

    for name in ("media.csv", "posts.csv", "excluded.csv", "followers.csv", "summary.json"):
        assert (tmp_path / "run" / name).is_file()
    assert str(loaded["timestamp"].dt.tz) == "UTC"
    assert loaded["post_id"].map(type).eq(str).all()
    assert loaded["is_carousel"].dtype == bool and loaded["class_3"].dtype == np.int64
    pd.testing.assert_series_equal(loaded["timestamp"], result.media["timestamp"], check_dtype=False)
    assert loaded["media_id"].tolist() == result.media["media_id"].tolist()
    assert np.allclose(loaded["por"], result.media["por"])


def test_same_inputs_give_identical_outputs(tmp_path, followers_csv):
    write_profile(tmp_path / "p", n_posts=16)
    for run in ("a", "b"):
        ingest_profile(tmp_path / "p", [followers_csv], SMALL).write(tmp_path / run)
    for name in ("media.csv", "posts.csv", "excluded.csv", "followers.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


# --------------------------------------------------------------------------- bad input


def _excluded(result) -> dict[str, str]:
    return {
        Path(item).name: reason
        for item, reason in zip(result.excluded["item"], result.excluded["reason"], strict=True)
    }


def test_bad_items_are_skipped_listed_and_named(tmp_path, followers_csv, caplog):
    write_profile(tmp_path, n_posts=6)
    (tmp_path / "broken.json").write_text('{"node": {"id": ')
    bomb = tmp_path / "bomb.json.xz"
    bomb.write_bytes(lzma.compress(b" " * (2 * 2**20)))  # 2 MiB of spaces: a 300-byte file
    ts = T0 + 100 * DAY
    write_post(tmp_path, "novideo", graphql_node(1, ts, 5, 1, ["video"]), ["video"])
    (tmp_path / "novideo.mp4").unlink()  # downloaded with --no-videos and --no-video-thumbnails
    (tmp_path / "novideo.jpg").unlink()
    write_post(tmp_path, "hidden", graphql_node(2, ts + 1, -1, 1, ["image"]), ["image"])
    hidden_flag = web_node(3, ts + 2, 10, 1, ["image"]) | {"like_and_view_counts_disabled": True}
    write_post(tmp_path, "hidden2", hidden_flag, ["image"])
    write_post(tmp_path, "negative", iphone_node(4, ts + 3, 10, -3, ["image"]), ["image"])
    absent = graphql_node(5, ts + 4, 10, 1, ["image"])
    del absent["edge_media_to_comment"]
    write_post(tmp_path, "absent", absent, ["image"])
    write_post(tmp_path, "twin_a", graphql_node(6, ts + 5, 10, 1, ["image"]), ["image"])
    write_post(tmp_path, "twin_b", graphql_node(7, ts + 5, 12, 1, ["image"]), ["image"])
    outside = tmp_path.parent / f"{tmp_path.name}-outside.jpg"
    outside.write_bytes(b"\xff\xd8")
    (tmp_path / "escape.jpg").symlink_to(outside)
    write_json(tmp_path / "escape.json", envelope(graphql_node(8, ts + 6, 10, 1, ["image"])))

    result = ingest_profile(
        tmp_path, [followers_csv], Config(max_json_bytes=2**20, window_days=20, min_window_posts=3)
    )

    assert result.posts.shape[0] == 6 + 1  # the first twin is kept
    excluded = _excluded(result)
    assert excluded == {
        "broken.json": "malformed JSON",
        "bomb.json.xz": "file too large",
        "novideo.json.xz": "media missing",
        "hidden.json.xz": "likes hidden",
        "hidden2.json.xz": "likes hidden",
        "negative.json.xz": "negative count",
        "absent.json.xz": "count missing",
        "twin_b.json.xz": "same second as another post",
        "escape.jpg": "symlink out of folder",
        "escape.json": "media missing",
    }
    assert result.summary()["excluded"]["likes hidden"] == 2
    for item, detail in zip(result.excluded["item"], result.excluded["detail"], strict=True):
        assert detail.startswith(item) and item in caplog.text


def test_manifest_reads_posts_and_refuses_paths_outside_the_folder(tmp_path, followers_csv):
    (tmp_path / "img").mkdir()
    for name in ("a.jpg", "b.png", "c.mp4", "c.jpg"):
        (tmp_path / "img" / name).write_bytes(b"data")
    (tmp_path.parent / "secret.jpg").write_bytes(b"data")
    (tmp_path / "manifest.csv").write_text(
        "post_id,timestamp,likes,comments,media\n"
        "p1,2020-09-20T10:00:00Z,100,4,img/a.jpg\n"
        f"p2,{T0 + 30 * DAY},80,2,img/b.png;img/c.mp4\n"
        "p3,2020-09-25,10,1,../secret.jpg\n"
        "p4,2020-09-26,10,1,img/missing.jpg|img/a.jpg\n"
        "p5,not-a-date,10,1,img/a.jpg\n"
    )

    result = ingest_profile(tmp_path, [followers_csv], SMALL)

    assert result.posts["post_id"].tolist() == ["p1", "p2"]
    assert result.media["media_type"].tolist() == ["image", "image", "video"]
    assert result.media["shortcode"].tolist() == ["", "", ""]
    assert result.media.loc[2, "thumbnail"].endswith("img/c.jpg")
    assert result.media["child_index"].tolist() == [0, 1, 2]
    reasons = dict(
        zip(result.excluded["item"].str.rsplit(":", n=1).str[1], result.excluded["reason"], strict=True)
    )
    assert reasons == {"4": "path outside folder", "5": "media missing", "6": "manifest row invalid"}

    same = ingest_profile(tmp_path / "manifest.csv", [followers_csv], SMALL)  # the manifest path itself
    assert same.posts["post_id"].tolist() == ["p1", "p2"]


def test_empty_folder_raises_and_the_cli_exits_with_one_line(tmp_path):
    with pytest.raises(InstapopError, match="no Instaloader metadata"):
        ingest_profile(tmp_path, [], SMALL)

    outcome = CliRunner().invoke(app, ["ingest", str(tmp_path), "--out", str(tmp_path / "run")])

    assert outcome.exit_code != 0
    assert len(outcome.output.strip().splitlines()) == 1 and str(tmp_path) in outcome.output


def test_a_folder_of_only_bad_posts_raises_with_the_reasons(tmp_path):
    write_post(tmp_path, "hidden", graphql_node(2, T0, -1, 1, ["image"]), ["image"])
    with pytest.raises(InstapopError, match="1 likes hidden"):
        ingest_profile(tmp_path, [], SMALL)


# --------------------------------------------------------------------------- CLI


def test_cli_ingest_writes_media_csv_and_prints_the_json_summary(tmp_path, followers_csv):
    write_profile(tmp_path / "profile", n_posts=20)
    out = tmp_path / "run"

    outcome = CliRunner().invoke(
        app,
        [
            "ingest",
            str(tmp_path / "profile"),
            "--followers",
            str(followers_csv),
            "--out",
            str(out),
            "--json",
            "--window-days",
            "20",
            "--min-window-posts",
            "5",
            "-n",
            "2",
            "-n",
            "3",
            "-n",
            "4",
        ],
    )

    assert outcome.exit_code == 0, outcome.output
    summary = json.loads(outcome.stdout)
    media = load_media(out)
    assert summary["posts"] == 20
    assert summary["media"] == media["media_type"].value_counts().to_dict()
    assert summary["excluded"] == {}
    assert summary["date_range"][0].startswith("2020-09-13")
    for media_type in ("image", "video"):
        items = media[media["media_type"] == media_type]
        for n in (2, 3, 4):
            counts = items[f"class_{n}"].value_counts().sort_index()
            assert summary["classes"][media_type][str(n)] == {str(c): int(k) for c, k in counts.items()}


# --------------------------------------------------------------------------- reels: covers and views


def test_a_no_videos_download_keeps_its_videos_as_their_covers(tmp_path, followers_csv):
    """`instaloader --no-videos`: a reel's cover <base>.jpg, JSON and caption, no .mp4."""
    root = tmp_path / "profile"
    write_profile(root, n_posts=8)  # layouts cycle image, video, carousel (image, video, image), ...
    videos = sorted(root.glob("*.mp4"))
    for video in videos:
        video.unlink()
    ts = T0 + 40 * DAY
    write_post(root, "gone", graphql_node(77, ts, 5, 1, ["video"]), ["video"])
    (root / "gone.mp4").unlink()  # and --no-video-thumbnails: nothing left to model it by
    (root / "gone.jpg").unlink()

    result = ingest_profile(root, [followers_csv], SMALL)

    assert len(result.posts) == 8  # every post kept, the video-less one skipped
    media = result.media[result.media["media_type"] == "video"]
    assert len(media) == len(videos) and media["cover_only"].all()
    assert (media["path"] == media["thumbnail"]).all() and media["path"].str.endswith(".jpg").all()
    assert sorted(Path(p).stem for p in media["path"]) == sorted(v.stem for v in videos)
    assert not result.media.loc[result.media["media_type"] == "image", "cover_only"].any()
    assert not result.posts["partial"].any()  # a cover-only carousel child is not a missing one
    (reason,) = result.excluded.loc[result.excluded["item"].str.endswith("gone.json.xz"), "detail"]
    assert "video gone.mp4 and its cover gone.jpg missing" in reason
    assert result.summary()["cover_only_videos"] == len(videos)
    assert f"{len(videos)} known by their covers only" in result.describe()
    result.write(tmp_path / "run")
    assert load_media(tmp_path / "run")["cover_only"].tolist() == result.media["cover_only"].tolist()


def _with_views(node: dict, **counts) -> dict:
    """The node with view counts: ``iphone_*`` keys go into its ``iphone_struct``."""
    node = dict(node, iphone_struct=dict(node.get("iphone_struct", {})))
    for key, value in counts.items():
        if key.startswith("iphone_"):
            node["iphone_struct"][key.removeprefix("iphone_")] = value
        else:
            node[key] = value
    return node


@pytest.mark.parametrize(
    "shape,counts,views",
    [
        ("graphql", {"video_view_count": 1234}, 1234),
        ("graphql", {"video_view_count": 0, "video_play_count": 5000}, 5000),
        ("iphone", {"video_view_count": 0, "iphone_view_count": None, "iphone_play_count": 880}, 880),
        ("iphone", {"iphone_view_count": 900, "iphone_play_count": 700}, 900),
        ("web", {"play_count": 4321, "video_view_count": None}, 4321),
        ("web", {"view_count": "n/a", "play_count": True, "video_view_count": 12.0}, 12),
        ("graphql", {"video_view_count": 0, "video_play_count": None}, None),
        ("iphone", {"iphone_play_count": 0, "iphone_view_count": -3}, None),
    ],
)
def test_views_are_the_largest_positive_count_of_any_instaloader_field(tmp_path, shape, counts, views):
    node = _with_views(SHAPES[shape](5, T0, 50, 2, ["video"]), **counts)
    write_post(tmp_path, "reel", node, ["video"])

    got = ingest_profile(tmp_path, [], SMALL).posts.loc[0, "views"]

    assert np.isnan(got) if views is None else got == views


def test_views_are_kept_as_read_and_empty_where_unknown(tmp_path, followers_csv):
    write_profile(tmp_path / "p", n_posts=8)
    result = ingest_profile(tmp_path / "p", [followers_csv], SMALL)
    result.write(tmp_path / "run")
    posts = pd.read_csv(tmp_path / "run" / "posts.csv", keep_default_na=False)
    assert (posts["views"] == "").all()  # no node of write_profile has a view count


# --------------------------------------------------------------------------- synthetic generator


def test_a_generated_profile_is_read_completely_and_exactly(make_profile):
    from instapop.synthetic import load_ground_truth

    profile = make_profile()  # the session's shared 60-post profile
    truth = load_ground_truth(profile.ground_truth)

    result = ingest_profile(profile.profile_dir, [profile.followers_csv], SMALL)

    assert result.excluded.empty
    posts = result.posts.set_index("post_id")
    assert sorted(posts.index) == sorted(p["post_id"] for p in truth["posts"].values())
    for post in truth["posts"].values():
        got = posts.loc[post["post_id"]]
        assert (got["likes"], got["comments"], got["shortcode"]) == (
            post["likes"],
            post["comments"],
            post["shortcode"],
        )
        assert got["timestamp"] == pd.Timestamp(post["timestamp"])
    media = result.media.set_index("media_id")
    assert sorted(media.index) == sorted(truth["media"])
    for media_id, item in truth["media"].items():
        assert media.loc[media_id, "media_type"] == item["media_type"]
        assert media.loc[media_id, "path"] == str((profile.profile_dir / item["path"]).resolve())
        thumbnail = str((profile.profile_dir / item["thumbnail"]).resolve()) if item["thumbnail"] else ""
        assert media.loc[media_id, "thumbnail"] == thumbnail
    summary = result.summary()
    assert [Path(p).name for p in summary["orphan_media"]] == truth["orphan_media"]
    assert summary["side_files"]["comments"] == len(truth["side_files"])
    by_id = {p["post_id"]: p for p in truth["posts"].values()}
    right = ~posts.index.map(lambda post_id: by_id[post_id]["in_wrong_stretch"]).to_numpy(bool)
    ratio = posts["por"] / posts.index.map(lambda post_id: by_id[post_id]["por"])
    assert np.median(ratio[right]) == pytest.approx(1.0, abs=0.02)  # followers estimated right outside it


def test_the_generators_wrong_follower_stretch_piles_up_in_the_global_split_only(tmp_path):
    """Paper Fig. 2 on the generator's popularity model, its wrong stretch and its follower history.

    The posts and history come from ``plan_profile`` (the generator without its
    pixels, so the test stays fast); the files are written by this module's
    own node builders. With followers reported about half the truth, PoR is
    inflated about twice inside the stretch: the global median split puts most
    of the stretch in the top half, the rolling split about half of it.
    """
    from instapop.config import PAPER
    from instapop.synthetic import plan_profile

    plan = plan_profile(300, seed=1, signal=True, config=PAPER)
    (tmp_path / "p").mkdir()
    for post in plan.posts:
        kinds = [m.kind for m in post.media]
        write_post(
            tmp_path / "p",
            post.base,
            graphql_node(post.pk, post.timestamp, post.likes, post.comments, kinds),
            kinds,
        )
    history = tmp_path / "followers.csv"
    history.write_text("date,followers\n" + "".join(f"{date},{count}\n" for date, count in plan.history))

    posts = ingest_profile(tmp_path / "p", [history], PAPER).posts

    start, end = pd.Timestamp(plan.wrong_start, tz="UTC"), pd.Timestamp(plan.wrong_end, tz="UTC")
    stretch = posts["timestamp"].between(start, end) & (posts["n_images"] > 0)
    assert stretch.sum() >= 25
    global_top = (posts.loc[stretch, "image_global_class_2"] == 1).mean()
    rolling_top = (posts.loc[stretch, "image_class_2"] == 1).mean()
    assert global_top > 0.75
    assert 0.3 < rolling_top < 0.65
