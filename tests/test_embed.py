"""Augmentation, the feature cache, bulk extraction and `instapop embed` killed half-way."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from instapop.config import Config
from instapop.embed.augment import augment_views
from instapop.embed.backbone import load_encoder
from instapop.embed.cache import FeatureCache, cache_key
from instapop.embed.extract import FeatureSet, embed_images, embed_media
from instapop.media import load_image
from test_media import bad_media, write_jpeg, write_video

CONFIG = Config(n_views=2, n_frames=4, seed=0)

# --------------------------------------------------------------------------- augmentation


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:, :16] = (255, 0, 0)  # a red band on the left: flips and shifts move it
    pixels[16:48, 24:56] = (40, 160, 40)
    return pixels


def test_view_zero_is_the_clean_image_and_the_rest_differ(photo):
    views = augment_views(photo, n_views=6, seed=3)
    assert views.shape == (6, 64, 64, 3) and views.dtype == np.uint8
    assert np.array_equal(views[0], photo)
    for view in views[1:]:
        assert np.abs(view.astype(int) - photo).mean() > 1


def test_views_are_seeded_and_a_prefix_of_larger_sets(photo):
    views = augment_views(photo, n_views=5, seed=3)
    assert np.array_equal(views, augment_views(photo, n_views=5, seed=3))
    assert np.array_equal(views[:3], augment_views(photo, n_views=3, seed=3))
    assert not np.array_equal(views[1:], augment_views(photo, n_views=5, seed=4)[1:])


def test_augmentation_stays_mild(photo):
    # 10 % shift and zoom, +-20 % colour: the picture is still mostly where it was.
    views = augment_views(photo, n_views=40, seed=0).astype(float)
    red_left = views[:, 20:44, :6, 0].mean(axis=(1, 2))
    red_right = views[:, 20:44, -6:, 0].mean(axis=(1, 2))
    assert np.all(np.maximum(red_left, red_right) > 150)  # the red band stays at one edge
    assert 0.2 < np.mean(red_right > red_left) < 0.8  # ... which is the right one about half the time
    brightness = views.mean(axis=(1, 2, 3)) / photo.mean()
    assert np.all((brightness > 0.6) & (brightness < 1.4))


# --------------------------------------------------------------------------- cache


def test_cache_round_trip_with_metadata(tmp_path):
    cache = FeatureCache(tmp_path)
    key = cache_key("file-digest", "backbone", "prep", "view0")
    assert cache.get(key, 4) is None
    vectors = np.arange(8, dtype=np.float32).reshape(2, 4)
    cache.put(key, vectors, {"fps": "30.0"})
    got, metadata = cache.get(key, 4)
    assert np.array_equal(got, vectors) and metadata == {"fps": "30.0"}
    assert cache.path(key).parent.name == key[:2] and len(cache) == 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_unreadable_or_mismatched_entries_count_as_misses(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put("ab" * 32, np.zeros((1, 4), np.float32))
    assert cache.get("ab" * 32, dim=8) is None  # another backbone's dimension
    cache.path("cd" * 32).parent.mkdir(parents=True)
    cache.path("cd" * 32).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    assert cache.get("cd" * 32, dim=4) is None


def test_concurrent_writers_never_expose_a_torn_entry(tmp_path):
    cache = FeatureCache(tmp_path)
    key = cache_key("same entry")
    versions = [np.full((15, 1280), value, np.float32) for value in (1.0, 2.0)]
    torn: list[str] = []

    def write(vectors: np.ndarray) -> None:
        for _ in range(60):
            cache.put(key, vectors)

    def read() -> None:
        for _ in range(200):
            hit = cache.get(key, 1280)
            if hit is not None and not any(np.array_equal(hit[0], v) for v in versions):
                torn.append("mixed or partial entry")

    threads = [threading.Thread(target=write, args=(v,)) for v in versions] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not torn and not list(tmp_path.rglob("*.tmp"))


# --------------------------------------------------------------------------- extraction


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory) -> tuple[pd.DataFrame, dict[str, str]]:
    """Good images and videos of every kind, plus every bad file of the issue; returns (table, bad ids)."""
    folder = tmp_path_factory.mktemp("media")
    rows = [("img0", "image", write_jpeg(folder / "img0.jpg", 200, 250, seed=0), "")]
    rows += [(f"img{i}", "image", write_jpeg(folder / f"img{i}.jpg", 1080, 1350, seed=i), "") for i in (1, 2)]
    rgba = folder / "logo.png"
    Image.new("RGBA", (90, 60), (200, 30, 30, 128)).save(rgba)
    rows.append(("logo", "image", rgba, ""))
    thumb = write_jpeg(folder / "clip_thumb.jpg", 64, 48, seed=9)
    rows.append(("clip", "video", write_video(folder / "clip.mp4", fps=10, seconds=2), thumb))
    rows.append(("clip_nothumb", "video", write_video(folder / "clip2.mp4", fps=5, seconds=3), ""))
    bad = {}
    for n, (kind, (path, _)) in enumerate(bad_media(folder / "bad").items()):
        media_id = f"bad{n}"
        bad[media_id] = kind
        rows.append((media_id, "video" if path.suffix == ".mp4" else "image", path, ""))
    table = pd.DataFrame(rows, columns=["media_id", "media_type", "path", "thumbnail"]).astype(str)
    return table, bad


@pytest.fixture(scope="module")
def extracted(media_folder, tmp_path_factory, feature_cache) -> tuple[FeatureSet, Path]:
    cache = tmp_path_factory.mktemp("cache")
    _share_exported_graph(feature_cache, cache)
    return embed_media(media_folder[0], cache, CONFIG, progress=False), cache


def _share_exported_graph(source_cache: Path, target_cache: Path) -> None:
    """Link the session's exported ONNX graph into another cache: export once per session, not per test."""
    from instapop.embed.backbone import lite0_onnx

    graph = lite0_onnx(source_cache)
    (target_cache / "models").mkdir(parents=True, exist_ok=True)
    target = target_cache / "models" / graph.name
    if not target.exists():
        os.link(graph, target)


def test_good_media_are_extracted_and_every_bad_file_is_listed(media_folder, extracted):
    table, bad = media_folder
    features, _ = extracted
    assert features.image_ids == ["img0", "img1", "img2", "logo"]
    assert features.video_ids == ["clip", "clip_nothumb"]
    assert features.image_views.shape == (4, 2, 1280)
    assert features.video_frames.shape == (2, 4, 1280) and features.video_thumbs.shape == (2, 1280)
    assert sorted(features.failed["media_id"]) == sorted(bad)
    assert features.failed["reason"].str.len().min() > 10
    paths = dict(zip(table["media_id"], table["path"], strict=True))
    assert all(features.failed["path"] == features.failed["media_id"].map(paths))


def test_video_info_and_thumbnails(extracted):
    features, _ = extracted
    info = features.video_info.set_index("media_id")
    clip = info.loc["clip"]
    assert (clip.duration, clip.fps, clip.width, clip.height, clip.n_frames_sampled) == (2.0, 10.0, 64, 48, 4)
    assert info.loc["clip", "thumbnail"] == "file" and info.loc["clip_nothumb", "thumbnail"] == "first frame"
    assert np.array_equal(features.video_thumbs[1], features.video_frames[1, 0])
    assert not np.array_equal(features.video_thumbs[0], features.video_frames[0, 0])


def test_clean_view_equals_embedding_the_decoded_file(media_folder, extracted, feature_cache):
    features, _ = extracted
    encoder = load_encoder(CONFIG, feature_cache)
    path = media_folder[0].set_index("media_id").loc["img1", "path"]
    direct = embed_images(encoder, load_image(Path(path))[None])
    assert np.array_equal(features.image_views[1, 0], direct[0])
    assert not np.array_equal(features.image_views[1, 0], features.image_views[1, 1])


def test_rerun_reuses_every_entry_and_more_views_compute_only_the_new_ones(media_folder, extracted):
    features, cache = extracted
    again = embed_media(media_folder[0], cache, CONFIG, progress=False)
    assert again.stats["entries_computed"] == 0 and again.stats["entries_reused"] == 4 * 2 + 2 + 1
    assert np.array_equal(again.image_views, features.image_views)
    assert np.array_equal(again.video_frames, features.video_frames)
    more = embed_media(media_folder[0], cache, dataclasses.replace(CONFIG, n_views=3), progress=False)
    assert more.stats["entries_computed"] == 4 and more.stats["images_encoded"] == 4
    assert np.array_equal(more.image_views[:, :2], features.image_views)


def test_vectors_do_not_depend_on_batch_size_or_worker_count(
    media_folder, extracted, tmp_path, feature_cache
):
    # A batch on Ray spreads a profile's media over shards and workers of any size: the same
    # file must give the same vector, bit for bit, however it was grouped.
    features, _ = extracted
    table = media_folder[0]
    good = table[table["media_id"].isin(features.image_ids + features.video_ids)]
    runs = {}
    for batch, threads in ((1, 1), (8, 2)):
        cache = tmp_path / f"cache-{batch}-{threads}"
        _share_exported_graph(feature_cache, cache)
        config = dataclasses.replace(CONFIG, batch_size_embed=batch, embed_threads=threads)
        runs[batch, threads] = embed_media(good.iloc[::-1], cache, config, progress=False)
    one, other = runs.values()
    assert one.stats["entries_computed"] == other.stats["entries_computed"] == 4 * 2 + 2 + 1
    for name in ("image_views", "video_frames", "video_thumbs"):
        assert np.array_equal(getattr(one, name), getattr(other, name)), name
    assert np.array_equal(one.image_views[::-1], features.image_views)  # and of the order of the media


def test_a_cover_only_video_is_its_cover_in_every_frame(media_folder, extracted, tmp_path):
    # `instaloader --no-videos` keeps a reel's cover only: ingest makes the cover its path and thumbnail.
    features, cache = extracted
    cover = media_folder[0].set_index("media_id").loc["img1", "path"]
    rows = [("img1", "image", cover, ""), ("reel", "video", cover, cover)]
    table = pd.DataFrame(rows, columns=["media_id", "media_type", "path", "thumbnail"])
    covered = embed_media(table, cache, CONFIG, progress=False)
    assert covered.video_ids == ["reel"] and covered.failed.empty
    clean = features.image_views[1, 0]  # img1's clean view, from the shared run
    assert covered.video_frames.shape == (1, CONFIG.n_frames, 1280)
    assert all(np.array_equal(frame, clean) for frame in covered.video_frames[0])
    assert np.array_equal(covered.video_thumbs[0], clean)
    info = covered.video_info.iloc[0]
    assert (info.duration, info.fps, info.n_frames_sampled, info.thumbnail) == (0.0, 0.0, 1, "file")
    assert (info.width, info.height) == (1080, 1350)
    assert covered.stats["images_encoded"] == 1  # the still's one picture; the views and thumbnail are cached


def test_feature_set_round_trips_through_safetensors_and_json(extracted, tmp_path):
    features, _ = extracted
    features.save(tmp_path / "features")
    written = sorted(p.name for p in (tmp_path / "features").iterdir())
    assert written == ["features.json", "features.safetensors"]  # no pickle anywhere
    loaded = FeatureSet.load(tmp_path / "features")
    for name in ("image_views", "video_frames", "video_thumbs"):
        assert np.array_equal(getattr(loaded, name), getattr(features, name))
    assert (loaded.backbone, loaded.image_ids, loaded.video_ids) == (
        features.backbone,
        features.image_ids,
        features.video_ids,
    )
    pd.testing.assert_frame_equal(loaded.video_info, features.video_info)
    pd.testing.assert_frame_equal(loaded.failed, features.failed)
    assert loaded.stats == features.stats


def test_table_without_required_columns_is_refused(tmp_path):
    from instapop.errors import InstapopError

    with pytest.raises(InstapopError, match="lacks columns"):
        embed_media(pd.DataFrame({"media_id": ["a"]}), tmp_path, CONFIG)


# --------------------------------------------------------------------------- `instapop embed`, killed


@pytest.fixture(scope="module")
def manifest_profile(tmp_path_factory) -> Path:
    """A manifest-style profile: 24 photo posts and 2 video posts (ingest reads it without followers)."""
    folder = tmp_path_factory.mktemp("manifest-profile")
    lines = ["post_id,timestamp,likes,comments,media"]
    for i in range(24):
        write_jpeg(folder / f"p{i}.jpg", 480, 600, seed=100 + i)
        lines.append(f"p{i},{1_700_000_000 + 86_400 * i},{10 + i},1,p{i}.jpg")
    for i in range(2):
        write_video(folder / f"v{i}.mp4", fps=10, seconds=2 + i)
        lines.append(f"v{i},{1_690_000_000 + 86_400 * i},5,0,v{i}.mp4")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    return folder


def _ingested(profile: Path, run: Path) -> Path:
    """``run``, after ``instapop ingest profile --out run`` (embed reads the run's media table)."""
    from instapop.stages import ProfileInput, RunInputs, run_stage

    if not (run / "media.csv").is_file():
        inputs = RunInputs(profile=ProfileInput(profile), progress=False)
        run_stage("ingest", run, inputs=inputs, config=CONFIG)
    return run


def _embed_command(profile: Path, run: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "instapop", "embed", str(_ingested(profile, run)), "--cache", str(cache),
            "--views", "3"]  # fmt: skip


def test_embed_killed_half_way_resumes_with_only_the_missing_entries(
    manifest_profile, tmp_path, feature_cache
):
    total_entries = 24 * 3 + 2  # views of each photo + frames of each video (no thumbnails in a manifest)
    killed_cache, fresh_cache = tmp_path / "cache-killed", tmp_path / "cache-fresh"
    for cache in (killed_cache, fresh_cache):
        _share_exported_graph(feature_cache, cache)
    entries = FeatureCache(killed_cache)

    first = subprocess.Popen(_embed_command(manifest_profile, tmp_path / "run1", killed_cache))
    deadline = time.monotonic() + 300
    while len(entries) == 0 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = len(entries)
    assert 0 < done_before < total_entries, f"the kill should land half-way; {done_before} entries were done"

    resumed = subprocess.run(
        _embed_command(manifest_profile, tmp_path / "run1", killed_cache), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    stats = FeatureSet.load(tmp_path / "run1" / "features").stats
    assert stats["entries_reused"] == done_before
    assert stats["entries_computed"] == total_entries - done_before
    assert f"{total_entries - done_before} computed, {done_before} reused" in resumed.stdout

    uninterrupted = subprocess.run(
        _embed_command(manifest_profile, tmp_path / "run2", fresh_cache), capture_output=True, text=True
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    a, b = (FeatureSet.load(tmp_path / run / "features") for run in ("run1", "run2"))
    assert (a.image_ids, a.video_ids) == (b.image_ids, b.video_ids) and len(a.image_ids) == 24
    for name in ("image_views", "video_frames", "video_thumbs"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    fresh = FeatureCache(fresh_cache)
    assert len(fresh) == len(entries) == total_entries
    # Same entries with the same contents (the files' bytes may differ: safetensors orders metadata freely).
    for path in fresh.root.glob("features/*/*.safetensors"):
        (vectors, metadata), (twin_vectors, twin_metadata) = (
            c.get(path.stem, 1280) for c in (fresh, entries)
        )
        assert np.array_equal(vectors, twin_vectors) and metadata == twin_metadata
