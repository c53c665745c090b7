"""Writing a planned profile to disk as Instaloader would, and its ground truth beside it."""

from __future__ import annotations

import json
import logging
import lzma
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from instapop.synthetic._draw import render_picture, repost_copy
from instapop.synthetic._names import base_name, iso_time
from instapop.synthetic._nodes import (
    VERSIONS,
    comments_node,
    envelope,
    iterator_node,
    post_node,
    profile_node,
)
from instapop.synthetic._plan import ASPECTS, DAY, MediaPlan, PostPlan, ProfilePlan
from instapop.synthetic._video import (
    ORIGINAL_CRF,
    REPOST_CRF,
    VIDEO_SIZES,
    first_frame,
    thumbnail,
    write_video,
)

logger = logging.getLogger(__name__)

ORIGINAL_QUALITY = 90  # JPEG quality of first uploads
THUMBNAIL_QUALITY = 88
REPOST_QUALITIES = (78, 82, 86)  # a re-upload is re-encoded, at another quality


def write_posts(
    plan: ProfilePlan, profile_dir: Path, video_size: str, progress: bool = True
) -> dict[str, Any]:
    """Write every post's media, metadata and caption; return the ground truth of every media item."""
    truth: dict[str, Any] = {}
    for post in tqdm(plan.posts, desc="synthetic posts", unit="post", disable=None if progress else True):
        written = [
            _write_post_media(post, c, m, profile_dir, video_size, truth) for c, m in enumerate(post.media)
        ]
        written.append(_write_metadata(post, plan, profile_dir))
        if post.shape == "iphone":  # downloaded logged in, with --comments
            written.append(write_structure(profile_dir / f"{post.base}_comments.json", comments_node(post)))
        if post.caption:
            written.append(_write_bytes(profile_dir / f"{post.base}.txt", post.caption.encode()))
        for path in written:
            _set_mtime(path, post.timestamp)
    return truth


def _write_post_media(
    post: PostPlan, c: int, media: MediaPlan, profile_dir: Path, video_size: str, truth: dict[str, Any]
) -> Path:
    """Write one media item (and a video's thumbnail); record it in ``truth``; return the main file.

    A video not downloaded (``media.downloaded`` False) is its thumbnail alone, as ``--no-videos`` leaves it.
    """
    entry: dict[str, Any] = {
        "post": post.base,
        "post_id": str(post.pk),
        "media_type": media.kind,
        "signal": media.label,
        "is_carousel": post.is_carousel,
        "child_index": c + 1 if post.is_carousel else 0,
        "repost_of": media.repost_of,
    }
    jpg = profile_dir / f"{cover_stem(post, media)}.jpg"
    if media.kind == "image":
        picture, entry["box"], quality = _picture(media, profile_dir, truth)
        _save_jpeg(picture, jpg, quality)
        entry |= {"path": jpg.name, "thumbnail": None, "width": picture.width, "height": picture.height}
        main = jpg
    else:
        main = profile_dir / f"{media.media_id}.mp4" if media.downloaded else jpg
        sizes, fps = VIDEO_SIZES[video_size]
        repost = media.repost_of is not None
        size, seeds = sizes[media.aspect], (media.scene_seed, media.object_seed)
        if media.downloaded:
            crf = REPOST_CRF if repost else ORIGINAL_CRF
            first, box = write_video(main, size, fps, media.duration_s, media.label, *seeds, crf=crf)
        else:
            first, box = first_frame(size, media.label, *seeds)
        thumb, entry["box"] = thumbnail(first, box)
        _save_jpeg(thumb, jpg, _repost_quality(media) if repost else THUMBNAIL_QUALITY)
        _set_mtime(jpg, post.timestamp)
        entry |= {
            "path": main.name,
            "thumbnail": jpg.name,
            "cover_only": not media.downloaded,
            "width": thumb.width,
            "height": thumb.height,
            "video_width": sizes[media.aspect][0],
            "video_height": sizes[media.aspect][1],
            "fps": fps,
            "duration_s": int(round(media.duration_s * fps)) / fps,
        }
    truth[media.media_id] = entry
    return main


def cover_stem(post: PostPlan, media: MediaPlan) -> str:
    """The stem of a media item's JPEG: its own, except 4.13's numbered video, whose cover is ``_2``."""
    if media.kind == "video" and not post.is_carousel and media.media_id != post.base:
        return f"{post.base}_2"
    return media.media_id


def _picture(
    media: MediaPlan, profile_dir: Path, truth: dict[str, Any]
) -> tuple[Image.Image, list[int], int]:
    """A fresh picture, or for a repost a re-processed copy of the original's stored JPEG."""
    if media.repost_of is None:
        picture, box = render_picture(
            ASPECTS[media.aspect], media.label, media.scene_seed, media.object_seed, media.framing
        )
        return picture, box, ORIGINAL_QUALITY
    with Image.open(profile_dir / f"{media.repost_of}.jpg") as original:
        picture, box = repost_copy(original.convert("RGB"), truth[media.repost_of]["box"], media.repost_seed)
    return picture, box, _repost_quality(media)


def _repost_quality(media: MediaPlan) -> int:
    return REPOST_QUALITIES[
        int(np.random.default_rng([media.repost_seed, 4]).integers(len(REPOST_QUALITIES)))
    ]


def _save_jpeg(picture: Image.Image, path: Path, quality: int) -> None:
    picture.save(path, format="JPEG", quality=quality)


def _write_metadata(post: PostPlan, plan: ProfilePlan, profile_dir: Path) -> Path:
    suffix = ".json.xz" if post.compressed else ".json"
    return write_structure(
        profile_dir / f"{post.base}{suffix}", envelope(post_node(post, plan), "Post", VERSIONS[post.shape])
    )


def write_structure(path: Path, structure: Any) -> Path:
    """Save a structure as Instaloader does: compact JSON in ``.json.xz``, indented in ``.json``."""
    if path.name.endswith(".xz"):
        data = lzma.compress(json.dumps(structure, separators=(",", ":")).encode())
    else:
        data = json.dumps(structure, indent=4).encode()
    return _write_bytes(path, data)


def write_profile_files(plan: ProfilePlan, profile_dir: Path) -> None:
    """The files Instaloader keeps beside the posts: profile JSON, profile picture, id, resume file."""
    followers = int(round(float(plan.growth.at(np.array([plan.download_time]))[0])))
    structure = envelope(profile_node(plan, followers), "Profile", VERSIONS["web"])
    dated = {
        write_structure(
            profile_dir / f"{plan.username}_{plan.owner_id}.json.xz", structure
        ): plan.download_time,
        write_structure(
            profile_dir / f"iterator_{plan.owner_id:x}.json.xz",
            envelope(iterator_node(plan), "FrozenNodeIterator", VERSIONS["web"]),
        ): plan.download_time,
        _write_bytes(profile_dir / "id", str(plan.owner_id).encode()): plan.download_time,
    }
    orphan_time = plan.posts[0].timestamp - 3 * DAY
    for i, orphan in enumerate(orphan_media(plan), start=1):
        _save_jpeg(Image.new("RGB", (1080, 1080), (40 * i, 120, 160)), profile_dir / orphan, ORIGINAL_QUALITY)
        dated[profile_dir / orphan] = orphan_time
    pic_time = plan.download_time - 200 * DAY
    pic = profile_dir / f"{base_name(pic_time)}_profile_pic.jpg"
    _save_jpeg(Image.new("RGB", (320, 320), (196, 84, 40)), pic, ORIGINAL_QUALITY)
    dated[pic] = pic_time
    for path, timestamp in dated.items():
        _set_mtime(path, timestamp)


def orphan_media(plan: ProfilePlan) -> list[str]:
    """Two carousel files of a post without metadata (as in real downloads), dated before the first post."""
    base = base_name(plan.posts[0].timestamp - 3 * DAY)
    return [f"{base}_1.jpg", f"{base}_2.jpg"]


def write_followers_csv(plan: ProfilePlan, path: Path) -> None:
    """The follower history as a user would export it: sparse ``date,followers`` rows."""
    rows = "".join(f"{date},{count}\n" for date, count in plan.history)
    _set_mtime(_write_bytes(path, ("date,followers\n" + rows).encode()), plan.download_time)


def write_ground_truth(plan: ProfilePlan, media: dict[str, Any], params: dict[str, Any], path: Path) -> None:
    """Everything later stages' tests may check against, as plain JSON."""
    truth = _ground_truth(plan, media, params)
    _set_mtime(_write_bytes(path, json.dumps(truth, indent=2, sort_keys=True).encode()), plan.download_time)


def _ground_truth(plan: ProfilePlan, media: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    wrong = (plan.wrong_start, plan.wrong_end)
    return {
        "seed": plan.seed,
        "params": params,
        "username": plan.username,
        "owner_id": str(plan.owner_id),
        "download_time": iso_time(plan.download_time),
        "media": media,
        "posts": {p.base: _post_truth(p, wrong) for p in plan.posts},
        "duplicate_pairs": [list(pair) for pair in plan.duplicate_pairs],
        "orphan_media": orphan_media(plan),
        "side_files": sorted(f"{p.base}_comments.json" for p in plan.posts if p.shape == "iphone"),
        "same_shoot_pairs": [list(pair) for pair in plan.same_shoot_pairs],
        "wrong_followers": {"start": plan.wrong_start, "end": plan.wrong_end, "factor": plan.wrong_factor},
    }


def _post_truth(post: PostPlan, wrong: tuple[str, str]) -> dict[str, Any]:
    timestamp = iso_time(post.timestamp)
    return {
        "post_id": str(post.pk),
        "shortcode": post.shortcode,
        "timestamp": timestamp,
        "shape": post.shape,
        "json": f"{post.base}{'.json.xz' if post.compressed else '.json'}",
        "media_ids": [m.media_id for m in post.media],
        "is_carousel": post.is_carousel,
        "has_video": post.has_video,
        "signal": post.label,
        "likes": post.likes,
        "comments": post.comments,
        "followers": post.followers,
        "por": (post.likes + post.comments) / post.followers,
        "repost_of": post.repost_of,
        "views": post.views,
        "in_wrong_stretch": wrong[0] <= timestamp[:10] <= wrong[1],
    }


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _set_mtime(path: Path, timestamp: int) -> None:
    """Instaloader dates downloaded files by the post; we do too, so outputs never depend on now()."""
    os.utime(path, (timestamp, timestamp))
