"""Bounded reading of Instaloader ``.json`` / ``.json.xz`` files.

A metadata file is untrusted input: its size is checked (or, for ``.xz``, the
stream is decompressed in chunks and abandoned past the bound, so an xz bomb
never reaches memory whole); bytes that are not valid in the file's encoding
are replaced rather than costing the whole post; a document nested deeper than
Python's parser can follow is refused as one bad item.
"""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

from instapop.config import PAPER
from instapop.errors import BadInputError

_XZ_CHUNK = 64 * 1024


class OversizedFileError(BadInputError):
    """A metadata file is, or decompresses to, more than the configured bound."""


def load_instaloader_json(path: Path, max_bytes: int = PAPER.max_json_bytes) -> dict[str, Any]:
    """Read an Instaloader ``.json`` or ``.json.xz`` file, refusing anything past ``max_bytes``.

    Parameters
    ----------
    path : the metadata file.
    max_bytes : largest decompressed size accepted; a ``.json.xz`` is decompressed
        as a stream and abandoned as soon as it passes the bound (an xz bomb
        never reaches memory whole).

    Returns
    -------
    The decoded JSON object.

    Raises
    ------
    BadInputError
        When the file is too large, truncated, not valid JSON, nested too deeply
        or not an object.
    """
    data, _ = read_json_file(path, max_bytes)
    if not isinstance(data, dict):
        raise BadInputError(f"{path}: malformed JSON (expected an object, got {type(data).__name__})")
    return data


def read_json_file(path: Path, max_bytes: int = PAPER.max_json_bytes) -> tuple[Any, bool]:
    """Read any JSON value from a ``.json`` or ``.json.xz`` file, bounded as :func:`load_instaloader_json`.

    Parameters
    ----------
    path : the file.
    max_bytes : largest (decompressed) size accepted.

    Returns
    -------
    The decoded value, and whether bytes invalid in the file's encoding were
    replaced by U+FFFD to read it.

    Raises
    ------
    BadInputError
        When the file is too large, truncated, not valid JSON or nested too deeply.
    """
    path = Path(path)
    try:
        xz = path.name.endswith(".xz")
        raw = _read_xz_bounded(path, max_bytes) if xz else _read_plain_bounded(path, max_bytes)
    except OSError as err:
        raise BadInputError(f"{path}: cannot read ({err.strerror or err})") from err
    text, replaced = _decode(raw)
    try:
        return json.loads(text), replaced
    except json.JSONDecodeError as err:
        raise BadInputError(f"{path}: malformed JSON ({err})") from err
    except RecursionError as err:
        # The C parser counts its own depth and gives up at the interpreter's
        # recursion limit, quickly and without memory growth: one bad item.
        raise BadInputError(f"{path}: malformed JSON (nested too deeply to read)") from err


def _decode(raw: bytes) -> tuple[str, bool]:
    encoding = json.detect_encoding(raw)
    try:
        return raw.decode(encoding), False
    except UnicodeDecodeError:
        return raw.decode(encoding, errors="replace"), True


def _read_plain_bounded(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise OversizedFileError(f"{path}: too large ({size} bytes, limit {max_bytes})")
    return path.read_bytes()


def _read_xz_bounded(path: Path, max_bytes: int) -> bytes:
    decompressor = lzma.LZMADecompressor()
    out = bytearray()
    try:
        with path.open("rb") as fh:
            while not decompressor.eof:
                chunk = fh.read(_XZ_CHUNK) if decompressor.needs_input else b""
                if decompressor.needs_input and not chunk:
                    raise BadInputError(f"{path}: truncated .xz stream")
                # Ask for at most one byte past the bound: enough to know it was exceeded.
                out += decompressor.decompress(chunk, max_length=max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    raise OversizedFileError(f"{path}: decompresses past the {max_bytes}-byte limit")
    except lzma.LZMAError as err:
        raise BadInputError(f"{path}: corrupt .xz ({err})") from err
    return bytes(out)
