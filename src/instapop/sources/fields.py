"""Field checks every reader shares: counts, timestamps and text from untrusted metadata.

Each check either returns a clean value or raises :class:`ItemSkipped` with the
reason a person reads in ``excluded.csv``.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

from instapop.sources.records import ItemSkipped

# Instagram opened in October 2010; an earlier date is a broken field, not an old post.
FIRST_POST_TIME = 1_285_891_200  # 2010-10-01T00:00:00Z
# Clocks disagree a little: a post up to a day "ahead" of this machine is not yet in the future.
FUTURE_SLACK_S = 86_400
# More than any real count (the most-liked post ever has ~60 million likes).
MAX_COUNT = 10**12
_INTEGER = re.compile(r"[+-]?\d{1,15}(\.0{0,9})?")  # bounded: int() of 5,000 digits raises
_SURROGATES = re.compile("[\ud800-\udfff]")


def number(item: str | Path, what: str, value: Any) -> float | None:
    """A numeric field as a finite number: ints, floats and numeric strings; None when absent.

    Raises
    ------
    ItemSkipped
        ("count not a number") for NaN, infinity, or a string that is not a number.
    """
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, str):
        digits = value.strip().replace(",", "")
        if not _INTEGER.fullmatch(digits):
            raise ItemSkipped("count not a number", item, f"{what} is {short(value)}, not a number")
        value = float(digits) if "." in digits else int(digits)
    if isinstance(value, float) and not math.isfinite(value):
        raise ItemSkipped("count not a number", item, f"{what} is {value}, not a number")
    return value


def count(item: str | Path, what: str, value: Any) -> int:
    """A like/comment count: a whole number from 0 up.

    Raises
    ------
    ItemSkipped
        "count missing", "count not a number", "negative count" or "count out of range".
    """
    value = number(item, what, value)
    if value is None:
        raise ItemSkipped("count missing", item, f"{what} count absent")
    if value < 0:
        raise ItemSkipped("negative count", item, f"{what} count is negative ({value})")
    if value > MAX_COUNT:
        raise ItemSkipped("count out of range", item, f"{what} count {value:g} is beyond any real post")
    return int(value)


def timestamp(item: str | Path, value: Any, now: float | None = None) -> int:
    """A post time as epoch seconds UTC, between Instagram's opening and ``now`` (default: this moment).

    Raises
    ------
    ItemSkipped
        "timestamp missing", "timestamp unreadable" or "future date".
    """
    try:
        seconds = number(item, "timestamp", value)
    except ItemSkipped:
        raise ItemSkipped("timestamp unreadable", item, f"timestamp {short(value)} is not a number") from None
    if seconds is None:
        raise ItemSkipped("timestamp missing", item, "no taken_at_timestamp / date / taken_at")
    now = time.time() if now is None else now
    if seconds > now + FUTURE_SLACK_S:
        raise ItemSkipped(
            "future date", item, f"dated {_iso(seconds)}, after this ingest ({_iso(now)}); a broken date"
        )
    if seconds < FIRST_POST_TIME:
        raise ItemSkipped("timestamp unreadable", item, f"dated {_iso(seconds)}, before Instagram existed")
    return int(seconds)


def text(value: Any) -> str:
    """A string field as clean text: non-strings become "", unpaired surrogates become U+FFFD.

    JSON may escape lone surrogates (``"\\ud800"``), which no UTF-8 file can hold.
    """
    return _SURROGATES.sub("\ufffd", value) if isinstance(value, str) else ""


def _iso(seconds: float) -> str:
    if not -1e11 < seconds < 1e11:  # beyond year 5000: time.strftime would overflow
        return f"{seconds:g} s after 1970"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def short(value: Any) -> str:
    """``repr(value)``, cut to 40 characters for a message."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."
