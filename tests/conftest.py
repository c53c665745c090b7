"""Shared, session-scoped fixtures: synthetic profiles and run folders built once.

Generating and embedding a profile is the expensive part of most tests, so every
test module asks these factories instead of building its own: the same
(n_posts, seed, signal) gives the same folder for the whole session.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from support import TEST_CONFIG

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by `make browser`
# No background traffic: this machine's network is closed, and nothing may download.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep screenshots for a person to look at (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Playwright driving Debian's binary; never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def planted_small():
    """120 images + 60 videos of Gaussian features with a planted class direction (no media)."""
    from instapop.datasets import planted_dataset

    return planted_dataset(120, 60, signal=3.0, seed=0, dim=32, n_views=2)


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One content-addressed feature cache for the whole session."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="session")
def make_profile(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """``make_profile(n_posts=60, seed=7, signal=True)`` -> SyntheticProfile, generated once per arguments."""
    from instapop.synthetic import generate_profile

    made: dict[tuple[int, int, bool], object] = {}

    def make(n_posts: int = 60, seed: int = 7, signal: bool = True):
        key = (n_posts, seed, signal)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"profile-{n_posts}-{seed}-{'signal' if signal else 'nosignal'}")
            made[key] = generate_profile(folder, n_posts=n_posts, seed=seed, signal=signal)
        return made[key]

    return make


@pytest.fixture(scope="session")
def make_run(
    tmp_path_factory: pytest.TempPathFactory, make_profile: Callable[..., object], feature_cache: Path
) -> Callable[..., Path]:
    """``make_run(n_posts, seed, signal, upto="dedup", **config)`` -> a run folder filled up to a stage.

    The stages of the table (``instapop.stages``) in order, each through ``run_stage`` as the
    CLI runs it. Built once per arguments; asking for a later stage of the same run extends
    the same folder.
    """
    from instapop.stages import STAGE_NAMES, ProfileInput, RunInputs, run_stage

    done: dict[tuple, tuple[Path, int]] = {}

    def make(n_posts: int = 60, seed: int = 7, signal: bool = True, upto: str = "dedup", **overrides) -> Path:
        config = dataclasses.replace(TEST_CONFIG, **overrides)
        key = (n_posts, seed, signal, tuple(sorted(overrides.items())))
        run_dir, reached = done.get(key) or (tmp_path_factory.mktemp("run"), 0)
        profile = make_profile(n_posts=n_posts, seed=seed, signal=signal)
        source = ProfileInput(profile.profile_dir, (profile.followers_csv,))
        inputs = RunInputs(profile=source, cache_dir=feature_cache, progress=False)
        target = STAGE_NAMES.index(upto) + 1
        for name in STAGE_NAMES[reached:target]:
            run_stage(name, run_dir, inputs=inputs, config=config if name == "ingest" else None)
        done[key] = (run_dir, max(reached, target))
        return run_dir

    return make
