"""Writing a planned profile as a brand team has it: a Business Suite posts export and a media folder.

The export is the English one (UTF-8 with BOM, counts with thousands separators,
``MM/DD/YYYY HH:MM`` times in UTC, ``Date`` = ``Lifetime``). Reach is planted
consistently with the planted popularity: a post reaches ``REACH_SHARE`` of the
followers, more for a more popular post (PoR relative to the median, to the power
``REACH_POPULARITY``), with log-normal noise; shares and saves are small fractions of
the likes. So both reach-rate and PoR carry the planted signal. Media files are named
by shortcode: ``<code>.jpg``, ``<code>.mp4`` (+ ``<code>.jpg`` thumbnail; the thumbnail
alone for a video not downloaded), carousel items ``<code>_<i>.<ext>``. ``Views`` is a
reel's planted view count (empty where the plan has none), else 1.4 x reach. Times are to
the minute, so the two posts the plan puts in one minute share a ``Publish time``.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from instapop.synthetic._plan import PostPlan, ProfilePlan

EXPORT_NAME = "export.csv"
HEADER = [
    "Post ID", "Account ID", "Account username", "Account name", "Description", "Duration (sec)",
    "Publish time", "Permalink", "Post type", "Data comment", "Date", "Views", "Reach", "Likes",
    "Shares", "Follows", "Comments", "Saves",
]  # fmt: skip
REACH_SHARE = 0.3  # accounts reached per follower, for a post of median popularity
REACH_POPULARITY = 0.2  # reach grows with popularity, much less than engagement does
REACH_NOISE = 0.1  # sigma of the log-normal noise on reach
SHARE_RATE, SAVE_RATE = 0.02, 0.04  # shares and saves per like


def media_by_shortcode(plan: ProfilePlan, media_dir: Path, truth: dict[str, Any]) -> None:
    """Rename the media written under their Instaloader names to shortcode names; drop everything else.

    ``truth`` (the ground truth of every media item, as ``write_posts`` returns it) gets the new names.
    """
    for post in plan.posts:
        for i, media in enumerate(post.media, start=1):
            stem = f"{post.shortcode}_{i}" if post.is_carousel else post.shortcode
            entry = truth[media.media_id]
            # A cover-only video's path is its thumbnail: one file, renamed once.
            keys = [key for key in ("path", "thumbnail") if entry.get(key)]
            renamed = {entry[key]: f"{stem}{Path(entry[key]).suffix}" for key in keys}
            for old, new in renamed.items():
                (media_dir / old).rename(media_dir / new)
            entry.update((key, renamed[entry[key]]) for key in keys)
    named = {entry[key] for entry in truth.values() for key in ("path", "thumbnail") if entry.get(key)}
    for path in media_dir.iterdir():
        if path.name not in named:  # metadata, captions, comments: an export has none of them
            path.unlink()


def write_export(plan: ProfilePlan, path: Path) -> dict[str, dict[str, int]]:
    """Write the posts export CSV; return each post's planted {reach, shares, saves} by shortcode."""
    rng = np.random.default_rng([plan.seed, 13])
    median_por = float(np.median([p.por for p in plan.posts]))
    planted = {}
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for post in plan.posts:
            noise = float(np.exp(rng.normal(0.0, REACH_NOISE)))
            popularity = (post.por / median_por) ** REACH_POPULARITY
            reach = int(round(post.followers * REACH_SHARE * popularity * noise))
            shares, saves = (int(rng.poisson(post.likes * rate)) for rate in (SHARE_RATE, SAVE_RATE))
            planted[post.shortcode] = {"reach": reach, "shares": shares, "saves": saves}
            writer.writerow(_row(plan, post, reach, shares, saves, int(rng.integers(0, 4))))
    return planted


def _row(plan: ProfilePlan, post: PostPlan, reach: int, shares: int, saves: int, follows: int) -> list[str]:
    reel = not post.is_carousel and post.has_video
    kind = "IG carousel" if post.is_carousel else "IG reel" if reel else "IG image"
    duration = sum(m.duration_s or 0 for m in post.media) if reel else 0
    when = datetime.fromtimestamp(post.timestamp, UTC).strftime("%m/%d/%Y %H:%M")
    link = f"https://www.instagram.com/{'reel' if reel else 'p'}/{post.shortcode}/"
    # A reel's planted views ("" where Instagram gave none); other posts' views follow their reach.
    views = ("" if post.views is None else f"{post.views:,}") if reel else f"{int(reach * 1.4):,}"
    return [
        str(post.pk), str(plan.owner_id), plan.username, "Synthetic Brand", post.caption, f"{duration:g}",
        when, link, kind, "", "Lifetime", views, f"{reach:,}", f"{post.likes:,}", f"{shares:,}",
        str(follows), f"{post.comments:,}", f"{saves:,}",
    ]  # fmt: skip
