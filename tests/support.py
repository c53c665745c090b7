"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from instapop.synthetic import load_ground_truth


def planted_media(profile, media_type: str, signal: str | None = None) -> list[Path]:
    """Original (not reposted) media files of a synthetic profile, by type and planted signal."""
    media = load_ground_truth(profile.ground_truth)["media"]
    return sorted(
        Path(profile.profile_dir) / item["path"]
        for item in media.values()
        if item["media_type"] == media_type and item["repost_of"] is None and signal in (None, item["signal"])
    )
