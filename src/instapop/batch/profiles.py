"""Which profiles a batch studies: a folder of profile folders, or a ``profiles.csv``.

A folder of profile folders: each sub-folder is one profile (an Instaloader
download, or a folder with ``manifest.csv``) named after the folder, with its
follower history inside, in files named ``followers*.csv`` / ``followers*.json``
(the profile's own Instaloader JSON counts too, as in ``instapop run``).

A ``profiles.csv``: one row per profile with the columns ``name``, ``folder``,
``followers`` (one or more files separated by ``;``) and optionally
``followers_date``; relative paths are read from the CSV's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from instapop.errors import InstapopError

FOLLOWER_PATTERNS = ("followers*.csv", "followers*.json")
CSV_COLUMNS = ("name", "folder", "followers")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # becomes a folder name under the batch's output


@dataclass(frozen=True)
class BatchProfile:
    """One profile of a batch: its name (its run folder's name), posts folder and follower files."""

    name: str
    folder: Path
    followers: list[Path] = field(default_factory=list)
    followers_date: str | None = None


def read_profiles(source: Path) -> list[BatchProfile]:
    """The profiles listed by a folder of profile folders or by a ``profiles.csv``.

    Parameters
    ----------
    source : a folder whose sub-folders are profiles, or a CSV file (see the module's docstring).

    Returns
    -------
    Profiles sorted by name, paths absolute.

    Raises
    ------
    InstapopError
        When the source does not exist, lists no profile, lacks a CSV column, or repeats a name
        or uses one that cannot be a folder name.
    """
    source = Path(source).resolve()
    if source.is_file():
        profiles = _from_csv(source)
    elif source.is_dir():
        profiles = _from_folder(source)
    else:
        raise InstapopError(f"{source}: no such folder or profiles.csv")
    if not profiles:
        raise InstapopError(f"{source}: lists no profile (expected profile folders or CSV rows)")
    _check_names(source, [p.name for p in profiles])
    return sorted(profiles, key=lambda p: p.name)


def _from_folder(root: Path) -> list[BatchProfile]:
    return [
        BatchProfile(folder.name, folder, _follower_files(folder))
        for folder in sorted(root.iterdir())
        if folder.is_dir() and not folder.name.startswith(".")
    ]


def _follower_files(folder: Path) -> list[Path]:
    return sorted({path for pattern in FOLLOWER_PATTERNS for path in folder.glob(pattern) if path.is_file()})


def _from_csv(path: Path) -> list[BatchProfile]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise InstapopError(f"{path}: cannot read it as CSV ({err})") from err
    missing = [column for column in CSV_COLUMNS if column not in table.columns]
    if missing:
        raise InstapopError(
            f"{path}: lacks columns {missing}; expected {list(CSV_COLUMNS)} [+ followers_date]"
        )
    base = path.parent
    return [
        BatchProfile(
            name=row["name"].strip(),
            folder=(base / row["folder"].strip()).resolve(),
            followers=[(base / f.strip()).resolve() for f in row["followers"].split(";") if f.strip()],
            followers_date=row.get("followers_date", "").strip() or None,
        )
        for row in table.to_dict(orient="records")
    ]


def _check_names(source: Path, names: list[str]) -> None:
    bad = [name for name in names if not _SAFE_NAME.match(name)]
    if bad:
        raise InstapopError(
            f"{source}: profile names {bad} cannot be folder names (letters, digits, '.', '_', '-' only)"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InstapopError(f"{source}: profile names {repeated} appear more than once")


def synthetic_profiles(
    root: Path, n_profiles: int = 3, n_posts: int = 60, seed: int = 0
) -> list[BatchProfile]:
    """Generate ``n_profiles`` synthetic profiles laid out as a batch folder: ``root/brand<i>/``.

    Each folder holds the generated posts and its ``followers.csv``, as a folder of
    client downloads would; seeds ``seed``, ``seed + 1``, ... make the profiles differ.
    For demos, tests and bench/batch.py.
    """
    from instapop.synthetic import generate_profile

    root = Path(root)
    for i in range(n_profiles):
        folder = root / f"brand{i + 1}"
        if not (folder / "followers.csv").is_file():
            made = generate_profile(root / f".generated-{i + 1}", n_posts=n_posts, seed=seed + i)
            made.followers_csv.replace(made.profile_dir / "followers.csv")
            made.profile_dir.replace(folder)
    return read_profiles(root)
