"""Turn a profile's posts (read by :mod:`instapop.sources`) into post and media tables.

``read_profile`` reads the source once (an Instaloader folder or a manifest),
drops repeated posts, estimates each post's follower count from the history and
computes each post's popularity target; the labels stage (:func:`instapop.labels.label_tables`)
then labels the tables, so that another N or window never reads the folder again.
``ingest_profile`` does both in memory. Every post or file that cannot be used is listed
in ``excluded`` with a reason; what the source held besides posts (side files,
orphan media, partial carousels) and doubts about the follower history are in
the summary.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from instapop.config import PAPER, Config
from instapop.errors import InstapopError
from instapop.followers import FollowerHistory, read_followers
from instapop.labels import class_counts, label_settings, label_tables, popularity_rate
from instapop.media_types import IMAGE, MEDIA_TYPES, VIDEO
from instapop.runfolder import RunFolder
from instapop.sources import (
    BUSINESS_SUITE,
    IMAGE_SUFFIXES,
    MANIFEST_COLUMNS,
    MANIFEST_NAME,
    VIDEO_SUFFIXES,
    ExportOptions,
    Post,
    Skipped,
    SourceData,
    read_source,
    source_format,
)
from instapop.tables import read_table
from instapop.targets import (
    POR,
    REACH_RATE,
    VIEW_TARGETS,
    ViewsTarget,
    agreement,
    choose_target,
    reach_problem,
    target_entry,
    target_values,
    views_target,
)

__all__ = [  # the suffixes and manifest names live in instapop.sources; still importable from here
    "IMAGE_SUFFIXES",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "MEDIA_COLUMNS",
    "VIDEO_SUFFIXES",
    "IngestResult",
    "ingest_profile",
    "ingest_records",
    "load_media",
    "read_profile",
]

log = logging.getLogger(__name__)

MEDIA_COLUMNS = [
    "media_id",
    "post_id",
    "shortcode",
    "timestamp",
    "media_type",
    "path",
    "thumbnail",
    "cover_only",
    "is_carousel",
    "child_index",
    "likes",
    "comments",
    "followers",
    "confidence_days",
]
_STRING_COLUMNS = ("media_id", "post_id", "shortcode", "media_type", "path", "thumbnail")
_ISO = "%Y-%m-%dT%H:%M:%SZ"
# A profile JSON's follower count is dated by its file time; a file this much newer
# than the newest post was most likely copied (git, zip, cloud drive) rather than downloaded then.
_STALE_PROFILE_JSON_DAYS = 90
_SHOWN = 5  # orphan files named on the console; the summary lists them all


# --------------------------------------------------------------------------- result


@dataclass
class IngestResult:
    """Labelled media, kept posts, excluded items and the follower history of one profile.

    Besides the tables: ``side_files`` (Instaloader files recognised and not used, by
    kind), ``orphan_media`` (media files no metadata names) and ``warnings`` (doubts
    about the follower history a person should read), all in ``summary()``.
    """

    media: pd.DataFrame
    posts: pd.DataFrame
    excluded: pd.DataFrame
    followers: FollowerHistory
    config: Config
    profile_dir: Path | None = None
    side_files: dict[str, int] = field(default_factory=dict)
    orphan_media: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # the format read (and an export's time zone)
    target: dict[str, Any] = field(default_factory=dict)  # name, formula, why, agreement with PoR

    def write(self, out_dir: Path) -> None:
        """Write media.csv, posts.csv, excluded.csv, followers.csv and summary.json into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        run = RunFolder(out_dir)
        write_tables(out_dir, self.posts, self.media)
        self.excluded.to_csv(run.excluded, index=False)
        _with_iso_times(self.followers.points, "date").to_csv(run.followers, index=False)
        run.summary.write_text(json.dumps(self.summary(), indent=2) + "\n")

    def summary(self) -> dict[str, Any]:
        """Counts a person (or a test) checks first: posts, media, exclusions, dates, classes, followers."""
        times = self.posts["timestamp"]
        return {
            "profile": str(self.profile_dir) if self.profile_dir else None,
            "source": dict(self.source),
            "target": dict(self.target),
            "posts": len(self.posts),
            "media": {t: int((self.media["media_type"] == t).sum()) for t in MEDIA_TYPES},
            "cover_only_videos": int(self.media["cover_only"].sum()),
            "excluded": dict(sorted(Counter(self.excluded["reason"]).items())),
            "date_range": [times.min().strftime(_ISO), times.max().strftime(_ISO)] if len(times) else None,
            **(self.label_summary() if self.labelled_ else {}),
            "followers": self._follower_summary(),
            "follower_warnings": list(self.warnings),
            "side_files": dict(self.side_files),
            "orphan_media": list(self.orphan_media),
            "partial_posts": self._partial_posts(),
        }

    @property
    def labelled_(self) -> bool:
        """Whether the media carry their classes (:meth:`labelled`)."""
        return "percentile" in self.media

    def labelled(self, config: Config | None = None) -> IngestResult:
        """A copy with posts and media labelled by ``config``'s classes and window (default: its own)."""
        config = config or self.config
        posts, media = label_tables(self.posts, self.media, config)
        return dataclasses.replace(self, posts=posts, media=media, config=config)

    def label_summary(self) -> dict[str, Any]:
        """The summary's keys about labels: class counts and the settings they were made with."""
        return label_summary(self.media, self.config)

    def describe(self) -> str:
        """A few lines for a person: what was read, what was left out, how the classes fell."""
        s = self.summary()
        first, last = (day[:10] for day in s["date_range"])
        excluded = ", ".join(f"{n} {reason}" for reason, n in s["excluded"].items()) or "none"
        f, media = s["followers"], s["media"]
        covers = s["cover_only_videos"]
        cover_only = f" ({covers} known by their covers only: video files not downloaded)" if covers else ""
        lines = [
            f"{s['posts']} posts, {media['image']} images + {media['video']} videos{cover_only}, "
            f"{first} to {last}",
            f"excluded: {excluded}",
            f"followers: {f['points']} known points ({', '.join(f['sources']) or 'none'}); "
            f"{f['posts_extrapolated']} posts extrapolated; "
            f"confidence median {f['confidence_days_median']} d, max {f['confidence_days_max']} d",
        ]
        lines += self._data_quality_lines(s)
        if s["target"]:
            lines.append(_target_line(s["target"], s["source"]))
        for media_type, by_n in s.get("classes", {}).items():
            counts = "; ".join(
                f"N={n}: " + "/".join(str(c) for c in classes.values()) for n, classes in by_n.items()
            )
            lines.append(f"{media_type} classes (rolling {self.config.window_days:g} d): {counts}")
        return "\n".join(lines)

    @staticmethod
    def _data_quality_lines(s: dict[str, Any]) -> list[str]:
        lines = []
        if s["side_files"]:
            counts = ", ".join(f"{n} {kind}" for kind, n in s["side_files"].items())
            lines.append(f"side files (recognised, not used as posts): {counts}")
        if s["orphan_media"]:
            names = ", ".join(Path(p).name for p in s["orphan_media"][:_SHOWN])
            more = f" and {len(s['orphan_media']) - _SHOWN} more" if len(s["orphan_media"]) > _SHOWN else ""
            lines.append(f"orphan media (no metadata names them): {len(s['orphan_media'])}: {names}{more}")
        if s["partial_posts"]:
            lines.append(
                f"partial carousels (kept with the children downloaded): {len(s['partial_posts'])}; "
                "see summary.json partial_posts"
            )
        return lines  # the follower warnings are logged as they are found: not repeated here

    def _partial_posts(self) -> list[dict[str, Any]]:
        partial = self.posts[self.posts["partial"]]
        return [
            {"post": source, "missing": missing.split("; ")}
            for source, missing in zip(partial["source"], partial["missing"], strict=True)
        ]

    def _follower_summary(self) -> dict[str, Any]:
        points = self.followers.points
        confidence = self.posts["confidence_days"]
        finite = confidence[np.isfinite(confidence)]
        return {
            "points": len(points),
            "sources": sorted({part for source in points["source"] for part in source.split("+")}),
            "posts_extrapolated": int(self.posts["extrapolated"].sum()),
            "confidence_days_median": round(float(finite.median()), 1) if len(finite) else None,
            "confidence_days_max": round(float(finite.max()), 1) if len(finite) else None,
        }


def label_summary(media: pd.DataFrame, config: Config) -> dict[str, Any]:
    """Class counts of a labelled media table and the label settings, as ``summary.json`` keeps them."""
    return {
        "classes": class_counts(media, config.n_classes, "class"),
        "global_classes": class_counts(media, config.n_classes, "global_class"),
        "labels": label_settings(config),
    }


def write_tables(run_dir: Path, posts: pd.DataFrame, media: pd.DataFrame) -> None:
    """Write the post and media tables into a run folder (``posts.csv``, ``media.csv``)."""
    run = RunFolder(run_dir)
    _with_iso_times(media, "timestamp").to_csv(run.media, index=False)
    _with_iso_times(posts, "timestamp").to_csv(run.posts, index=False)


def _with_iso_times(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].dt.strftime(_ISO)
    return out


def load_media(run_dir: Path) -> pd.DataFrame:
    """Read ``run_dir/media.csv`` back with its dtypes (timestamp as UTC datetime, ids as strings).

    Parameters
    ----------
    run_dir : a run folder written by ``IngestResult.write``.

    Returns
    -------
    The media table.
    """
    path = RunFolder(run_dir).media
    if not path.is_file():
        raise InstapopError(f"{path}: not found; run `instapop ingest` first")
    media = read_table(path, _STRING_COLUMNS)
    media["timestamp"] = pd.to_datetime(media["timestamp"], utc=True, format="ISO8601")
    for column in ("is_carousel", "cover_only"):  # cover_only: absent from runs ingested before it
        if column in media:
            media[column] = media[column].astype(str).str.lower() == "true"
    return media


# --------------------------------------------------------------------------- ingest


def ingest_profile(
    profile_dir: Path,
    followers: list[Path],
    config: Config = PAPER,
    followers_date: str | None = None,
    export: ExportOptions | None = None,
    target: str | None = None,
) -> IngestResult:
    """Read a profile (:func:`read_profile`) and label it with ``config``'s classes, in memory.

    The library's one call; the ingest and labels stages run the two halves apart.
    """
    return read_profile(profile_dir, followers, config, followers_date, export, target).labelled()


def read_profile(
    profile_dir: Path,
    followers: list[Path],
    config: Config = PAPER,
    followers_date: str | None = None,
    export: ExportOptions | None = None,
    target: str | None = None,
) -> IngestResult:
    """Read a profile's posts and follower history; compute each post's popularity target.

    Parameters
    ----------
    profile_dir : an Instaloader profile folder, a folder holding ``manifest.csv``,
        the path of a manifest CSV (its folder is the dataset folder), a Meta Business
        Suite posts export CSV, or a folder of Graph API media pages.
    followers : follower-history files (see ``read_followers``); the folder's
        Instaloader Profile JSON is added as one more point.
    config : the metadata size bound and follower fit.
    followers_date : date of the count in profile JSONs (default: file mtime).
    export : an export's media folder, media mapping, time zone and date order.
    target : ``"por"``, ``"reach-rate"``, ``"reach"``, ``"views"`` or ``"views-rate"`` (see
        :mod:`instapop.targets`); None chooses reach-rate when every post has reach, else PoR.

    Returns
    -------
    IngestResult with one media row per image/video (carousel children included), not yet
    labelled (:meth:`IngestResult.labelled`).

    Raises
    ------
    InstapopError
        When the folder does not exist, holds no post metadata, or no post is usable.
    """
    profile_dir = Path(profile_dir)
    export = export or ExportOptions()
    source = read_source(profile_dir, config.max_json_bytes, export=export)
    kind = source_format(profile_dir, config.max_json_bytes)
    about = {"format": kind, **({"timezone": export.timezone} if kind == BUSINESS_SUITE else {})}
    return read_records(source, followers, config, followers_date, profile_dir, target, about)


def ingest_records(
    source: SourceData,
    followers: list[Path],
    config: Config = PAPER,
    followers_date: str | None = None,
    profile_dir: Path | None = None,
    target: str | None = None,
    about: dict[str, Any] | None = None,
) -> IngestResult:
    """:func:`read_records`, then labelled with ``config``'s classes (in memory)."""
    return read_records(source, followers, config, followers_date, profile_dir, target, about).labelled()


def read_records(
    source: SourceData,
    followers: list[Path],
    config: Config = PAPER,
    followers_date: str | None = None,
    profile_dir: Path | None = None,
    target: str | None = None,
    about: dict[str, Any] | None = None,
) -> IngestResult:
    """Assemble the posts a reader returned: the step of :func:`read_profile` after reading.

    Parameters
    ----------
    source : what a reader of :mod:`instapop.sources` returned.
    followers, config, followers_date, target : as for :func:`ingest_profile`.
    profile_dir : where the posts were read from (for messages and the summary).
    about : the source's format (and an export's time zone), for the summary.

    Returns
    -------
    IngestResult

    Raises
    ------
    InstapopError
        When no post is usable.
    """
    skipped = list(source.skipped)
    posts = _drop_repeats(list(source.posts), skipped, source.one_post_per_second)
    if not posts:
        raise InstapopError(f"{profile_dir or 'source'}: no usable posts ({_reason_counts(skipped)})")
    files = [*followers, *source.follower_files]
    history = read_followers(files, followers_date, config.follower_fit_points, config.max_json_bytes)
    skipped += [Skipped.because("follower row unreadable", item, why) for item, why in history.problems]
    post_table = _post_table(posts, history)
    try:
        choice = choose_target(target, post_table, has_history=not history.points.empty)
    except ValueError as err:
        raise InstapopError(f"{profile_dir}: {err}") from None
    post_table, posts, views = _with_target(post_table, posts, choice.name, skipped)
    if not posts:
        raise InstapopError(f"{profile_dir}: no post has a {choice.name} ({_reason_counts(skipped)})")
    for item in skipped:
        log.warning("skipped %s", item.detail)
    warnings = list(history.notes)
    if followers_date is None:
        warnings += _stale_profile_jsons(source.follower_files, max(p.timestamp for p in posts))
    for warning in warnings:
        log.warning("%s", warning)
    for post in posts:
        if post.missing:
            log.warning("%s: carousel kept without %s", post.source, "; ".join(post.missing))
    if source.orphan_media:
        n_orphans = len(source.orphan_media)
        log.warning("%d media files have no metadata (not used; summary.json orphan_media)", n_orphans)
    if history.points.empty and choice.name == POR:
        log.warning("no follower history: followers, PoR and classes are left empty (classes -1)")
    note, fallback = (views.reason, views.summary()) if views else ("", None)
    if note:
        log.warning("target %s: %s", choice.name, note)
    return IngestResult(
        _media_table(posts, post_table),
        post_table,
        _excluded_table(skipped),
        history,
        config,
        profile_dir,
        side_files=dict(source.side_files),
        orphan_media=list(source.orphan_media),
        warnings=warnings,
        source=dict(about or {}),
        target={
            **target_entry(choice, note, fallback),
            "agreement_with_por": agreement(_por(post_table), post_table["reach_rate"]),
        },
    )


def _por(table: pd.DataFrame) -> np.ndarray:
    return popularity_rate(table["likes"], table["comments"], table["followers"])


def _with_target(
    table: pd.DataFrame, posts: list[Post], name: str, skipped: list[Skipped]
) -> tuple[pd.DataFrame, list[Post], ViewsTarget | None]:
    """The post table with ``reach_rate`` and ``target`` columns; posts a reach target cannot rank skipped.

    PoR is left NaN where the follower history gives none (those posts stay, unlabelled), as before.
    A views target keeps every post (PoR stands in for unknown views) and is returned with its fallback.
    """
    por = _por(table)
    table["reach_rate"] = target_values(REACH_RATE, table, por)
    views = views_target(name, table, por) if name in VIEW_TARGETS else None
    table["target"] = views.values if views else target_values(name, table, por)
    if name == POR or views:
        return table, posts, views
    problems = {i: reach_problem(r) for i, r in zip(table.index, table["reach"].astype(float), strict=True)}
    for i, problem in problems.items():
        if problem:
            skipped.append(Skipped.because(problem[0], table.at[i, "source"], problem[1]))
    keep = [i for i, problem in problems.items() if problem is None]
    kept_ids = set(table.loc[keep, "post_id"])
    return table.loc[keep].reset_index(drop=True), [p for p in posts if p.post_id in kept_ids], None


def _target_line(target: dict[str, Any], source: dict[str, Any]) -> str:
    """``target: reach-rate = (...) / reach (why); agrees with PoR: Spearman 0.81 over 120 posts``."""
    line = f"target: {target['name']} = {target['formula']} ({target['why']})"
    if target["agreement_with_por"]:
        a = target["agreement_with_por"]
        line += f"; PoR and reach-rate agree: Spearman {a['spearman']:.2f} over {a['posts']} posts"
    if "timezone" in source:
        line += f"; export times read in {source['timezone']}"
    return line


def _stale_profile_jsons(paths: tuple[Path, ...], newest_post: int) -> list[str]:
    """A plain warning for each profile JSON whose file time is far after the newest post."""
    warnings = []
    for path in paths:
        mtime = path.stat().st_mtime
        days = (mtime - newest_post) / 86_400
        if days > _STALE_PROFILE_JSON_DAYS:
            file_day = pd.Timestamp(mtime, unit="s", tz="UTC").date()
            post_day = pd.Timestamp(newest_post, unit="s", tz="UTC").date()
            warnings.append(
                f"{path.name}: its follower count is dated by the file's time, {file_day}, {days:.0f} days "
                f"after the newest post ({post_day}); a copied folder gets the day of the copy. "
                "If the profile was downloaded on another day, give it with --followers-date YYYY-MM-DD"
            )
    return warnings


def _reason_counts(skipped: list[Skipped]) -> str:
    if not skipped:
        return "nothing found"
    return ", ".join(f"{n} {reason}" for reason, n in sorted(Counter(s.reason for s in skipped).items()))


def _post_table(posts: list[Post], history: FollowerHistory) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "post_id": [p.post_id for p in posts],
            "shortcode": [p.shortcode for p in posts],
            "timestamp": pd.to_datetime([p.timestamp for p in posts], unit="s", utc=True),
            "likes": [p.likes for p in posts],
            "comments": [p.comments for p in posts],
            "n_images": [sum(m.media_type == IMAGE for m in p.media) for p in posts],
            "n_videos": [sum(m.media_type == VIDEO for m in p.media) for p in posts],
            "is_carousel": [len(p.media) > 1 or p.media[0].child_index > 0 for p in posts],
            "caption": [p.caption for p in posts],
            "source": [p.source for p in posts],
            "post_type": [p.post_type for p in posts],
            "partial": ["partial" in p.flags for p in posts],
            "missing": ["; ".join(p.missing) for p in posts],
            "flags": ["; ".join(p.flags) for p in posts],
            "reach": [np.nan if p.reach is None else p.reach for p in posts],
            "shares": [np.nan if p.shares is None else p.shares for p in posts],
            "saves": [np.nan if p.saves is None else p.saves for p in posts],
            "views": [np.nan if p.views is None else p.views for p in posts],
        }
    )
    table = table.sort_values(["timestamp", "post_id"], ignore_index=True)
    estimate = history.at(table["timestamp"])
    table[["followers", "confidence_days", "extrapolated"]] = estimate
    return table


def _media_table(posts: list[Post], post_table: pd.DataFrame) -> pd.DataFrame:
    rows = [
        {
            "media_id": m.media_id,
            "post_id": p.post_id,
            "media_type": m.media_type,
            "path": str(m.path),
            "thumbnail": str(m.thumbnail) if m.thumbnail else "",
            "cover_only": m.cover_only,
            "child_index": m.child_index,
        }
        for p in posts
        for m in p.media
    ]
    per_post = post_table[
        [
            "post_id",
            "shortcode",
            "timestamp",
            "is_carousel",
            "likes",
            "comments",
            "followers",
            "confidence_days",
        ]
    ]
    media = pd.DataFrame(rows).merge(per_post, on="post_id", how="left")
    return media.sort_values(["timestamp", "post_id", "child_index"], ignore_index=True)[MEDIA_COLUMNS]


def _excluded_table(skipped: list[Skipped]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": [s.item for s in skipped],
            "reason": [s.reason for s in skipped],
            "detail": [s.detail for s in skipped],
        }
    )


def _drop_repeats(posts: list[Post], skipped: list[Skipped], one_per_second: bool) -> list[Post]:
    """Keep one post per id and per media id, and per second where ``one_per_second`` (Instaloader);
    the rest are listed (first file name wins)."""
    kept: list[Post] = []
    seen_ids: dict[str, Post] = {}
    seen_seconds: dict[int, Post] = {}
    seen_media: dict[str, Post] = {}
    for post in sorted(posts, key=lambda p: (p.timestamp, str(p.source))):
        clashes = [m.media_id for m in post.media if m.media_id in seen_media]
        if post.post_id in seen_ids:
            first = seen_ids[post.post_id]
            skipped.append(
                Skipped.because("duplicate post", post.source, f"post {post.post_id} also in {first.source}")
            )
        elif clashes:
            first = seen_media[clashes[0]]
            why = f"media id {clashes[0]} (the file name without extension) already used by {first.source}"
            skipped.append(Skipped.because("duplicate media id", post.source, why))
        elif one_per_second and post.timestamp in seen_seconds:
            first = seen_seconds[post.timestamp]
            when = pd.Timestamp(post.timestamp, unit="s", tz="UTC").strftime(_ISO)
            skipped.append(
                Skipped.because(
                    "same second as another post",
                    post.source,
                    f"posted in the same second ({when}) as {first.source}; only the first is kept",
                )
            )
        else:
            seen_ids[post.post_id] = seen_seconds[post.timestamp] = post
            seen_media.update((m.media_id, post) for m in post.media)
            kept.append(post)
    return kept
