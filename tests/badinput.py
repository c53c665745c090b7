"""A corpus of broken and hostile input, written at test time (no binary file is committed).

Each :class:`Case` writes its files into a profile folder and says what ingest must
do with it: exclude one item with a given reason, or keep the post (and then a
check of how). The media-level cases (files that only fail when decoded) are the
builders of tests/test_media.py (``bad_media``); the follower-file cases are at
the end.
"""

from __future__ import annotations

import json
import lzma
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from test_ingest import (
    DAY,
    T0,
    envelope,
    graphql_node,
    web_node,
    write_json,
    write_media,
    write_post,
    write_profile_json,
)

MAX_JSON_BYTES = 2**20  # the corpus is read with this bound (the xz bomb decompresses past it)
NOW = time.time()


@dataclass(frozen=True)
class Case:
    """One kind of bad input: ``item`` is the file name ingest lists; ``reason`` the exclusion, or "kept"."""

    kind: str
    item: str
    reason: str
    write: Callable[[Path], None]
    check: Callable[[object], None] | None = None  # for kept posts: how it was kept (gets the IngestResult)


def _ts(i: int) -> int:
    return T0 + i * DAY  # every case its own day: no case clashes with another by date


def _post(name: str, i: int, kinds=("image",), **fields) -> Callable[[Path], None]:
    """A GraphQL post ``name`` with ``fields`` replacing the node's own (None: removed)."""

    def write(root: Path) -> None:
        node = graphql_node(100 + i, _ts(i), 10, 2, list(kinds))
        for key, value in fields.items():
            if value is None:
                node.pop(key, None)
            else:
                node[key] = value
        write_post(root, name, node, list(kinds))

    return write


def _raw(name: str, data: bytes, media: bool = True) -> Callable[[Path], None]:
    def write(root: Path) -> None:
        (root / name).write_bytes(data)
        if media:
            write_media(root, name.split(".")[0], ["image"])

    return write


def _post_bytes(i: int, caption: bytes) -> bytes:
    """A post's JSON with ``caption`` spliced in as raw bytes (which json.dumps could not write)."""
    node = graphql_node(100 + i, _ts(i), 10, 2, ["image"])
    node["edge_media_to_caption"] = {"edges": [{"node": {"text": "CAPTION"}}]}
    return json.dumps(envelope(node)).encode().replace(b"CAPTION", caption)


def _deep(levels: int) -> bytes:
    return b'{"node": ' + b"[" * levels + b"]" * levels + b', "instaloader": {"node_type": "Post"}}'


def _symlink_out(root: Path) -> None:
    _post("escape", 13)(root)
    outside = root.parent / f"{root.name}-outside.jpg"
    outside.write_bytes(b"\xff\xd8")
    (root / "escape.jpg").unlink()
    (root / "escape.jpg").symlink_to(outside)


def _symlink_loop(root: Path) -> None:
    _post("loop", 14)(root)
    (root / "loop.jpg").unlink()
    (root / "loop.jpg").symlink_to("loop.jpg")


def _undecodable_name(root: Path) -> None:
    _post(os.fsdecode(b"name\xff"), 16)(root)


def _xz_bomb(root: Path) -> None:
    (root / "xzbomb.json.xz").write_bytes(lzma.compress(b" " * (2 * MAX_JSON_BYTES)))  # 2 MiB in 400 bytes


def _truncated_xz(root: Path) -> None:
    _post("truncxz", 15)(root)
    data = (root / "truncxz.json.xz").read_bytes()
    (root / "truncxz.json.xz").write_bytes(data[: len(data) // 2])


def _twins(root: Path) -> None:
    write_post(root, "twin_a", graphql_node(200, _ts(8), 10, 1, ["image"]), ["image"])
    write_post(root, "twin_b", graphql_node(201, _ts(8), 12, 1, ["image"]), ["image"])


def _empty_image(root: Path) -> None:
    _post("emptyimage", 23)(root)
    (root / "emptyimage.jpg").write_bytes(b"")


def _video_not_downloaded(root: Path) -> None:
    _post("novideo", 22, kinds=("video",))(root)
    (root / "novideo.mp4").unlink()  # downloaded with --no-videos and --no-video-thumbnails
    (root / "novideo.jpg").unlink()


def _cover_only_video(root: Path) -> None:
    _post("reelcover", 33, kinds=("video",))(root)
    (root / "reelcover.mp4").unlink()  # downloaded with --no-videos: the cover .jpg stays


def _partial_carousel(root: Path) -> None:
    _post("partial", 26, kinds=("image", "image", "image"))(root)
    (root / "partial_2.jpg").unlink()


def _video_413(root: Path) -> None:
    """Instaloader 4.13: a video post as <base>_1.mp4 with its cover <base>_2.jpg."""
    write_json(root / "reel.json", envelope(graphql_node(127, _ts(27), 10, 2, ["video"])))
    (root / "reel_1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (root / "reel_2.jpg").write_bytes(b"\xff\xd8jpeg")


def _side_files(root: Path) -> None:
    _post("talked", 28)(root)
    (root / "talked_comments.json").write_text(json.dumps([{"id": 1, "text": "nice", "answers": []}]))
    (root / "talked_location.txt").write_text("Tokyo\nhttps://maps.google.com/?q=35.6,139.7\n")
    (root / "id").write_text("999\n")
    (root / "2020-01-01_00-00-00_UTC_profile_pic.jpg").write_bytes(b"\xff\xd8jpeg")
    write_json(
        root / "iterator_ab12.json.xz", {"node": {}, "instaloader": {"node_type": "FrozenNodeIterator"}}
    )


def _caption_in_txt(root: Path) -> None:
    _post("txtcaption", 31, edge_media_to_caption=None)(root)
    (root / "txtcaption.txt").write_bytes(b"from the txt file \xff\n")


def _orphan(root: Path) -> None:
    (root / "2019-05-14_09-37-08_UTC_1.jpg").write_bytes(b"\xff\xd8jpeg")


def _copied_profile_json(root: Path) -> None:
    """A profile JSON whose file time is a year after the newest post (a copied folder)."""
    write_profile_json(root, 5000, _ts(46) + 365 * DAY)


def _row(result, post_id: str) -> dict:
    return result.posts.set_index("post_id").loc[post_id].to_dict()


def _check_string_likes(result) -> None:
    assert _row(result, "103")["likes"] == 1234


def _check_replaced_bytes(result) -> None:
    row = _row(result, "111")
    assert row["caption"] == "caf\ufffd au lait" and row["flags"] == "bytes replaced"


def _check_surrogate(result) -> None:
    assert _row(result, "112")["caption"] == "lone \ufffd surrogate"


def _check_partial(result) -> None:
    row = _row(result, "126")
    assert row["partial"] and "partial_2.jpg" in row["missing"] and row["n_images"] == 2
    assert {"post": row["source"], "missing": [row["missing"]]} in result.summary()["partial_posts"]


def _check_cover_only(result) -> None:
    video = result.media.set_index("media_id").loc["reelcover"]
    assert video["media_type"] == "video" and video["cover_only"]
    assert video["path"] == video["thumbnail"] and video["path"].endswith("reelcover.jpg")
    assert result.summary()["cover_only_videos"] == 1


def _check_video_413(result) -> None:
    video = result.media.set_index("media_id").loc["reel_1"]
    assert video["media_type"] == "video" and not video["is_carousel"]
    assert video["path"].endswith("reel_1.mp4") and video["thumbnail"].endswith("reel_2.jpg")


def _check_side_files(result) -> None:
    sides = result.summary()["side_files"]
    for kind in ("comments", "location", "id", "profile pic", "resume"):
        assert sides[kind] >= 1, kind


def _check_caption_file(result) -> None:
    assert _row(result, "131")["caption"] == "from the txt file \ufffd"


def _check_stale_follower_date(result) -> None:
    (warning,) = [w for w in result.summary()["follower_warnings"] if "brand_999.json.xz" in w]
    assert "days after the newest post" in warning and "--followers-date" in warning
    assert 5000.0 in result.followers.points["followers"].tolist()  # still used


def _check_orphan(result) -> None:
    assert [Path(p).name for p in result.summary()["orphan_media"]] == ["2019-05-14_09-37-08_UTC_1.jpg"]


NAN_COMMENTS = json.dumps(envelope(graphql_node(104, _ts(4), 10, float("nan"), ["image"]))).encode()

POST_CASES = [
    Case("JSON without node", "nonode.json", "malformed JSON", _raw("nonode.json", b'{"instaloader": {}}')),
    Case(
        "likes as a word",
        "word.json.xz",
        "count not a number",
        _post("word", 2, edge_media_preview_like={"count": "lots"}),
    ),
    Case(
        "likes as a numeric string",
        "numeric.json.xz",
        "kept",
        _post("numeric", 3, edge_media_preview_like={"count": "1,234"}),
        _check_string_likes,
    ),
    Case("comments NaN", "nan.json", "count not a number", _raw("nan.json", NAN_COMMENTS)),
    Case(
        "hidden likes -1",
        "hidden.json.xz",
        "likes hidden",
        _post("hidden", 5, edge_media_preview_like={"count": -1}),
    ),
    Case(
        "hidden likes 0 with the flag",
        "hidden0.json.xz",
        "likes hidden",
        _post("hidden0", 6, edge_media_preview_like={"count": 0}, like_and_view_counts_disabled=True),
    ),
    Case(
        "negative comments",
        "negative.json.xz",
        "negative count",
        _post("negative", 7, edge_media_to_comment={"count": -3}),
    ),
    Case("duplicate timestamp", "twin_b.json.xz", "same second as another post", _twins),
    Case(
        "future date",
        "future.json.xz",
        "future date",
        _post("future", 9, taken_at_timestamp=int(NOW) + 30 * DAY),
    ),
    Case("JSON nested 100,000 levels", "deep.json", "malformed JSON", _raw("deep.json", _deep(100_000))),
    Case(
        "non-UTF-8 caption",
        "latin1.json",
        "kept",
        _raw("latin1.json", _post_bytes(11, b"caf\xe9 au lait")),
        _check_replaced_bytes,
    ),
    Case(
        "lone surrogate in a caption",
        "surrogate.json",
        "kept",
        _raw("surrogate.json", _post_bytes(12, b"lone \\ud800 surrogate")),
        _check_surrogate,
    ),
    Case("symlink out of the folder", "escape.jpg", "symlink out of folder", _symlink_out),
    Case("post whose image is that symlink", "escape.json.xz", "media missing", lambda root: None),
    Case("symlink loop", "loop.jpg", "broken symlink", _symlink_loop),
    Case("post whose image is the loop", "loop.json.xz", "media missing", lambda root: None),
    Case("xz bomb", "xzbomb.json.xz", "file too large", _xz_bomb),
    Case("file name not UTF-8", "name?.json.xz", "file name not UTF-8", _undecodable_name),
    Case("truncated .json.xz", "truncxz.json.xz", "malformed JSON", _truncated_xz),
    Case(
        "binary garbage as .json",
        "garbage.json",
        "malformed JSON",
        _raw("garbage.json", bytes(range(256)) * 4),
    ),
    Case("JSON array at the top", "array.json", "malformed JSON", _raw("array.json", b"[1, 2, 3]")),
    Case(
        "unknown post type",
        "mystery.json.xz",
        "unknown post type",
        _post("mystery", 18, __typename="GraphMystery", is_video=None),
    ),
    Case("no timestamp", "notime.json.xz", "timestamp missing", _post("notime", 19, taken_at_timestamp=None)),
    Case(
        "timestamp as text",
        "texttime.json.xz",
        "timestamp unreadable",
        _post("texttime", 20, taken_at_timestamp="yesterday"),
    ),
    Case(
        "timestamp before Instagram",
        "ancient.json.xz",
        "timestamp unreadable",
        _post("ancient", 21, taken_at_timestamp=86_400),
    ),
    Case("neither video nor cover downloaded", "novideo.json.xz", "media missing", _video_not_downloaded),
    Case(
        "video not downloaded, cover kept", "reelcover.json.xz", "kept", _cover_only_video, _check_cover_only
    ),
    Case("zero-byte image", "emptyimage.json.xz", "empty media file", _empty_image),
    Case(
        "count out of range",
        "huge.json.xz",
        "count out of range",
        _post("huge", 24, edge_media_preview_like={"count": 1e300}),
    ),
    Case(
        "a story item, not a post",
        "story.json",
        "not a post",
        _raw("story.json", json.dumps(envelope({"id": 1}, "StoryItem")).encode()),
    ),
    Case(
        "carousel with a child not downloaded", "partial.json.xz", "kept", _partial_carousel, _check_partial
    ),
    Case("4.13 video post: _1.mp4 + _2.jpg cover", "reel.json", "kept", _video_413, _check_video_413),
    Case("Instaloader side files", "talked.json.xz", "kept", _side_files, _check_side_files),
    Case(
        "caption only in <base>.txt, not UTF-8",
        "txtcaption.json.xz",
        "kept",
        _caption_in_txt,
        _check_caption_file,
    ),
    Case("media without metadata", "2019-05-14_09-37-08_UTC_1.jpg", "kept", _orphan, _check_orphan),
    Case(
        "profile JSON dated a year after the newest post",
        "brand_999.json.xz",
        "kept",
        _copied_profile_json,
        _check_stale_follower_date,
    ),
]


def write_post_corpus(root: Path, n_good: int = 6) -> Path:
    """``n_good`` good posts (web-node shape) and every post-level case into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_good):
        write_post(root, f"good{i}", web_node(900 + i, _ts(40 + i), 50 + i, 3, ["image"]), ["image"])
    for case in POST_CASES:
        case.write(root)
    return root


# --------------------------------------------------------------------------- follower files

FOLLOWER_CSV = """date,followers
2020-09-01,2000
2020-10-15,3000
not a date,2500
2020-10-20,many
2020-11-01,0
2020-11-02,-40
2020-09-20,2400
2020-10-15,3200
2020-12-01,4000
"""
# line -> expected reason words (the rows listed in excluded.csv as "follower row unreadable")
FOLLOWER_PROBLEMS = {
    4: "unreadable date or follower count",
    5: "unreadable date or follower count",
    6: "follower count must be positive",
    7: "follower count must be positive",
}


def write_empty_files(root: Path, n: int = 10_000) -> None:
    """``n`` empty files of every name kind: metadata, media, captions and unknown."""
    suffixes = (".json", ".jpg", ".txt", "")
    for i in range(n):
        (root / f"empty{i:05d}{suffixes[i % len(suffixes)]}").touch()
