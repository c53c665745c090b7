"""A ranking for a person: the plain-text table the CLI prints and the explanation files it writes."""

from __future__ import annotations

import re
from pathlib import Path

from instapop.media_types import IMAGE
from instapop.predict.candidates import Candidate


def format_ranking(ranked: list[Candidate], names: list[str]) -> str:
    """A plain-text table: rank, file, media type, predicted class, score; a ranker's moves.

    The class column shows a classifier's probabilities beside its class; the
    ``picture`` and ``context`` columns (a ranker's score moves, in percentile points)
    appear when some candidate has them, and ``words`` (the caption's words' move) with
    ``caption words`` (the terms that raised it, then after "/" those that lowered it) when
    some candidate's model reads caption words. The context notes follow (once if they are
    all the same), then the candidates that could not be scored, each with its reason.
    """
    scored = [c for c in ranked if c.ok]
    moves = any(c.picture is not None for c in scored)
    words = any(c.words is not None for c in scored)
    header = ["rank", "candidate", "type", "class (probabilities: " + " / ".join(names) + ")", "score"]
    header += ["picture", "context"] if moves else []
    header += ["words", "caption words"] if words else []
    rows = [[*_cells(c, names), *(_moves(c) if moves else []), *(_words(c) if words else [])] for c in scored]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    notes = list(dict.fromkeys(c.context_note for c in scored if c.context_note))
    if len(notes) == 1:
        lines.append(f"context: {notes[0]}")
    else:
        lines += [f"context of {c.name}: {c.context_note}" for c in scored if c.context_note]
    lines += [f"not scored: {c.error}" for c in ranked if not c.ok]
    return "\n".join(lines)


def _cells(c: Candidate, names: list[str]) -> list[str]:
    probs = " (" + " / ".join(f"{p:.2f}" for p in c.probs) + ")" if c.probs else ""
    return [str(c.rank), c.name, c.media_type, names[c.predicted_class] + probs, f"{c.score:.3f}"]


def _moves(c: Candidate) -> list[str]:
    if c.picture is None:
        return ["", ""]
    return [f"{100 * c.picture:+.1f}", f"{100 * (c.context or 0.0):+.1f}"]


def _words(c: Candidate) -> list[str]:
    if c.words is None:
        return ["", ""]
    up = " ".join(f"{term} {100 * move:+.1f}" for term, move in c.words_up)
    down = " ".join(f"{term} {100 * move:+.1f}" for term, move in c.words_down)
    return [f"{100 * c.words:+.1f}", f"{up} / {down}" if up or down else ""]


def write_explanations(ranked: list[Candidate], out_dir: Path) -> list[Path]:
    """Write each heatmap (images) and filmstrip (videos) as ``<rank>_<name>.<kind>.png``.

    A carousel's items are written under the carousel's rank. Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for candidate in filter(lambda c: c.ok, ranked):
        for item in candidate.items or [candidate]:
            if item.heatmap_png is None:
                continue
            kind = "heatmap" if item.media_type == IMAGE else "filmstrip"
            slug = re.sub(r"[^A-Za-z0-9._-]+", "_", item.name).strip("_")
            path = out_dir / f"{candidate.rank:02d}_{slug}.{kind}.png"
            path.write_bytes(item.heatmap_png)
            written.append(path)
    return written
