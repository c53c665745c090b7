"""Near-duplicate removal: exact search, candidates, verification by the pictures, conflicts, run files."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.spatial.distance import cdist
from typer.testing import CliRunner

from instapop.cli import app
from instapop.config import Config
from instapop.dedup import (
    REASON_EXCLUDED,
    REASON_NO_FEATURES,
    REASON_UNIQUE,
    DedupResult,
    ThresholdChoice,
    auto_threshold,
    deduplicate,
    find_duplicate_pairs,
    load_dedup,
    match_exclusions,
    nearest_neighbour_distances,
    read_exclude_file,
    removed_ids,
    resolve_conflicts,
)
from instapop.dedup.verify import content_box, verify_pairs
from instapop.embed.backbone import load_encoder
from instapop.embed.extract import FeatureSet, embed_images
from instapop.errors import BadInputError, InstapopError
from instapop.ingest import load_media
from instapop.media import load_image
from instapop.synthetic import generate_dedup_cases
from support import TEST_CONFIG

# --------------------------------------------------------------------------- exact search


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    """60 random 16-d points, one exact copy (row 59 = row 3) and one near copy (row 58 ~ row 10)."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 16))
    points[59] = points[3]
    points[58] = points[10] + 0.01
    return points


def test_nearest_neighbours_equal_brute_force_across_chunks(cloud: np.ndarray) -> None:
    full = cdist(cloud, cloud)
    np.fill_diagonal(full, np.inf)
    distances, indices = nearest_neighbour_distances(cloud, chunk_rows=7)
    np.testing.assert_allclose(distances, full.min(axis=1), atol=1e-6)
    np.testing.assert_array_equal(indices, full.argmin(axis=1))
    assert indices[59] == 3 and indices[3] == 59  # an exact copy is found, never the row itself
    assert distances[59] < 1e-6


def test_nearest_neighbours_need_two_vectors() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        nearest_neighbour_distances(np.zeros((1, 4)))


def test_pairs_are_every_pair_within_threshold_once(cloud: np.ndarray) -> None:
    ids = [f"m{i:02d}" for i in range(len(cloud))]
    full = cdist(cloud, cloud)
    threshold = float(np.quantile(full[np.triu_indices(len(cloud), 1)], 0.02))
    pairs = find_duplicate_pairs(ids, cloud, threshold, chunk_rows=7)
    expected = {(ids[i], ids[j]) for i, j in zip(*np.nonzero(np.triu(full <= threshold, 1)), strict=True)}
    assert set(zip(pairs["a"], pairs["b"], strict=True)) == expected
    assert len(pairs) == len(expected) > 10
    assert pairs["distance"].is_monotonic_increasing
    exact = [full[ids.index(a), ids.index(b)] for a, b in zip(pairs["a"], pairs["b"], strict=True)]
    np.testing.assert_allclose(pairs["distance"], exact, atol=1e-6)


def test_threshold_is_inclusive() -> None:
    vectors = np.array([[0.0, 0.0], [3.0, 4.0], [30.0, 40.0]])
    assert len(find_duplicate_pairs(["a", "b", "c"], vectors, 5.0)) == 1
    assert len(find_duplicate_pairs(["a", "b", "c"], vectors, 4.999)) == 0


def test_videos_also_need_matching_duration_and_fps() -> None:
    ids = ["same", "close", "longer", "other_fps", "unknown"]
    thumbs = np.zeros((5, 8))  # identical thumbnails: only the attributes decide
    durations = np.array([10.0, 10.4, 11.0, 10.0, np.nan])
    fps = np.array([30.0, 30.0, 30.0, 25.0, 30.0])
    pairs = find_duplicate_pairs(
        ids, thumbs, 1.0, durations=durations, fps=fps, duration_tol=0.5, fps_tol=1.0
    )
    assert set(zip(pairs["a"], pairs["b"], strict=True)) == {("same", "close")}


def test_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        find_duplicate_pairs(["a", "b"], np.zeros((2, 2)), -1.0)


# --------------------------------------------------------------------------- automatic threshold


def natural_nn(n: int = 400, median: float = 13.0, spread: float = 0.1, seed: int = 1) -> np.ndarray:
    """NN distances of a profile without duplicates: log-normal around ``median``."""
    return np.exp(np.random.default_rng(seed).normal(np.log(median), spread, size=n))


def test_threshold_cuts_planted_left_tail_off() -> None:
    reposts = np.repeat(np.linspace(6.5, 8.0, 10), 2)  # both copies of a pair have the pair's distance
    choice = auto_threshold(np.concatenate([natural_nn(), reposts]))
    assert reposts.max() < choice.value < 13.0
    assert (natural_nn() <= choice.value).mean() <= 0.01
    assert f"{choice.value:.3f}" in choice.rule and "median" in choice.rule


def test_threshold_is_scale_free() -> None:
    # A backbone whose distances are 7x larger gets a 7x larger threshold, nothing else changes.
    distances = natural_nn()
    assert auto_threshold(7 * distances).value == pytest.approx(7 * auto_threshold(distances).value)


def test_threshold_ignores_how_many_duplicates_and_odd_images_there_are() -> None:
    base = auto_threshold(natural_nn()).value
    many_copies = np.concatenate([natural_nn(), np.full(60, 5.0)])
    odd_images = np.concatenate([natural_nn(), np.full(20, 40.0)])
    assert auto_threshold(many_copies).value == pytest.approx(base, rel=0.06)
    assert auto_threshold(odd_images).value == pytest.approx(base, rel=0.06)


def test_threshold_follows_k() -> None:
    distances = natural_nn()
    assert auto_threshold(distances, k=2).value > auto_threshold(distances, k=3).value


def test_threshold_needs_three_items() -> None:
    with pytest.raises(BadInputError, match="--dup-threshold"):
        auto_threshold(np.array([0.0, 4.0, 5.0]))


# --------------------------------------------------------------------------- conflicts, case by case


def media_table(*rows: tuple[str, str, bool, int, int]) -> pd.DataFrame:
    """Rows of (media_id, date, is_carousel, child_index, class_2); class_3 = class_2."""
    table = pd.DataFrame(rows, columns=["media_id", "timestamp", "is_carousel", "child_index", "class_2"])
    table["timestamp"] = table["timestamp"] + "T12:00:00+00:00"
    return table.assign(class_3=table["class_2"], media_type="image")


def pair_table(*pairs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs], "distance": np.arange(len(pairs)) + 7.0}
    )


def decide(media: pd.DataFrame, *pairs: tuple[str, str]) -> pd.DataFrame:
    return resolve_conflicts(pair_table(*pairs), media).set_index("media_id")


def test_classes_differ_single_post_beats_more_recent_carousel() -> None:
    table = decide(
        media_table(("single", "2020-01-01", False, 0, 0), ("child", "2021-01-01", True, 2, 1)),
        ("single", "child"),
    )
    assert table.at["single", "kept"] and not table.at["child", "kept"]
    assert table.at["child", "partner"] == "single"
    assert table.at["child", "reason"] == "duplicate (classes differ): single post preferred over carousel"


def test_classes_differ_two_single_posts_keep_the_most_recent() -> None:
    table = decide(
        media_table(("old", "2020-01-01", False, 0, 0), ("new", "2020-06-01", False, 0, 1)), ("old", "new")
    )
    assert table.at["new", "kept"] and not table.at["old", "kept"]
    assert table.at["old", "reason"] == "duplicate (classes differ): more recent copy kept"


def test_classes_differ_two_carousels_keep_the_most_recent() -> None:
    table = decide(
        media_table(("old_1", "2020-01-01", True, 1, 1), ("new_3", "2020-06-01", True, 3, 0)),
        ("old_1", "new_3"),
    )
    assert table.at["new_3", "kept"] and not table.at["old_1", "kept"]
    assert table.at["old_1", "reason"] == "duplicate (classes differ): more recent copy kept"


def test_classes_agree_single_post_still_beats_carousel() -> None:
    # Our decision for the case the paper leaves open: the same order as when classes differ.
    table = decide(
        media_table(("single", "2020-01-01", False, 0, 1), ("child", "2021-01-01", True, 1, 1)),
        ("single", "child"),
    )
    assert table.at["single", "kept"] and not table.at["child", "kept"]
    assert table.at["child", "reason"] == "duplicate (same classes): single post preferred over carousel"


def test_classes_agree_same_kind_keeps_the_most_recent() -> None:
    table = decide(
        media_table(("old", "2020-01-01", False, 0, 1), ("new", "2020-06-01", False, 0, 1)), ("new", "old")
    )
    assert table.at["new", "kept"] and not table.at["old", "kept"]
    assert table.at["old", "reason"] == "duplicate (same classes): more recent copy kept"


def test_same_carousel_keeps_the_earlier_position() -> None:
    table = decide(
        media_table(("post_3", "2020-01-01", True, 3, 1), ("post_1", "2020-01-01", True, 1, 1)),
        ("post_3", "post_1"),
    )
    assert table.at["post_1", "kept"] and not table.at["post_3", "kept"]
    assert table.at["post_3", "reason"] == "duplicate (same classes): same post time: earlier position kept"


def test_group_of_three_keeps_one_and_names_it_as_partner() -> None:
    media = media_table(
        ("a", "2020-01-01", False, 0, 0), ("b", "2020-03-01", False, 0, 1), ("c", "2020-02-01", False, 0, 0)
    )
    table = decide(media, ("a", "b"), ("a", "c"), ("b", "c"))
    assert list(table["kept"]) == [False, True, False]
    assert table.at["a", "partner"] == table.at["c", "partner"] == "b"
    assert table.at["b", "reason"] == "kept: preferred over 2 duplicate(s)"


def test_chain_keeps_both_ends_when_they_are_not_duplicates() -> None:
    # a~b and b~c but a and c are far apart: removing b leaves no duplicate among the kept.
    media = media_table(
        ("a", "2020-03-01", False, 0, 0), ("b", "2020-02-01", False, 0, 0), ("c", "2020-01-01", False, 0, 0)
    )
    table = decide(media, ("a", "b"), ("b", "c"))
    assert list(table["kept"]) == [True, False, True]
    assert table.at["b", "partner"] == "a"
    assert table.at["c", "reason"] == REASON_UNIQUE


def test_resolution_is_pure_and_covers_every_media_item() -> None:
    media = media_table(
        ("x", "2020-01-01", False, 0, 0), ("y", "2020-02-01", False, 0, 0), ("z", "2020-03-01", True, 1, 1)
    )
    before = media.copy()
    table = resolve_conflicts(pair_table(("x", "y")), media)
    pd.testing.assert_frame_equal(media, before)
    assert list(table["media_id"]) == ["x", "y", "z"]
    assert table.set_index("media_id").at["z", "reason"] == REASON_UNIQUE
    assert removed_ids(table) == {"x"}


def test_pairs_naming_unknown_media_are_refused() -> None:
    with pytest.raises(ValueError, match="ghost"):
        resolve_conflicts(pair_table(("x", "ghost")), media_table(("x", "2020-01-01", False, 0, 0)))


# --------------------------------------------------------------------------- exclusions


def test_exclusions_match_ids_paths_and_names(tmp_path: Path) -> None:
    media = pd.DataFrame(
        {"media_id": ["logo", "sheet_2", "photo"], "path": ["/p/logo.jpg", "/p/sheet_2.png", "/p/photo.jpg"]}
    )
    listing = tmp_path / "exclude.txt"
    listing.write_text(
        "# logos and product sheets\nlogo\n\n/elsewhere/p/sheet_2.png  # the size chart\nnot_there\n"
    )
    matched, unmatched = match_exclusions(media, read_exclude_file(listing))
    assert matched == {"logo", "sheet_2"}
    assert unmatched == ["not_there"]


def test_unreadable_exclusion_list_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InstapopError, match="missing.txt"):
        read_exclude_file(tmp_path / "missing.txt")


# --------------------------------------------------------------------------- a real synthetic run


@pytest.fixture(scope="module")
def synthetic_run(make_run, make_profile, tmp_path_factory) -> dict:
    """The session's shared 60-post run (embedded once for the whole suite), copied so writes stay here."""
    shared = make_run(upto="embed")
    run_dir = tmp_path_factory.mktemp("dedup-run")
    shutil.copy(shared / "media.csv", run_dir / "media.csv")
    shutil.copytree(shared / "features", run_dir / "features")
    truth = json.loads(Path(make_profile().ground_truth).read_text())
    media, features = load_media(run_dir), FeatureSet.load(run_dir / "features")
    return {
        "run_dir": run_dir,
        "media": media,
        "features": features,
        "truth": truth,
        "result": deduplicate(media, features, Config()),
    }


def pair_set(pairs) -> set[frozenset[str]]:
    return {frozenset(pair) for pair in pairs}


def found_pairs(result: DedupResult) -> set[frozenset[str]]:
    return pair_set(zip(result.pairs["a"], result.pairs["b"], strict=True))


@pytest.fixture(scope="module")
def acceptance_run(make_run, make_profile) -> dict:
    """A 200-post profile (10 planted reposts, the 60-post one has only 3): dedup needs image views and
    video thumbnails, so one clean view and one frame per video keep it fast."""
    run_dir = make_run(n_posts=200, seed=7, upto="embed", n_views=1, n_frames=1)
    media, features = load_media(run_dir), FeatureSet.load(run_dir / "features")
    return {
        "truth": json.loads(Path(make_profile(n_posts=200, seed=7).ground_truth).read_text()),
        "result": deduplicate(media, features, Config()),
    }


def test_automatic_threshold_meets_the_acceptance_bar(acceptance_run: dict) -> None:
    # Recall over planted pairs >= 95 %; false pairs (found but not planted) <= 2 % of found pairs.
    truth = acceptance_run["truth"]
    planted, found = pair_set(truth["duplicate_pairs"]), found_pairs(acceptance_run["result"])
    assert len(planted) >= 10
    assert len(found & planted) >= 0.95 * len(planted)
    assert len(found - planted) <= 0.02 * len(found)
    assert not found & pair_set(truth["same_shoot_pairs"])


def test_automatic_threshold_finds_no_false_pairs(synthetic_run: dict) -> None:
    planted, found = pair_set(synthetic_run["truth"]["duplicate_pairs"]), found_pairs(synthetic_run["result"])
    assert found and found <= planted
    assert not found & pair_set(synthetic_run["truth"]["same_shoot_pairs"])


def test_every_repost_as_close_as_real_ones_is_found(synthetic_run: dict) -> None:
    # Real profile, Lite0 (issue 3): reposts ~7-8 for a median NN distance ~13, i.e. <= 8/13 of the median.
    result, features = synthetic_run["result"], synthetic_run["features"]
    vectors = dict(zip(features.image_ids, features.image_views[:, 0], strict=True))
    vectors |= dict(zip(features.video_ids, features.video_thumbs, strict=True))
    real_range = (8 / 13) * np.median(result.nn_distances)
    as_hard_as_real = {
        frozenset((a, b))
        for a, b in synthetic_run["truth"]["duplicate_pairs"]
        if np.linalg.norm(vectors[a] - vectors[b]) <= real_range
    }
    assert as_hard_as_real and as_hard_as_real <= found_pairs(result)


def test_removed_copies_follow_the_pairs(synthetic_run: dict) -> None:
    result = synthetic_run["result"]
    table = result.table.set_index("media_id")
    assert len(table) == len(synthetic_run["media"]) and set(table["media_type"]) == {"image", "video"}
    pairs = found_pairs(result)
    assert all(not (table.at[a, "kept"] and table.at[b, "kept"]) for a, b in map(sorted, pairs))
    removed = table[~table["kept"]]
    assert len(removed) > 0
    for media_id, partner in removed["partner"].items():
        assert table.at[partner, "kept"] and frozenset((media_id, partner)) in pairs


def test_deduplication_is_deterministic(synthetic_run: dict) -> None:
    again = deduplicate(synthetic_run["media"], synthetic_run["features"], Config())
    pd.testing.assert_frame_equal(again.table, synthetic_run["result"].table)
    assert again.threshold == synthetic_run["result"].threshold


def test_user_threshold_overrides_the_rule(synthetic_run: dict) -> None:
    result = deduplicate(synthetic_run["media"], synthetic_run["features"], Config(dup_threshold=0.5))
    assert result.threshold == ThresholdChoice(0.5, "set by the user: 0.5")
    assert len(result.pairs) < len(synthetic_run["result"].pairs)


def test_excluded_media_leave_before_the_search(synthetic_run: dict) -> None:
    original, repost = synthetic_run["truth"]["duplicate_pairs"][0]
    media = synthetic_run["media"].set_index("media_id")
    exclude = [str(media.at[original, "path"]), "no_such_media.jpg"]
    result = deduplicate(synthetic_run["media"], synthetic_run["features"], Config(), exclude=exclude)
    table = result.table.set_index("media_id")
    assert table.at[original, "reason"] == REASON_EXCLUDED and not table.at[original, "kept"]
    assert table.at[repost, "kept"]  # its only copy is gone, so nothing to resolve
    assert result.unmatched_exclusions == ["no_such_media.jpg"]


def test_media_without_features_are_listed_not_checked(synthetic_run: dict) -> None:
    features = synthetic_run["features"]
    fewer = dataclasses.replace(
        features, image_ids=features.image_ids[1:], image_views=features.image_views[1:]
    )
    table = deduplicate(synthetic_run["media"], fewer, Config()).table.set_index("media_id")
    assert table.at[features.image_ids[0], "reason"] == REASON_NO_FEATURES


def test_too_few_images_take_the_threshold_from_video_thumbnails(synthetic_run: dict) -> None:
    features = synthetic_run["features"]
    one_image = dataclasses.replace(
        features, image_ids=features.image_ids[:1], image_views=features.image_views[:1]
    )
    result = deduplicate(synthetic_run["media"], one_image, Config())
    assert result.threshold.rule.endswith("(video thumbnails)") and result.threshold.value > 0


def test_run_files_are_written_and_read_back(synthetic_run: dict, tmp_path: Path) -> None:
    result = synthetic_run["result"]
    result.write(tmp_path)
    pd.testing.assert_frame_equal(load_dedup(tmp_path), result.table)
    summary = json.loads((tmp_path / "dedup.json").read_text())
    assert summary["threshold"] == result.threshold.value and summary["rule"] == result.threshold.rule
    assert summary["n_removed"] == len(removed_ids(result.table)) == len(result.pairs)
    with Image.open(tmp_path / "dedup_hist.png") as hist, Image.open(tmp_path / "dedup_pairs.png") as sheet:
        assert hist.width > 400
        assert sheet.height > 2 * 160  # at least two pairs drawn


def test_contact_sheet_caps_the_pairs(synthetic_run: dict, tmp_path: Path) -> None:
    synthetic_run["result"].write(tmp_path / "all")
    dataclasses.replace(synthetic_run["result"], max_sheet_pairs=1).write(tmp_path / "capped")
    with (
        Image.open(tmp_path / "all" / "dedup_pairs.png") as full,
        Image.open(tmp_path / "capped" / "dedup_pairs.png") as capped,
    ):
        assert capped.height < full.height


def test_cli_writes_the_dedup_files(synthetic_run: dict, tmp_path: Path) -> None:
    run_dir = synthetic_run["run_dir"]
    listing = tmp_path / "exclude.txt"
    listing.write_text("not_a_media_item\n")
    result = CliRunner().invoke(
        app, ["dedup", str(run_dir), "--dup-threshold", "6.5", "--exclude", str(listing)]
    )
    assert result.exit_code == 0, result.output
    assert "candidate bound 6.500: set by the user" in result.output and "not_a_media_item" in result.output
    assert {p.name for p in run_dir.iterdir()} >= {
        "dedup.csv",
        "dedup.json",
        "dedup_hist.png",
        "dedup_pairs.png",
    }


def test_cli_names_a_missing_run_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dedup", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere" in result.output


# --------------------------------------------------------------------------- verification by the pictures


def run_files_of(result: DedupResult, folder: Path) -> tuple[pd.DataFrame, dict]:
    result.write(folder)
    return load_dedup(folder), json.loads((folder / "dedup.json").read_text())


def test_run_files_keep_every_candidate_with_its_evidence(synthetic_run: dict, tmp_path: Path) -> None:
    result = synthetic_run["result"]
    table, summary = run_files_of(result, tmp_path)
    candidates = pd.DataFrame(summary["candidates"])
    assert summary["verified_by_pictures"] and summary["n_candidates"] == len(candidates) > len(result.pairs)
    assert set(candidates.columns) >= {"a", "b", "distance", "source", "same", "why", "inliers", "agreement"}
    assert (~candidates["same"]).any() and (
        candidates.loc[candidates["same"], "why"] == "same photograph"
    ).all()
    removed = table[table["partner"] != ""]
    assert len(removed) and (removed["inliers"] >= Config().verify_min_inliers).all()
    assert (removed["agreement"] >= Config().verify_min_agreement).all()


def test_without_verification_the_papers_rule_decides(synthetic_run: dict) -> None:
    result = deduplicate(synthetic_run["media"], synthetic_run["features"], Config(dup_verify=False))
    assert result.threshold.value == pytest.approx(auto_threshold(result.nn_distances).value)
    assert result.candidates["same"].all() and not result.verified
    assert found_pairs(result) == pair_set(synthetic_run["truth"]["duplicate_pairs"])


def test_a_user_threshold_bounds_the_candidates_and_verification_still_decides(synthetic_run: dict) -> None:
    wide = float(np.median(synthetic_run["result"].nn_distances))  # half the items have a pair this close
    result = deduplicate(synthetic_run["media"], synthetic_run["features"], Config(dup_threshold=wide))
    assert result.threshold == ThresholdChoice(wide, f"set by the user: {wide:g}")
    from_embedding = result.candidates[result.candidates["source"] == "embedding"]
    assert len(result.candidates) > len(result.pairs) and (from_embedding["distance"] <= wide).all()
    assert found_pairs(result) <= pair_set(synthetic_run["truth"]["duplicate_pairs"])


@pytest.fixture(scope="module")
def hard_cases(tmp_path_factory, feature_cache: Path) -> dict:
    """The generator's hard cases with their real Lite0 embeddings, deduplicated as one profile."""
    cases = generate_dedup_cases(tmp_path_factory.mktemp("hard-cases"), per_kind=4, singletons=60)
    truth = json.loads(cases.truth.read_text())
    ids = sorted(truth["pictures"])
    paths = [truth["pictures"][m] for m in ids]
    encoder = load_encoder(TEST_CONFIG, feature_cache)
    vectors = embed_images(encoder, np.stack([load_image(p) for p in paths]))
    media = pd.DataFrame(
        {
            "media_id": ids,
            "timestamp": [f"2020-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z" for i in range(len(ids))],
            "media_type": "image",
            "path": paths,
            "thumbnail": "",
            "is_carousel": False,
            "child_index": 0,
        }
    )
    dim = vectors.shape[1]
    features = FeatureSet(
        backbone="lite0",
        image_ids=ids,
        image_views=vectors[:, None, :],
        video_ids=[],
        video_frames=np.zeros((0, 1, dim), np.float32),
        video_thumbs=np.zeros((0, dim), np.float32),
        video_info=pd.DataFrame(columns=["media_id", "duration", "fps"]),
        failed=pd.DataFrame(columns=["media_id", "path", "reason"]),
    )
    return {"truth": truth, "result": deduplicate(media, features, Config())}


def test_hard_cases_meet_the_precision_and_recall_targets(hard_cases: dict) -> None:
    pairs = hard_cases["truth"]["pairs"]
    same = {frozenset((p["a"], p["b"])) for p in pairs if p["same"]}
    different = {frozenset((p["a"], p["b"])): p["kind"] for p in pairs if not p["same"]}
    assert len(same) >= 28 and set(different.values()) == {"reshoot", "text_card", "panorama", "mirror"}
    result = hard_cases["result"]
    found = found_pairs(result)
    candidates = pair_set(zip(result.candidates["a"], result.candidates["b"], strict=True))
    assert len(candidates & same) >= 0.95 * len(same)  # the candidate stage loses (almost) nothing
    assert len(found & same) >= 0.95 * len(same)  # recall
    assert len(found & same) >= 0.98 * len(found)  # precision
    assert not found & different.keys()


def test_each_hard_negative_is_rejected_for_its_own_reason(hard_cases: dict) -> None:
    # Verified directly, candidates or not: panorama halves of this generator are far apart in the embedding.
    truth = hard_cases["truth"]
    negatives = [p for p in truth["pairs"] if not p["same"]]
    verdicts = verify_pairs([(p["a"], p["b"]) for p in negatives], truth["pictures"], progress=False)
    why: dict[str, set[str]] = {}
    for pair, verdict in zip(negatives, verdicts, strict=True):
        assert not verdict.same, (pair, verdict)
        why.setdefault(pair["kind"], set()).add(verdict.why)
    assert why["mirror"] == {"the map needs a reflection (a mirror image)"}
    assert all(w.startswith(("too few", "only")) for w in why["panorama"])  # nothing or a strip in common
    moved_or_differ = ("a part moved", "pixels differ", "only")
    assert all(w.startswith(moved_or_differ) for w in why["reshoot"] | why["text_card"])


def test_a_framed_picture_is_found_although_its_embedding_is_far(hard_cases: dict) -> None:
    result = hard_cases["result"]
    framed = result.candidates[result.candidates["source"] == "frame"]
    screenshots = {p for p in pair_set(zip(framed["a"], framed["b"], strict=True)) if "screenshot_0_1" in p}
    assert screenshots == {frozenset(("screenshot_0_0", "screenshot_0_1"))}
    assert screenshots <= found_pairs(result)
    median = float(np.median(result.nn_distances))
    assert framed.set_index(["a", "b"]).loc[("screenshot_0_0", "screenshot_0_1"), "distance"] > median


def test_content_box_cuts_a_border_and_a_phone_frame_off() -> None:
    gray = np.full((120, 80), 250, np.uint8)
    gray[30:90, :] = np.random.default_rng(0).integers(0, 200, (60, 80))  # the picture, at full width
    gray[5:9, 5:40] = 0  # the status bar's text
    gray[100:104, 5:70] = 0  # a caption line
    assert content_box(gray) == (0, 30, 80, 90)
