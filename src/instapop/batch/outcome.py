"""What became of one profile of a batch: what ``batch.json`` records and the portfolio shows.

Its own module so that the runner (``run.py``) and the portfolio (``portfolio.py``) both
read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# What each status word means, for a person reading the portfolio ("failed" gives its reason).
STATUS_MEANINGS = {
    "done": "studied by this batch",
    "reused": "finished by an earlier batch, media and settings unchanged",
}


@dataclass
class ProfileOutcome:
    """What became of one profile.

    Attributes
    ----------
    name : the profile's name (its run folder's name).
    run_dir : its run folder.
    status : ``"done"`` (studied by this batch), ``"reused"`` (an earlier batch's study of
        the same media and settings) or ``"failed"``.
    reason : why it failed, in one line.
    report : its ``report.html``, once studied.
    timings : seconds per stage of its study.
    """

    name: str
    run_dir: Path
    status: str = "failed"
    reason: str = ""
    report: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def status_line(self) -> str:
        """The status word and what it means: "reused: finished by an earlier batch, …", "failed: reason"."""
        return f"{self.status}: {self.reason if self.status == 'failed' else STATUS_MEANINGS[self.status]}"
