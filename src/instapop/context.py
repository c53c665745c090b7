"""Context a user knows before publishing: timing, carousel shape and caption, per media item.

The picture is not all that decides a post's reach: when it goes out, how long
after the previous post, whether it sits in a carousel and what the caption
says all move its Popularity Rate. These features are known *before*
publishing, so a model may use them to rank candidates (issue 11, item 3).

Every column is numeric and finite:

- ``hour_sin``, ``hour_cos`` — posting time of day (UTC, hours with minutes as a
  fraction) on the unit circle, so 23:30 sits next to 00:30;
- ``weekday_mon`` … ``weekday_sun`` — the UTC weekday, one-hot. Not cyclic:
  a weekday effect is usually a step (weekend against working days), which one
  sine/cosine pair cannot draw; seven indicators can, and a regularised model
  copes with their sum being constant;
- ``log_gap_hours`` — log(1 + hours since the profile's previous post). The
  profile's first post has none: it gets the median of the other posts' values
  (the profile's typical rhythm), or log(1 + 24) if the profile has one post;
- ``carousel_size`` — media items in the post (1 for a single post);
  ``position`` — the item's 1-based place in it (1 for a single post);
- ``video_share`` — share of the post's items that are videos;
- ``log_caption_chars`` — log(1 + caption length in characters);
- ``log_hashtags``, ``log_mentions``, ``log_emoji`` — log(1 + count) of
  ``#tags``, ``@mentions`` and emoji in the caption. Emoji are pictographs
  (U+1F000–1FAFF, U+2600–27BF, U+2B00–2BFF) with their skin-tone modifiers,
  variation selectors and zero-width-joiner sequences counted once, a flag as
  one; so ♪ and ☆ count, as they do for the people who type them.

Times are UTC: the hour × weekday grid of a profile is then the same in every
run, whatever the machine's time zone. A planned time without an offset is
read as UTC too.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from instapop.errors import InstapopError
from instapop.runfolder import RunFolder
from instapop.tables import read_table

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMING_COLUMNS = ("hour_sin", "hour_cos", *(f"weekday_{d}" for d in WEEKDAYS), "log_gap_hours")
SHAPE_COLUMNS = ("carousel_size", "position", "video_share")
CAPTION_COLUMNS = ("log_caption_chars", "log_hashtags", "log_mentions", "log_emoji")
CONTEXT_COLUMNS: tuple[str, ...] = (*TIMING_COLUMNS, *SHAPE_COLUMNS, *CAPTION_COLUMNS)

# posts.csv columns read as text: ids, the caption, and the source's words for a post
POST_TEXT_COLUMNS = ("post_id", "shortcode", "caption", "source", "post_type", "missing", "flags")
FIRST_POST_GAP_HOURS = 24.0  # gap of a profile's only post: nothing to take a median of
_HOUR_ANGLE = 2 * math.pi / 24
_HASHTAG = re.compile(r"#\w+")
_MENTION = re.compile(r"(?<![\w.])@[\w](?:[\w.]*\w)?")
_PICTOGRAPH = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
_MODIFIERS = "\ufe0f\ufe0e\U0001f3fb-\U0001f3ff\u20e3"
_EMOJI = re.compile(
    rf"[\U0001f1e6-\U0001f1ff]{{2}}"  # a flag: two regional indicators
    rf"|[{_PICTOGRAPH}][{_MODIFIERS}]*(?:\u200d[{_PICTOGRAPH}][{_MODIFIERS}]*)*"
)


# --------------------------------------------------------------------------- per item


def caption_features(caption: str) -> dict[str, float]:
    """The caption's four columns: log(1 + chars), log(1 + hashtags / mentions / emoji).

    Parameters
    ----------
    caption : the post's caption ("" if none).

    Returns
    -------
    ``{column: value}`` for the columns of ``CAPTION_COLUMNS``.
    """
    counts = (len(caption), len(_HASHTAG.findall(caption)), len(_MENTION.findall(caption)))
    return dict(zip(CAPTION_COLUMNS, np.log1p([*counts, len(_EMOJI.findall(caption))]).tolist(), strict=True))


def caption_tokens(caption: str) -> list[str]:
    """The caption's whole tokens: #hashtags and @mentions (lower-cased), then emoji.

    The same tokens :func:`caption_features` counts; the ranker's caption words
    (:mod:`instapop.models.captions`) keep them whole, since a character n-gram of at most
    four characters would cut ``#summersale`` apart.
    """
    tags = _HASHTAG.findall(caption) + _MENTION.findall(caption)
    return [t.lower() for t in tags] + _EMOJI.findall(caption)


def timing_features(when: pd.Timestamp, gap_hours: float) -> dict[str, float]:
    """Hour on the circle, one-hot weekday and log gap for a posting time (UTC).

    Parameters
    ----------
    when : tz-aware posting time.
    gap_hours : hours since the profile's previous post (>= 0).

    Returns
    -------
    ``{column: value}`` for the columns of ``TIMING_COLUMNS``.
    """
    when = when.tz_convert("UTC")
    angle = (when.hour + when.minute / 60 + when.second / 3600) * _HOUR_ANGLE
    row = {"hour_sin": math.sin(angle), "hour_cos": math.cos(angle)}
    row |= {f"weekday_{d}": float(when.weekday() == i) for i, d in enumerate(WEEKDAYS)}
    row["log_gap_hours"] = math.log1p(max(gap_hours, 0.0))
    return row


def shape_features(carousel_size: int, position: int, video_share: float) -> dict[str, float]:
    """The post's shape: items in it, this item's place, share of videos."""
    return {
        "carousel_size": float(carousel_size),
        "position": float(position),
        "video_share": float(video_share),
    }


# --------------------------------------------------------------------------- a run's table


def media_context(media: pd.DataFrame, posts: pd.DataFrame) -> pd.DataFrame:
    """Context features of every media item of a run.

    Parameters
    ----------
    media : the media table (``media_id``, ``post_id``, ``child_index``; see ``ingest.load_media``).
    posts : the post table (``post_id``, ``timestamp``, ``n_images``, ``n_videos``, ``caption``),
        as in the run folder's ``posts.csv``.

    Returns
    -------
    One row per media id (the index, in the media table's order), columns ``CONTEXT_COLUMNS``, no NaN.
    """
    per_post = _post_context(posts)
    missing = sorted(set(media["post_id"]) - set(per_post.index))
    if missing:
        raise InstapopError(f"posts.csv lacks {len(missing)} post(s) of media.csv, e.g. {missing[0]}")
    rows = per_post.loc[media["post_id"]].reset_index(drop=True)
    rows["position"] = np.maximum(media["child_index"].to_numpy(dtype=float), 1.0)
    rows["carousel_size"] = np.maximum(rows["carousel_size"], rows["position"])
    rows.index = pd.Index(media["media_id"].astype(str), name="media_id")
    return rows[list(CONTEXT_COLUMNS)].astype(float)


def _post_context(posts: pd.DataFrame) -> pd.DataFrame:
    """Per post: timing, caption and shape columns (position left for the items)."""
    posts = posts.assign(timestamp=pd.to_datetime(posts["timestamp"], utc=True, format="ISO8601"))
    posts = posts.sort_values(["timestamp", "post_id"], kind="stable")
    gaps = _gap_hours(posts["timestamp"])
    size = (posts["n_images"] + posts["n_videos"]).clip(lower=1).to_numpy(dtype=float)
    rows = [
        timing_features(when, gap)
        | caption_features(_text(caption))
        | shape_features(int(n), 1, n_videos / n)
        for when, gap, caption, n, n_videos in zip(
            posts["timestamp"], gaps, posts["caption"], size, posts["n_videos"], strict=True
        )
    ]
    return pd.DataFrame(rows, index=pd.Index(posts["post_id"].astype(str), name="post_id"))


def _gap_hours(times: pd.Series) -> np.ndarray:
    """Hours since the previous post; the first post gets the median of the others (see the module doc)."""
    hours = times.diff().dt.total_seconds().to_numpy() / 3600
    known = hours[1:]
    if len(hours):
        hours[0] = np.expm1(np.median(np.log1p(known))) if len(known) else FIRST_POST_GAP_HOURS
    return hours


def _text(caption: Any) -> str:
    return caption if isinstance(caption, str) else ""


# --------------------------------------------------------------------------- run folder


def read_posts(run_dir: Path) -> pd.DataFrame:
    """Read ``run_dir/posts.csv`` with ids and captions as strings and times as UTC datetimes.

    Parameters
    ----------
    run_dir : a run folder written by the ingest stage.

    Returns
    -------
    The post table.
    """
    path = RunFolder(run_dir).posts
    if not path.is_file():
        raise InstapopError(f"{path}: not found; run `instapop ingest` first")
    posts = read_table(path, POST_TEXT_COLUMNS)
    posts["timestamp"] = pd.to_datetime(posts["timestamp"], utc=True, format="ISO8601")
    return posts


def write_context(run_dir: Path) -> pd.DataFrame:
    """Compute the context of every media item of a run and write ``run_dir/context.csv``.

    Parameters
    ----------
    run_dir : a run folder holding ``media.csv`` and ``posts.csv``.

    Returns
    -------
    The table written (index ``media_id``, columns ``CONTEXT_COLUMNS``).
    """
    from instapop.ingest import load_media

    run_dir = Path(run_dir)
    context = media_context(load_media(run_dir), read_posts(run_dir))
    context.to_csv(RunFolder(run_dir).context, float_format="%.9g")
    return context


def load_context(run_dir: Path) -> pd.DataFrame:
    """Read ``run_dir/context.csv``; a run folder from before it existed gets it computed (not written).

    Parameters
    ----------
    run_dir : a run folder.

    Returns
    -------
    Index ``media_id`` (strings), columns ``CONTEXT_COLUMNS`` (floats).
    """
    from instapop.ingest import load_media

    path = RunFolder(run_dir).context
    if not path.is_file():
        log.info("%s: not found; computing the context from media.csv and posts.csv", path)
        return media_context(load_media(run_dir), read_posts(run_dir))
    context = pd.read_csv(path, dtype={"media_id": str}, index_col="media_id")
    absent = [c for c in CONTEXT_COLUMNS if c not in context]
    if absent:
        raise InstapopError(f"{path}: columns {absent} missing; rerun `instapop ingest`")
    return context[list(CONTEXT_COLUMNS)].astype(float)


# --------------------------------------------------------------------------- a post not yet published


def context_defaults(context: pd.DataFrame, posts: pd.DataFrame) -> dict[str, Any]:
    """What a saved model keeps about the profile to build the context of a post not yet published.

    An input the user does not give is replaced by the profile's *average*
    feature value (the mean of each column over the training items): for a
    linear score that is the profile's expected effect of that input, rather
    than the effect of one arbitrary hour or weekday.

    Parameters
    ----------
    context : the training items' context (``media_context``), index media id.
    posts : the post table, for the last post's time and the typical posting slot.

    Returns
    -------
    A JSON-able dict: ``columns``, ``means`` (per column), ``last_post`` (ISO UTC),
    ``typical_hour`` and ``typical_weekday`` (the most frequent, for messages),
    ``median_gap_hours``.
    """
    times = pd.to_datetime(posts["timestamp"], utc=True, format="ISO8601")
    gaps = np.exp(context["log_gap_hours"].median()) - 1 if len(context) else FIRST_POST_GAP_HOURS
    return {
        "columns": list(CONTEXT_COLUMNS),
        "means": {c: round(float(context[c].mean()), 9) if len(context) else 0.0 for c in CONTEXT_COLUMNS},
        "last_post": times.max().strftime("%Y-%m-%dT%H:%M:%SZ") if len(times) else None,
        "typical_hour": int(times.dt.hour.mode().min()) if len(times) else 12,
        "typical_weekday": WEEKDAYS[int(times.dt.day_of_week.mode().min())] if len(times) else "mon",
        "median_gap_hours": round(float(gaps), 3),
    }


def parse_when(text: str) -> pd.Timestamp:
    """A planned posting time from ISO 8601 text; without an offset it is UTC.

    Parameters
    ----------
    text : e.g. ``2025-06-01T19:00``, ``2025-06-01 19:00+09:00``.

    Returns
    -------
    A tz-aware UTC timestamp.
    """
    try:
        when = pd.Timestamp(text)
    except ValueError as err:
        raise InstapopError(f"{text!r}: not a date and time (ISO 8601, e.g. 2025-06-01T19:00+09:00)") from err
    if pd.isna(when):
        raise InstapopError(f"{text!r}: not a date and time (ISO 8601, e.g. 2025-06-01T19:00+09:00)")
    return _utc(when)


def candidate_context(
    when: datetime | pd.Timestamp | str | None,
    caption: str | None,
    carousel_size: int | None,
    position: int | None,
    video_share: float | None,
    history: dict[str, Any],
) -> tuple[np.ndarray, list[str]]:
    """Context row of a post not published yet, and the inputs that fell back to the profile's typical values.

    Parameters
    ----------
    when : planned posting time (naive = UTC), or None for "typical timing".
    caption : the planned caption, or None for "typical caption" ("" is a real, empty caption).
    carousel_size, position, video_share : the post's shape, or None for typical.
    history : ``context_defaults`` as saved with the model.

    Returns
    -------
    (row, fallbacks): ``row`` in ``CONTEXT_COLUMNS`` order (float64); ``fallbacks``
    names the inputs replaced by the profile's averages: ``"when"``, ``"gap"``
    (a time before the profile's last post, whose previous post is unknown),
    ``"caption"``, ``"carousel"``.
    """
    row = dict(history["means"])
    fallbacks: list[str] = []
    if when is None:
        fallbacks.append("when")
    else:
        when = parse_when(when) if isinstance(when, str) else _utc(pd.Timestamp(when))
        gap = _gap_from_last(when, history)
        row |= timing_features(when, history["median_gap_hours"] if gap is None else gap)
        if gap is None:
            fallbacks.append("gap")
    if caption is None:
        fallbacks.append("caption")
    else:
        row |= caption_features(caption)
    if carousel_size is None or position is None or video_share is None:
        fallbacks.append("carousel")
    else:
        row |= shape_features(carousel_size, position, video_share)
    return np.array([row[c] for c in CONTEXT_COLUMNS], dtype=np.float64), fallbacks


def _utc(when: pd.Timestamp) -> pd.Timestamp:
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def _gap_from_last(when: pd.Timestamp, history: dict[str, Any]) -> float | None:
    """Hours from the profile's last post to ``when``; None if ``when`` is not after it."""
    if history.get("last_post") is None:
        return None
    hours = (when - pd.Timestamp(history["last_post"])).total_seconds() / 3600
    return hours if hours > 0 else None


def describe_fallbacks(fallbacks: Sequence[str], history: dict[str, Any]) -> str:
    """One line saying which inputs used the profile's typical values ("" if none).

    Parameters
    ----------
    fallbacks : from ``candidate_context``.
    history : ``context_defaults`` as saved with the model.

    Returns
    -------
    E.g. ``"typical timing (mostly sun 12:00 UTC), typical caption"``.
    """
    known = history.get("typical_hour") is not None
    words = {
        "when": f"typical timing (mostly {history['typical_weekday']} {history['typical_hour']:02d}:00 UTC)"
        if known
        else "typical timing",
        "gap": f"typical gap since the last post ({history['median_gap_hours']:g} h; "
        f"the time is before the last post, {history['last_post']})"
        if known
        else "typical gap since the last post (the model does not know the last post)",
        "caption": "typical caption",
        "carousel": "typical carousel shape",
    }
    return ", ".join(words[f] for f in fallbacks)


# --------------------------------------------------------------------------- what the context is worth


def readable_timing(context: pd.DataFrame) -> pd.DataFrame:
    """Hour (0-23, UTC), weekday (0 = Monday) and gap in hours of each item, read back from its features.

    Parameters
    ----------
    context : a context table (``media_context``).

    Returns
    -------
    Same index; columns ``hour``, ``weekday``, ``gap_hours``.
    """
    angle = np.arctan2(context["hour_sin"], context["hour_cos"]) % (2 * math.pi)
    weekday = context[[f"weekday_{d}" for d in WEEKDAYS]].to_numpy().argmax(axis=1)
    return pd.DataFrame(
        {
            "hour": np.floor(angle / _HOUR_ANGLE + 1e-9).astype(int) % 24,
            "weekday": weekday,
            "gap_hours": np.expm1(context["log_gap_hours"]),
        },
        index=context.index,
    )


def predictive_value(
    target: np.ndarray, inputs: dict[str, np.ndarray], groups: np.ndarray, n_splits: int = 5
) -> dict[str, float]:
    """How well each block of inputs alone, and all together, predicts ``target`` on unseen posts.

    A ridge regression (features standardised on the training folds, penalty chosen by
    leave-one-out inside them) is fitted per grouped fold (a post's items stay together);
    the figure is the Spearman correlation of its out-of-fold predictions with the target.
    Deterministic: the folds follow the groups, no random draw.

    Parameters
    ----------
    target : (n,) e.g. the within-window PoR percentile.
    inputs : named (n, k) blocks, e.g. ``{"picture": embeddings, "context": context}``.
    groups : (n,) post of each item.
    n_splits : folds (fewer if there are fewer posts).

    Returns
    -------
    ``{name: spearman}`` for each block and for ``" + ".join(names)`` (all blocks side by side).
    """
    from scipy.stats import spearmanr
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    target = np.asarray(target, dtype=float)
    blocks = {name: np.asarray(x, dtype=float) for name, x in inputs.items()}
    blocks[" + ".join(inputs)] = np.hstack(list(blocks.values()))
    folds = list(GroupKFold(min(n_splits, len(set(groups)))).split(target, groups=groups))
    result = {}
    for name, x in blocks.items():
        predicted = np.zeros_like(target)
        for train, test in folds:
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 6, 15), gcv_mode="eigen"))
            predicted[test] = model.fit(x[train], target[train]).predict(x[test])
        result[name] = round(float(spearmanr(predicted, target).statistic), 3)
    return result


_MIN_DRIVER_ITEMS = 20  # fewer labelled images say nothing about which block predicts


def measure_drivers(
    dataset: Any, media: pd.DataFrame, context: pd.DataFrame | None
) -> dict[str, float] | None:
    """Out-of-fold Spearman of the picture, the context and both, on the images (:func:`predictive_value`).

    Parameters
    ----------
    dataset : the run's ``datasets.Dataset`` (image ids, views, posts).
    media : the labelled media table (its ``percentile`` is the target).
    context : the run's ``context.csv`` table, or None.

    Returns
    -------
    ``{"picture": .., "context": .., "picture + context": ..}``, or None without context or
    with fewer than 20 labelled images.
    """
    ids = dataset.images.ids
    if context is None or len(ids) < _MIN_DRIVER_ITEMS:
        return None
    target = media.set_index("media_id").loc[ids, "percentile"].astype(float)
    known = target.notna().to_numpy()
    if known.sum() < _MIN_DRIVER_ITEMS:
        return None
    inputs = {
        "picture": dataset.image_views.mean(axis=1)[known],
        "context": context.loc[ids].to_numpy()[known],
    }
    return predictive_value(target.to_numpy()[known], inputs, np.asarray(dataset.images.groups)[known])


# --------------------------------------------------------------------------- saved with a model

DEFAULTS_FILE = "context.json"  # in the model folder, beside config.json


def write_context_defaults(run_dir: Path, model_dir: Path) -> Path:
    """Save :func:`context_defaults` of a run into ``model_dir/context.json`` (for predictions).

    Parameters
    ----------
    run_dir : the run folder the model was trained from.
    model_dir : the model folder.

    Returns
    -------
    The file written.
    """
    import json

    path = Path(model_dir) / DEFAULTS_FILE
    defaults = context_defaults(load_context(run_dir), read_posts(run_dir))
    path.write_text(json.dumps(defaults, indent=2) + "\n")
    return path


def read_context_defaults(model_dir: Path) -> dict[str, Any] | None:
    """``model_dir/context.json``, or None for a model saved without it."""
    import json

    path = Path(model_dir) / DEFAULTS_FILE
    if not path.is_file():
        return None
    try:
        defaults = json.loads(path.read_text())
    except ValueError as err:
        raise InstapopError(f"{path}: not valid JSON ({err}); retrain or delete it") from err
    missing = {"means", "last_post", "typical_hour", "typical_weekday", "median_gap_hours"} - set(defaults)
    if missing:
        raise InstapopError(f"{path}: {sorted(missing)} missing; retrain")
    return defaults
