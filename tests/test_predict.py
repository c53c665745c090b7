"""instapop predict: candidates typed by content, scored by the saved model, ranked, explained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from instapop.cli import app
from instapop.errors import InstapopError
from instapop.predict import (
    Candidate,
    Limits,
    Plan,
    Predictor,
    plan_for,
    read_plan,
    sniff_media_type,
    unmatched_plans,
)
from support import planted_media

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(make_run) -> Path:
    return make_run(upto="train") / "model"


@pytest.fixture(scope="module")
def predictor(model_dir: Path, feature_cache: Path) -> Predictor:
    return Predictor.load(model_dir, cache_dir=feature_cache)


@pytest.fixture(scope="module")
def unseen(make_profile):
    """Candidates the model never saw: another profile, another seed."""
    return make_profile(n_posts=24, seed=99)


# --- typing by content and ranking: no model needed ------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", "image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42", "video"),
        (b"caption: summer launch\n", None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"", None),
    ],
)
def test_files_are_typed_by_their_first_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_media_type(head) == expected


def test_rank_orders_by_score_then_name_and_puts_errors_last() -> None:
    candidates = [
        Candidate("b.jpg", "image", [0.2, 0.8], 1, 0.8, score=0.8),
        Candidate("notes.jpg", "unknown", error="notes.jpg: not an image", error_kind="unsupported"),
        Candidate("c.mp4", "video", predicted_class=0, score=0.3, percentile=0.3),  # a ranker's
        Candidate("a.jpg", "image", [0.2, 0.8], 1, 0.8, score=0.8),
        Candidate("broken.jpg", "image", error="broken.jpg: truncated", error_kind="unreadable"),
    ]
    ranked = Predictor.rank(candidates)
    assert [c.name for c in ranked] == ["a.jpg", "b.jpg", "c.mp4", "broken.jpg", "notes.jpg"]
    assert [c.rank for c in ranked] == [1, 2, 3, None, None]
    assert all(c.rank is None for c in candidates), "rank must not modify the candidates it is given"


# --- scoring with a model trained on a synthetic profile -------------------------------


def test_planted_popular_images_rank_above_planted_unpopular_ones(predictor: Predictor, unseen) -> None:
    popular = planted_media(unseen, "image", "popular")[:6]
    unpopular = planted_media(unseen, "image", "unpopular")[:6]
    assert len(popular) == len(unpopular) == 6, "the unseen profile should hold both kinds"
    ranked = predictor.rank(predictor.score_paths(popular + unpopular))
    rank_of = {c.name: c.rank for c in ranked}
    right_order = [rank_of[p.name] < rank_of[u.name] for p in popular for u in unpopular]
    assert all(c.ok for c in ranked)
    assert ranked[0].name in {p.name for p in popular}
    assert np.mean(right_order) >= 0.8, f"only {np.mean(right_order):.0%} of popular/unpopular pairs in order"


def test_scores_are_probabilities_and_the_same_file_scores_the_same(predictor: Predictor, unseen) -> None:
    files = planted_media(unseen, "image")[:2] + planted_media(unseen, "video")[:1]
    first, second = predictor.score_paths(files), predictor.score_paths(files[::-1])[::-1]
    for a, b in zip(first, second, strict=True):
        assert a.ok and a.media_type in {"image", "video"}
        assert len(a.probs) == predictor.model.n_classes and np.isclose(sum(a.probs), 1.0)
        assert a.predicted_class == int(np.argmax(a.probs))
        assert a.expected_score == pytest.approx(float(np.dot(a.probs, np.arange(len(a.probs)))))
        assert a.probs == b.probs, "a file's score must not depend on the other files scored with it"


def test_a_subfolder_is_one_carousel_scored_from_its_items(
    predictor: Predictor, unseen, tmp_path: Path
) -> None:
    carousel = tmp_path / "candidates" / "summer-carousel"
    carousel.mkdir(parents=True)
    items = planted_media(unseen, "image")[:2] + planted_media(unseen, "video")[:1]
    for item in items:
        shutil.copy(item, carousel / item.name)
    (single,) = predictor.score_paths([carousel.parent])
    assert (single.name, single.media_type, single.ok) == ("candidates/summer-carousel/", "carousel", True)
    assert [i.name for i in single.items] == [f"candidates/summer-carousel/{p.name}" for p in sorted(items)]
    assert single.probs == pytest.approx(np.mean([i.probs for i in single.items], axis=0).tolist())


def test_bad_files_get_their_own_reason_and_the_rest_is_scored(
    predictor: Predictor, unseen, tmp_path: Path
) -> None:
    good = planted_media(unseen, "image")[0]
    renamed_text = tmp_path / "notes.jpg"
    renamed_text.write_text("caption ideas for Friday\n")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(good.read_bytes()[:2000])
    ranked = predictor.rank(predictor.score_paths([good, renamed_text, truncated, tmp_path / "gone.mp4"]))
    by_name = {c.name: c for c in ranked}
    assert by_name[good.name].rank == 1
    assert by_name["notes.jpg"].error_kind == "unsupported"
    assert (
        "notes.jpg" in by_name["notes.jpg"].error and "not an image or a video" in by_name["notes.jpg"].error
    )
    assert by_name["cut.jpg"].error_kind == "unreadable" and "cut.jpg" in by_name["cut.jpg"].error
    assert by_name["gone.mp4"].error_kind == "unreadable" and "gone.mp4" in by_name["gone.mp4"].error


def test_limits_refuse_oversized_images_with_the_reason(predictor: Predictor, unseen) -> None:
    strict = Predictor(predictor.model, predictor.encoder, predictor.config, Limits(max_image_pixels=500_000))
    (candidate,) = strict.score_paths(planted_media(unseen, "image")[:1])
    assert candidate.error_kind == "over_limit"
    assert "pixels is over the limit of 500000" in candidate.error


def test_explanations_are_a_heatmap_per_image_and_a_filmstrip_per_video(predictor: Predictor, unseen) -> None:
    files = planted_media(unseen, "image")[:1] + planted_media(unseen, "video")[:1]
    image, video = predictor.score_paths(files, explain=True)
    heatmap = Image.open(_png_file(image.heatmap_png))
    with Image.open(files[0]) as original:  # the overlay keeps the picture's proportions
        assert heatmap.width / heatmap.height == pytest.approx(original.width / original.height, rel=0.01)
    assert min(heatmap.size) == predictor.config.image_size
    strip = Image.open(_png_file(video.heatmap_png))
    assert strip.width > strip.height * 5, "a filmstrip is a row of frames"
    plain_image, _ = predictor.score_paths(files)
    assert plain_image.heatmap_png is None and plain_image.probs == image.probs


def _png_file(data: bytes | None):
    import io

    assert data is not None and data.startswith(b"\x89PNG")
    return io.BytesIO(data)


# --- the CLI ----------------------------------------------------------------------------


def test_cli_prints_a_ranked_table_and_writes_explanations(
    model_dir: Path, feature_cache: Path, unseen, tmp_path: Path
) -> None:
    folder = tmp_path / "candidates"
    folder.mkdir()
    files = planted_media(unseen, "image")[:2] + planted_media(unseen, "video")[:1]
    for item in files:
        shutil.copy(item, folder / item.name)
    (folder / "notes.jpg").write_text("not a photo")
    args = ["predict", str(model_dir), str(folder), "--cache", str(feature_cache)]
    result = runner.invoke(app, [*args, "--explain", str(tmp_path / "why")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["rank", "candidate", "type"]
    assert [line.split()[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert lines[4].startswith("not scored: ") and "notes.jpg: not an image or a video" in lines[4]
    written = sorted(p.name.split(".")[-2] for p in (tmp_path / "why").iterdir())
    assert written == ["filmstrip", "heatmap", "heatmap"]

    as_json = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert [c["name"] for c in as_json["candidates"]] == [line.split()[1] for line in lines[1:4]] + [
        "candidates/notes.jpg"
    ]
    assert as_json["candidates"][0]["class_name"] in as_json["class_names"]


def test_cli_fails_in_one_line_on_a_folder_that_holds_no_model(tmp_path: Path, unseen) -> None:
    result = runner.invoke(app, ["predict", str(tmp_path), str(planted_media(unseen, "image")[0])])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1


def test_loading_a_folder_without_a_model_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InstapopError, match=str(tmp_path)):
        Predictor.load(tmp_path)


# --- planned time and caption -----------------------------------------------------------


def test_a_plan_csv_gives_each_file_its_time_and_caption(tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(
        'file,when,caption\nbeach.jpg,2025-06-01T19:00+09:00,"Sunset #beach, at last"\n'
        "candidates/reel.mp4,,\nsummer/,2025-06-02 08:00,\n"
    )
    plans = read_plan(plan)
    assert plans["beach.jpg"] == Plan("2025-06-01T10:00:00Z", "Sunset #beach, at last")
    assert plans["candidates/reel.mp4"] == Plan(None, None)  # empty cells: not given
    assert plan_for("candidates/beach.jpg", plans, Plan()) is plans["beach.jpg"]
    assert plan_for("candidates/summer/", plans, Plan()) == Plan("2025-06-02T08:00:00Z", None)
    assert unmatched_plans(plans, ["candidates/beach.jpg", "candidates/summer/"]) == ["candidates/reel.mp4"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,when\nbeach.jpg,next friday\n", r"plan.csv, line 2 \(beach.jpg\): 'next friday': not a date"),
        ("file,when\na.jpg,2025-06-01\na.jpg,2025-06-02\n", r"line 3: a.jpg is planned twice"),
        ("name,time\na.jpg,2025-06-01\n", r"expected the columns file,when,caption"),
        (f"file,caption\na.jpg,{'x' * 2201}\n", r"line 2 \(a.jpg\): a caption of 2201 characters is over"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    plan = tmp_path / "plan.csv"
    plan.write_text(text)
    with pytest.raises(InstapopError, match=message):
        read_plan(plan)


def test_cli_takes_when_caption_and_plan(
    model_dir: Path, feature_cache: Path, unseen, tmp_path: Path
) -> None:
    first, second = planted_media(unseen, "image")[:2]
    args = ["predict", str(model_dir), str(first), str(second), "--cache", str(feature_cache), "--json"]
    given = runner.invoke(app, [*args, "--when", "2025-06-01T19:00+09:00", "--caption", "Summer #launch"])
    assert given.exit_code == 0, given.output
    contexts = {c["name"]: c["context"] for c in json.loads(given.stdout)["candidates"]}
    assert contexts[first.name]["when"] == "2025-06-01T10:00:00Z"
    assert contexts[first.name]["caption"] == "Summer #launch"

    plan = tmp_path / "plan.csv"
    plan.write_text(f"file,when,caption\n{second.name},2025-06-03T12:00Z,\nmissing.jpg,,hi\n")
    planned = runner.invoke(app, [*args, "--plan", str(plan), "--when", "2025-06-01T19:00Z"])
    assert planned.exit_code == 0, planned.output
    contexts = {c["name"]: c["context"] for c in json.loads(planned.stdout)["candidates"]}
    assert contexts[second.name]["when"] == "2025-06-03T12:00:00Z"  # the plan's row wins
    assert contexts[first.name]["when"] == "2025-06-01T19:00:00Z"  # --when for the others
    assert f"warning: {plan}: missing.jpg is not among the candidates" in planned.stderr

    refused = runner.invoke(app, [*args, "--when", "tomorrow evening"])
    assert refused.exit_code == 2 and "'tomorrow evening': not a date" in refused.output


def test_score_logits_explain_a_linear_score_by_its_direction(predictor: Predictor, unseen) -> None:
    """Grad-CAM of a linear score (a ranker's picture part) is that of a linear head reading its direction."""
    from instapop.explain.gradcam import ScoreLogits, gradcam
    from instapop.media import load_image

    image = load_image(planted_media(unseen, "image")[0], size=224)
    direction = torch.as_tensor(np.random.default_rng(0).normal(size=1280).astype(np.float32))
    head = torch.nn.Linear(1280, 2).eval()
    with torch.no_grad():
        head.weight.copy_(torch.stack([-direction, direction]))
    backbone = predictor._backbone_for_gradcam()
    cam = gradcam(backbone, ScoreLogits(lambda e: e @ direction + 3.0), image, target=1)
    np.testing.assert_allclose(cam.heatmap, gradcam(backbone, head, image, target=1).heatmap, atol=1e-5)
    assert cam.heatmap.max() == pytest.approx(1.0)


# --- a ranker: percentile, picture and context moves, what was assumed --------------------


@pytest.fixture(scope="module")
def ranker_predictor(make_run, feature_cache: Path) -> Predictor:
    model_dir = make_run(upto="train", approaches=("ranker", "majority")) / "model"
    return Predictor.load(model_dir, cache_dir=feature_cache)


def test_a_ranker_gives_a_percentile_split_into_picture_and_context(
    ranker_predictor: Predictor, unseen
) -> None:
    files = planted_media(unseen, "image")[:1] + planted_media(unseen, "video")[:1]
    for candidate in ranker_predictor.score_paths(files):
        ranker = ranker_predictor.model.ranker(candidate.media_type)
        assert candidate.percentile == candidate.score
        assert candidate.score == pytest.approx(ranker.intercept + candidate.picture + candidate.context)
        # typical timing and caption move nothing: only the post's shape (a single item) does
        shape = {"carousel_size": 1.0, "position": 1.0, "video_share": float(candidate.media_type == "video")}
        column = {c: i for i, c in enumerate(ranker.context_columns)}
        expected = sum(
            (value - ranker.context_mean[column[c]]) * ranker.context_weight[column[c]]
            for c, value in shape.items()
            if c in column
        )
        assert candidate.context == pytest.approx(expected)
        assert candidate.predicted_class == ranker.classes(np.array([candidate.score]), 3)[0]
        assert candidate.fallbacks == ["when", "caption"]
        assert candidate.context_note.startswith("assumed the profile's typical timing (mostly ")
    (planned,) = ranker_predictor.score_paths(files[:1], plan=Plan("2030-06-01T19:00", "New #shop"))
    assert planned.fallbacks == [] and planned.context_note == "time and caption as given"
    assert planned.context != pytest.approx(0.0)


def test_a_ranker_explains_its_score_with_a_heatmap_and_a_filmstrip(
    ranker_predictor: Predictor, unseen
) -> None:
    files = planted_media(unseen, "image")[:1] + planted_media(unseen, "video")[:1]
    image, video = ranker_predictor.score_paths(files, explain=True)
    assert Image.open(_png_file(image.heatmap_png)).size[0] >= ranker_predictor.config.image_size
    strip = Image.open(_png_file(video.heatmap_png))
    assert strip.width > strip.height * 5


def test_cli_shows_a_rankers_moves_and_what_it_assumed(make_run, feature_cache: Path, unseen) -> None:
    model_dir = make_run(upto="train", approaches=("ranker", "majority")) / "model"
    files = [str(p) for p in planted_media(unseen, "image")[:2]]
    result = runner.invoke(app, ["predict", str(model_dir), *files, "--cache", str(feature_cache)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[-2:] == ["picture", "context"]
    assert lines[3].startswith("context: assumed the profile's typical timing (mostly ")


def test_class_evidence_of_a_ranker_explains_its_score_never_a_blank_middle(
    ranker_predictor: Predictor,
) -> None:
    from instapop.explain.gradcam import class_evidence

    head = ranker_predictor.model.image_head()
    embeddings = torch.as_tensor(np.random.default_rng(0).normal(size=(4, 1280)), dtype=torch.float32)
    for cls, sign in ((0, -1.0), (1, 1.0), (2, 1.0)):
        evidence, target = class_evidence(head, cls)
        assert target == 1
        torch.testing.assert_close(evidence(embeddings)[:, 1], sign * head.score(embeddings))
    classifier = torch.nn.Linear(1280, 3)
    assert class_evidence(classifier, 2) == (classifier, 2)
