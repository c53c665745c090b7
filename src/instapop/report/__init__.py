"""The self-contained HTML report of a run folder (figures of the paper, explanations, data quality)."""

from __future__ import annotations

from instapop.report.build import build_report

__all__ = ["build_report"]
