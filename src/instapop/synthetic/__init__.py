"""Synthetic Instaloader profiles with a planted visual signal, for tests, demos and benchmarks.

``generate_profile(out_dir)`` writes three things::

    out_dir/profile/            the Instaloader folder: posts, one Profile JSON, files to skip
    out_dir/followers.csv       a sparse ``date,followers`` history, wrong over one stretch
    out_dir/ground_truth.json   what every later stage may be checked against

The side files live outside ``profile/`` so a reader never sees them.

``generate_profile(out_dir, format="business-suite")`` writes the same brand as its social
team would have it instead of ``profile/``: ``out_dir/export.csv``, a Meta Business Suite
posts export with planted reach, shares and saves, and ``out_dir/media/``, the files named
by shortcode (see :mod:`instapop.synthetic._business_suite`); ground truth media paths are
relative to ``media/``. In this format the middle post goes up 30 s after the one before
it, in the same minute: the export's times are to the minute, so two posts with distinct
Post IDs share one ``Publish time``, as real exports have them.

Reels-first profiles
--------------------
``generate_profile(out_dir, n_posts=150, reels=True)`` writes a brand that posts reels:
exactly 90 % of the posts are single videos (the rest single images), and two thirds of the
videos were not downloaded, as ``instaloader --no-videos`` leaves them: ``<base>.jpg``
(the cover, the video's first frame, showing the planted object) + the JSON + the
caption ``.txt``, no ``.mp4``; a repost is downloaded or not as its original. Views are
planted for every single video (``VIEWS_PER_FOLLOWER`` x followers, growing with
popularity); in a reels-first profile 40 % of them are unknown, half null, half 0.
Without ``reels`` the rest of the plan is drawn as before from the same seed.

Popularity model
----------------
PoR = base(t) x signal x media type x repost x noise, and likes + comments = PoR x true
followers at posting time (comments are 1-5 % of the total). base(t) falls as the
audience grows. The signal: every media item shows one large object, 32-55 % of the
shorter side, at a random place over a varied scene: a daisy-like flower ("popular", PoR x
``synth_signal_factor``; petal colour, count, width and tilt vary) or a warm-coloured ball
with basketball seams ("unpopular", PoR / ``synth_signal_factor``; colour, seams and light
vary). Scenes are as varied as a real feed, so that unrelated posts are not as close as
reposts: one of eight background families (photo-like texture, gradient, stripes, checks,
tabletop, bokeh, bricks, landscape), in 30 % of scenes a collage of two, with neutral props
(bottles, boxes, mugs, books, shoes, text-like strokes) in varied colours, sizes and
places, and grain. All items of a post show the same kind of object. Posts with
any video get PoR x ``synth_video_factor`` (about 45 % lower, paper Fig. 1b); reposts get
PoR x ``synth_repost_factor``; posts on Saturdays and Sundays (UTC) get PoR x
``synth_weekend_factor`` (1 by default: no weekday effect; ``instapop synth
--weekend-factor 1.5`` plants one). ``synth_caption_factor`` (``instapop synth --caption-effect
1.6``; 1 by default) rewrites the captions in English, Russian and Japanese and gives PoR x the
factor to the half of them that carry a planted word, hashtag or emoji
(:func:`instapop.synthetic._captions.plant_captions`). With ``signal=False`` the objects are still
drawn but PoR ignores them. Post mix: 60 % single image, 20 % single video, 20 % carousels of 2-5
items, each a video with probability 0.3.

Files in ``profile/`` (base = ``%Y-%m-%d_%H-%M-%S_UTC`` of the post, unique per post)
------------------------------------------------------------------------------------------
- ``<base>.json.xz`` (about 2/3 of posts, compact JSON in xz) or ``<base>.json``
  (indented), envelope ``{"node": {...}, "instaloader": {"node_type": "Post", "version": V}}``.
- single image: ``<base>.jpg``; single video: ``<base>.mp4`` + thumbnail ``<base>.jpg``,
  or, for posts in the iPhone shape (4.13), ``<base>_1.mp4`` + cover ``<base>_2.jpg``;
  carousel item i (1-based): ``<base>_<i>.jpg``, or ``<base>_<i>.mp4`` + ``<base>_<i>.jpg``.
  Images are 1080x1080, 1080x1350 or 1080x566 JPEG (a carousel's items share one aspect).
  Videos are H.264 ``.mp4``, 3-30 s; ``video_size="small"``: 256 px wide at 10 fps,
  ``"720p"``: 720x720, 720x900 or 1280x720 at 30 fps. The thumbnail is the first frame
  upscaled to 1080 px wide.
- ``<base>.txt``: the caption, only when the post has one (about 90 % do).
- ``<base>_comments.json`` for posts in the iPhone shape (downloaded with ``--comments``):
  a JSON list of comments (``ground_truth.json`` ``side_files``).
- two orphan media, ``<base>_1.jpg`` and ``<base>_2.jpg`` of a post 3 days before the first
  whose metadata is missing, as in real downloads (``ground_truth.json`` ``orphan_media``).
- ``synthetic_brand_<owner id>.json.xz``: node_type ``Profile``, ``edge_followed_by.count``
  = followers at download time; the file's mtime is the download time.
- also written, as Instaloader does, and to be skipped by a reader:
  ``<base>_profile_pic.jpg``, ``iterator_<hex>.json.xz`` (node_type ``FrozenNodeIterator``)
  and ``id`` (the profile id as text).
- Every file's mtime is its post's time (profile files: the download time).
- Posts start on 2019-03-01, about 2.4 days apart; a profile of more than about 1,000 posts
  posts more often, so that none is dated after 2025-12-31 (ingest skips future posts).

Node shapes, about a third of posts each (``ground_truth.json`` names each post's shape)
----------------------------------------------------------------------------------------
``graphql`` (version "4.10.3"): ``__typename`` GraphImage / GraphVideo / GraphSidecar, for a
quarter of these posts XDTGraphImage / XDTGraphVideo / XDTGraphSidecar; ``id`` (str),
``shortcode``, ``taken_at_timestamp``, ``is_video``, ``dimensions {height, width}``,
``display_url``, likes in ``edge_media_preview_like.count`` or ``edge_liked_by.count``,
comments in ``edge_media_to_comment.count`` or ``edge_media_to_parent_comment.count``,
``edge_media_to_caption.edges[0].node.text`` (edges empty without caption),
``comments_disabled``, ``owner {id, username}``; videos also ``video_url``,
``video_duration``, ``video_view_count`` (a single video's planted views; null or 0 where
unknown). A sidecar has
``edge_sidecar_to_children.edges[].node`` with ``__typename``, ``id``, ``shortcode``,
``is_video``, ``dimensions``, ``display_url`` (+ the video fields for a video child).

``iphone`` (version "4.13.2", Instaloader logged in): ``shortcode``, ``id`` (int),
``__typename`` (Graph*), ``is_video``, ``date`` (Unix seconds), ``caption`` (str or null),
``title`` null, ``viewer_has_liked``, ``edge_media_preview_like.count``, ``comments``
(int), ``display_url`` (+ video fields), sidecars ``edge_sidecar_to_children.edges[].node``
``{display_url, is_video}``, and ``iphone_struct`` with ``pk`` (int), ``id``
("<pk>_<owner>"), ``code``, ``taken_at``, ``media_type`` (1 image, 2 video, 8 carousel),
``like_count``, ``comment_count``, ``caption {text}`` or null, ``product_type``,
``original_width``, ``original_height``, ``image_versions2``, ``user {pk, username}``,
videos ``video_duration``, ``video_versions``, ``play_count`` (the views) and ``view_count``
(null), the node's ``video_view_count`` left 0, carousels ``carousel_media[]`` (each with
``pk``, ``id``, ``media_type``, sizes, ``video_duration`` for videos) and
``carousel_media_count``.

``web`` (version "4.16"): the web API item normalised to the GraphQL names: every
``graphql`` field above with ``__typename`` always XDTGraph*, likes in
``edge_media_preview_like.count``, comments in ``edge_media_to_comment.count``, plus the
item's own fields kept beside them: ``code``, ``pk`` (str), ``taken_at``, ``media_type``,
``like_count``, ``comment_count``, ``like_and_view_counts_disabled`` (false),
``product_type``, for a single video ``play_count`` (the views, ``video_view_count`` null)
and for carousels ``carousel_media_count``.

Ground truth (``ground_truth.json``)
------------------------------------
``seed``, ``params``, ``username``, ``owner_id``, ``download_time``;
``media[media_id]``: ``post`` (base), ``post_id``, ``media_type``, ``signal``
("popular"/"unpopular"), ``box [x0, y0, x1, y1]`` in the stored image's pixels (videos:
in the thumbnail's), ``path`` and ``thumbnail`` (relative to ``profile/``), ``width``,
``height``, ``is_carousel``, ``child_index``, ``repost_of``; videos also ``fps``,
``duration_s``, ``video_width``, ``video_height`` and ``cover_only`` (not downloaded: its
``path`` is its ``thumbnail``).
``posts[base]``: ``post_id``, ``shortcode``, ``timestamp``, ``shape``, ``json``,
``media_ids``, ``is_carousel``, ``has_video``, ``signal``, ``likes``, ``comments``,
``followers`` (true), ``por`` (true), ``repost_of``, ``views`` (as written; None or 0:
unknown), ``in_wrong_stretch``.
``duplicate_pairs`` [[original media_id, repost media_id]]: about 5 % of posts are reposts,
21 days or more after the original, as hard as real reposts and no harder (2-6 % of the area
cropped, resized back, brightness, contrast, saturation and white balance shifted by a few
per cent, re-encoded at JPEG quality 78-86 instead of 90; a video repost re-encodes the
same frames, same duration and fps, harder), cycling single -> single, carousel item ->
single, single -> carousel item, video -> video. ``same_shoot_pairs``: consecutive single
images 1-7 days apart with the same background, shot 15-30 % closer, and the same kind of
object, redrawn and moved; not duplicates. ``wrong_followers {start, end, factor}``:
history points dated within [start, end] are ``factor`` (0.5-0.55) times the truth; the
stretch starts 35-50 % into the timeline and lasts 95-125 days (at most 35 % of a short
timeline). Labels are kept balanced over time within each media type.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instapop.config import PAPER, Config
from instapop.errors import BadInputError, InstapopError
from instapop.synthetic._business_suite import EXPORT_NAME, media_by_shortcode, write_export
from instapop.synthetic._dedup_cases import DedupCases, generate_dedup_cases
from instapop.synthetic._plan import ProfilePlan, plan_profile
from instapop.synthetic._video import VIDEO_SIZES
from instapop.synthetic._write import (
    write_followers_csv,
    write_ground_truth,
    write_posts,
    write_profile_files,
)

__all__ = [
    "DedupCases",
    "ProfilePlan",
    "SyntheticProfile",
    "generate_dedup_cases",
    "generate_profile",
    "load_ground_truth",
    "plan_profile",
]

logger = logging.getLogger(__name__)

GROUND_TRUTH_KEYS = ("media", "posts", "duplicate_pairs", "same_shoot_pairs", "wrong_followers")
FORMATS = ("instaloader", "business-suite")


@dataclass(frozen=True)
class SyntheticProfile:
    """Where a generated profile's three parts are."""

    profile_dir: Path  # out_dir/"profile": the Instaloader folder (posts + one Profile json); or export.csv
    followers_csv: Path  # out_dir/"followers.csv": sparse `date,followers` history (with a wrong stretch)
    ground_truth: Path  # out_dir/"ground_truth.json"


def generate_profile(
    out_dir: Path,
    n_posts: int = 300,
    seed: int = 0,
    signal: bool = True,
    video_size: str = "small",
    config: Config = PAPER,
    progress: bool = True,
    format: str = "instaloader",
    reels: bool = False,
) -> SyntheticProfile:
    """Write a synthetic Instaloader profile, its follower history and its ground truth.

    Parameters
    ----------
    out_dir : Path
        Folder to write into; created if missing. A ``profile/`` left there by an earlier
        run (next to its ``ground_truth.json``) is replaced; any other non-empty
        ``profile/`` is refused.
    n_posts : int
        Number of posts (at least 2).
    seed : int
        Random seed: the same arguments give byte-identical files.
    signal : bool
        If False, popularity ignores the drawn objects (for leak tests).
    video_size : str
        ``"small"`` (256 px wide, 10 fps: fast) or ``"720p"`` (realistic, for benchmarks).
    config : Config
        Supplies the ``synth_*`` constants of the popularity model.
    progress : bool
        Show a progress bar over posts (only on a terminal).
    format : str
        ``"instaloader"`` (a profile folder) or ``"business-suite"`` (``export.csv`` + ``media/``;
        two of its posts go up in one minute, see "Formats" above).
    reels : bool
        A reels-first profile (see "Reels-first profiles" above).

    Returns
    -------
    SyntheticProfile

    Raises
    ------
    InstapopError
        On a bad argument or an ``out_dir`` holding someone else's files.

    Examples
    --------
    >>> profile = generate_profile(Path("demo"), n_posts=40, seed=1)  # doctest: +SKIP
    >>> load_ground_truth(profile.ground_truth)["wrong_followers"]  # doctest: +SKIP
    {'start': '2019-09-10', 'end': '2019-12-24', 'factor': 0.57}
    """
    if n_posts < 2:
        raise InstapopError(f"n_posts must be at least 2; got {n_posts}")
    if video_size not in VIDEO_SIZES:
        raise InstapopError(f"video_size must be one of {sorted(VIDEO_SIZES)}; got {video_size!r}")
    if format not in FORMATS:
        raise InstapopError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if config.synth_weekend_factor <= 0:
        raise InstapopError(f"the weekend factor must be positive; got {config.synth_weekend_factor}")
    if config.synth_caption_factor <= 0:
        raise InstapopError(f"the caption effect must be positive; got {config.synth_caption_factor}")
    out_dir = Path(out_dir)
    export = format == "business-suite"
    profile_dir = _fresh_profile_dir(out_dir, "media" if export else "profile")
    plan = plan_profile(n_posts, seed, signal, config, reels=reels, same_minute=export)
    media = write_posts(plan, profile_dir, video_size, progress)
    if export:
        media_by_shortcode(plan, profile_dir, media)
        write_export(plan, out_dir / EXPORT_NAME)
    else:
        write_profile_files(plan, profile_dir)
    source = out_dir / EXPORT_NAME if export else profile_dir
    result = SyntheticProfile(source, out_dir / "followers.csv", out_dir / "ground_truth.json")
    write_followers_csv(plan, result.followers_csv)
    params = {"n_posts": n_posts, "signal": signal, "video_size": video_size, **_synth_constants(config)}
    params |= {"format": format, "reels": reels}
    write_ground_truth(plan, media, params, result.ground_truth)
    logger.info("wrote a %d-post synthetic profile (%d media) to %s", n_posts, len(media), profile_dir)
    return result


def _fresh_profile_dir(out_dir: Path, name: str = "profile") -> Path:
    profile_dir = out_dir / name
    if profile_dir.exists() and any(profile_dir.iterdir()):
        if not (out_dir / "ground_truth.json").is_file():
            raise InstapopError(
                f"{profile_dir} is not empty and was not made by instapop synth; choose another folder"
            )
        shutil.rmtree(profile_dir)
    profile_dir.mkdir(parents=True, exist_ok=True)
    return profile_dir


def _synth_constants(config: Config) -> dict[str, Any]:
    return {name: value for name, value in config.to_dict().items() if name.startswith("synth_")}


def load_ground_truth(path: Path) -> dict:
    """Read a ``ground_truth.json`` written by :func:`generate_profile`.

    Raises
    ------
    BadInputError
        If the file is not valid JSON or lacks one of the ground-truth sections.
    """
    path = Path(path)
    try:
        truth = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BadInputError(f"{path}: cannot read ground truth ({err})") from err
    missing = [key for key in GROUND_TRUTH_KEYS if key not in truth]
    if missing:
        raise BadInputError(f"{path}: not a synthetic ground truth, missing {missing}")
    return truth
