"""The report's matplotlib figures (paper Figs. 1b, 2, 5-8, the PoR timeline, context effects), as PNG bytes.

Every function takes plain tables read from the run folder and returns PNG
bytes; none touches pyplot's global state (``matplotlib.figure.Figure`` draws on
the Agg canvas), so figures can be drawn from any thread.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from matplotlib.ticker import StrMethodFormatter

from instapop.media_types import IMAGE, VIDEO

MEDIA_COLOURS = {IMAGE: "tab:blue", VIDEO: "tab:orange"}
# red (least popular) -> amber -> green (most popular): every class stays visible on white
CLASS_SCALE = ListedColormap(["#c62828", "#f0a500", "#2e7d32"]).resampled(256)
# the same three colours, blended: a mean popularity is a continuous number
POPULARITY_SCALE = LinearSegmentedColormap.from_list("popularity", ["#c62828", "#f0a500", "#2e7d32"])


def class_colours(n_classes: int) -> list[tuple[float, float, float, float]]:
    """One RGBA colour per class, 0 = red (least popular) to N-1 = green (most popular)."""
    return [CLASS_SCALE(x) for x in np.linspace(0.0, 1.0, n_classes)]


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (tight layout)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def low_confidence_spans(
    times: pd.Series, low: np.ndarray, min_width: pd.Timedelta = pd.Timedelta(days=2)
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Time spans covered by consecutive low-confidence posts (sorted times, boolean flags).

    Each run of flagged posts becomes one span from its first to its last post,
    widened to ``min_width`` so that a single post still shows.
    """
    times = pd.Series(pd.to_datetime(times, utc=True)).reset_index(drop=True)
    low = np.asarray(low, dtype=bool)
    spans = []
    start = None
    for i, flag in enumerate(low):
        if flag and start is None:
            start = i
        if start is not None and (not flag or i == len(low) - 1):
            end = i if flag else i - 1
            first, last = times[start], times[end]
            pad = max(min_width - (last - first), pd.Timedelta(0)) / 2
            spans.append((first - pad, last + pad))
            start = None
    return spans


def por_over_time(posts: pd.DataFrame, followers: pd.DataFrame | None) -> bytes:
    """PoR of each post over time per media type, the follower estimate below, low-confidence shaded.

    Parameters
    ----------
    posts : one row per (post, media type) with ``timestamp``, ``media_type``, ``por``,
        ``followers`` (the estimate) and ``low_confidence`` (bool).
    followers : the known follower points (``date``, ``followers``), or None.
    """
    posts = posts.sort_values("timestamp")
    fig = Figure(figsize=(10, 5.5), dpi=100)
    ax_por, ax_fol = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for media_type, group in posts.groupby("media_type"):
        ax_por.scatter(
            group["timestamp"],
            group["por"],
            s=10,
            alpha=0.8,
            label=f"{media_type} posts",
            color=MEDIA_COLOURS.get(media_type, "tab:gray"),
        )
    estimate = posts.drop_duplicates("timestamp")
    ax_fol.plot(estimate["timestamp"], estimate["followers"], color="tab:gray", label="estimate at each post")
    if followers is not None and len(followers):
        ax_fol.scatter(
            followers["date"], followers["followers"], s=12, color="k", zorder=3, label="known counts"
        )
    spans = low_confidence_spans(posts["timestamp"], posts["low_confidence"].to_numpy())
    for number, (first, last) in enumerate(spans):
        for ax in (ax_por, ax_fol):
            ax.axvspan(
                first,
                last,
                color="tab:red",
                alpha=0.12,
                lw=0,
                label="low-confidence follower estimate" if number == 0 else None,
            )
    ax_por.set_ylabel("PoR = (likes + comments) / followers")
    ax_por.set_title("Popularity rate over time")
    ax_por.legend(fontsize=8, loc="upper right")
    ax_fol.set_ylabel("followers")
    # Plain counts: a nearly flat estimate otherwise gets an offset axis such as "1e-7+5.0134e4".
    ax_fol.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax_fol.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    return png_bytes(fig)


def por_by_post_type(posts: pd.DataFrame) -> bytes:
    """PoR of image-only posts vs posts with at least one video (paper Fig. 1b).

    Parameters
    ----------
    posts : one row per post with ``por`` and ``has_video`` (bool).
    """
    groups = [
        ("image posts", posts.loc[~posts["has_video"], "por"]),
        ("posts with video", posts.loc[posts["has_video"], "por"]),
    ]
    groups = [(name, values.dropna()) for name, values in groups if values.notna().any()]
    fig = Figure(figsize=(5.5, 4), dpi=100)
    ax = fig.add_subplot()
    ax.boxplot([values for _, values in groups], showmeans=True)
    ax.set_xticks(range(1, len(groups) + 1), [f"{name}\n(n = {len(values)})" for name, values in groups])
    ax.set_ylabel("PoR")
    ax.set_title("PoR by post type (mean: triangle)")
    return png_bytes(fig)


HOUR_BIN = 3  # hours per heat-map row: 8 slots x 7 days, so a few hundred posts fill most cells
MIN_CELL_POSTS = 3  # a cell's mean from fewer posts is left blank: one lucky post is not an effect
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def timing_grid(timing: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Mean target and post count per (3-hour slot, weekday): (8, 7) arrays; NaN where too few posts.

    Parameters
    ----------
    timing : one row per post with ``hour`` (0-23), ``weekday`` (0 = Monday) and ``target``.
    """
    slots = 24 // HOUR_BIN
    sums, counts = np.zeros((slots, 7)), np.zeros((slots, 7))
    np.add.at(sums, (timing["hour"].to_numpy() // HOUR_BIN, timing["weekday"].to_numpy()), timing["target"])
    np.add.at(counts, (timing["hour"].to_numpy() // HOUR_BIN, timing["weekday"].to_numpy()), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts >= MIN_CELL_POSTS, sums / counts, np.nan)
    return means, counts


def context_effects(timing: pd.DataFrame, target_label: str) -> bytes:
    """Posting time and rhythm against popularity: hour x weekday heat map, gap since the previous post.

    Parameters
    ----------
    timing : one row per post with ``hour`` (0-23, UTC), ``weekday`` (0 = Monday), ``gap_hours``
        and ``target`` (the within-window percentile, or the class scaled to [0, 1]).
    target_label : what ``target`` is, for the axes.
    """
    means, counts = timing_grid(timing)
    fig = Figure(figsize=(11, 4.2), dpi=100)
    heat, gap = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
    shown = heat.imshow(means, cmap=POPULARITY_SCALE, vmin=0, vmax=1, aspect="auto")
    for (row, col), n in np.ndenumerate(counts):
        if n:
            heat.text(col, row, f"{int(n)}", ha="center", va="center", fontsize=7, color="0.15")
    heat.set_xticks(range(7), WEEKDAY_NAMES)
    heat.set_yticks(range(len(means)), [f"{h:02d}-{h + HOUR_BIN:02d}" for h in range(0, 24, HOUR_BIN)])
    heat.set_ylabel("hour (UTC)")
    heat.set_title(f"mean {target_label} (number: posts; blank: < {MIN_CELL_POSTS})", fontsize=10)
    fig.colorbar(shown, ax=heat, fraction=0.05)
    hours = timing["gap_hours"].clip(lower=0.1)
    gap.scatter(hours, timing["target"], s=8, alpha=0.5, color="tab:blue", edgecolor="none")
    edges = np.unique(np.quantile(np.log(hours), np.linspace(0, 1, 9)))
    if len(edges) > 2:
        which = np.clip(np.digitize(np.log(hours), edges[1:-1]), 0, len(edges) - 2)
        binned = pd.DataFrame({"bin": which, "x": hours, "y": timing["target"]}).groupby("bin")
        label = "mean per eighth of the posts"
        gap.plot(binned["x"].median(), binned["y"].mean(), "o-", color="tab:red", label=label)
        gap.legend(fontsize=8)
    gap.set_xscale("log")
    gap.set_xlabel("hours since the previous post")
    gap.set_ylabel(target_label)
    gap.set_title("gap since the previous post", fontsize=10)
    return png_bytes(fig)


def class_assignment(media: pd.DataFrame, n_classes: int, value: str = "por", label: str = "PoR") -> bytes:
    """Classes over time by a global split (left) and by the rolling window (right) (paper Fig. 2).

    Parameters
    ----------
    media : rows with ``timestamp``, ``value``, ``global_class_<N>`` and ``class_<N>``;
        unlabelled rows (class -1) are left out.
    n_classes : N.
    value, label : the column the classes rank (``por`` or ``target``) and its axis label.
    """
    colours = class_colours(n_classes)
    fig = Figure(figsize=(11, 4.2), dpi=100)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, column, title in (
        (axes[0], f"global_class_{n_classes}", "global split (one threshold for all time)"),
        (axes[1], f"class_{n_classes}", "rolling window (thresholds move with time)"),
    ):
        for cls in range(n_classes):
            rows = media[media[column] == cls]
            ax.scatter(
                rows["timestamp"],
                rows[value],
                s=9,
                color=colours[cls],
                edgecolor="k",
                linewidth=0.2,
                label=f"class {cls}",
            )
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=30)
    axes[0].set_ylabel(label)
    axes[1].legend(fontsize=8, title="0 = least popular", title_fontsize=8)
    return png_bytes(fig)


def confusion_matrices(matrices: list[tuple[str, np.ndarray, np.ndarray]]) -> bytes:
    """Row-normalised confusion matrices, each cell "mean ± std" (paper Figs. 5-8).

    Parameters
    ----------
    matrices : (title, mean, std) per panel; mean and std are (N, N), rows = true class.
    """
    n_panels = len(matrices)
    size = matrices[0][1].shape[0]
    fig = Figure(figsize=(3.3 * n_panels, 3.3 + 0.25 * size), dpi=100)
    axes = np.atleast_1d(fig.subplots(1, n_panels))
    for ax, (title, mean, std) in zip(axes, matrices, strict=True):
        ax.imshow(mean, cmap="Blues", vmin=0, vmax=max(1.0, float(np.max(mean))))
        for (row, col), value in np.ndenumerate(mean):
            ink = "white" if value > 0.6 * max(1.0, float(np.max(mean))) else "black"
            ax.text(
                col,
                row,
                f"{value:.2f}\n± {std[row, col]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color=ink,
            )
        ticks = range(mean.shape[0])
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title, fontsize=9)
    return png_bytes(fig)


def tsne_figure(explain_map: dict, n_classes: int) -> bytes:
    """Paper Fig. 4: the map by class, images as dots, video thumbnails as triangles, regions circled.

    Parameters
    ----------
    explain_map : the ``map`` entry of ``explain.json`` (xy, classes, kinds, regions).
    n_classes : N.
    """
    xy = np.asarray(explain_map["xy"], dtype=float)
    classes = np.asarray(explain_map["classes"])
    is_video = np.asarray(explain_map["kinds"]) == VIDEO
    colours = class_colours(n_classes)
    fig = Figure(figsize=(8, 6.5), dpi=100)
    ax = fig.add_subplot()
    for cls in range(n_classes):
        for video, marker, kind in ((False, "o", "image"), (True, "^", "video thumbnail")):
            mask = (classes == cls) & (is_video == video)
            if mask.any():
                ax.scatter(
                    *xy[mask].T,
                    s=24,
                    marker=marker,
                    color=colours[cls],
                    edgecolor="k",
                    linewidth=0.3,
                    label=f"class {cls}, {kind}",
                )
    for region in explain_map["regions"]:
        members = xy[region["members"]]
        centre = members.mean(axis=0)
        radius = np.percentile(np.linalg.norm(members - centre, axis=1), 90)
        colour = "darkgreen" if region["direction"] == "popular" else "darkred"
        ax.add_patch(Circle(centre, radius, fill=False, color=colour, linewidth=1.6, linestyle="--"))
        ax.annotate(
            f"R{region['number']}", centre + radius * 0.75, color=colour, fontsize=12, fontweight="bold"
        )
    ax.set_title(f"t-SNE of image and video-thumbnail embeddings ({n_classes} classes, 0 = least popular)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return png_bytes(fig)
