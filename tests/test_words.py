"""Caption words in the explanations, the report and predictions (issue 18, items 3 and 4).

On a generated profile whose planted caption words raise PoR (random picture features, so only
the context and the caption can explain popularity), a saved ranker is trained as ``instapop
train`` trains it. What is guaranteed: the explain stage's word table names the planted terms
among those that raise the score, with their posts and two thumbnails each, and the report shows
it with the score's split between picture, timing and words; predicting with a caption holding
the planted word scores higher than with a neutral caption, and says which words did it (text
table, JSON and the web API); a model without caption words gets one line saying why.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from PIL import Image

from instapop.config import PAPER, Config
from instapop.datasets import IMAGE, Dataset
from support import RandomEncoder, caption_effect_run

PLANTED = {"sunrise", "распродажа", "#goldenhour", "🔥"}
FAST = Config(n_repeats=1, approaches=("ranker", "majority"))


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> tuple[Path, Dataset]:
    """A 150-post caption-effect profile read through ingest and labels (run folder, its images)."""
    _, run_dir, data = caption_effect_run(tmp_path_factory.mktemp("words"))
    return run_dir, data


def train(data: Dataset, out: Path, config: Config = FAST):
    """A saved model as ``instapop train`` saves it (evaluate, then the chosen approach on all), loaded."""
    from instapop.training import load_model, train_final
    from instapop.validation import evaluate

    cv = evaluate(data, config, progress=False)
    return load_model(train_final(data, cv, config, 3, out))


@pytest.fixture(scope="module")
def model(profile, tmp_path_factory):
    _, data = profile
    return train(data, tmp_path_factory.mktemp("model") / "model")


def explained(run_dir: Path, model, data: Dataset) -> dict:
    """The explain stage's ``words`` for this model, written to explain.json as the stage writes it."""
    from instapop.explain.run import RunInputs, explain_words
    from instapop.ingest import load_media
    from instapop.runfolder import RunFolder

    folder = RunFolder(run_dir)
    folder.explain.mkdir(exist_ok=True)
    run = RunInputs(load_media(run_dir), None, set(), PAPER, folder.explain)
    words = explain_words(run, model, data)
    folder.explain_json.write_text(json.dumps({"n_classes": 3, "words": words}))
    return words


def section_html(run_dir: Path) -> str:
    from instapop.report.run_files import load_run
    from instapop.report.words import words_section

    return words_section(load_run(run_dir)).body


def test_the_report_names_the_planted_words_with_two_posts_each(profile, model) -> None:
    run_dir, data = profile
    words = explained(run_dir, model, data)
    raising = {row["term"]: row for row in words["raising"]}
    assert PLANTED & set(raising), raising
    planted = raising[sorted(PLANTED & set(raising))[0]]
    assert planted["posts"] >= 5 and planted["mean_percentile"] > 0.5 and len(planted["examples"]) == 2
    ids = list(data.images.ids)
    captions = {ids[i]: data.images.captions[i] for i in range(len(ids))}
    assert all(planted["term"] in captions[media_id].lower() for media_id in planted["examples"])
    strip = Image.open(run_dir / "explain" / planted["strip"])
    assert strip.width == 2 * strip.height  # two square thumbnails side by side
    assert all(row["effect"] < 0 for row in words["lowering"])
    split = words["split"]
    assert set(split) == {"picture", "timing", "words"} and sum(split.values()) == pytest.approx(1, abs=1e-3)
    assert split["words"] > 0.1  # the planted words explain much of this profile's popularity
    html = section_html(run_dir)
    raising_table = html[html.index("Words that raise") : html.index("Words that lower")]
    assert any(f"<td>{term}</td>" in raising_table for term in PLANTED)
    assert raising_table.count("data:image/png;base64,") == len(words["raising"])
    assert f"about {5 * round(20 * split['picture'])} % comes from the picture" in html


def test_a_caption_with_the_planted_word_scores_higher_and_says_so(profile, model) -> None:
    from instapop.predict import Limits, Plan, Predictor
    from instapop.predict.card import embedding_config
    from instapop.predict.output import format_ranking

    run_dir, data = profile
    predictor = Predictor(model, RandomEncoder([]), embedding_config(model), Limits())
    picture = Path(_picture(run_dir, data.images.ids[0]))
    planted = Plan(caption="Morning walk, sunrise over the bay #goldenhour")
    neutral = Plan(caption="Morning walk over the bay")
    (high,) = predictor.score_paths([picture], plan=planted)
    (low,) = predictor.score_paths([picture], plan=neutral)
    assert high.score > low.score + 0.02
    # the same picture; the context differs only by the caption's counts (length, hashtags)
    assert high.words > low.words + 0.02 and high.picture == low.picture
    parts = high.picture + high.context + high.words
    assert high.score == pytest.approx(model.ranker(IMAGE).intercept + parts)
    up = [term for term, _ in high.words_up]
    assert {"sunrise", "#goldenhour"} & set(up) and all(move > 0 for _, move in high.words_up)
    (typical,) = predictor.score_paths([picture])
    assert typical.words == 0.0 and typical.words_up == []  # no caption given: the typical caption
    ranked = predictor.rank([high, low])
    table = format_ranking(ranked, predictor.class_names)
    header, first = table.splitlines()[:2]
    assert header.split()[-4:] == ["context", "words", "caption", "words"]
    assert "sunrise +" in first or "#goldenhour +" in first
    card = ranked[0].to_dict(predictor.class_names)
    assert card["contributions"]["words"] == pytest.approx(high.words, abs=1e-6)
    assert {t["term"] for t in card["caption_words"]["up"]} == set(up)


def _picture(run_dir: Path, media_id: str) -> str:
    from instapop.ingest import load_media

    media = load_media(run_dir).set_index("media_id")
    return str(media.loc[media_id, "path"])


def test_a_model_without_caption_words_says_why(profile, tmp_path: Path) -> None:
    run_dir, data = profile
    weightless = train(data, tmp_path / "weightless", dataclasses.replace(FAST, ranker_words_weights=(0.0,)))
    words = explained(run_dir, weightless, data)
    assert "weight 0" in words["why"] and "raising" not in words and words["split"]["words"] == 0
    html = section_html(run_dir)
    assert "gave them weight 0" in html and "Words that raise" not in html
    silent = dataclasses.replace(data, images=dataclasses.replace(data.images, captions=None))
    words = explained(run_dir, train(silent, tmp_path / "silent"), silent)
    assert words["why"].endswith("the posts have no captions.")


def test_the_web_api_returns_the_captions_words(profile, model, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from instapop.predict import Limits, Predictor
    from instapop.predict.card import embedding_config
    from instapop.web import app as web

    run_dir, data = profile
    predictor = Predictor(model, RandomEncoder([]), embedding_config(model), Limits())
    monkeypatch.setattr(web.Predictor, "load", classmethod(lambda cls, *args, **kwargs: predictor))
    client = TestClient(web.create_app(Path("unused"), explain=False))
    picture = Path(_picture(run_dir, data.images.ids[0]))
    files = [("files", (name, picture.read_bytes())) for name in ("a.jpg", "b.jpg")]
    fields = {"caption": ["Sunrise by the sea #goldenhour", "By the sea"]}
    response = client.post("/api/predict", files=files, data=fields)
    assert response.status_code == 200, response.text
    first, second = response.json()["candidates"]
    assert first["name"] == "a.jpg" and first["contributions"]["words"] > second["contributions"]["words"]
    assert {"sunrise", "#goldenhour"} & {t["term"] for t in first["caption_words"]["up"]}
