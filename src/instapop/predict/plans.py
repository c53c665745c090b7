"""What a ranking may be asked to score: bounds on uploads (:class:`Limits`) and a candidate's
planned time and caption (:class:`Plan`), given once or per candidate in a CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from instapop.context import parse_when
from instapop.errors import InstapopError


@dataclass(frozen=True)
class Limits:
    """Bounds on what may be scored, so that one upload cannot exhaust the machine.

    ``max_files`` and ``max_request_bytes`` bound one web request; the others bound
    every candidate, from the CLI as from the web.

    Attributes
    ----------
    max_files : files in one request.
    max_file_bytes : bytes of one file.
    max_request_bytes : bytes of one request body, all files together.
    max_image_pixels : width x height of an image (a 48-megapixel phone photo passes).
    max_video_s : seconds of one video (Instagram reels run up to 3 minutes).
    max_caption_chars : characters of a planned caption (Instagram's own limit).

    Video frame size and frame rate are bounded as in training (``Config.video_max_pixels``,
    ``Config.video_max_fps``), by :func:`instapop.media.sample_video`.
    """

    max_files: int = 20
    max_file_bytes: int = 100 * 2**20
    max_request_bytes: int = 250 * 2**20
    max_image_pixels: int = 50_000_000
    max_video_s: float = 180.0
    max_caption_chars: int = 2_200


@dataclass(frozen=True)
class Plan:
    """What a user knows about a candidate's publication; None: not given (the profile's typical value).

    Attributes
    ----------
    when : planned posting time, ISO 8601 (without an offset: UTC).
    caption : the planned caption ("" is a real, empty caption).
    """

    when: str | None = None
    caption: str | None = None

    def checked(self, limits: Limits) -> Plan:
        """The plan with its time normalised to ISO UTC; InstapopError naming what is wrong."""
        if self.caption is not None and len(self.caption) > limits.max_caption_chars:
            raise InstapopError(
                f"a caption of {len(self.caption)} characters is over the limit of {limits.max_caption_chars}"
            )
        when = None if self.when is None else parse_when(self.when).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Plan(when, self.caption)


PLAN_COLUMNS = ("file", "when", "caption")


def read_plan(path: Path, limits: Limits | None = None) -> dict[str, Plan]:
    """Per-candidate plans from a CSV with the columns ``file,when,caption``.

    ``file`` names a candidate as the ranking shows it (``candidates/beach.jpg``) or by
    its last part (``beach.jpg``, a carousel folder ``summer/``); an empty ``when`` or
    ``caption`` cell means "not given".

    Parameters
    ----------
    path : the CSV file (UTF-8).
    limits : bounds on captions (default :class:`Limits`).

    Returns
    -------
    ``{file: Plan}``.

    Raises
    ------
    InstapopError : naming the file and line of a missing column, an unreadable time or a repeated file.
    """
    limits = limits or Limits()
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            columns = rows[0].keys() if rows else ()
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InstapopError(f"{path}: cannot read the plan ({err})") from err
    if "file" not in columns or not {"when", "caption"} & set(columns):
        raise InstapopError(f"{path}: expected the columns {','.join(PLAN_COLUMNS)}; found {list(columns)}")
    plans: dict[str, Plan] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("file") or "").strip()
        if not name or name in plans:
            why = "no file named" if not name else f"{name} is planned twice"
            raise InstapopError(f"{path}, line {line}: {why}")
        plan = Plan((row.get("when") or "").strip() or None, row.get("caption") or None)
        try:
            plans[name] = plan.checked(limits)
        except InstapopError as err:
            raise InstapopError(f"{path}, line {line} ({name}): {err}") from None
    return plans


def plan_key(name: str, plans: dict[str, Plan]) -> str | None:
    """The key of ``plans`` naming the candidate ``name``: its full name, else its last part; None if none."""
    last = name.rstrip("/").rsplit("/", 1)[-1]
    return next((key for key in (name, last, last + "/") if key in plans), None)


def plan_for(name: str, plans: dict[str, Plan], default: Plan) -> Plan:
    """The plan of the candidate called ``name`` (see :func:`plan_key`), else ``default``."""
    key = plan_key(name, plans)
    return default if key is None else plans[key]


def unmatched_plans(plans: dict[str, Plan], names: list[str]) -> list[str]:
    """Plan rows that name none of the candidates (a typo a person wants to hear about)."""
    used = {plan_key(name, plans) for name in names}
    return [key for key in plans if key not in used]
