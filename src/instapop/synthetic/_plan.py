"""The popularity model of a synthetic profile, decided before any pixel is drawn.

Everything random about a profile except the pixels is drawn here from one seed:
posting times, post structure (single image, single video, carousel), which object
each post shows, reposts and same-shoot variants, the true follower curve, the
follower history a user would have (wrong over one stretch), and the likes and
comments that follow from the popularity model

    PoR = base(t) x signal x media type x repost x weekday x noise,   likes + comments = PoR x followers(t)

and, with a caption effect (``synth_caption_factor`` other than 1), x caption for the posts whose
caption carries a planted word (:func:`~instapop.synthetic._captions.plant_captions`).

Keeping this apart from rendering lets tests check the statistics of thousands of
posts in milliseconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from instapop.config import Config
from instapop.synthetic._captions import caption, plant_captions
from instapop.synthetic._names import base_name, iso_date, media_pk, shortcode_of

DAY = 86_400
START = int(datetime(2019, 3, 1, tzinfo=UTC).timestamp())  # fixed, so every seed covers the same era
# The last day a post may fall on: a fixed day in the past, so that ingest never skips a large
# generated profile's newest posts as "dated after this ingest", whatever the machine's clock.
LATEST = int(datetime(2025, 12, 31, tzinfo=UTC).timestamp())
ASPECTS = {"square": (1080, 1080), "portrait": (1080, 1350), "landscape": (1080, 566)}
ASPECT_WEIGHTS = (0.45, 0.35, 0.20)
SHAPES = ("graphql", "iphone", "web")
LABELS = ("popular", "unpopular")
# Views of a single video: VIEWS_PER_FOLLOWER x followers for a post of median popularity, more for a
# more popular one (PoR relative to the median, to this power), with log-normal noise; so both views
# and (likes + comments) / views carry the planted signal.
VIEWS_PER_FOLLOWER, VIEWS_POPULARITY, VIEWS_NOISE = 1.5, 0.5, 0.15
# A reels-first profile (``reels=True``): most posts are single videos, most of whose files were not
# downloaded (``instaloader --no-videos`` keeps the cover), and Instagram left some views null or 0.
REELS_VIDEO_SHARE = 0.9
REELS_COVER_ONLY_SHARE = 2 / 3
REELS_UNKNOWN_VIEWS_SHARE = 0.4  # half null, half 0

@dataclass(frozen=True)
class MediaPlan:
    """One media file of a post: what it shows and how to draw it."""

    media_id: str  # the media file's stem: "<base>" or "<base>_<i>"
    kind: str  # "image" or "video"
    label: str  # object drawn: "popular" or "unpopular"
    aspect: str  # key of ASPECTS; carousel children share their post's aspect, as on Instagram
    pk: int  # Instagram media id
    scene_seed: int  # background; same-shoot variants share it
    object_seed: int  # object kind variant, position and scale
    duration_s: float | None  # videos: a multiple of 0.1 s in [3, 30]
    repost_of: str | None = None  # media_id of the earlier item this one re-posts
    repost_seed: int | None = None  # crop, colour jitter and re-encoding of a repost
    framing: float = 1.0  # > 1: the scene shot from closer (the later photo of a same-shoot pair)
    downloaded: bool = True  # False: a video whose file is left out, its cover only (--no-videos)


@dataclass(frozen=True)
class PostPlan:
    """One post: its metadata, its media and its true popularity."""

    base: str  # Instaloader's default file stem, "2021-03-04_17-05-09_UTC"
    timestamp: int  # posting time, Unix seconds UTC
    pk: int
    shortcode: str
    shape: str  # JSON node shape: "graphql", "iphone" or "web"
    compressed: bool  # .json.xz (Instaloader's default) or .json
    variant: int  # picks XDT typenames and alternative count keys inside a shape
    media: tuple[MediaPlan, ...]
    caption: str
    label: str  # object kind shown by every media item of the post
    followers: float  # true followers at posting time
    por: float  # true popularity rate (before rounding counts)
    likes: int
    comments: int
    repost_of: str | None = None  # base of the post this one re-posts
    views: int | None = None  # a single video's views as its JSON gives them; None or 0: unknown

    @property
    def is_carousel(self) -> bool:
        return len(self.media) > 1

    @property
    def has_video(self) -> bool:
        return any(m.kind == "video" for m in self.media)


@dataclass(frozen=True)
class FollowerGrowth:
    """True follower count: exponential growth with a slow seasonal wiggle."""

    start_count: float
    rate_per_year: float
    wiggle: float
    phase: float

    def at(self, timestamps: np.ndarray) -> np.ndarray:
        years = (np.asarray(timestamps, dtype=float) - START) / (365.25 * DAY)
        seasonal = 1.0 + self.wiggle * np.sin(2 * np.pi * 1.7 * years + self.phase)
        return self.start_count * np.exp(self.rate_per_year * years) * seasonal


@dataclass(frozen=True)
class ProfilePlan:
    """Everything about a synthetic profile except its pixels."""

    seed: int
    signal: bool
    username: str
    owner_id: int
    posts: tuple[PostPlan, ...]
    growth: FollowerGrowth
    history: tuple[tuple[str, int], ...]  # (ISO date, reported followers), what followers.csv holds
    wrong_start: str  # ISO date of the first wrong history point
    wrong_end: str  # ISO date of the last wrong history point
    wrong_factor: float  # reported / true followers inside the wrong stretch
    duplicate_pairs: tuple[tuple[str, str], ...]  # (original media_id, repost media_id)
    same_shoot_pairs: tuple[tuple[str, str], ...]  # (earlier media_id, later media_id)
    download_time: int  # when the "download" happened: the profile JSON's date


@dataclass
class _Item:
    """A media item while the plan is still being edited."""

    kind: str
    scene_seed: int
    object_seed: int
    duration_s: float | None
    repost_of: tuple[int, int] | None = None  # (post index, child index) of the original
    repost_seed: int | None = None
    framing: float = 1.0
    downloaded: bool = True


@dataclass
class _Draft:
    """A post while the plan is still being edited."""

    timestamp: int
    aspect: str
    items: list[_Item]
    label: str = ""  # set by _assign_labels once reposts and same-shoot variants are known
    repost_of: int | None = None  # post index
    taken: bool = False  # already part of a repost or same-shoot pair
    extras: dict = field(default_factory=dict)


def plan_profile(
    n_posts: int, seed: int, signal: bool, config: Config, reels: bool = False, same_minute: bool = False
) -> ProfilePlan:
    """Draw the whole profile (no pixels) from one seed.

    Parameters
    ----------
    n_posts : int
        Number of posts.
    seed : int
        Random seed; the same seed gives the same plan.
    signal : bool
        If False, the object an item shows has no effect on its post's popularity.
    config : Config
        Supplies the ``synth_*`` constants of the popularity model.
    reels : bool
        A reels-first profile: exactly ``REELS_VIDEO_SHARE`` of the posts single videos (rounded),
        of which ``REELS_COVER_ONLY_SHARE`` not downloaded (cover only) and ``REELS_UNKNOWN_VIEWS_SHARE``
        with views null or 0 (these two drawn from seeds of their own).
    same_minute : bool
        Two consecutive posts go up in one minute, 30 s apart (an export, whose times are to the
        minute, then shows two posts at one time).

    Returns
    -------
    ProfilePlan
    """
    rng = np.random.default_rng(seed)
    times = _post_times(rng, n_posts)
    if same_minute:
        _two_in_one_minute(times)
    kinds = _reels_kinds(rng, n_posts) if reels else [None] * n_posts
    drafts = [_draft_post(rng, t, kind) for t, kind in zip(times, kinds, strict=True)]
    _plant_reposts(rng, drafts, config, reels)
    _plant_same_shoots(rng, drafts, config)
    _assign_labels(rng, drafts)
    if reels:
        _leave_videos_out(np.random.default_rng([seed, 23]), drafts)
    growth = FollowerGrowth(
        start_count=float(rng.uniform(8_000, 30_000)),
        rate_per_year=float(rng.uniform(0.35, 0.7)),
        wiggle=float(rng.uniform(0.0, 0.04)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )
    wrong_start, wrong_end = _wrong_stretch(rng, times)
    wrong_factor = float(rng.uniform(*config.synth_wrong_followers_factor))
    history = _follower_history(rng, growth, times, wrong_start, wrong_end, wrong_factor)
    owner_id = int(rng.integers(10**9, 10**10))
    posts = _finalise_posts(rng, drafts, growth, signal, config)
    if config.synth_caption_factor != 1:
        posts = plant_captions(seed, posts, config.synth_caption_factor)
    posts = _plant_views(np.random.default_rng([seed, 19]), posts, reels)
    return ProfilePlan(
        seed=seed,
        signal=signal,
        username="synthetic_brand",
        owner_id=owner_id,
        posts=posts,
        growth=growth,
        history=history,
        wrong_start=iso_date(wrong_start),
        wrong_end=iso_date(wrong_end),
        wrong_factor=wrong_factor,
        duplicate_pairs=_duplicate_pairs(posts),
        same_shoot_pairs=_same_shoot_pairs(drafts, posts),
        download_time=int(times[-1] + 2 * DAY + 3_600),
    )


def _post_times(rng: np.random.Generator, n_posts: int) -> np.ndarray:
    """Posting times: irregular days (about 2.4 days apart), daytime hours, unique seconds.

    A profile too long to end by ``LATEST`` (over about 1,000 posts) posts more often instead:
    its days are squeezed into [START, LATEST], keeping their order.
    """
    day_gaps = np.maximum(1, np.round(rng.gamma(2.0, 1.2, n_posts))).astype(int)
    days = np.cumsum(day_gaps) - day_gaps[0]
    last_day = (LATEST - START) // DAY - 1
    if days[-1] > last_day:
        days = days * last_day // days[-1]
    seconds_in_day = rng.integers(7 * 3600, 22 * 3600, n_posts)
    times = START + days * DAY + seconds_in_day
    # two posts on the same day: keep them in order and at least an hour apart
    for i in range(1, n_posts):
        times[i] = max(times[i], times[i - 1] + 3600)
    return times.astype(np.int64)


def _two_in_one_minute(times: np.ndarray) -> None:
    """Move the middle post to 30 s after the one before it, both in that post's minute."""
    k = len(times) // 2
    times[k - 1] -= times[k - 1] % 60
    times[k] = times[k - 1] + 30


def _reels_kinds(rng: np.random.Generator, n_posts: int) -> list[str]:
    """The single item of each post of a reels-first profile: exactly ``REELS_VIDEO_SHARE`` of
    them videos (rounded), so that 150 posts are 135 reels and 15 pictures whatever the seed."""
    videos = set(rng.permutation(n_posts)[: round(REELS_VIDEO_SHARE * n_posts)].tolist())
    return ["video" if i in videos else "image" for i in range(n_posts)]


def _draft_post(rng: np.random.Generator, timestamp: int, single: str | None = None) -> _Draft:
    """A fresh post: 60 % single image, 20 % single video, 20 % carousel of 2-5 mixed items;
    ``single`` ("image" or "video", a reels-first profile's) gives the kind of a one-item post."""
    u = rng.random()
    if single is not None:
        kinds = [single]
    elif u < 0.6:
        kinds = ["image"]
    elif u < 0.8:
        kinds = ["video"]
    else:
        kinds = ["video" if rng.random() < 0.3 else "image" for _ in range(int(rng.integers(2, 6)))]
    aspect = str(rng.choice(list(ASPECTS), p=ASPECT_WEIGHTS))
    return _Draft(int(timestamp), aspect, [_new_item(rng, k) for k in kinds])


def _new_item(rng: np.random.Generator, kind: str) -> _Item:
    """A media item; a video lasts 3-30 s, log-uniformly (short clips are the most common), to 0.1 s."""
    duration = round(float(np.exp(rng.uniform(np.log(3), np.log(30)))), 1) if kind == "video" else None
    return _Item(kind, int(rng.integers(2**31)), int(rng.integers(2**31)), duration)


def _plant_reposts(rng: np.random.Generator, drafts: list[_Draft], config: Config, reels: bool) -> None:
    """Turn a few later posts into reposts of earlier media (weeks to months later).

    Kinds cycle through single -> single, carousel child -> single, single -> carousel
    child and single video -> single video, so dedup's conflict rules meet every case; a
    reels-first profile, which has no carousels, cycles through the singles only.
    """
    wanted = round(config.synth_repost_fraction * len(drafts))
    kinds = ("single", "video") if reels else ("single", "from_carousel", "into_carousel", "video")
    made = 0
    for j in rng.permutation(len(drafts)):
        if made == wanted:
            break
        kind = kinds[made % len(kinds)]
        if reels and (drafts[j].items[0].kind == "video") != (kind == "video"):
            continue  # a reel reposts a reel, a picture a picture: the share of reels stays exact
        original = _find_original(rng, drafts, int(j), kind)
        if original is None:
            continue
        _make_repost(rng, drafts, original, int(j), kind)
        made += 1


def _find_original(
    rng: np.random.Generator, drafts: list[_Draft], j: int, kind: str
) -> tuple[int, int] | None:
    """An untaken earlier post, 3 weeks or more before post j, with a media item fitting the repost kind."""
    if drafts[j].taken:
        return None
    latest = drafts[j].timestamp - 21 * DAY
    candidates = []
    for i, d in enumerate(drafts):
        if d.taken or d.timestamp > latest:
            continue
        kinds = [it.kind for it in d.items]
        single_image = kind in ("single", "into_carousel") and kinds == ["image"]
        if single_image or (kind == "video" and kinds == ["video"]):
            candidates.append((i, 0))
        elif kind == "from_carousel" and len(kinds) > 1 and "image" in kinds:
            candidates.append((i, kinds.index("image")))
    if not candidates:
        return None
    return candidates[int(rng.integers(len(candidates)))]


def _make_repost(
    rng: np.random.Generator, drafts: list[_Draft], original: tuple[int, int], j: int, kind: str
) -> None:
    i, child = original
    source, post = drafts[i], drafts[j]
    copy = _Item(
        source.items[child].kind,
        source.items[child].scene_seed,
        source.items[child].object_seed,
        source.items[child].duration_s,
        repost_of=original,
        repost_seed=int(rng.integers(2**31)),
    )
    if kind == "into_carousel":
        others = [
            _new_item(rng, "video" if rng.random() < 0.3 else "image") for _ in range(int(rng.integers(1, 4)))
        ]
        others.insert(int(rng.integers(len(others) + 1)), copy)
        post.items = others
    else:
        post.items = [copy]
    post.aspect = source.aspect
    post.repost_of = i
    source.taken = post.taken = True


def _plant_same_shoots(rng: np.random.Generator, drafts: list[_Draft], config: Config) -> None:
    """Consecutive single-image posts 1-7 days apart become variants of one photo shoot.

    Same background and same kind of object, but the object is redrawn and moved: these
    are different photos and must not be taken for duplicates.
    """
    wanted = round(config.synth_same_shoot_fraction * len(drafts))
    made = 0
    for i in rng.permutation(len(drafts) - 1):
        if made == wanted:
            break
        first, second = drafts[i], drafts[i + 1]
        gap = second.timestamp - first.timestamp
        singles = [it.kind for it in first.items] == ["image"] == [it.kind for it in second.items]
        if first.taken or second.taken or not singles or not DAY <= gap <= 7 * DAY:
            continue
        second.items[0].scene_seed = first.items[0].scene_seed
        second.items[0].framing = float(rng.uniform(1.15, 1.3))
        second.aspect = first.aspect
        second.extras["same_shoot_of"] = int(i)
        first.taken = second.taken = True
        made += 1


def _assign_labels(rng: np.random.Generator, drafts: list[_Draft]) -> None:
    """Choose each post's object, keeping the two kinds balanced over time within each media type.

    The labelling stage splits at a rolling median per media type, so a local surplus of
    one kind would put some of its posts on the wrong side of the median whatever their
    popularity. A repost or same-shoot variant shows what its source showed.
    """
    surplus = {False: 0, True: 0}  # popular minus unpopular so far, by "has a video"
    for draft in drafts:
        source = draft.repost_of if draft.repost_of is not None else draft.extras.get("same_shoot_of")
        group = any(it.kind == "video" for it in draft.items)
        if source is not None:
            draft.label = drafts[source].label
        elif surplus[group] == 0:
            draft.label = LABELS[int(rng.integers(2))]
        else:
            draft.label = LABELS[int(surplus[group] > 0)]
        surplus[group] += 1 if draft.label == "popular" else -1


def _leave_videos_out(rng: np.random.Generator, drafts: list[_Draft]) -> None:
    """Mark ``REELS_COVER_ONLY_SHARE`` of the videos as not downloaded (90 of 135); a repost as its original.

    A repost follows its original so that a duplicate pair is two videos or two covers, as when one
    profile is downloaded with one set of options: originals are taken in a random order, each
    with its reposts, while they fit the share.
    """
    videos = [(p, c) for p, d in enumerate(drafts) for c, item in enumerate(d.items) if item.kind == "video"]
    copies = Counter(drafts[p].items[c].repost_of for p, c in videos)
    originals = [(p, c) for p, c in videos if drafts[p].items[c].repost_of is None]
    room = round(REELS_COVER_ONLY_SHARE * len(videos))
    for i in rng.permutation(len(originals)):
        post, child = originals[i]
        if 1 + copies[post, child] <= room:
            drafts[post].items[child].downloaded = False
            room -= 1 + copies[post, child]
    for draft in drafts:
        for item in draft.items:
            if item.repost_of is not None:
                post, child = item.repost_of
                item.downloaded = drafts[post].items[child].downloaded


def _wrong_stretch(rng: np.random.Generator, times: np.ndarray) -> tuple[int, int]:
    """A stretch starting 35-50 % into the timeline (paper Fig. 2, t0-t1).

    It lasts 95-125 days, or 35 % of a shorter timeline, so that correct history
    points follow it.
    """
    span = int(times[-1] - times[0])
    start = int(times[0] + rng.uniform(0.35, 0.5) * span)
    start -= start % DAY
    days = min(int(rng.integers(95, 126)), max(1, int(0.35 * span / DAY)))
    return start, start + days * DAY


def _follower_history(
    rng: np.random.Generator,
    growth: FollowerGrowth,
    times: np.ndarray,
    wrong_start: int,
    wrong_end: int,
    wrong_factor: float,
) -> tuple[tuple[str, int], ...]:
    """Sparse, irregular (20-40 days apart) follower points from before the first post to after the last.

    Points inside [wrong_start, wrong_end] are reported ``wrong_factor`` times too low;
    both ends of the stretch are points themselves so the stretch is sharp.
    """
    day = int(times[0]) - int(times[0]) % DAY - int(rng.integers(5, 16)) * DAY
    dates = []
    while day <= times[-1] + 5 * DAY:
        if abs(day - wrong_start) > 5 * DAY and abs(day - wrong_end) > 5 * DAY:
            dates.append(day)
        day += int(rng.integers(20, 41)) * DAY
    dates.append(day)
    dates = np.array(sorted({*dates, wrong_start, wrong_end}))
    counts = growth.at(dates)
    wrong = (dates >= wrong_start) & (dates <= wrong_end)
    counts = np.where(wrong, counts * wrong_factor, counts)
    return tuple((iso_date(int(d)), int(round(c))) for d, c in zip(dates, counts, strict=True))


def _finalise_posts(
    rng: np.random.Generator, drafts: list[_Draft], growth: FollowerGrowth, signal: bool, config: Config
) -> tuple[PostPlan, ...]:
    """Fix ids, JSON shapes, captions and the popularity of every post."""
    n = len(drafts)
    shapes = rng.permutation(np.resize(np.array(SHAPES), n))
    compressed = rng.permutation(np.resize(np.array([True, True, False]), n))
    followers = growth.at(np.array([d.timestamp for d in drafts]))
    por = _popularity(rng, drafts, followers, signal, config)
    bases = [base_name(d.timestamp) for d in drafts]
    ids = [
        media_ids(b, len(d.items), numbered_video=_numbered_video(str(shape), d))
        for b, d, shape in zip(bases, drafts, shapes, strict=True)
    ]
    posts = []
    for k, draft in enumerate(drafts):
        total = int(round(por[k] * followers[k]))
        comments = int(round(total * rng.uniform(0.01, 0.05)))
        pk = media_pk(draft.timestamp, int(rng.integers(2**13)))
        posts.append(
            PostPlan(
                base=bases[k],
                timestamp=draft.timestamp,
                pk=pk,
                shortcode=shortcode_of(pk),
                shape=str(shapes[k]),
                compressed=bool(compressed[k]),
                variant=int(rng.integers(4)),
                media=_media_plans(draft, ids[k], ids, pk),
                caption=caption(rng),
                label=draft.label,
                followers=float(followers[k]),
                por=float(por[k]),
                likes=total - comments,
                comments=comments,
                repost_of=None if draft.repost_of is None else bases[draft.repost_of],
            )
        )
    return tuple(posts)


def _popularity(
    rng: np.random.Generator, drafts: list[_Draft], followers: np.ndarray, signal: bool, config: Config
) -> np.ndarray:
    """PoR = base(t) x signal x media type x repost x weekday x log-normal noise.

    base(t) falls as the audience grows (a bigger audience engages less per head),
    which is why the paper compares posts only with their neighbours in time. The
    weekday factor (``synth_weekend_factor`` on Saturdays and Sundays, UTC) is 1 by
    default; it draws nothing from ``rng``, so turning it on changes only the counts.
    """
    base = config.synth_base_por * (followers / followers[0]) ** -config.synth_base_elasticity
    popular = np.array([d.label == "popular" for d in drafts])
    strength = config.synth_signal_factor if signal else 1.0
    signal_factor = np.where(popular, strength, 1.0 / strength)
    has_video = np.array([any(it.kind == "video" for it in d.items) for d in drafts])
    video_factor = np.where(has_video, config.synth_video_factor, 1.0)
    repost = np.array([d.repost_of is not None for d in drafts])
    repost_factor = np.where(repost, config.synth_repost_factor, 1.0)
    weekday_factor = np.where(is_weekend([d.timestamp for d in drafts]), config.synth_weekend_factor, 1.0)
    noise = rng.lognormal(0.0, config.synth_por_noise, len(drafts))
    return base * signal_factor * video_factor * repost_factor * weekday_factor * noise


def _plant_views(rng: np.random.Generator, posts: tuple[PostPlan, ...], reels: bool) -> tuple[PostPlan, ...]:
    """Views of every single video (see ``VIEWS_PER_FOLLOWER``); in a reels-first profile some unknown.

    Only single videos: Instaloader gives a carousel no view count of its own.
    """
    median_por = float(np.median([p.por for p in posts]))
    planted = []
    for post in posts:
        if post.is_carousel or not post.has_video:
            planted.append(post)
            continue
        popularity = (post.por / median_por) ** VIEWS_POPULARITY
        noise = float(np.exp(rng.normal(0.0, VIEWS_NOISE)))
        views: int | None = int(round(post.followers * VIEWS_PER_FOLLOWER * popularity * noise))
        u = rng.random()
        if reels and u < REELS_UNKNOWN_VIEWS_SHARE:
            views = None if u < REELS_UNKNOWN_VIEWS_SHARE / 2 else 0
        planted.append(replace(post, views=views))
    return tuple(planted)


def is_weekend(timestamps) -> np.ndarray:
    """Whether each posting time (Unix seconds) falls on a Saturday or Sunday, UTC."""
    days = np.asarray(timestamps, dtype=np.int64) // DAY
    return (days + 3) % 7 >= 5  # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays


def _media_plans(
    draft: _Draft, ids: list[str], original_ids: list[list[str]], post_pk: int
) -> tuple[MediaPlan, ...]:
    """The post's media items with their final ids; a repost points at its original's media id."""
    return tuple(
        MediaPlan(
            media_id=ids[c],
            kind=item.kind,
            label=draft.label,
            aspect=draft.aspect,
            pk=post_pk if len(ids) == 1 else post_pk + c + 1,
            scene_seed=item.scene_seed,
            object_seed=item.object_seed,
            duration_s=item.duration_s,
            repost_of=None if item.repost_of is None else original_ids[item.repost_of[0]][item.repost_of[1]],
            repost_seed=item.repost_seed,
            framing=item.framing,
            downloaded=item.downloaded,
        )
        for c, item in enumerate(draft.items)
    )


def _duplicate_pairs(posts: tuple[PostPlan, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((m.repost_of, m.media_id) for p in posts for m in p.media if m.repost_of is not None)


def _same_shoot_pairs(drafts: list[_Draft], posts: tuple[PostPlan, ...]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (posts[d.extras["same_shoot_of"]].media[0].media_id, posts[k].media[0].media_id)
        for k, d in enumerate(drafts)
        if "same_shoot_of" in d.extras
    )


def media_ids(base: str, n_items: int, numbered_video: bool = False) -> list[str]:
    """Instaloader's file stems: ``<base>`` for a single post, ``<base>_1 ... _N`` for a carousel.

    ``numbered_video``: a single video saved as 4.13 does, ``<base>_1.mp4`` (its cover ``<base>_2.jpg``).
    """
    if n_items == 1:
        return [f"{base}_1" if numbered_video else base]
    return [f"{base}_{c}" for c in range(1, n_items + 1)]


def _numbered_video(shape: str, draft: _Draft) -> bool:
    """Posts in the iPhone shape (Instaloader 4.13) that are one downloaded video are saved numbered."""
    only = draft.items[0]
    return shape == "iphone" and len(draft.items) == 1 and only.kind == "video" and only.downloaded
