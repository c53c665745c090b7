"""The kinds of media every stage speaks of, spelled once.

``media.csv``'s ``media_type`` column, ``features/``, ``dedup.json``, the datasets, the models
and the ranking all use these words; modules import them rather than retype the strings.
"""

from __future__ import annotations

IMAGE, VIDEO = "image", "video"
MEDIA_TYPES = (IMAGE, VIDEO)  # in the order tables and summaries list them
CAROUSEL = "carousel"  # a post of several media items: a kind of post, never a media item's type


def other_media(media: str) -> str:
    """The other media type: a model lacking one type's approach scores it with the other's."""
    return VIDEO if media == IMAGE else IMAGE
