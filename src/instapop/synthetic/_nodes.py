"""The JSON structures Instaloader 4.x saves next to a post, built from a post plan.

See the package docstring for the exact fields of each node shape.
"""

from __future__ import annotations

from typing import Any

from instapop.synthetic._names import shortcode_of
from instapop.synthetic._plan import ASPECTS, PostPlan, ProfilePlan

VERSIONS = {"graphql": "4.10.3", "iphone": "4.13.2", "web": "4.16"}
_CDN = "https://scontent.cdninstagram.com/v/t51.2885-15"


def envelope(node: dict[str, Any], node_type: str, version: str) -> dict[str, Any]:
    """Instaloader's file envelope around a node."""
    return {"node": node, "instaloader": {"node_type": node_type, "version": version}}


def post_node(post: PostPlan, plan: ProfilePlan) -> dict[str, Any]:
    """The node of one post in its planned shape."""
    build = {"graphql": _graphql_node, "iphone": _iphone_node, "web": _web_node}[post.shape]
    return build(post, plan)


def comments_node(post: PostPlan) -> list[dict[str, Any]]:
    """What ``--comments`` saves as ``<base>_comments.json``: a list of (up to 3 of the) comments."""
    return [
        {
            "id": post.pk + i,
            "created_at": post.timestamp + 600 * i,
            "text": f"comment {i}",
            "owner": {"id": str(1000 + i), "username": f"fan{i}"},
            "likes_count": 0,
            "answers": [],
        }
        for i in range(1, min(post.comments, 3) + 1)
    ]


def _owner(plan: ProfilePlan) -> dict[str, Any]:
    return {"id": str(plan.owner_id), "username": plan.username}


def _dimensions(post: PostPlan) -> dict[str, int]:
    width, height = ASPECTS[post.media[0].aspect]
    return {"height": height, "width": width}


def _typename(kind: str, xdt: bool) -> str:
    return ("XDTGraph" if xdt else "Graph") + {"image": "Image", "video": "Video", "sidecar": "Sidecar"}[kind]


def _post_kind(post: PostPlan) -> str:
    return "sidecar" if post.is_carousel else post.media[0].kind


def _media_fields(kind: str, pk: int, duration_s: float | None, views: int | None) -> dict[str, Any]:
    """display_url for every item; video_url, video_duration and video_view_count for videos."""
    fields: dict[str, Any] = {"display_url": f"{_CDN}/{pk}_n.jpg"}
    if kind == "video":
        fields |= {"video_url": f"{_CDN}/{pk}_n.mp4", "video_duration": duration_s, "video_view_count": views}
    return fields


def _children(post: PostPlan, xdt: bool) -> dict[str, Any]:
    """``edge_sidecar_to_children``: one node per carousel item, typed by its own is_video."""
    return {
        "edges": [
            {
                "node": {
                    "__typename": _typename(m.kind, xdt),
                    "id": str(m.pk),
                    "shortcode": shortcode_of(m.pk),
                    "is_video": m.kind == "video",
                    "dimensions": _dimensions(post),
                    **_media_fields(m.kind, m.pk, m.duration_s, 3 * post.likes),
                }
            }
            for m in post.media
        ]
    }


def _caption_edges(post: PostPlan) -> dict[str, Any]:
    return {"edges": [{"node": {"text": post.caption}}] if post.caption else []}


def _graphql_node(post: PostPlan, plan: ProfilePlan) -> dict[str, Any]:
    """The GraphQL node (Instaloader <= 4.12, or anonymous): counts under edge_* keys."""
    xdt = post.variant == 0  # newer web responses prefix the typenames with XDT
    likes_key = "edge_liked_by" if post.variant % 2 else "edge_media_preview_like"
    comments_key = "edge_media_to_parent_comment" if post.variant >= 2 else "edge_media_to_comment"
    kind = _post_kind(post)
    node: dict[str, Any] = {
        "__typename": _typename(kind, xdt),
        "id": str(post.pk),
        "shortcode": post.shortcode,
        "dimensions": _dimensions(post),
        "is_video": kind == "video",
        "taken_at_timestamp": post.timestamp,
        "edge_media_to_caption": _caption_edges(post),
        likes_key: {"count": post.likes},
        comments_key: {"count": post.comments},
        "comments_disabled": False,
        "owner": _owner(plan),
        "accessibility_caption": None,
        **_media_fields(kind, post.pk, post.media[0].duration_s, post.views),
    }
    if kind == "sidecar":
        node["edge_sidecar_to_children"] = _children(post, xdt)
    return node


_MEDIA_TYPE = {"image": 1, "video": 2, "sidecar": 8}


def _iphone_item(kind: str, pk: int, post: PostPlan, duration_s: float | None) -> dict[str, Any]:
    width, height = ASPECTS[post.media[0].aspect]
    item: dict[str, Any] = {
        "pk": pk,
        "media_type": _MEDIA_TYPE[kind],
        "original_width": width,
        "original_height": height,
        "image_versions2": {"candidates": [{"width": width, "height": height, "url": f"{_CDN}/{pk}_n.jpg"}]},
    }
    if kind == "video":
        item |= {"video_duration": duration_s, "video_versions": [{"url": f"{_CDN}/{pk}_n.mp4"}]}
    return item


def _iphone_views(post: PostPlan) -> dict[str, Any]:
    """A reel's counts in the iPhone API: ``play_count``, and ``view_count`` left null."""
    return {"play_count": post.views, "view_count": None} if _post_kind(post) == "video" else {}


def _iphone_struct(post: PostPlan, plan: ProfilePlan) -> dict[str, Any]:
    """What the iPhone API's media-info endpoint returns for the post (the fields we emit)."""
    kind = _post_kind(post)
    struct = _iphone_item(kind, post.pk, post, post.media[0].duration_s)
    struct |= {
        "id": f"{post.pk}_{plan.owner_id}",
        "code": post.shortcode,
        "taken_at": post.timestamp,
        "like_count": post.likes,
        "comment_count": post.comments,
        "has_liked": False,
        "caption": {"text": post.caption} if post.caption else None,
        "product_type": {"image": "feed", "video": "clips", "sidecar": "carousel_container"}[kind],
        "user": {"pk": plan.owner_id, "username": plan.username},
        **_iphone_views(post),
    }
    if kind == "sidecar":
        struct["carousel_media"] = [
            _iphone_item(m.kind, m.pk, post, m.duration_s) | {"id": f"{m.pk}_{plan.owner_id}"}
            for m in post.media
        ]
        struct["carousel_media_count"] = len(post.media)
    return struct


def _iphone_node(post: PostPlan, plan: ProfilePlan) -> dict[str, Any]:
    """The node Instaloader 4.13+ saves when logged in: ``date``, int ``comments``, string ``caption``."""
    kind = _post_kind(post)
    node: dict[str, Any] = {
        "shortcode": post.shortcode,
        "id": post.pk,
        "__typename": _typename(kind, False),
        "is_video": kind == "video",
        "date": post.timestamp,
        "caption": post.caption or None,
        "title": None,
        "viewer_has_liked": False,
        "edge_media_preview_like": {"count": post.likes},
        "comments": post.comments,
        "iphone_struct": _iphone_struct(post, plan),
        # Logged in, the views are in iphone_struct; the GraphQL field is left 0, as Instagram often does.
        **_media_fields(kind, post.pk, post.media[0].duration_s, 0),
    }
    if kind == "sidecar":
        node["edge_sidecar_to_children"] = {
            "edges": [
                {"node": {"display_url": f"{_CDN}/{m.pk}_n.jpg", "is_video": m.kind == "video"}}
                for m in post.media
            ]
        }
    return node


def _web_node(post: PostPlan, plan: ProfilePlan) -> dict[str, Any]:
    """The 4.16 node: the web API's item normalised to GraphQL names, its own fields kept beside them."""
    kind = _post_kind(post)
    node = _graphql_node(post, plan)
    for key in ("edge_liked_by", "edge_media_to_parent_comment"):
        node.pop(key, None)
    node |= {
        "__typename": _typename(kind, True),
        "edge_media_preview_like": {"count": post.likes},
        "edge_media_to_comment": {"count": post.comments},
        "code": post.shortcode,
        "pk": str(post.pk),
        "taken_at": post.timestamp,
        "media_type": _MEDIA_TYPE[kind],
        "like_count": post.likes,
        "comment_count": post.comments,
        "like_and_view_counts_disabled": False,
        "product_type": {"image": "feed", "video": "clips", "sidecar": "carousel_container"}[kind],
    }
    if kind == "video":  # the web API counts a reel's plays; its normalised view count is left null
        node |= {"play_count": post.views, "video_view_count": None}
    if kind == "sidecar":
        node["edge_sidecar_to_children"] = _children(post, True)
        node["carousel_media_count"] = len(post.media)
    return node


def profile_node(plan: ProfilePlan, followers: int) -> dict[str, Any]:
    """The Profile node: the follower count at download time in ``edge_followed_by.count``."""
    return {
        "id": str(plan.owner_id),
        "username": plan.username,
        "full_name": "Synthetic Brand",
        "biography": "A made-up brand for testing instapop.",
        "is_private": False,
        "is_business_account": True,
        "edge_followed_by": {"count": followers},
        "edge_follow": {"count": 312},
        "edge_owner_to_timeline_media": {"count": len(plan.posts)},
        "profile_pic_url_hd": f"{_CDN}/{plan.owner_id}_profile.jpg",
    }


def iterator_node(plan: ProfilePlan) -> dict[str, Any]:
    """A FrozenNodeIterator: the resume file Instaloader leaves after an interrupted download."""
    return {
        "query_hash": None,
        "query_variables": {"id": str(plan.owner_id), "first": 12},
        "query_referer": f"https://www.instagram.com/{plan.username}/",
        "context_username": None,
        "total_index": 24,
        "best_before": plan.download_time + 21 * 86_400,
        "remaining_data": None,
        "first_node": None,
    }
