"""Follower histories: the file formats, interpolation, extrapolation and the Meta conversion."""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from instapop.errors import InstapopError
from instapop.followers import FollowerHistory, OversizedFileError, load_instaloader_json, read_followers


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def history(points: dict[str, float], fit_points: int = 3) -> FollowerHistory:
    frame = pd.DataFrame(
        {"date": [utc(d) for d in points], "followers": list(points.values()), "source": "test"}
    )
    return FollowerHistory(frame, fit_points=fit_points)


def estimate(h: FollowerHistory, *dates: str) -> pd.DataFrame:
    return h.at(pd.Series([utc(d) for d in dates]))


# --------------------------------------------------------------------------- estimates


def test_linear_between_known_points_with_confidence_days():
    h = history({"2021-01-01": 1000, "2021-01-11": 2000})

    got = estimate(h, "2021-01-05", "2021-01-08T12:00", "2021-01-11")

    assert got["followers"].tolist() == pytest.approx([1400, 1750, 2000])
    assert got["confidence_days"].tolist() == pytest.approx([4, 2.5, 0])
    assert not got["extrapolated"].any()


def test_log_linear_extrapolation_through_two_points():
    h = history({"2021-01-01": 1000, "2021-01-11": 2000})  # doubling every 10 days

    got = estimate(h, "2020-12-22", "2021-01-21", "2021-01-31")

    assert got["followers"].tolist() == pytest.approx([500, 4000, 8000])
    assert got["confidence_days"].tolist() == pytest.approx([10, 10, 20])
    assert got["extrapolated"].all()


def test_extrapolation_fits_only_the_nearest_points():
    h = history(
        {"2021-01-01": 1000, "2021-01-11": 1000, "2021-01-21": 2000, "2021-01-31": 4000}, fit_points=3
    )

    after, before = estimate(h, "2021-02-10", "2020-12-22")["followers"]

    # After: the last three points double every 10 days exactly, the first one is ignored.
    assert after == pytest.approx(8000)
    # Before: least squares on log(1000), log(1000), log(2000) at days 0, 10, 20 gives slope ln2/20
    # through (10, ln1000 + ln2/3); at day -10 that is 1000 * 2**(-2/3).
    assert before == pytest.approx(1000 * 2 ** (-2 / 3))


def test_a_single_point_is_held_constant_and_no_point_gives_nan():
    one = estimate(history({"2021-01-01": 1234}), "2020-06-01", "2021-01-01", "2022-01-01")
    assert one["followers"].tolist() == [1234, 1234, 1234]
    assert one["extrapolated"].tolist() == [True, False, True]

    none = estimate(read_followers([]), "2021-01-01")
    assert np.isnan(none.loc[0, "followers"]) and none.loc[0, "extrapolated"]


def test_result_keeps_the_index_of_the_series_given():
    when = pd.Series([utc("2021-01-03")], index=[42])
    assert estimate(history({"2021-01-01": 1, "2021-01-05": 5}), "2021-01-03").index.tolist() == [0]
    assert history({"2021-01-01": 1, "2021-01-05": 5}).at(when).loc[42, "followers"] == pytest.approx(3)


# --------------------------------------------------------------------------- file formats


def test_date_followers_csv_iso_with_header_and_slashes_without(tmp_path):
    iso = tmp_path / "a.csv"
    iso.write_text("date,followers\n2021-01-11,2000\n2021-01-01T00:00:00Z,1000\n")
    slashes = tmp_path / "b.csv"
    slashes.write_text('2021/01/21,3000\n2021/01/31,"4,000"\n')

    points = read_followers([iso, slashes]).points

    assert points["date"].tolist() == [
        utc(d) for d in ("2021-01-01", "2021-01-11", "2021-01-21", "2021-01-31")
    ]
    assert points["followers"].tolist() == [1000, 2000, 3000, 4000]
    assert points["source"].tolist() == ["a.csv", "a.csv", "b.csv", "b.csv"]


def test_social_blade_columns(tmp_path):
    path = tmp_path / "socialblade.csv"
    path.write_text(
        "date,followers,followersDelta,following,followingDelta,posts,postsDelta\n"
        "2021-01-01,1500,12,300,0,210,1\n"
        "2021-01-02,1512,12,300,0,211,1\n"
    )

    points = read_followers([path]).points

    assert points["followers"].tolist() == [1500, 1512]


def test_unreadable_rows_are_listed_and_the_rest_is_read(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(
        "date,followers\n2021-01-01,1000\n2021-13-45,1100\n2021-01-03,lots\n2021-01-04,0\n2021-01-05,1200\n"
    )

    h = read_followers([path])

    assert h.points["followers"].tolist() == [1000, 1200]
    assert [item for item, _ in h.problems] == [f"{path}:3", f"{path}:4", f"{path}:5"]


def test_missing_or_unrecognised_files_raise_naming_the_file(tmp_path):
    with pytest.raises(InstapopError, match="nope.csv: follower file not found"):
        read_followers([tmp_path / "nope.csv"])
    odd = tmp_path / "odd.csv"
    odd.write_text("day,count\nmonday,12\n")
    with pytest.raises(InstapopError, match="odd.csv: unrecognised follower file"):
        read_followers([odd])


def write_profile_json(path: Path, node: dict, mtime: int | None = None) -> Path:
    raw = json.dumps({"node": node, "instaloader": {"node_type": "Profile", "version": "4.16"}}).encode()
    path.write_bytes(lzma.compress(raw) if path.name.endswith(".xz") else raw)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_profile_json_count_dated_by_mtime_or_followers_date(tmp_path):
    by_mtime = write_profile_json(
        tmp_path / "a.json.xz", {"edge_followed_by": {"count": 777}}, mtime=1_609_459_200
    )
    plain = write_profile_json(tmp_path / "b.json", {"follower_count": 888})

    assert read_followers([by_mtime]).points["date"].tolist() == [utc("2021-01-01")]
    dated = read_followers([plain], followers_date="2021/02/03").points
    assert (dated.loc[0, "date"], dated.loc[0, "followers"]) == (utc("2021-02-03"), 888)


META_EXPORT = (
    "sep=,\n"
    '"Instagram follows"\n'
    '"Date","Primary"\n'
    '"2021-01-01T00:00:00","10"\n'
    '"2021-01-02T00:00:00","5"\n'
    '"2021-01-05T00:00:00","20"\n'  # 3 and 4 January had no new follows: omitted
)


def write_meta(path: Path) -> Path:
    path.write_text(META_EXPORT.replace("\n", "\r\n"), encoding="utf-16")  # UTF-16 with a BOM
    return path


def test_meta_daily_gains_become_totals_anchored_at_a_known_total(tmp_path):
    meta = write_meta(tmp_path / "meta.csv")
    anchor = tmp_path / "known.csv"
    anchor.write_text("2021-01-03,1000\n")

    points = read_followers([meta, anchor]).points

    # Running gains 10, 15, 15, 15, 35; 15 at the anchor day -> totals = 1000 + running - 15.
    assert points["date"].tolist() == [utc(f"2021-01-0{d}") for d in range(1, 6)]
    assert points["followers"].tolist() == [995, 1000, 1000, 1000, 1020]
    assert read_followers([meta, anchor]).at(pd.Series([utc("2021-01-04T12:00")]))["followers"][0] == 1010


def test_meta_anchored_at_a_profile_json_after_the_export(tmp_path):
    meta = write_meta(tmp_path / "meta.csv")
    profile = write_profile_json(tmp_path / "brand.json", {"edge_followed_by": {"count": 2000}})

    points = read_followers([meta, profile], followers_date="2021-01-10").points

    assert points["followers"].tolist() == [1975, 1980, 1980, 1980, 2000, 2000]


def test_meta_without_a_known_total_raises_naming_the_file(tmp_path):
    meta = write_meta(tmp_path / "meta.csv")
    with pytest.raises(
        InstapopError, match=r"meta\.csv: a Meta Business Suite export holds daily new follows"
    ):
        read_followers([meta])


# --------------------------------------------------------------------------- bounded JSON


def test_xz_is_decompressed_under_a_bound(tmp_path):
    small = tmp_path / "ok.json.xz"
    small.write_bytes(lzma.compress(b'{"node": {}}'))
    bomb = tmp_path / "bomb.json.xz"
    bomb.write_bytes(lzma.compress(b"[" + b" " * (4 * 2**20) + b"]"))

    assert load_instaloader_json(small, max_bytes=1024) == {"node": {}}
    assert bomb.stat().st_size < 4096
    with pytest.raises(OversizedFileError, match="bomb.json.xz: decompresses past the 1048576-byte limit"):
        load_instaloader_json(bomb, max_bytes=2**20)
