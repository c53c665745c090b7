"""How Instagram and Instaloader name things, for the generator: file stems, times, media ids, shortcodes."""

from __future__ import annotations

from datetime import UTC, datetime

INSTAGRAM_EPOCH_MS = 1_314_220_021_721  # Instagram media ids count milliseconds from here
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def base_name(timestamp: int) -> str:
    """Instaloader's default filename pattern ``{date_utc}_UTC``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d_%H-%M-%S_UTC")


def iso_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def iso_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def media_pk(timestamp: int, sequence: int) -> int:
    """An Instagram-like media id: milliseconds since Instagram's epoch, shifted, plus a sequence."""
    return ((timestamp * 1000 - INSTAGRAM_EPOCH_MS) << 23) | (sequence << 10)


def shortcode_of(pk: int) -> str:
    """The shortcode of a media id: the id written in URL-safe base-64 digits."""
    digits = []
    while pk:
        pk, r = divmod(pk, 64)
        digits.append(_B64[r])
    return "".join(reversed(digits)) or "A"
