"""Caption words (issue 18): captions from every source, their tokens, the ranker's third block.

What is guaranteed here: captions in Japanese, Cyrillic and emoji arrive from every source and
reach the dataset; they tokenise; an empty caption works; the vocabulary never sees the
scored fold; a weight of 0 gives exactly the ranker without caption words; a saved ranker
scores captions exactly as the one in memory; and on a profile with a planted caption effect
the words make the ranker better and the planted terms come out on top.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from instapop.config import PAPER, Config
from instapop.context import caption_tokens
from instapop.datasets import IMAGE, Dataset, RunData, planted_dataset
from instapop.models.captions import NGRAMS, TOKENS, CaptionCounts, CaptionWords
from instapop.models.ranker import Ranker, picture_features
from instapop.models.ridge import caption_grams
from instapop.sources import read_source
from support import CAPTION_FACTOR, caption_effect_run

JAPANESE = "今日は夏祭りです #夏祭り 🎆"
CYRILLIC = "Привет, весна! #весна @ана 👍🏽"
EMOJI = "🔥🔥 sale 🇯🇵"
CAPTIONS = (JAPANESE, CYRILLIC, EMOJI)
T0 = 1_600_000_000


# --------------------------------------------------------------------------- tokens


def test_japanese_cyrillic_and_emoji_captions_tokenise() -> None:
    words = CaptionWords.fit([*CAPTIONS, "夏祭りの夜 #夏祭り 🎆", "Привет! #весна @ана 👍🏽 🔥 🇯🇵", ""], 1000)
    terms = words.terms
    # n-grams inside a Japanese sentence without spaces, and inside Cyrillic words
    assert {"夏祭", "祭り", "привет"[:4], "вет"} <= set(terms[NGRAMS])
    # whole tokens: a hashtag in any script, a mention, an emoji with its skin tone, a flag
    assert {"#夏祭り", "#весна", "@ана", "👍🏽", "🎆", "🔥", "🇯🇵"} <= set(terms[TOKENS])
    rows = words.transform([JAPANESE, "", "nothing known here"])
    assert rows.shape == (3, words.size)
    assert rows[0].nnz > 0 and rows[1].nnz == 0 and rows[2].nnz == 0  # empty and unknown: all zero
    np.testing.assert_allclose(np.sqrt(rows[0].multiply(rows[0]).sum()), np.sqrt(2))  # two unit parts


def test_the_vocabulary_and_rows_are_those_of_a_tfidf_vectorizer() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(0)
    pool = ["夏祭り", "新作の", "распродажа", "весна", "sunrise", "coffee", "#sale", "#夏", "@ana", "🔥"]
    captions = [" ".join(rng.choice(pool, rng.integers(1, 6))) for _ in range(40)] + ["", CAPTIONS[0]] * 2
    words = CaptionWords.fit(captions, max_features=25)  # fewer than the terms: the limit's ties
    probe = [*captions, *CAPTIONS, "unseen words"]
    rows, n_ngrams = words.transform(probe).toarray(), len(words.terms[NGRAMS])
    for part, analyzer, ngrams, columns in (
        (NGRAMS, "char_wb", (2, 4), slice(0, n_ngrams)),
        (TOKENS, caption_tokens, (1, 1), slice(n_ngrams, None)),
    ):
        reference = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, min_df=2)
        reference.set_params(max_features=25).fit(captions)
        assert words.terms[part] == reference.get_feature_names_out().tolist()
        np.testing.assert_array_equal(words.idf[part], reference.idf_)
        np.testing.assert_allclose(rows[:, columns], reference.transform(probe).toarray(), rtol=1e-12, atol=0)
    counts = CaptionCounts(np.array(captions, dtype=object))
    chosen = counts.fit(counts.rows(captions), max_features=25)
    assert chosen.words.terms == words.terms
    assert (counts.tfidf(chosen, counts.rows(captions)) != words.transform(captions)).nnz == 0


def test_too_few_captions_give_an_empty_vocabulary() -> None:
    for captions in ([JAPANESE], ["", ""], ["one", "two"]):
        words = CaptionWords.fit(captions, 100)
        assert words.size == 0 and words.transform(["one", JAPANESE]).shape == (2, 0)


def test_a_saved_vocabulary_gives_identical_features(tmp_path: Path) -> None:
    words = CaptionWords.fit([*CAPTIONS, *CAPTIONS[:2], "sale sale 🔥"], 1000)
    terms = json.loads(json.dumps(words.terms))
    save_file({part: torch_of(idf) for part, idf in words.idf.items()}, str(tmp_path / "idf.safetensors"))
    idf = {part: t.numpy() for part, t in load_file(str(tmp_path / "idf.safetensors")).items()}
    restored = CaptionWords.from_saved(terms, idf)
    probe = [*CAPTIONS, "", "夏祭り sale", "Весна 🔥"]
    assert (restored.transform(probe) != words.transform(probe)).nnz == 0
    with pytest.raises(ValueError, match="3 terms but 2 idf"):
        CaptionWords({NGRAMS: ["ab", "bc", "cd"], TOKENS: []}, {NGRAMS: np.ones(2), TOKENS: np.ones(0)})


def torch_of(array: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(array))


# --------------------------------------------------------------------------- the ranker's block

FAST = Config(inner_splits=3, ranker_alphas=(1.0, 100.0, 1e4), ranker_words_weights=(0.0, 10.0, 30.0))
PLANTED = "#promo"


def with_captions(data: Dataset, seed: int = 0) -> Dataset:
    """``data`` with captions whose planted hashtag follows the items' percentile (per post)."""
    rng = np.random.default_rng(seed)
    items = data.images
    words = np.array(["coffee", "лето", "新作", "sale", "team", "☕", "#daily"])
    by_post = {}
    for group, percentile in zip(items.groups, items.percentile, strict=True):
        if group not in by_post:
            chosen = list(rng.choice(words, 3))
            by_post[group] = " ".join(chosen + ([PLANTED] if percentile > 0.5 else []))
    items.captions = np.array([by_post[g] for g in items.groups], dtype=object)
    return data


def fit(data: Dataset, rows: np.ndarray, captions: np.ndarray | None, **overrides) -> Ranker:
    items, config = data.images, dataclasses.replace(FAST, **overrides)
    return Ranker.fit(
        IMAGE,
        picture_features(IMAGE, data.image_views),
        np.zeros((len(items), 0)),
        items.percentile,
        items.labels,
        items.groups,
        rows,
        config.ranker_alphas,
        config.inner_splits,
        seed=0,
        captions=captions,
        words_weights=config.ranker_words_weights,
        words_max_features=config.ranker_words_max_features,
    )


@pytest.fixture(scope="module")
def captioned() -> Dataset:
    return with_captions(planted_dataset(200, 0, signal=0.5, seed=5, dim=24, n_views=2))


def test_caption_words_never_see_the_scored_fold(captioned) -> None:
    items = captioned.images
    train = np.flatnonzero(np.isin(items.groups, np.unique(items.groups)[::4], invert=True))
    outside = np.setdiff1d(np.arange(len(items)), train)
    ranker = fit(captioned, train, items.captions)
    assert ranker.words_weight_factor > 0 and PLANTED in ranker.words.terms[TOKENS]
    # Rewriting every caption outside the training rows, with words of their own, changes nothing.
    rewritten = items.captions.copy()
    rewritten[outside] = [f"#scoredonly 🦄 zebra{i % 2}" for i in range(len(outside))]
    again = fit(captioned, train, rewritten)
    assert again.words.terms == ranker.words.terms
    assert not {"#scoredonly", "🦄"} & set(again.words.terms[TOKENS])
    assert not {"zebr", "ebra", "donl"} & set(again.words.terms[NGRAMS])  # n-grams of its words alone
    np.testing.assert_array_equal(again.words_weight, ranker.words_weight)
    assert (again.alpha, again.words_weight_factor) == (ranker.alpha, ranker.words_weight_factor)
    assert again.temperature == ranker.temperature


def test_an_inner_fold_vocabulary_ignores_its_held_out_captions(captioned) -> None:
    items = captioned.images
    fit_rows, held_out = np.arange(0, 150), np.arange(150, len(items))

    def grams(captions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = CaptionCounts(captions)  # as in Ranker.fit: every caption, the held-out ones too
        return caption_grams(counts, counts.rows(captions), items.groups, fit_rows, held_out, 1000)

    k_fit, k_out = grams(items.captions)
    unseen = items.captions.copy()
    unseen[held_out] = "ԱԲԳԴ ΩΨΦ 🦄"  # no character of it is in a fit row's caption
    k_fit_unseen, k_out_unseen = grams(unseen)
    np.testing.assert_array_equal(k_fit_unseen, k_fit)
    empty = items.captions.copy()
    empty[held_out] = ""
    # Held-out captions of terms the fit rows never had are, to the kernel, empty captions.
    np.testing.assert_array_equal(k_out_unseen, grams(empty)[1])
    assert not np.array_equal(k_out, k_out_unseen)


def test_words_weight_0_is_exactly_the_ranker_without_caption_words(captioned) -> None:
    rows = np.arange(160)
    plain = fit(captioned, rows, None)
    zero = fit(captioned, rows, captioned.images.captions, ranker_words_weights=(0.0,))
    empty = fit(captioned, rows, np.full(len(captioned.images), "", dtype=object))
    for other in (zero, empty):
        np.testing.assert_array_equal(other.picture_weight, plain.picture_weight)
        assert (other.alpha, other.temperature) == (plain.alpha, plain.temperature)
        assert other.words_weight_factor == 0.0
        assert other.words.size == 0 and len(other.words_weight) == 0
    x = picture_features(IMAGE, captioned.image_views[160:])
    np.testing.assert_array_equal(zero.score(x, None, captioned.images.captions[160:]), plain.score(x))


def test_a_saved_ranker_scores_captions_exactly_as_in_memory(captioned, tmp_path: Path) -> None:
    from instapop.models.approaches import approach

    ranker = fit(captioned, np.arange(len(captioned.images)), captioned.images.captions)
    save_file(ranker.tensors(), str(tmp_path / "image.safetensors"))
    meta = json.loads(json.dumps(ranker.meta()))
    card = {"dim": captioned.image_views.shape[-1], "n_classes": 3}
    tensors = load_file(str(tmp_path / "image.safetensors"))
    restored = approach("ranker").load(IMAGE, tensors, {"ranker": meta}, card, FAST).ranker
    x = picture_features(IMAGE, captioned.image_views[:4])
    probe = [f"sale {PLANTED}", JAPANESE, "", "лето ☕ #daily"]
    assert np.any(restored.words_part(probe) != 0)
    np.testing.assert_array_equal(restored.score(x, None, probe), ranker.score(x, None, probe))
    np.testing.assert_array_equal(restored.words_part(probe), ranker.words_part(probe))


def test_a_ranker_saved_before_caption_words_still_loads(captioned) -> None:
    ranker = fit(captioned, np.arange(100), None)
    tensors = {k: t for k, t in ranker.tensors().items() if not k.startswith("words")}
    meta = {k: v for k, v in ranker.meta().items() if k not in ("caption_terms", "words_weight_factor")}
    old = Ranker.from_saved(tensors, meta)
    assert old.words.size == 0 and old.words_part(["anything"]).tolist() == [0.0]
    assert Ranker.tensor_sizes(24, meta) == {k: tuple(t.shape)[0] for k, t in tensors.items()}


def test_the_model_card_names_the_caption_words(captioned, tmp_path: Path) -> None:
    from instapop.training import load_model, train_final
    from instapop.validation import evaluate

    config = dataclasses.replace(FAST, n_repeats=1, approaches=("ranker", "majority"))
    results = evaluate(captioned, config, progress=False)
    model = load_model(train_final(captioned, results, config, 3, tmp_path / "model"))
    ranker = model.ranker(IMAGE)
    assert ranker.words_weight_factor > 0 and ranker.words_part([PLANTED])[0] > ranker.words_part([""])[0]
    card = (tmp_path / "model" / "card.md").read_text()
    assert f"caption words: weight {ranker.words_weight_factor:g}, " in card
    assert json.loads((tmp_path / "model" / "config.json").read_text())["format_version"] == 4


# --------------------------------------------------------------------------- every source


def _image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (120, 80, 40)).save(path)
    return path


def _graphql_post(root: Path, base: str, pk: int, caption: str | None) -> None:
    edges = [] if caption is None else [{"node": {"text": caption}}]
    node = {
        "__typename": "GraphImage",
        "id": str(pk),
        "shortcode": f"C{pk}",
        "taken_at_timestamp": T0 + pk * 3600,
        "is_video": False,
        "edge_media_preview_like": {"count": 10},
        "edge_media_to_comment": {"count": 1},
        "edge_media_to_caption": {"edges": edges},
        "owner": {"id": "1", "username": "brand"},
    }
    (root / f"{base}.json").write_text(json.dumps({"node": node, "instaloader": {"node_type": "Post"}}))
    _image(root / f"{base}.jpg")


def _captions(data) -> dict[str, str]:
    return {post.post_id: post.caption for post in data.posts}


def test_instaloader_captions_from_the_json_or_the_txt_file(tmp_path: Path) -> None:
    for pk, caption in enumerate(CAPTIONS, start=1):
        _graphql_post(tmp_path, f"post{pk}", pk, caption)
    _graphql_post(tmp_path, "post4", 4, None)  # caption only in <base>.txt, as Instaloader writes it
    (tmp_path / "post4.txt").write_text(JAPANESE + "\n", encoding="utf-8")
    _graphql_post(tmp_path, "post5", 5, None)  # no caption at all
    found = _captions(read_source(tmp_path, 10**6, now=T0 + 10**6))
    assert found == {"1": JAPANESE, "2": CYRILLIC, "3": EMOJI, "4": JAPANESE, "5": ""}


def test_business_suite_description_is_the_caption(tmp_path: Path) -> None:
    header = "Post ID,Account ID,Description,Publish time,Permalink,Post type,Date,Reach,Likes,Comments\n"
    link = "https://www.instagram.com/p"
    rows = "".join(
        f'{i},9,"{caption}",10/0{i}/2025 08:31,{link}/C{i}x/,IG image,Lifetime,900,40,3\n'
        for i, caption in enumerate([*CAPTIONS, ""], start=1)
    )
    (tmp_path / "export.csv").write_text(header + rows, encoding="utf-8-sig")
    for i in range(1, 5):
        _image(tmp_path / "media" / f"C{i}x.jpg")
    found = _captions(read_source(tmp_path / "export.csv", 10**6))
    assert found == {"1": JAPANESE, "2": CYRILLIC, "3": EMOJI, "4": ""}


def test_graph_api_caption_is_the_caption(tmp_path: Path) -> None:
    items = [
        {
            "id": f"1790{i}",
            "media_type": "IMAGE",
            "permalink": f"https://www.instagram.com/p/Code{i}/",
            "timestamp": f"2025-10-0{i}T08:31:00+0000",
            "like_count": 100,
            "comments_count": 4,
            **({} if caption is None else {"caption": caption}),
        }
        for i, caption in enumerate([*CAPTIONS, None], start=1)
    ]
    (tmp_path / "page_1.json").write_text(json.dumps({"data": items}))
    for i in range(1, 5):
        _image(tmp_path / "media" / f"Code{i}.jpg")
    found = _captions(read_source(tmp_path, 10**6))
    assert found == {"17901": JAPANESE, "17902": CYRILLIC, "17903": EMOJI, "17904": ""}


def test_manifest_caption_column(tmp_path: Path) -> None:
    for i in range(1, 4):
        _image(tmp_path / "img" / f"{i}.jpg")
    lines = [f'p{i},2020-09-2{i}T10:00:00Z,100,4,img/{i}.jpg,"{c}"' for i, c in enumerate(CAPTIONS, start=1)]
    (tmp_path / "manifest.csv").write_text(
        "post_id,timestamp,likes,comments,media,caption\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    assert _captions(read_source(tmp_path, 10**6)) == {"p1": JAPANESE, "p2": CYRILLIC, "p3": EMOJI}


# --------------------------------------------------------------------------- the generator


def test_the_generator_plants_captions_on_por_only() -> None:
    from instapop.synthetic._captions import CAPTION_LANGUAGES, PLANTED_EMOJI, PLANTED_TAGS
    from instapop.synthetic._plan import plan_profile

    plain = plan_profile(120, 3, True, PAPER)
    planted = plan_profile(120, 3, True, dataclasses.replace(PAPER, synth_caption_factor=CAPTION_FACTOR))
    keywords = [keyword for _, keyword in CAPTION_LANGUAGES.values()]
    for before, after in zip(plain.posts, planted.posts, strict=True):
        assert (after.media, after.timestamp, after.label) == (before.media, before.timestamp, before.label)
        assert bool(after.caption) == bool(before.caption)  # a post without a caption keeps none
        marked = any(keyword in after.caption for keyword in keywords)
        assert after.por == pytest.approx(before.por * (CAPTION_FACTOR if marked else 1.0))
        if not marked:
            assert not any(term in after.caption for term in (*PLANTED_TAGS, PLANTED_EMOJI))
    captions = " ".join(p.caption for p in planted.posts)
    assert all(keyword in captions for keyword in keywords) and "распродажа" in captions


def test_synth_cli_takes_the_caption_effect(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from instapop.cli import app
    from instapop.synthetic import load_ground_truth

    result = CliRunner().invoke(app, ["synth", str(tmp_path), "--posts", "4", "--caption-effect", "1.5"])
    assert result.exit_code == 0, result.output
    assert load_ground_truth(tmp_path / "ground_truth.json")["params"]["synth_caption_factor"] == 1.5
    refused = CliRunner().invoke(app, ["synth", str(tmp_path / "x"), "--posts", "4", "--caption-effect", "0"])
    assert refused.exit_code == 2 and "caption effect must be positive" in refused.output


@pytest.fixture(scope="module")
def caption_profile(tmp_path_factory) -> tuple[Path, Dataset]:
    """A 150-post caption-effect profile through ingest and labels (:func:`support.caption_effect_run`)."""
    profile_dir, _, data = caption_effect_run(tmp_path_factory.mktemp("captions"))
    return profile_dir, data


def test_generated_captions_reach_the_dataset(caption_profile) -> None:
    from instapop.synthetic._plan import plan_profile

    profile_dir, data = caption_profile
    plan = plan_profile(150, 2, False, dataclasses.replace(PAPER, synth_caption_factor=CAPTION_FACTOR))
    truth = {str(post.pk): post.caption for post in plan.posts}
    items = data.images
    assert [items.captions[i] for i in range(len(items))] == [truth[g] for g in items.groups]
    assert any("夏祭り" in c for c in items.captions) and any("распродажа" in c for c in items.captions)
    assert "" in set(items.captions)  # posts without a caption are kept, with ""


def test_run_data_gives_every_item_its_posts_caption(make_run) -> None:
    run = RunData(make_run(60))
    posts = run.posts.set_index("post_id")["caption"]
    for items in (run.dataset.images, run.dataset.videos):
        assert len(items) and list(items.captions) == [posts[g] for g in items.groups]


def test_caption_words_beat_the_ranker_without_them_on_a_caption_profile(caption_profile) -> None:
    from instapop.validation import evaluate, row_of

    _, data = caption_profile
    config = Config(n_repeats=1, approaches=("ranker", "majority"))
    with_words = evaluate(data, config, progress=False)
    without = evaluate(data, dataclasses.replace(config, ranker_words_weights=(0.0,)), progress=False)
    for n in (2, 3):
        words, plain = (row_of(r, IMAGE, "ranker", n)["spearman"]["mean"] for r in (with_words, without))
        assert words > plain + 0.03, (n, words, plain)


def test_the_planted_terms_come_out_on_top(caption_profile) -> None:
    from instapop.explain.captions import caption_word_effects

    _, data = caption_profile
    items, config = data.images, Config()
    ranker = Ranker.fit(
        IMAGE,
        picture_features(IMAGE, data.image_views),
        data.context[IMAGE],
        items.percentile,
        items.labels,
        items.groups,
        np.arange(len(items)),
        config.ranker_alphas,
        config.inner_splits,
        seed=0,
        context_columns=data.context_columns,
        context_weights=config.ranker_context_weights,
        captions=items.captions,
        words_weights=config.ranker_words_weights,
    )
    raising, lowering = caption_word_effects(ranker, items, top=6)
    top = set(raising["term"])
    assert {"sunrise", "распродажа", "#goldenhour", "🔥"} <= top, raising
    assert not top & set(lowering["term"]) and (lowering["effect"] < 0).all()
    planted = raising.set_index("term").loc["sunrise"]
    assert planted["posts"] >= 5 and planted["mean_percentile"] > 0.5
    # Inside a Japanese sentence without spaces, the planted word still raises the score.
    assert ranker.words_part(["新作の夏祭りお店で"])[0] > ranker.words_part(["新作のコーヒーお店で"])[0]
