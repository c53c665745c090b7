"""The time-ordered backtest: had the brand used instapop since some date, would its ranking
have been right?

Beside the cross-validation, which mixes past and future posts in its folds, each media type's
last ``backtest_share`` of posts by date is cut into ``backtest_blocks`` blocks of equal post
count (a rolling origin). Each block is scored by every approach trained, with its own inner-CV
choices, on the posts dated before the block only, both media types alike. Their labels are
computed again from those posts alone: a label's window is centred on its post, so the labels
``instapop labels`` gave the training posts near the block would otherwise read the block's
posts. The scored posts keep their own labels: that is the truth a brand would have seen
afterwards.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from instapop.config import Config
from instapop.datasets import Dataset, MediaSet
from instapop.labels import rolling_classes, rolling_percentiles
from instapop.media_types import IMAGE, MEDIA_TYPES, VIDEO
from instapop.models import training_threads
from instapop.models.approaches import Problem, approaches_for
from instapop.models.crossval import DatasetTensors, Outcome, Split, inner_holdout
from instapop.runtime import resolve_threads
from instapop.validation.files import BACKTEST_METRICS as METRICS
from instapop.validation.folds import pooling_reason
from instapop.validation.metrics import repeat_metrics
from instapop.validation.runner import Job, run_jobs


def relabelled(items: MediaSet, config: Config) -> MediaSet:
    """``items`` with labels and percentiles computed from these items alone (one value per post)."""
    _, first, inverse = np.unique(items.groups, return_index=True, return_inverse=True)
    times = pd.to_datetime(items.timestamps[first], utc=True)
    value = items.por[first]
    window = (config.window_days, config.min_window_posts)
    return dataclasses.replace(
        items,
        labels={n: rolling_classes(times, value, n, *window)[inverse] for n in items.labels},
        percentile=rolling_percentiles(times, value, *window)[inverse],
    )


def block_edges(items: MediaSet, config: Config) -> list[tuple[np.datetime64, np.datetime64 | None]]:
    """(start, end) of each block: the last ``backtest_share`` of posts by date in equal counts.

    ``end`` is the next block's start (exclusive), None for the last block.
    """
    post_times = np.unique(pd.Series(items.timestamps).groupby(items.groups).min().to_numpy())
    first = int(round(len(post_times) * (1 - config.backtest_share)))
    cuts = np.linspace(first, len(post_times), config.backtest_blocks + 1).round().astype(int)
    starts = [post_times[c] for c in cuts[:-1] if c < len(post_times)]
    return list(zip(starts, [*starts[1:], None], strict=True))


@dataclasses.dataclass(frozen=True)
class Block:
    """One block of one media type: the data as known at its start, and the split to score it."""

    number: int
    media: str
    start: np.datetime64
    data: Dataset
    split: Split
    skipped: str | None = None

    @property
    def val(self) -> np.ndarray:
        return self.split.val[0].numpy()


@dataclasses.dataclass(frozen=True)
class Known:
    """What was known at a block's start: both media's earlier items, relabelled from themselves,
    then the block's own items (of its media type), in ``data``; the same for every N."""

    data: Dataset
    train: np.ndarray  # the block's media type's earlier items (rows of data)
    val: np.ndarray  # the block's own items


def known_at(data: Dataset, media: str, edges: tuple, config: Config) -> Known:
    """The data at the start of the block ``edges`` = (start, end) of ``media``."""
    start, end = edges
    before = {m: np.flatnonzero(_items(data, m).timestamps < start) for m in MEDIA_TYPES}
    times = _items(data, media).timestamps
    inside = np.flatnonzero((times >= start) & ((times < end) if end is not None else True))
    rows = {**before, media: np.concatenate([before[media], inside])}
    known = data.take(rows[IMAGE], rows[VIDEO])
    sets = {m: _head_relabelled(_items(known, m), len(before[m]), config) for m in MEDIA_TYPES}
    known = dataclasses.replace(known, images=sets[IMAGE], videos=sets[VIDEO])
    return Known(known, np.arange(len(before[media])), np.arange(len(before[media]), len(rows[media])))


def make_block(
    known: Known, media: str, n_classes: int, number: int, start: np.datetime64, config: Config
) -> Block:
    """Block ``number`` at ``n_classes``: its data and the split that trains on the past only."""
    train, val = known.train, known.val
    reason = _shortfall(_items(known.data, media).take(train), n_classes, config)
    fit, callback = train, val
    if reason is None and config.epoch_callback != "fold":
        callback = inner_holdout(train, _items(known.data, media), n_classes, config, 0, number)
        fit = np.setdiff1d(train, callback)
    split = Split(*(tuple([_tensor(r)]) for r in (train, fit, callback, val)))
    return Block(number, media, start, known.data, split, reason)


def _tensor(rows: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.int64))


def _items(data: Dataset, media: str) -> MediaSet:
    return data.images if media == IMAGE else data.videos


def _head_relabelled(items: MediaSet, n_head: int, config: Config) -> MediaSet:
    """The first ``n_head`` items (the past) relabelled from themselves; the rest keep their labels."""
    head = relabelled(items.take(np.arange(n_head)), config)
    tail = items.take(np.arange(n_head, len(items)))
    return dataclasses.replace(
        items,
        labels={n: np.concatenate([head.labels[n], tail.labels[n]]) for n in items.labels},
        percentile=np.concatenate([head.percentile, tail.percentile]),
    )


def _shortfall(train: MediaSet, n_classes: int, config: Config) -> str | None:
    """Why the posts before a block cannot train (too few posts of a class for the inner splits)."""
    need = max(config.n_splits, config.inner_splits)
    posts = pd.DataFrame({"post": train.groups, "label": train.labels[n_classes]}).drop_duplicates("post")
    counts = np.bincount(posts["label"], minlength=n_classes)
    if counts.min() >= need:
        return None
    return f"the posts before the block have {counts.tolist()} posts per class; the inner splits need {need}"


def backtest(data: Dataset, config: Config, progress: bool = True) -> dict[str, Any]:
    """Score every block of each media type at each N with every approach; per block and pooled.

    Returns
    -------
    ``{"share", "blocks", "rows"}``; a row per (media, approach, N) holds ``blocks`` (start, n,
    metrics of :data:`METRICS`) and ``pooled``, or ``skipped`` with why.
    """
    config = dataclasses.replace(config, n_repeats=1)  # a block is one member: one split, no repeats
    plans, jobs, owners = [], [], []
    sizes = {m: len(_items(data, m)) for m in MEDIA_TYPES}
    edges = {m: block_edges(_items(data, m), config) if len(_items(data, m)) else [] for m in MEDIA_TYPES}
    known = {m: [known_at(data, m, e, config) for e in edges[m]] for m in MEDIA_TYPES}  # for every N
    for n in config.n_classes:
        for media in MEDIA_TYPES:
            pasts = zip(known[media], edges[media], strict=True)
            blocks = [make_block(k, media, n, b, e[0], config) for b, (k, e) in enumerate(pasts)]
            usable = [b for b in blocks if b.skipped is None and len(b.val)]
            problems = [Problem(b.data, DatasetTensors(b.data, n), media, n, config, b.split) for b in usable]
            for candidate in approaches_for(media, config.approaches):
                reason = pooling_reason(media, sizes, config) if candidate.small_types_only else None
                plans.append((media, candidate, n, blocks, reason))
                scored_blocks = zip(usable, problems, strict=True) if reason is None else ()
                for block, problem in scored_blocks:
                    run = partial(candidate.cross_validate, problem)
                    jobs.append(Job(media, candidate.name, n, block.split, run))
                    owners.append((len(plans) - 1, block))
    with training_threads(config.train_threads):
        outcomes = run_jobs(jobs, resolve_threads(config.train_workers), progress, desc="backtest")
    scored: dict[int, list[tuple[Block, Outcome]]] = {}
    for (index, block), outcome in zip(owners, outcomes, strict=True):
        scored.setdefault(index, []).append((block, outcome))
    rows = [_row(plan, scored.get(index, [])) for index, plan in enumerate(plans)]
    return {"share": config.backtest_share, "blocks": config.backtest_blocks, "rows": rows}


def _row(plan: tuple, scored: list[tuple[Block, Outcome]]) -> dict[str, Any]:
    media, candidate, n, blocks, reason = plan
    row: dict[str, Any] = {"media": media, "approach": candidate.name, "n_classes": n}
    if not scored:
        reasons = [reason] if reason else [b.skipped for b in blocks if b.skipped]
        reasons = reasons or [f"too few {media}s for a backtest"]
        return row | {"skipped": reasons[0]}
    parts = [_scored_block(block, outcome, n) for block, outcome in scored]
    row["blocks"] = [
        {"start": str(block.start)[:10], "n": len(part[2])} | _metrics(*part, n)
        for (block, _), part in zip(scored, parts, strict=True)
    ]
    pooled = [np.concatenate(columns) for columns in zip(*parts, strict=True)]
    row["pooled"] = {"start": row["blocks"][0]["start"], "n": len(pooled[2])} | _metrics(*pooled, n)
    return row


def _scored_block(block: Block, outcome: Outcome, n: int) -> tuple[np.ndarray, ...]:
    """(probs, scores, labels, percentile, block number) of the block's scored items."""
    val = block.val
    items = _items(block.data, block.media)
    return (
        outcome.probs[0, val],
        outcome.item_scores()[0, val],
        items.labels[n][val],
        items.percentile[val],
        np.full(len(val), block.number),
    )


def _metrics(probs, scores, labels, percentile, blocks, n: int) -> dict[str, Any]:
    """Accuracy, Spearman, pairwise accuracy within blocks, and the top-half hit rate."""
    numbers = repeat_metrics(probs, scores, labels, percentile, blocks)
    tops = [percentile[(blocks == b) & (scores > np.median(scores[blocks == b]))] for b in np.unique(blocks)]
    top = np.concatenate(tops)
    numbers["top_half"] = float((top >= 0.5).mean()) if len(top) else None
    numbers["n_top"] = int(len(top))
    return {key: numbers[key] for key in (*METRICS, "n_top")}
