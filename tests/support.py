"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from instapop.config import Config
from instapop.synthetic import load_ground_truth

# A small but real configuration for tests: the paper's models and protocol with
# fewer augmented views, epochs and repeats, so a whole study takes seconds.
TEST_CONFIG = Config(n_views=2, epochs=8, n_repeats=1, seed=0)


def planted_media(profile, media_type: str, signal: str | None = None) -> list[Path]:
    """Original (not reposted) media files of a synthetic profile, by type and planted signal."""
    media = load_ground_truth(profile.ground_truth)["media"]
    return sorted(
        Path(profile.profile_dir) / item["path"]
        for item in media.values()
        if item["media_type"] == media_type and item["repost_of"] is None and signal in (None, item["signal"])
    )


def open_page(chromium, url: str, width: int, height: int) -> tuple[object, list[str]]:
    """A loaded Chromium page of ``url`` and the list its console and script errors go to."""
    errors: list[str] = []
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, errors
