"""Media table + features - duplicates -> the aligned arrays the models train on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from instapop.datasets import build_dataset, load_run_dataset, planted_dataset
from instapop.errors import InstapopError


class Features:
    """A FeatureSet's arrays: feature value = 100 * item number + view / frame index."""

    def __init__(self, image_ids: list[str], video_ids: list[str]) -> None:
        self.backbone = "test-backbone"
        self.image_ids, self.video_ids = image_ids, video_ids
        number = {m: float(m.strip("iv")) for m in image_ids + video_ids}
        self.image_views = np.array(
            [[[100 * number[m] + k] * 4 for k in range(3)] for m in image_ids], np.float32
        ).reshape(len(image_ids), 3, 4)
        self.video_frames = np.array(
            [[[100 * number[m] + t] * 4 for t in range(5)] for m in video_ids], np.float32
        ).reshape(len(video_ids), 5, 4)
        self.video_thumbs = self.video_frames[:, 0] + 0.5


def media_table() -> pd.DataFrame:
    ids = ["i1", "i2", "i3", "i4", "i5", "v6", "v7", "v8"]
    return pd.DataFrame(
        {
            "media_id": ids,
            "post_id": ["p1", "p1", "p2", "p3", "p4", "p5", "p6", "p1"],
            "timestamp": pd.date_range("2021-01-01", periods=8, freq="D", tz="UTC"),
            "media_type": ["image"] * 5 + ["video"] * 3,
            "is_carousel": [True, True, False, False, False, False, False, True],
            "por": [0.1, 0.1, 0.2, np.nan, 0.3, 0.05, 0.06, 0.1],
            "class_2": [0, 0, 1, -1, 1, 0, 1, 1],
            "class_3": [0, 0, 2, -1, 2, 0, 1, 2],
        }
    )


def test_build_dataset_aligns_features_and_lists_skipped_items() -> None:
    # features in another order than the table, one image never embedded (i5)
    features = Features(["i3", "i2", "i1", "i4"], ["v8", "v6", "v7"])
    data = build_dataset(media_table(), features, removed={"i2", "v7"})
    assert data.images.ids == ["i1", "i3"]
    assert data.videos.ids == ["v6", "v8"]
    np.testing.assert_array_equal(data.image_views[:, :, 0], [[100, 101, 102], [300, 301, 302]])
    np.testing.assert_array_equal(data.video_frames[:, 0, 0], [600, 800])
    np.testing.assert_array_equal(data.video_thumbs[:, 0], [600.5, 800.5])
    np.testing.assert_array_equal(data.images.groups, ["p1", "p2"])
    np.testing.assert_array_equal(data.images.labels[3], [0, 2])
    np.testing.assert_array_equal(data.videos.por, [0.05, 0.1])
    assert data.n_classes == (2, 3) and data.backbone == "test-backbone"
    reasons = {s["media_id"]: s["reason"] for s in data.skipped}
    assert set(reasons) == {"i4", "i5"}  # dedup removals are not "skipped"
    assert "PoR" in reasons["i4"] and "features" in reasons["i5"]


def test_build_dataset_needs_class_columns() -> None:
    with pytest.raises(InstapopError, match="class_<N>"):
        build_dataset(media_table().drop(columns=["class_2", "class_3"]), Features(["i1"], []))


def test_load_run_dataset_reads_a_run_folder(tmp_path) -> None:
    from instapop.embed.extract import FAILED_COLUMNS, VIDEO_INFO_COLUMNS, FeatureSet

    media = media_table()
    media.assign(
        timestamp=media["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), path="", thumbnail=""
    ).to_csv(tmp_path / "media.csv", index=False)
    arrays = Features(["i1", "i2", "i3", "i4", "i5"], ["v6", "v7", "v8"])
    FeatureSet(
        backbone=arrays.backbone,
        image_ids=arrays.image_ids,
        image_views=arrays.image_views,
        video_ids=arrays.video_ids,
        video_frames=arrays.video_frames,
        video_thumbs=arrays.video_thumbs,
        video_info=pd.DataFrame(columns=VIDEO_INFO_COLUMNS),
        failed=pd.DataFrame(columns=FAILED_COLUMNS),
    ).save(tmp_path / "features")
    pd.DataFrame({"media_id": ["i3"], "kept": [False], "reason": ["duplicate"], "partner": ["i1"]}).assign(
        media_type="image"
    ).to_csv(tmp_path / "dedup.csv", index=False)
    data = load_run_dataset(tmp_path)
    assert data.images.ids == ["i1", "i2", "i5"] and data.videos.ids == ["v6", "v7", "v8"]
    assert data.images.timestamps[0] == np.datetime64("2021-01-01T00:00:00")


def test_planted_dataset_keeps_posts_together() -> None:
    data = planted_dataset(90, 30, signal=0.0, seed=0, dim=16, n_views=2, n_frames=4)
    assert data.image_views.shape == (90, 2, 16) and data.video_frames.shape == (30, 4, 16)
    for items in (data.images, data.videos):
        for group in np.unique(items.groups):
            members = items.groups == group
            assert len(np.unique(items.labels[3][members])) == 1  # siblings share the post's class
        assert np.bincount(items.labels[2]).min() >= len(items) // 2 - 3
