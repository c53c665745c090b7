"""Read saved Instagram Graph API pages (the ``/{ig-user-id}/media`` edge) into :class:`Post` records.

A folder holds the pages as the API returns them, one JSON file each::

    {"data": [{"id": "17900000000000001", "caption": "...", "media_type": "CAROUSEL_ALBUM",
               "media_product_type": "FEED", "permalink": "https://www.instagram.com/p/C4xYz1/",
               "timestamp": "2026-03-10T08:31:00+0000", "like_count": 120, "comments_count": 4,
               "children": {"data": [{"id": "...", "media_type": "IMAGE"}, ...]}}, ...],
     "paging": {"cursors": {...}, "next": "..."}}

Insights (``reach``, ``saved``, ``shares``, and views as ``video_views``, ``plays`` or
``views``: the largest is read) are joined when they are there, either
inside an item (``"insights": {"data": [{"name": "reach", "values": [{"value": 900}]}]}``,
as ``fields=insights.metric(reach,saved,shares)`` returns them) or in a file of the folder
whose name starts with ``insights``: JSON ``{media id: {"data": [...]}}`` (each media's
``/{media-id}/insights`` answer) or ``{media id: {"reach": 900, ...}}``, a JSON list of
``{"id": ..., "reach": ..., ...}``, or a CSV ``id,reach,saved,shares``. A media item's own
``video_views``, ``plays`` or ``views`` field counts too. Media files are matched as for an
export (:mod:`instapop.sources.matching`). A post's identity is its media id: posts
published in the same second are kept.
"""

from __future__ import annotations

import csv
import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from instapop.errors import BadInputError, InstapopError
from instapop.media_types import CAROUSEL, IMAGE, VIDEO
from instapop.sources import fields
from instapop.sources.jsonfile import read_json_file
from instapop.sources.matching import ExportOptions, attach_media, default_media_dir, shortcode_from_permalink
from instapop.sources.records import ItemSkipped, Post, Skipped, SourceData

_KINDS = {"IMAGE": IMAGE, "VIDEO": VIDEO, "CAROUSEL_ALBUM": CAROUSEL, "REELS": VIDEO}
_INSIGHTS = {"reach": "reach", "saved": "saves", "saves": "saves", "shares": "shares"}
# The view metric's names over API versions: video_views (videos, until 2024), plays (reels), views (2025).
_VIEWS = ("video_views", "plays", "views")


def is_graph_page(data: Any) -> bool:
    """True for a ``{"data": [...]}`` page whose items look like Instagram media."""
    items = data.get("data") if isinstance(data, dict) else None
    return isinstance(items, list) and all(
        isinstance(item, dict) and "id" in item and ("media_type" in item or "permalink" in item)
        for item in items
    )


def graph_pages(folder: Path, max_json_bytes: int) -> list[Path]:
    """The JSON files of ``folder`` that are Graph API media pages (insights files excepted)."""
    pages = []
    for path in sorted(folder.glob("*.json")):
        if path.name.lower().startswith("insights"):
            continue
        try:
            data, _ = read_json_file(path, max_json_bytes)
        except BadInputError:
            continue
        if is_graph_page(data):
            pages.append(path)
    return pages


def read_graph_pages(
    folder: Path, max_json_bytes: int, options: ExportOptions = ExportOptions(), now: float | None = None
) -> SourceData:
    """Posts of a folder of Graph API media pages, joined with saved insights, media matched from a folder.

    Parameters
    ----------
    folder : the folder of pages (and optionally an ``insights*`` file, and a ``media/`` folder).
    max_json_bytes : largest page read.
    options : media folder and mapping (see :class:`ExportOptions`).
    now : posts dated after this (epoch seconds, default: now) are skipped as "future date".

    Returns
    -------
    SourceData

    Raises
    ------
    InstapopError
        When the folder holds no page.
    """
    folder = Path(folder)
    pages = graph_pages(folder, max_json_bytes)
    if not pages:
        raise InstapopError(f"{folder}: no Graph API media pages ({{\"data\": [...]}} JSON files)")
    insights = _saved_insights(folder, max_json_bytes)
    posts: list[Post] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    children: dict[str, int] = {}  # post id -> carousel children the API lists
    for page in pages:
        data, _ = read_json_file(page, max_json_bytes)
        for i, item in enumerate(data["data"]):
            where = f"{page}:data[{i}]"
            try:
                post = _post(where, item, insights.get(str(item["id"]), {}), now)
                if post.post_id in seen:
                    why = f"post {post.post_id} also in {seen[post.post_id]}"
                    raise ItemSkipped("duplicate post", where, why)
                seen[post.post_id] = where
                children[post.post_id] = len(_children(item))
                posts.append(post)
            except ItemSkipped as skip:
                skipped.append(skip.record)
    media_dir = options.media_dir or default_media_dir(folder)
    posts, unmatched, orphans = attach_media(posts, media_dir, options.media_map)
    posts = [_partial(post, children.get(post.post_id, 0)) for post in posts]
    return SourceData(tuple(posts), tuple(skipped + unmatched), orphan_media=tuple(orphans))


def _partial(post: Post, n_children: int) -> Post:
    """A carousel with fewer files than the API's children is kept, flagged ``partial``, the rest named."""
    if len(post.media) >= n_children:
        return post
    key = post.media[0].media_id.rsplit("_", 1)[0] if post.media[0].child_index else post.media[0].media_id
    have = {m.child_index for m in post.media}
    missing = tuple(f"{key}_{i}.*" for i in range(1, n_children + 1) if i not in have)
    return dataclasses.replace(post, flags=(*post.flags, "partial"), missing=missing)


def _post(where: str, item: dict[str, Any], saved: dict[str, Any], now: float | None) -> Post:
    metrics = {**_metrics(item.get("insights")), **saved}
    product = str(item.get("media_product_type", ""))
    if product == "STORY":
        raise ItemSkipped("story, not a post", where, f"media {item['id']} is a story")
    kind = _KINDS.get(product if product == "REELS" else str(item.get("media_type", "")), "")
    return Post(
        post_id=str(item["id"]),
        timestamp=fields.timestamp(where, _seconds(where, item.get("timestamp")), now),
        likes=fields.count(where, "like_count", item.get("like_count")),
        comments=fields.count(where, "comments_count", item.get("comments_count")),
        media=(),
        source=where,
        shortcode=shortcode_from_permalink(fields.text(item.get("permalink"))),
        caption=fields.text(item.get("caption")),
        post_type=kind,
        reach=_optional(where, "reach", metrics.get("reach")),
        shares=_optional(where, "shares", metrics.get("shares")),
        saves=_optional(where, "saved", metrics.get("saves")),
        views=_views(where, {**{k: item[k] for k in _VIEWS if k in item}, **metrics}),
    )


def _children(item: dict[str, Any]) -> list[Any]:
    listed = item.get("children")
    data = listed.get("data") if isinstance(listed, dict) else None
    return data if isinstance(data, list) else []


def _views(where: str, metrics: dict[str, Any]) -> int | None:
    """The largest view count under any of the metric's names; None when none is given."""
    given = [_optional(where, name, metrics.get(name)) for name in _VIEWS]
    return max((count for count in given if count is not None), default=None)


def _optional(where: str, what: str, value: Any) -> int | None:
    return None if value in (None, "") else fields.count(where, what, value)


def _seconds(where: str, text: Any) -> float | None:
    if text is None:
        return None
    for parse in (lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%S%z"), datetime.fromisoformat):
        try:
            return parse(str(text)).timestamp()
        except ValueError:
            continue
    raise ItemSkipped("timestamp unreadable", where, f"timestamp {fields.short(text)} is not ISO 8601")


def _metrics(answer: Any) -> dict[str, Any]:
    """{reach, saves, shares} and view metrics of an insights answer (``{"data": [{"name", "values"}]}``)
    or a flat dict."""
    if not isinstance(answer, dict):
        return {}
    if isinstance(answer.get("data"), list):
        flat = {}
        for metric in answer["data"]:
            if isinstance(metric, dict) and isinstance(metric.get("values"), list) and metric["values"]:
                flat[metric.get("name")] = metric["values"][0].get("value")
            elif isinstance(metric, dict) and "value" in metric:  # newer API versions: total_value / value
                flat[metric.get("name")] = metric["value"]
        answer = flat
    return {_INSIGHTS.get(k, k): v for k, v in answer.items() if k in _INSIGHTS or k in _VIEWS}


def _saved_insights(folder: Path, max_json_bytes: int) -> dict[str, dict[str, Any]]:
    """Media id -> {reach, saves, shares, views...} from the folder's ``insights*`` files (JSON or CSV)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("insights*")):
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as fh:
                for row in csv.DictReader(fh):
                    metrics = _metrics({k.strip(): v for k, v in row.items() if k})
                    found[(row.get("id") or "").strip()] = metrics
        elif path.suffix.lower() == ".json":
            data, _ = read_json_file(path, max_json_bytes)
            if isinstance(data, dict):
                entries = data.items()
            else:
                entries = ((e.get("id"), e) for e in data if isinstance(e, dict))
            found.update((str(key), _metrics(value)) for key, value in entries)
    return found
