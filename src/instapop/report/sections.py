"""The report's sections, each built from the run folder's files alone.

A section whose stage has not run yet still appears, with a note saying what to
run; so the report builds from a run folder holding nothing but ``media.csv``.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from instapop.errors import InstapopError
from instapop.labels import class_ns
from instapop.media_types import VIDEO
from instapop.report import figures
from instapop.report.html import Section, esc, image, missing, paragraph, table
from instapop.report.run_files import RunFiles

log = logging.getLogger(__name__)

NEEDS_INGEST = "Needs media.csv: run `instapop ingest` into this folder."
NEEDS_EXPLAIN = "Needs explain/explain.json: run `instapop report` (it runs the explanations) after training."


def label_n(run: RunFiles) -> int | None:
    """The N the report shows labels for: the explained model's, else the largest in media.csv."""
    if run.explain is not None:
        return int(run.explain["n_classes"])
    if run.media is None:
        return None
    ns = class_ns(run.media.columns)
    return max(ns) if ns else None


def target_name(run: RunFiles) -> str:
    """What the classes rank: ``PoR`` (the paper's), ``reach-rate`` or ``reach`` (summary.json ``target``)."""
    name = ((run.summary or {}).get("target") or {}).get("name", "por")
    return "PoR" if name == "por" else name


def target_sentence(run: RunFiles) -> str:
    """Which target the labels use and why; how PoR and reach-rate agree when both are known; or ""."""
    target = (run.summary or {}).get("target")
    if not target:
        return ""
    text = f"Popularity here is {target_name(run)} = {target['formula']}: {target['why']}."
    agreement = target.get("agreement_with_por")
    if agreement:
        rho = agreement["spearman"]
        strength = "closely" if rho >= 0.8 else "roughly" if rho >= 0.5 else "weakly"
        text += (
            f" PoR and reach-rate rank the posts {strength} alike "
            f"(Spearman {rho:.2f} over {agreement['posts']} posts)."
        )
    return text


def post_rows(media: pd.DataFrame) -> pd.DataFrame:
    """One row per (post, media type): a post's PoR as its images and its videos see it."""
    return media.drop_duplicates(["post_id", "media_type"])


def popularity_section(run: RunFiles) -> Section:
    """PoR over time with the follower estimate (low-confidence stretches shaded) and Fig. 1b."""
    title = "How popularity behaves"
    if run.media is None:
        return Section("popularity", title, missing(NEEDS_INGEST))
    rows = post_rows(run.media)
    posts = run.media.groupby("post_id").agg(
        por=("por", "first"), has_video=("media_type", lambda t: (t == VIDEO).any())
    )
    ratio = _image_vs_video_ratio(posts)
    body = (
        paragraph(
            "Popularity rate (PoR) is likes plus comments divided "
            "by the followers the profile had when the post "
            "went out. Shaded stretches are where the follower "
            "count is a guess: extrapolated beyond the known "
            f"counts, or more than {run.config.low_confidence_days:g} "
            "days from one. Labels there are less reliable."
        )
        + image(
            figures.por_over_time(rows, run.followers),
            "PoR over time",
            "PoR per post and media type; below, the follower estimate and the known counts.",
        )
        + image(
            figures.por_by_post_type(posts),
            "PoR of image posts and posts with video",
            "Paper Fig. 1b: PoR of image-only posts and of posts with at least one video.",
        )
        + (paragraph(ratio) if ratio else "")
    )
    if target_name(run) != "PoR":
        known = "" if run.media["por"].notna().any() else " (unknown here: no follower history was given)"
        body = paragraph(f"These figures show PoR{known}; this run's labels rank {target_name(run)}.") + body
    return Section("popularity", title, body)


def _image_vs_video_ratio(posts: pd.DataFrame) -> str:
    image_mean = posts.loc[~posts["has_video"], "por"].mean()
    video_mean = posts.loc[posts["has_video"], "por"].mean()
    if not (np.isfinite(image_mean) and np.isfinite(video_mean)) or video_mean <= 0:
        return ""
    change = image_mean / video_mean - 1
    side = "better" if change >= 0 else "worse"
    return f"Image-only posts do on average {abs(change):.0%} {side} in PoR than posts with a video."


def labels_section(run: RunFiles) -> Section:
    """Class assignment over time, global split beside the rolling window (Fig. 2)."""
    title = "How posts are labelled"
    n = label_n(run)
    if run.media is None or n is None:
        return Section("labels", title, missing(NEEDS_INGEST))
    window = run.config.window_days
    name = target_name(run)
    value = "target" if "target" in run.media.columns else "por"
    body = paragraph(
        f"Each post is put in one of {n} popularity classes "
        f"(0 = least popular) by comparing its {name} with the "
        f"posts around it: a rolling window of {window:g} days, widened to at least "
        f"{run.config.min_window_posts} posts. Left, one split for all time; right, the rolling window, "
        "which keeps a long quiet stretch or a wrong follower count from putting all its posts in one class. "
        "Images and videos are labelled separately."
    )
    figure = figures.class_assignment(run.media, n, value, name)
    body += image(figure, "class assignment over time", "Paper Fig. 2.")
    return Section("labels", title, body)


def duplicates_section(run: RunFiles) -> Section:
    """NN-distance histogram with the threshold and the removed pairs (Fig. 3a): dedup's own figures."""
    title = "Near-duplicates removed"
    if run.dedup_summary is None:
        return Section(
            "duplicates", title, missing("Needs dedup.json: run `instapop dedup` into this folder.")
        )
    s = run.dedup_summary
    if s.get("verified_by_pictures"):
        found = (
            f"Candidate bound {s['threshold']:.3f} ({s['rule']}); {s['n_candidates']} candidate pairs "
            f"verified by the pictures, {s['n_pairs']} of them the same photograph"
        )
    else:
        found = f"Distance threshold {s['threshold']:.3f} ({s['rule']}); {s['n_pairs']} duplicate pairs"
    text = (
        f"{found}; removed "
        f"{s['n_removed_duplicates']['image']} images and "
        f"{s['n_removed_duplicates']['video']} videos as duplicates "
        f"and {s['n_excluded']} excluded by hand; {s['n_kept']} media kept."
    )
    body = paragraph(text)
    for path, alt, caption in (
        (
            run.folder.dedup_hist,
            "nearest-neighbour distances",
            "Paper Fig. 3a: each picture's distance to its nearest "
            "other picture; the threshold cuts off the left tail.",
        ),
        (
            run.folder.dedup_pairs,
            "removed pairs and rejected candidates",
            "Removed pairs, kept (left) and removed (right), with their evidence; below them the near "
            "candidates the verification rejected, with the reason.",
        ),
    ):
        body += (
            image(path, alt, caption)
            if path.exists()
            else missing(f"{path.name} is missing from the run folder.")
        )
    return Section("duplicates", title, body)


def region_text(region: dict) -> str:
    """One region in plain words."""
    tested = "top" if region["direction"] == "popular" else "bottom"
    return (
        f"Region R{region['number']} ({region['direction']}): {region['size']} pictures, mean class "
        f"{region['mean_class']:.2f}; {region['share']:.0%} in the {tested} class against "
        f"{region['baseline']:.0%} "
        f"over the whole profile (p = {region['p_value']:.2g})."
    )


def map_section(run: RunFiles) -> Section:
    """t-SNE of images and thumbnails by class (Fig. 4) and the automatically found regions."""
    title = "What kinds of pictures are popular"
    explain_map = (run.explain or {}).get("map")
    if explain_map is None:
        return Section("map", title, missing(NEEDS_EXPLAIN))
    if "skipped" in explain_map:
        return Section("map", title, missing(explain_map["skipped"]))
    body = paragraph(
        "Each dot is a picture (an image, or a video's thumbnail) placed so that pictures the network sees "
        "as alike sit together (t-SNE). Circled regions are clusters of the map whose posts are clearly more "
        "popular (green) or less popular (red) than the rest of the profile, beyond what chance explains "
        "(Mann-Whitney U test on the classes, Bonferroni-corrected)."
    ) + image(figures.tsne_figure(explain_map, run.explain["n_classes"]), "t-SNE map", "Paper Fig. 4.")
    regions = explain_map["regions"]
    if not regions:
        body += paragraph("No region of the map differs significantly from the profile's popularity.")
    for region in regions:
        body += f"<h3>Region R{region['number']}</h3>" + image(
            run.folder.explain / region["strip"],
            f"region R{region['number']} thumbnails",
            region_text(region),
        )
    return Section("map", title, body)


def gradcam_section(run: RunFiles) -> Section:
    """Grad-CAM of the image model on its most confident correct images per class (Fig. 9)."""
    title = "Where the image model looks"
    items = (run.explain or {}).get("images")
    if items is None:
        reason = (run.explain or {}).get("model", NEEDS_EXPLAIN)
        return Section("gradcam", title, missing(reason))
    body = paragraph(
        "For the pictures the image model is surest about (and "
        "right), the heatmap shows which parts of the picture "
        "drove its choice of class: red is strong evidence, blue "
        "none (Grad-CAM, paper Fig. 9). These pictures were "
        "part of training, so they show what the model learned, not how well it predicts new posts."
    )
    if not items:
        body += paragraph("The model got no image right with confidence, so there is nothing to show.")
    figs = "".join(
        image(
            run.folder.explain / item["png"],
            f"Grad-CAM of {item['media_id']}",
            f"{item['media_id']}: class {item['class']} with probability {item['prob']:.2f}",
        )
        for item in items
    )
    return Section("gradcam", title, body + f'<div class="gallery">{figs}</div>')


def videos_section(run: RunFiles) -> Section:
    """Frame importance filmstrips and Grad-CAM on the top frames of the video model's surest videos."""
    title = "Which moments of a video matter"
    videos = (run.explain or {}).get("videos")
    if videos is None:
        reason = (run.explain or {}).get("model", NEEDS_EXPLAIN)
        return Section("videos", title, missing(reason))
    body = paragraph(
        "The video model reads one frame a second. Each strip "
        "shows those frames and, under each, how much the "
        "model's confidence drops when that frame is blanked "
        "out (replaced by the video's average frame): tall "
        "bars are the moments that carry the prediction. The heatmaps show where the model looks in the two "
        "most important frames."
    )
    if not videos:
        body += paragraph("No video was predicted correctly with confidence, or the profile has no videos.")
    for video in videos:
        frames = "".join(
            image(
                run.folder.explain / f["png"],
                f"Grad-CAM of frame {f['index']}",
                f"frame {f['index']} at {f['time']:.1f} s",
            )
            for f in video["top_frames"]
        )
        body += (
            f"<h3>{esc(video['media_id'])}: class {video['class']} (probability {video['prob']:.2f})</h3>"
            + image(run.folder.explain / video["filmstrip"], f"filmstrip of {video['media_id']}")
            + f'<div class="gallery">{frames}</div>'
        )
    return Section("videos", title, body)


def popularity_target(media: pd.DataFrame, n_classes: int | None) -> tuple[pd.Series, str]:
    """Each item's place among its window's posts in [0, 1], and its name for a person.

    The within-window PoR percentile when ``media.csv`` has it, else the rolling class over N - 1.
    """
    if "percentile" in media:
        return media["percentile"].astype(float), "within-window percentile"
    column = f"class_{n_classes}"
    return media[column].where(media[column] >= 0) / (n_classes - 1), f"class / {n_classes - 1}"


def context_section(run: RunFiles) -> Section:
    """Posting time and rhythm against popularity, and what the picture and the context each predict."""
    title = "When to post: timing and caption"
    n = label_n(run)
    if run.media is None or n is None:
        return Section("context", title, missing(NEEDS_INGEST))
    from instapop.context import load_context, readable_timing

    try:
        context = load_context(run.run_dir)
    except InstapopError as err:
        return Section("context", title, missing(str(err)))
    rows = post_rows(run.media).set_index("media_id")
    target, label = popularity_target(rows, n)
    timing = readable_timing(context.loc[rows.index]).assign(target=target).dropna()
    body = paragraph(
        "Does it matter when a post goes out? Left: the mean popularity (its place among the posts of "
        "its time window, 0 = least, 1 = most popular) of posts by weekday and hour of day, in UTC. "
        "Right: the same against the hours since the profile's previous post. A pattern here is a "
        "correlation, not a rule: posting times also follow seasons and campaigns."
    ) + image(figures.context_effects(timing, label), "context effects", "Timing against popularity.")
    drivers = context_drivers(run)
    if drivers:
        body += paragraph(drivers_text(drivers) + " " + DRIVERS_METHOD)
    return Section("context", title, body)


DRIVERS_METHOD = (
    "How this is measured: a ridge regression predicts each image's within-window percentile from the "
    "picture alone (its embedding), from timing and caption alone (hour, weekday, gap since the previous "
    "post, carousel, caption length, hashtags, mentions, emoji), and from both; fitted on four fifths of "
    "the posts and scored on the fifth it did not see, five times over; the figure is the Spearman "
    "correlation of those predictions with the truth (0 = no idea, 1 = perfect order)."
)


def drivers_text(drivers: dict[str, float]) -> str:
    """Picture against timing in one sentence, from :func:`context_drivers`."""
    picture, context = drivers["picture"], drivers["context"]
    leader = "the picture" if picture >= context else "timing and caption"
    return (
        f"What drives popularity on this profile: {leader}. On posts held out from fitting, the picture "
        f"alone orders posts with a Spearman correlation of {picture:.2f}, timing and caption alone "
        f"{context:.2f}, both together {drivers['picture + context']:.2f}."
    )


def context_drivers(run: RunFiles) -> dict[str, float] | None:
    """Out-of-fold Spearman of picture, context and both (images), as evaluate measured it, or None."""
    path = run.folder.context_drivers
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        log.warning("%s: could not be read (%s)", path, err)
        return None


def quality_section(run: RunFiles) -> Section:
    """Excluded posts, low-confidence labels, duplicates removed, media that could not be read."""
    title = "Data quality"
    parts = []
    parts.append("<h3>Excluded posts</h3>")
    if run.excluded is None:
        parts.append(missing(NEEDS_INGEST))
    else:
        parts.append(
            paragraph(f"{len(run.excluded)} posts or files left out at ingest.") + table(run.excluded)
        )
    if run.summary is not None:
        parts.append(_cover_only(run.summary) + _source_notes(run.summary))
    parts.append("<h3>Low-confidence labels</h3>")
    if run.media is None:
        parts.append(missing(NEEDS_INGEST))
    else:
        low = post_rows(run.media)
        low = low[low["low_confidence"]][
            ["post_id", "timestamp", "media_type", "followers", "confidence_days"]
        ]
        parts.append(paragraph(f"{low['post_id'].nunique()} posts have a low-confidence label.") + table(low))
    parts.append("<h3>Duplicates removed</h3>")
    if run.dedup is None:
        parts.append(missing("Needs dedup.csv: run `instapop dedup` into this folder."))
    else:
        removed = run.dedup[~run.dedup["kept"].astype(bool)].drop(columns=["kept"])
        parts.append(paragraph(f"{len(removed)} media removed.") + table(removed))
    parts.append("<h3>Media that could not be read</h3>")
    unreadable = _unreadable(run)
    parts.append(paragraph(f"{len(unreadable)} media or files could not be used.") + table(unreadable))
    return Section("quality", title, "".join(parts))


def _cover_only(summary: dict) -> str:
    """How many videos are known by their cover only (downloaded without the video file)."""
    covers = summary.get("cover_only_videos", 0)
    videos = summary.get("media", {}).get(VIDEO, 0)
    if not covers:
        return ""
    return "<h3>Videos known by their cover</h3>" + paragraph(
        f"{covers} of {videos} videos have only their cover picture (the video file was not downloaded, "
        "as instaloader --no-videos leaves them): they are modelled by their cover. Download the videos "
        "to let their frames count; see the Reels page of the docs."
    )


def _source_notes(summary: dict) -> str:
    """Follower-date warnings, partial carousels, orphan media and side files from summary.json."""
    parts = ["<h3>Follower history</h3>"]
    warnings = summary.get("follower_warnings", [])
    parts.append("".join(f'<p class="missing">{esc(w)}</p>' for w in warnings) or paragraph("No warnings."))
    partial = pd.DataFrame(
        [(p["post"], "; ".join(p["missing"])) for p in summary.get("partial_posts", [])],
        columns=["post", "missing files"],
    )
    parts.append("<h3>Partial carousels</h3>")
    kept = paragraph(f"{len(partial)} carousels kept with only the children that were downloaded.")
    parts.append(kept + table(partial))
    orphans = pd.DataFrame({"file": summary.get("orphan_media", [])})
    parts.append("<h3>Media without metadata</h3>")
    parts.append(
        paragraph(f"{len(orphans)} media files in the folder that no post's metadata names (not used).")
        + table(orphans)
    )
    sides = summary.get("side_files", {})
    counts = ", ".join(f"{n} {kind}" for kind, n in sides.items()) or "none"
    parts.append("<h3>Other files</h3>")
    parts.append(paragraph(f"Files recognised and not used as posts: {counts}."))
    return "".join(parts)


def _unreadable(run: RunFiles) -> pd.DataFrame:
    frames = [pd.DataFrame(run.problems, columns=["item", "reason"])]
    if run.failed is not None:
        frames.append(run.failed.rename(columns={"path": "item"})[["item", "reason"]])
    skipped = (run.explain or {}).get("skipped", [])
    frames.append(pd.DataFrame(skipped, columns=["item", "reason"]))
    return pd.concat(frames, ignore_index=True)
