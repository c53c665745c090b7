"""Exact nearest-neighbour search on embeddings (Euclidean, as in the paper).

A chunked dense distance matrix in float64: images number in the low thousands, so brute
force is exact and takes seconds, and only ``CHUNK_ROWS`` rows of the matrix are held at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from instapop.config import Config

CHUNK_ROWS = 512  # rows of the distance matrix held at once: 512 x 5000 float64 is 20 MB


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors (n, d); got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinite values")
    return matrix


def _row_chunks(n_rows: int, chunk_rows: int) -> Iterator[slice]:
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


def _distance_chunks(matrix: np.ndarray, chunk_rows: int, desc: str) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (rows, exact Euclidean distances from those rows to every row)."""
    sq_norms = np.einsum("ij,ij->i", matrix, matrix)
    chunks = list(_row_chunks(len(matrix), chunk_rows))
    for rows in tqdm(chunks, desc=desc, unit="chunk", disable=None, leave=False):
        sq = sq_norms[rows, None] + sq_norms[None, :] - 2.0 * (matrix[rows] @ matrix.T)
        # Rounding can leave tiny negatives where two vectors are identical.
        yield rows, np.sqrt(np.maximum(sq, 0.0))


def nearest_neighbour_distances(
    vectors: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Euclidean distance from each row to its nearest *other* row.

    Parameters
    ----------
    vectors : ndarray of shape (n, d)
        One embedding per row, n >= 2.
    chunk_rows : int
        Rows of the distance matrix computed at once (memory, not results).

    Returns
    -------
    distances : ndarray of shape (n,)
        Distance to the nearest other row.
    indices : ndarray of shape (n,)
        Row index of that neighbour (the lowest index on ties).
    """
    matrix = _as_matrix(vectors)
    if len(matrix) < 2:
        raise ValueError(f"nearest neighbours need at least 2 vectors; got {len(matrix)}")
    distances = np.empty(len(matrix))
    indices = np.empty(len(matrix), dtype=np.int64)
    for rows, block in _distance_chunks(matrix, chunk_rows, "nearest neighbours"):
        local = np.arange(block.shape[0])
        block[local, local + rows.start] = np.inf  # a row is not its own neighbour
        indices[rows] = block.argmin(axis=1)
        distances[rows] = block[local, indices[rows]]
    return distances, indices


def find_duplicate_pairs(
    ids: Sequence[str],
    vectors: np.ndarray,
    threshold: float,
    *,
    durations: np.ndarray | None = None,
    fps: np.ndarray | None = None,
    duration_tol: float = Config.video_duration_tol_s,
    fps_tol: float = Config.video_fps_tol,
    chunk_rows: int = CHUNK_ROWS,
) -> pd.DataFrame:
    """Every pair of items within ``threshold`` of each other (Euclidean).

    Parameters
    ----------
    ids : sequence of str
        One id per row of ``vectors``.
    vectors : ndarray of shape (n, d)
        Image embeddings, or video thumbnail embeddings.
    threshold : float
        Largest distance that still counts as a duplicate.
    durations, fps : ndarray of shape (n,), optional
        Videos: a pair also needs durations within ``duration_tol`` seconds and
        frame rates within ``fps_tol``. A missing (NaN) value never matches.
    duration_tol, fps_tol : float
        The tolerances for ``durations`` and ``fps``.
    chunk_rows : int
        Rows of the distance matrix computed at once (memory, not results).

    Returns
    -------
    DataFrame with columns ``a``, ``b`` (ids, ``a`` the earlier row) and
    ``distance``; each pair once, sorted by distance then ids.
    """
    ids = [str(i) for i in ids]
    matrix = _as_matrix(vectors)
    if len(ids) != len(matrix):
        raise ValueError(f"got {len(ids)} ids for {len(matrix)} vectors")
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a finite number >= 0; got {threshold}")
    found_a, found_b, found_d = [], [], []
    for rows, block in _distance_chunks(matrix, chunk_rows, "duplicate pairs"):
        row_idx, col_idx = np.nonzero(block <= threshold)
        row_idx = row_idx + rows.start
        later = col_idx > row_idx  # each unordered pair once, never an item with itself
        row_idx, col_idx = row_idx[later], col_idx[later]
        if durations is not None:
            row_idx, col_idx = _attributes_match(row_idx, col_idx, durations, duration_tol)
        if fps is not None:
            row_idx, col_idx = _attributes_match(row_idx, col_idx, fps, fps_tol)
        found_a.extend(row_idx)
        found_b.extend(col_idx)
        found_d.extend(block[row_idx - rows.start, col_idx])
    pairs = pd.DataFrame(
        {
            "a": [ids[i] for i in found_a],
            "b": [ids[j] for j in found_b],
            "distance": np.asarray(found_d, float),
        }
    )
    return pairs.sort_values(["distance", "a", "b"], kind="mergesort").reset_index(drop=True)


def _attributes_match(
    row_idx: np.ndarray, col_idx: np.ndarray, values: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64)
    # NaN compares False, so an unknown duration or fps never makes a pair.
    close = np.abs(values[row_idx] - values[col_idx]) <= tol
    return row_idx[close], col_idx[close]


def nearest_neighbour_indices(vectors: np.ndarray, k: int, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Row indices of each row's ``k`` nearest *other* rows (Euclidean), shape (n, min(k, n - 1))."""
    matrix = _as_matrix(vectors)
    k = max(0, min(k, len(matrix) - 1))
    indices = np.empty((len(matrix), k), dtype=np.int64)
    if k == 0:
        return indices
    for rows, block in _distance_chunks(matrix, chunk_rows, "nearest neighbours"):
        local = np.arange(block.shape[0])
        block[local, local + rows.start] = np.inf
        indices[rows] = np.argpartition(block, k - 1, axis=1)[:, :k]
    return indices


def among_nearest(pairs: pd.DataFrame, ids: Sequence[str], vectors: np.ndarray, k: int) -> pd.DataFrame:
    """The pairs in which one item is among the other's ``k`` nearest neighbours."""
    if pairs.empty:
        return pairs
    ids = [str(i) for i in ids]
    nearest = nearest_neighbour_indices(vectors, k)
    close = {(ids[i], ids[j]) for i in range(len(ids)) for j in nearest[i]}
    keep = [(a, b) in close or (b, a) in close for a, b in zip(pairs["a"], pairs["b"], strict=True)]
    return pairs[keep].reset_index(drop=True)
