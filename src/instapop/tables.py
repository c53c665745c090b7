"""Reading a run folder's CSV tables the same way everywhere.

Text columns (ids, captions, paths) stay text, an empty cell being the empty string: a caption
of "NA" or "null" is a caption, and an id is never a number. In every other column an empty cell
is a missing value (a post without a known follower count), so numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd


def read_table(path: Path, text_columns: Iterable[str]) -> pd.DataFrame:
    """Read ``path`` with ``text_columns`` as strings and empty cells elsewhere as NaN."""
    text = set(text_columns)
    header = pd.read_csv(path, nrows=0).columns
    return pd.read_csv(
        path,
        dtype={c: str for c in header if c in text},
        keep_default_na=False,
        na_values={c: [""] for c in header if c not in text},
    )
