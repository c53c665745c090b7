"""The time-ordered backtest: blocks at the end of the profile, scored by models of the past only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from instapop.config import Config
from instapop.datasets import planted_dataset
from instapop.validation import backtest
from instapop.validation.backtest import Block, block_edges, known_at, make_block, relabelled
from instapop.validation.files import backtest_markdown

CONFIG = Config(
    epochs=4, n_repeats=1, seed=0, n_classes=(2,), window_days=30.0, min_window_posts=10,
    approaches=("image", "ranker", "majority", "logreg"),
)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    """300 images and 20 videos, one post a day each, with labels of 30-day windows over all posts."""
    planted = planted_dataset(300, 20, signal=2.5, seed=3, dim=32, n_views=2, n_frames=4, ns=(2,))
    return dataclasses.replace(
        planted, images=relabelled(planted.images, CONFIG), videos=relabelled(planted.videos, CONFIG)
    )


def image_block(data, number: int, edges: tuple) -> Block:
    """Image block ``number`` at N=2, as the backtest makes it."""
    return make_block(known_at(data, "image", edges, CONFIG), "image", 2, number, edges[0], CONFIG)


def test_blocks_cut_the_last_share_of_posts_into_equal_counts(data) -> None:
    edges = block_edges(data.images, CONFIG)
    assert len(edges) == CONFIG.backtest_blocks and edges[-1][1] is None
    post_days = np.unique(data.images.timestamps)
    first = np.searchsorted(post_days, edges[0][0])
    assert first == pytest.approx(len(post_days) * (1 - CONFIG.backtest_share), abs=1)
    counts = np.diff([np.searchsorted(post_days, start) for start, _ in edges] + [len(post_days)])
    assert counts.max() - counts.min() <= 1


def test_a_block_trains_only_on_posts_dated_before_it(data) -> None:
    for number, edges in enumerate(block_edges(data.images, CONFIG)):
        block = image_block(data, number, edges)
        times = block.data.images.timestamps
        for rows in (block.split.train[0], block.split.fit[0], block.split.callback[0]):
            assert len(rows) and (times[rows.numpy()] < edges[0]).all()
        assert (times[block.val] >= edges[0]).all() and len(block.val)
        if edges[1] is not None:
            assert (times[block.val] < edges[1]).all()
        assert (block.data.videos.timestamps < edges[0]).all()  # the other media type too


def test_training_labels_use_no_post_dated_after_the_block(data) -> None:
    start, end = edges = block_edges(data.images, CONFIG)[1]
    later = data.images.timestamps >= start
    shuffled = np.random.default_rng(0).permutation(data.images.por)
    shuffled_future = dataclasses.replace(data.images, por=np.where(later, shuffled, data.images.por))
    changed = dataclasses.replace(data, images=relabelled(shuffled_future, CONFIG))
    ours, theirs = (image_block(d, 1, edges) for d in (data, changed))
    train = ours.split.train[0].numpy()
    assert np.array_equal(ours.data.images.labels[2][train], theirs.data.images.labels[2][train])
    assert np.array_equal(ours.data.images.percentile[train], theirs.data.images.percentile[train])
    # ...whereas the labels over the whole profile, whose windows reach past the start, did change
    assert not np.array_equal(data.images.percentile[train], changed.images.percentile[train])


def test_backtest_finds_the_planted_signal_and_says_so_per_block_and_pooled(data) -> None:
    results = backtest(data, CONFIG, progress=False)
    rows = {(r["media"], r["approach"]): r for r in results["rows"]}
    ranker, majority = rows["image", "ranker"], rows["image", "majority"]
    assert len(ranker["blocks"]) == CONFIG.backtest_blocks
    scored = (data.images.timestamps >= block_edges(data.images, CONFIG)[0][0]).sum()
    assert sum(b["n"] for b in ranker["blocks"]) == ranker["pooled"]["n"] == scored
    assert ranker["pooled"]["accuracy"] > majority["pooled"]["accuracy"] + 0.1
    assert ranker["pooled"]["spearman"] > 0.4 and ranker["pooled"]["top_half"] > 0.7
    assert "skipped" in rows["video", "ranker"]  # 20 videos: too few posts before the first block
    table = backtest_markdown(results)
    assert "| image | ranker | 2 |" in table and "skipped: the posts before the block" in table
