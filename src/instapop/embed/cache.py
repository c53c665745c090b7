"""Content-addressed feature cache: one small safetensors file per entry, written atomically.

An entry's key is the SHA-256 of everything its vectors depend on: the media
file's bytes, the backbone (name and engine), the preprocessing version and
parameters, and the view index or the frame-sampling rule. Renaming, moving or
re-ingesting a file therefore finds its features again, and changing any of
those inputs can never return stale ones.

Entries live in 256 shard folders named by the key's first two hex digits.
Each is written to a temporary file in its shard and renamed over the final
name (``os.replace`` is atomic on POSIX): a reader sees a whole entry or none,
a run killed with SIGKILL leaves at worst a stray ``.tmp`` file, and two runs
writing the same entry at once both write the same bytes. No fsync: the cache
survives a killed process, and a power cut only costs recomputation (an
unreadable entry counts as a miss).
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

log = logging.getLogger(__name__)

_TENSOR = "vectors"


def default_cache_dir() -> Path:
    """The shared feature cache: ``$XDG_CACHE_HOME/instapop`` or ``~/.cache/instapop``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "instapop"


def file_digest(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(*parts: str) -> str:
    """SHA-256 hex digest of the key's parts, joined unambiguously."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class FeatureCache:
    """Float32 feature matrices (n, D) with optional string metadata, addressed by :func:`cache_key`.

    Parameters
    ----------
    root : cache folder; entries go under ``root/features/<2 hex>/<key>.safetensors``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the entry ``key`` lives."""
        return self.root / "features" / key[:2] / f"{key}.safetensors"

    def get(self, key: str, dim: int) -> tuple[np.ndarray, dict[str, str]] | None:
        """The entry's (n, dim) vectors and metadata, or None when absent or unreadable."""
        path = self.path(key)
        try:
            with safe_open(path, framework="numpy") as entry:
                vectors = entry.get_tensor(_TENSOR)
                metadata = entry.metadata() or {}
        except FileNotFoundError:
            return None
        except (SafetensorError, OSError) as err:
            log.warning("%s: unreadable cache entry, recomputing it (%s)", path, err)
            return None
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] != dim:
            log.warning(
                "%s: cache entry of shape %s, expected (n, %d); recomputing it", path, vectors.shape, dim
            )
            return None
        return vectors, metadata

    def put(self, key: str, vectors: np.ndarray, metadata: dict[str, str] | None = None) -> None:
        """Store float32 (n, D) ``vectors`` under ``key``, atomically."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = save({_TENSOR: np.ascontiguousarray(vectors, dtype=np.float32)}, metadata=metadata)
        write_atomically(path, blob)

    def __len__(self) -> int:
        """Number of entries (walks the shards; for tests and reports, not hot paths)."""
        return sum(1 for _ in (self.root / "features").glob("*/*.safetensors"))


def write_atomically(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through a uniquely named temporary file and a rename.

    A reader (or a run killed half-way) sees the old file or the new one, never a
    partial one, and two writers never share a temporary file.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
