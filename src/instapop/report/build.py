"""``build_report``: the run folder's files -> one self-contained ``report.html``.

The page opens with a summary in plain words for a marketer, then one section
per figure group of the paper, then the data-quality lists. Every image is a
base64 data URI, so the file can be mailed or opened offline.
"""

from __future__ import annotations

import logging
from pathlib import Path

from instapop.media_types import IMAGE, VIDEO
from instapop.report import accuracy, sections, words
from instapop.report.html import Section, esc, image, page
from instapop.report.run_files import RunFiles, load_run
from instapop.targets import VIEW_TARGETS

log = logging.getLogger(__name__)



def _posts_line(run: RunFiles) -> str:
    media = run.media
    n_posts = media["post_id"].nunique()
    counts = media["media_type"].value_counts()
    first, last = media["timestamp"].min(), media["timestamp"].max()
    excluded = (
        f"; {len(run.excluded)} posts or files were left out (see Data quality)"
        if run.excluded is not None
        else ""
    )
    return (
        f"{n_posts} posts from {first:%d %b %Y} to {last:%d %b %Y}, with {counts.get('image', 0)} images and "
        f"{counts.get('video', 0)} videos{excluded}."
    )


def _reliability_line(run: RunFiles) -> str:
    """What the follower estimate can change in the labels: its change inside a label window."""
    target = (run.summary or {}).get("target") or {}
    if target.get("name") in VIEW_TARGETS:
        fallback = target.get("fallback")
        rest = f"; the {fallback['posts']} posts without views rest on PoR instead" if fallback else ""
        return f"Label reliability: labels rest on the view counts Instagram gave{rest}."
    if sections.target_name(run) != "PoR":
        return "Label reliability: labels rest on the reach in the export, not on a follower estimate."
    change = (run.summary or {}).get("follower_change")
    if change is None:
        return "Label reliability: no follower estimate; PoR labels could not be computed."
    window = f"{run.config.window_days:g}-day window"
    line = (
        f"Label reliability: a post's class compares it with the posts of its {window}, so the follower "
        f"estimate matters only through how much it changes inside a window: at most {change['max']:.1%} "
        f"here (median {change['median']:.1%})"
    )
    if change["posts_over"] == 0:
        return line + "; the labels hardly depend on the estimate."
    return (
        line + f"; for {change['posts_over']} of {change['posts']} posts it changes by more than "
        f"{change['over']:.0%} inside the window, so their labels rest partly on the estimate."
    )


def _backtest_line(run: RunFiles) -> str:
    """The time-ordered backtest of the saved model's approach, in a brand's words."""
    from instapop.validation import row_of  # torch comes with it: only once a model exists

    card, backtest = run.model_card or {}, (run.cv or {}).get("backtest")
    if not card or not backtest:
        return ""
    for media in (IMAGE, VIDEO):
        name = card.get(f"{media}_approach")
        row = row_of(backtest, media, name, card["n_classes"])
        if row is not None and "pooled" in row and row["pooled"]["top_half"] is not None:
            pooled = row["pooled"]
            return (
                f"Had you used instapop since {pooled['start']}, retrained before each stretch of posts on "
                f"the posts before it: of the {pooled['n_top']} {media}s it put in the top half, "
                f"{pooled['top_half']:.0%} were in the top half of their window (chance 50 %; time-ordered "
                f"backtest of the {name} approach over {pooled['n']} {media}s)."
            )
    return ""


def _regions_summary(run: RunFiles) -> str:
    regions = ((run.explain or {}).get("map") or {}).get("regions")
    if regions is None:
        return ""
    popular = [r for r in regions if r["direction"] == "popular"]
    if not popular:
        return "<li>No group of similar pictures is clearly more popular than the rest of the profile.</li>"
    strips = "".join(
        image(run.folder.explain / r["strip"], f"region R{r['number']}", sections.region_text(r))
        for r in popular
    )
    return (
        f"<li>{len(popular)} {'group' if len(popular) == 1 else 'groups'} of similar pictures "
        f"{'is' if len(popular) == 1 else 'are'} clearly more popular than the rest; this is what they look "
        f"like (most typical first):{strips}</li>"
    )


def summary_section(run: RunFiles) -> Section:
    """The opening summary: posts, label reliability, accuracy above chance, popular regions."""
    title = "Summary"
    if run.media is None:
        return Section("summary", title, sections.missing(sections.NEEDS_INGEST))
    items = [_posts_line(run), sections.target_sentence(run), _reliability_line(run)]
    items = [item for item in items if item]
    items += [f"The {stage} stage did not run ({why})." for stage, why in run.stages_not_run().items()]
    items += accuracy.summary_lines(run.cv) if run.cv is not None else ["Models: not evaluated yet."]
    items += [line for line in [_backtest_line(run)] if line]
    drivers = sections.context_drivers(run)
    items += [sections.drivers_text(drivers) + " (see When to post)"] if drivers else []
    body = "".join(f"<li>{esc(line)}</li>" for line in items) + _regions_summary(run)
    return Section("summary", title, f'<ul class="summary">{body}</ul>')


def report_sections(run: RunFiles) -> list[Section]:
    """Every section in reading order."""
    return [
        summary_section(run),
        sections.popularity_section(run),
        sections.labels_section(run),
        sections.duplicates_section(run),
        sections.map_section(run),
        accuracy.accuracy_section(run),
        sections.context_section(run),
        words.words_section(run),
        sections.gradcam_section(run),
        sections.videos_section(run),
        sections.quality_section(run),
    ]


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` from the run folder's files.

    Parameters
    ----------
    run_dir : a run folder; only ``media.csv`` is needed, each later stage's files add their sections
        (a missing stage's section says what to run).

    Returns
    -------
    Path of the report.
    """
    run = load_run(Path(run_dir))
    html = page(
        "Instagram popularity report",
        f"Run folder: {run.run_dir.resolve()}",
        report_sections(run),
    )
    path = run.folder.report
    path.write_text(html, encoding="utf-8")
    log.info("report written to %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
