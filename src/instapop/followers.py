"""Follower history: read follower counts from several sources and estimate f(t_p).

The paper divides likes + comments by the followers the profile had when the
post went up (PoR, eq. 1). Instagram keeps no such history, so it comes from
outside: a ``date,followers`` CSV, a Social Blade export, a Meta Business Suite
export (daily *new* follows, turned into totals anchored at a known total) or
the follower count in an Instaloader profile JSON, dated by the file's mtime.

Between known points the count is interpolated linearly; outside them a
log-linear fit of the nearest points extrapolates growth (a constant with a
single point). Every estimate carries the distance in days to the nearest
known point, which the outputs show as the label's confidence.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from instapop.config import PAPER
from instapop.errors import BadInputError, InstapopError
from instapop.sources import OversizedFileError, load_instaloader_json, profile_follower_count

__all__ = [  # the JSON readers moved to instapop.sources; still importable from here
    "FollowerHistory",
    "OversizedFileError",
    "load_instaloader_json",
    "profile_follower_count",
    "read_followers",
]

log = logging.getLogger(__name__)

_EPOCH = pd.Timestamp(0, tz="UTC")
_DAY = pd.Timedelta(days=1)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class FollowerHistory:
    """Known follower counts, sorted by date, and the estimate between and beyond them.

    Attributes
    ----------
    points : DataFrame with columns ``date`` (UTC Timestamp), ``followers`` (float), ``source`` (str).
    problems : (item, reason) for every row or file that could not be used.
    fit_points : how many of the nearest known points the log-linear extrapolation fits.
    notes : warnings about rows that were used, e.g. dates given twice in one file
        (their counts are averaged) or rows out of date order.
    """

    points: pd.DataFrame
    problems: list[tuple[str, str]] = field(default_factory=list)
    fit_points: int = PAPER.follower_fit_points
    notes: list[str] = field(default_factory=list)

    def at(self, when: pd.Series | pd.DatetimeIndex) -> pd.DataFrame:
        """Estimate the follower count at each timestamp.

        Parameters
        ----------
        when : UTC timestamps (a Series keeps its index in the result).

        Returns
        -------
        DataFrame with ``followers`` (NaN when the history is empty),
        ``confidence_days`` (days to the nearest known point) and
        ``extrapolated`` (True outside the known range).
        """
        index = when.index if isinstance(when, pd.Series) else pd.RangeIndex(len(when))
        t = _days(pd.DatetimeIndex(when))
        known_t = _days(pd.DatetimeIndex(self.points["date"]))
        known_f = self.points["followers"].to_numpy(float)
        if len(known_t) == 0:
            followers = np.full(len(t), np.nan)
            confidence = np.full(len(t), np.inf)
            extrapolated = np.ones(len(t), bool)
        else:
            followers = self._estimate(t, known_t, known_f)
            confidence = _distance_to_nearest(t, known_t)
            extrapolated = (t < known_t[0]) | (t > known_t[-1])
        return pd.DataFrame(
            {"followers": followers, "confidence_days": confidence, "extrapolated": extrapolated}, index=index
        )

    def _estimate(self, t: np.ndarray, known_t: np.ndarray, known_f: np.ndarray) -> np.ndarray:
        followers = np.interp(t, known_t, known_f)  # constant beyond the ends, refined below
        if len(known_t) < 2:
            return followers
        k = min(self.fit_points, len(known_t))
        before, after = t < known_t[0], t > known_t[-1]
        followers[before] = _log_linear(known_t[:k], known_f[:k], t[before])
        followers[after] = _log_linear(known_t[-k:], known_f[-k:], t[after])
        return followers


def _days(times: pd.DatetimeIndex) -> np.ndarray:
    """Days since the epoch as floats, whatever the index's resolution."""
    if times.tz is None:
        times = times.tz_localize("UTC")
    return np.asarray((times - _EPOCH) / _DAY, dtype=float)


def _log_linear(known_t: np.ndarray, known_f: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Least-squares fit of log(followers) against time, evaluated at t (growth is multiplicative)."""
    slope, intercept = np.polyfit(known_t, np.log(known_f), 1)
    return np.exp(intercept + slope * t)


def _distance_to_nearest(t: np.ndarray, known_t: np.ndarray) -> np.ndarray:
    right = np.clip(np.searchsorted(known_t, t), 0, len(known_t) - 1)
    left = np.clip(right - 1, 0, len(known_t) - 1)
    return np.minimum(np.abs(t - known_t[left]), np.abs(t - known_t[right]))


# --------------------------------------------------------------------------- readers


def read_followers(
    paths: list[Path],
    followers_date: str | None = None,
    fit_points: int = PAPER.follower_fit_points,
    max_json_bytes: int = PAPER.max_json_bytes,
) -> FollowerHistory:
    """Read follower histories from any mix of supported files.

    Parameters
    ----------
    paths : ``date,followers`` CSVs (ISO or ``YYYY/MM/DD`` dates, header optional),
        Social Blade CSVs, Meta Business Suite exports, Instaloader profile JSONs.
    followers_date : date of the count in profile JSONs (default: each file's mtime).
    fit_points : known points used by the log-linear extrapolation.
    max_json_bytes : size bound for profile JSONs.

    Returns
    -------
    FollowerHistory with one point per distinct date (counts given for the same
    date by several sources are averaged); a date repeated inside one file, or
    rows out of date order, are reported in ``notes`` naming the file and dates.

    Raises
    ------
    InstapopError
        When a file is missing or unrecognised, or a Meta export has no known
        total (from another file given) to anchor its daily gains to.
    """
    totals: list[pd.DataFrame] = []
    daily_gains: list[tuple[Path, pd.DataFrame]] = []
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise InstapopError(f"{path}: follower file not found")
        if _is_json(path):
            totals.append(_read_profile_json(path, followers_date, max_json_bytes))
            continue
        text = _decode_text(path)
        if _is_meta_export(text):
            daily_gains.append((path, _read_meta_rows(path, text, problems)))
        else:
            totals.append(_read_total_rows(path, text, problems))
            notes += _date_order_notes(path, totals[-1]["date"])
    anchors = _merge_points(totals)
    meta_totals = [_anchor_daily_gains(path, gains, anchors) for path, gains in daily_gains]
    return FollowerHistory(_merge_points(totals + meta_totals), problems, fit_points, notes)


def _date_order_notes(path: Path, dates: pd.Series) -> list[str]:
    """Warnings for dates given more than once (then averaged) or out of order (then sorted) in one file."""
    notes = []
    repeated = sorted(set(dates[dates.duplicated()].dt.strftime("%Y-%m-%d")))
    if repeated:
        shown = ", ".join(repeated[:5]) + (f" and {len(repeated) - 5} more" if len(repeated) > 5 else "")
        notes.append(
            f"{path}: {len(repeated)} dates given more than once ({shown}); their counts are averaged"
        )
    if not dates.is_monotonic_increasing:
        notes.append(f"{path}: rows are not in date order; they are read sorted by date")
    return notes


def _is_json(path: Path) -> bool:
    return path.name.endswith((".json", ".json.xz"))


def _read_profile_json(path: Path, followers_date: str | None, max_bytes: int) -> pd.DataFrame:
    try:
        data = load_instaloader_json(path, max_bytes)
    except BadInputError as err:
        raise InstapopError(str(err)) from err
    count = profile_follower_count(data)
    if count is None:
        raise InstapopError(
            f"{path}: no follower count (edge_followed_by.count or follower_count) in this JSON"
        )
    date = _parse_dates(pd.Series([followers_date]))[0] if followers_date else _mtime(path)
    if pd.isna(date):
        raise InstapopError(f"--followers-date {followers_date!r}: expected YYYY-MM-DD")
    return _points([date], [count], path)


def _mtime(path: Path) -> pd.Timestamp:
    return pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")


def _decode_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        # Meta Business Suite exports UTF-16 with a BOM; everything else is UTF-8.
        return raw.decode("utf-16") if raw.startswith(_UTF16_BOMS) else raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InstapopError(f"{path}: not a text file ({err})") from err


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """(1-based line number, cells) of every non-blank row, ``sep=`` hint line dropped."""
    rows = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if any(cells) and not cells[0].lower().startswith("sep="):
            rows.append((lineno, cells))
    return rows


def _is_meta_export(text: str) -> bool:
    return any(_is_meta_header(cells) for _, cells in _csv_rows(text)[:5])


def _is_meta_header(cells: list[str]) -> bool:
    return [cell.lower() for cell in cells[:2]] == ["date", "primary"]


def _read_meta_rows(path: Path, text: str, problems: list[tuple[str, str]]) -> pd.DataFrame:
    """Daily new follows: ``date``, ``gain``; rows above the ``"Date","Primary"`` header are titles."""
    rows = _csv_rows(text)
    start = next(i for i, (_, cells) in enumerate(rows) if _is_meta_header(cells)) + 1
    table = _parse_rows(path, rows[start:], date_col=0, value_col=1, problems=problems)
    return table.rename(columns={"value": "gain"})


def _read_total_rows(path: Path, text: str, problems: list[tuple[str, str]]) -> pd.DataFrame:
    """A ``date,followers`` CSV, with or without header; Social Blade's wider column set too."""
    rows = _csv_rows(text)
    if not rows:
        raise InstapopError(f"{path}: empty follower file")
    header = [cell.lower() for cell in rows[0][1]]
    date_col, value_col = 0, 1
    if "date" in header and "followers" in header:
        date_col, value_col = header.index("date"), header.index("followers")
        rows = rows[1:]
    elif pd.isna(_parse_dates(pd.Series([rows[0][1][0]]))[0]):
        raise InstapopError(
            f"{path}: unrecognised follower file (expected date,followers rows, a Social Blade CSV "
            f"or a Meta Business Suite export; first row {rows[0][1][:3]})"
        )
    table = _parse_rows(path, rows, date_col, value_col, problems)
    positive = table["value"] > 0
    for lineno in table.loc[~positive, "line"]:
        problems.append((f"{path}:{lineno}", "follower count must be positive"))
    table = table[positive]
    if table.empty:
        raise InstapopError(f"{path}: no usable date,followers rows")
    return _points(table["date"], table["value"], path)


def _parse_rows(
    path: Path,
    rows: list[tuple[int, list[str]]],
    date_col: int,
    value_col: int,
    problems: list[tuple[str, str]],
) -> pd.DataFrame:
    """Parse (date, number) cells; rows that fail are listed in ``problems`` and dropped."""
    width = max(date_col, value_col) + 1
    lines = [lineno for lineno, cells in rows]
    cells = [cells if len(cells) >= width else cells + [""] * width for _, cells in rows]
    dates = _parse_dates(pd.Series([c[date_col] for c in cells], dtype=str))
    # Thousands separators ("12,345" quoted, "12 345") are common in hand-made exports.
    numbers = pd.Series([c[value_col].replace(",", "").replace(" ", "") for c in cells], dtype=str)
    values = pd.to_numeric(numbers, errors="coerce")
    table = pd.DataFrame({"line": lines, "date": dates, "value": values.to_numpy(float)})
    bad = table["date"].isna() | table["value"].isna()
    for lineno in table.loc[bad, "line"]:
        problems.append((f"{path}:{lineno}", "unreadable date or follower count"))
    return table[~bad].reset_index(drop=True)


def _parse_dates(values: pd.Series) -> pd.DatetimeIndex:
    """ISO 8601 or ``YYYY/MM/DD`` strings as UTC timestamps (NaT where unreadable)."""
    cleaned = values.astype(str).str.strip().str.replace("/", "-", regex=False)
    return pd.DatetimeIndex(pd.to_datetime(cleaned, format="ISO8601", utc=True, errors="coerce"))


def _points(dates, followers, path: Path) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(dates),
            "followers": np.asarray(followers, dtype=float),
            "source": Path(path).name,
        }
    )


def _merge_points(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One point per date, sorted; counts from several sources on the same date are averaged."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(
            {
                "date": pd.DatetimeIndex([], tz="UTC"),
                "followers": np.array([], float),
                "source": np.array([], str),
            }
        )
    points = pd.concat(frames, ignore_index=True)
    merged = points.groupby("date", sort=True).agg(
        followers=("followers", "mean"), source=("source", lambda s: "+".join(sorted(set(s))))
    )
    return merged.reset_index()


def _anchor_daily_gains(path: Path, gains: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Turn daily new follows into totals that match the known total nearest the export.

    Days missing from the export had no new follows, so the gains are spread on a
    full daily calendar (zeros filled in) before summing. With C(d) the running
    sum of gains up to day d and (a, F_a) the anchor, the total is
    F(d) = F_a + C(d) - C(a).
    """
    if gains.empty:
        raise InstapopError(f'{path}: no daily follower rows under the "Date","Primary" header')
    if anchors.empty:
        raise InstapopError(
            f"{path}: a Meta Business Suite export holds daily new follows only; give a known total too "
            "(a date,followers CSV or the profile JSON) to anchor it"
        )
    daily = gains.groupby(gains["date"].dt.normalize())["gain"].sum()
    calendar = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    running = daily.reindex(calendar, fill_value=0.0).cumsum()
    anchor = anchors.iloc[_nearest_anchor(anchors["date"], calendar[0], calendar[-1])]
    at_anchor = running.iloc[np.clip(running.index.searchsorted(anchor["date"], side="right") - 1, 0, None)]
    if anchor["date"] < calendar[0]:
        at_anchor = 0.0  # before the export's first day nothing has been counted yet
    totals = anchor["followers"] + running - at_anchor
    if (totals <= 0).any():
        raise InstapopError(
            f"{path}: anchored at {anchor['followers']:.0f} followers on {anchor['date'].date()} "
            "the totals fall to zero or below; the anchor does not fit this export"
        )
    log.info("%s: anchored at %s followers on %s", path, anchor["followers"], anchor["date"].date())
    return _points(running.index, totals.to_numpy(), path)


def _nearest_anchor(dates: pd.Series, first: pd.Timestamp, last: pd.Timestamp) -> int:
    """Position of the known point closest to [first, last] (distance 0 inside it)."""
    before = (first - dates).dt.total_seconds().clip(lower=0)
    after = (dates - last).dt.total_seconds().clip(lower=0)
    return int(np.argmin((before + after).to_numpy()))
