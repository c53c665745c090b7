"""Small HTML building blocks for the one-file report: escaped text, embedded images, tables, the page."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MAX_TABLE_ROWS = 200  # longer tables are cut, with a line saying how many rows were left out

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 0 1.2em 3em; color: #222; line-height: 1.45; }
h1 { margin-top: 1em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
nav ol { columns: 2; } figure { margin: 1em 0; } figcaption { font-size: .9em; color: #555; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: .85em; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.missing { background: #fff6e0; border-left: 4px solid #e0a000; padding: .5em 1em; }
.summary li { margin: .3em 0; } .gallery { display: flex; flex-wrap: wrap; gap: 1em; }
.gallery figure { flex: 0 1 460px; }
"""


@dataclass(frozen=True)
class Section:
    """One titled part of the report; ``anchor`` is its HTML id."""

    anchor: str
    title: str
    body: str


def esc(text: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(text))


def paragraph(text: str) -> str:
    """A paragraph of plain (escaped) text."""
    return f"<p>{esc(text)}</p>"


def missing(text: str) -> str:
    """A highlighted note that part of a section could not be made, and why."""
    return f'<p class="missing">{esc(text)}</p>'


def image(png: bytes | Path, alt: str, caption: str | None = None) -> str:
    """A PNG embedded as a data URI, in a figure with an optional caption."""
    data = Path(png).read_bytes() if isinstance(png, Path) else png
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    figcaption = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{src}" alt="{esc(alt)}">{figcaption}</figure>'


def table(frame: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS) -> str:
    """An HTML table of the frame's first ``max_rows`` rows (cells escaped)."""
    if frame.empty:
        return ""
    shown = frame.head(max_rows).to_html(index=False, escape=True, border=0, na_rep="")
    left_out = len(frame) - max_rows
    return shown + (paragraph(f"... and {left_out} more rows.") if left_out > 0 else "")


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole self-contained page: title, table of contents, sections."""
    toc = "".join(f'<li><a href="#{s.anchor}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.anchor}"><h2>{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # an empty icon: without it the browser asks for /favicon.ico, a console error on file://
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav><ol>{toc}</ol></nav>{body}</body></html>"
    )
