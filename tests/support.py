"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from instapop.config import PAPER, Config
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


# A caption effect strong enough for 150 posts: planted posts rank about a third higher in their windows.
CAPTION_FACTOR = 2.5


class RandomEncoder:
    """Random picture features, the same for every picture: only the caption and the context count."""

    name = "random"
    dim = 16

    def __init__(self, media_ids: list[str]) -> None:
        rng = np.random.default_rng(0)
        self.backbone = self.name
        self.image_ids = media_ids
        self.image_views = rng.normal(size=(len(media_ids), 2, self.dim)).astype(np.float32)
        self.video_ids: list[str] = []
        self.video_frames = np.zeros((0, 3, self.dim), np.float32)
        self.video_thumbs = np.zeros((0, self.dim), np.float32)

    def encode(self, images: np.ndarray) -> np.ndarray:
        return np.zeros((len(images), self.dim), np.float32)


def caption_effect_run(root: Path):
    """A 150-post profile whose planted captions raise PoR x CAPTION_FACTOR (objects do not matter),
    read through ingest and labels: (its profile folder, the run folder, its images as a Dataset
    with random picture features)."""
    from instapop.datasets import IMAGE, RunData, build_dataset
    from instapop.ingest import load_media
    from instapop.stages import ProfileInput, RunInputs, run_stages
    from instapop.synthetic import generate_profile

    config = dataclasses.replace(PAPER, synth_caption_factor=CAPTION_FACTOR)
    made = generate_profile(root / "data", 150, seed=2, signal=False, config=config, progress=False)
    run_dir = root / "run"
    source = ProfileInput(made.profile_dir, (made.followers_csv,))
    run_stages(run_dir, ("ingest", "labels"), RunInputs(source), config)
    run = RunData(run_dir)
    media = load_media(run_dir)
    images = media[media["media_type"] == IMAGE]
    features = RandomEncoder(images["media_id"].tolist())
    data = build_dataset(images, features, context=run.context, captions=run.captions)
    return made.profile_dir, run_dir, data
