"""The report's "Words that go with popular posts": the caption terms the saved ranker weighs most,
each with two of its posts, and how the score splits between picture, timing and words.

Everything here is read from ``explain/explain.json`` (``words``, written by
:mod:`instapop.explain.words`) and the thumbnail strips beside it.
"""

from __future__ import annotations

from instapop.report.html import Section, esc, image, missing, paragraph
from instapop.report.run_files import RunFiles
from instapop.report.sections import NEEDS_EXPLAIN

TITLE = "Words that go with popular posts"
NEEDS_WORDS = (
    "explain/explain.json was written before caption words were explained: delete the explain/ folder "
    "and rerun `instapop report`."
)
INTRO = (
    "The words, hashtags and emoji of the captions that the model weighs most. 'Moves the score' is how "
    "far the term alone, as a caption, moves a post's predicted place among the posts of its time window "
    "(in percentile points, 0 to 100) against an empty caption. Beside it: how many posts use it, their "
    "mean place (50 is the middle) and two of them. A word that goes with popular posts may still owe "
    "its place to what those posts show or when they went out: the weights are fitted together with the "
    "picture and the timing, but they remain a correlation, not a rule."
)


def split_sentence(split: dict[str, float]) -> str:
    """The score's split between picture, timing and words in plain words, rounded to 5 %."""
    picture, timing, words = (5 * round(20 * split[part]) for part in ("picture", "timing", "words"))
    return (
        f"Of how the model's scores differ between your posts, about {picture} % comes from the picture, "
        f"{timing} % from the timing (with the post's shape and the caption's length) and {words} % from "
        "the caption's words."
    )


def words_section(run: RunFiles) -> Section:
    """The terms that raise and lower the score, with two thumbnails each, or why there are none."""
    if run.explain is None:
        return Section("words", TITLE, missing(NEEDS_EXPLAIN))
    words = run.explain.get("words")
    if words is None:  # no model, or an explain.json written before caption words
        return Section("words", TITLE, missing(run.explain.get("model", NEEDS_WORDS)))
    body = paragraph(split_sentence(words["split"])) if "split" in words else ""
    if "why" in words:
        return Section("words", TITLE, body + paragraph(words["why"]))
    media = words["media"]
    body += paragraph(INTRO + f" Measured by the {media} model, on its {media}s.")
    for key, heading in (("raising", "Words that raise the score"), ("lowering", "Words that lower it")):
        body += f"<h3>{heading}</h3>" + _table(run, words[key])
    return Section("words", TITLE, body)


def _table(run: RunFiles, rows: list[dict]) -> str:
    if not rows:
        return paragraph("None.")
    header = "".join(
        f"<th>{esc(h)}</th>" for h in ("term", "moves the score", "posts", "their mean place", "two of them")
    )
    return f'<table class="words"><tr>{header}</tr>{"".join(_row(run, row) for row in rows)}</table>'


def _row(run: RunFiles, row: dict) -> str:
    """One term: its move and posts in points, its examples' thumbnails captioned with their ids."""
    strip = image(run.folder.explain / row["strip"], f"posts with {row['term']}", ", ".join(row["examples"]))
    return (
        f"<tr><td>{esc(row['term'])}</td><td>{100 * row['effect']:+.1f}</td><td>{row['posts']}</td>"
        f"<td>{100 * row['mean_percentile']:.0f}</td><td>{strip}</td></tr>"
    )
