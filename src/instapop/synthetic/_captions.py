"""The captions of a synthetic profile: a brand's usual words and hashtags, and with a caption effect
(issue 18) captions in three languages, half carrying a planted word that raises popularity."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import numpy as np

Post = TypeVar("Post")  # the plan's PostPlan: planned here without importing the plan, which imports this

_WORDS = (
    *("fresh", "roast", "morning", "coffee", "new", "blend", "today", "weekend", "studio", "light"),
    *("summer", "autumn", "spring", "winter", "launch", "behind", "the", "scenes", "team", "favourite"),
    *("flowers", "garden", "ball", "game", "season", "handmade", "local", "shop", "friends", "limited"),
    *("edition", "sunny", "colours", "story", "craft", "detail", "classic"),
)
_TAGS = ("#brand", "#newin", "#daily", "#design", "#shoplocal", "#weekend", "#instagood", "#behindthescenes")
# The caption effect (issue 18): each language's neutral words and its planted word; Japanese is
# written without spaces, so only character n-grams can find its planted word inside a sentence.
CAPTION_LANGUAGES = {
    "en": (_WORDS, "sunrise"),
    "ru": (
        ("новый", "кофе", "утро", "сегодня", "магазин", "друзья", "весна", "лето", "команда", "свет"),
        "распродажа",
    ),
    "ja": (
        ("今日は", "新作の", "コーヒー", "お店で", "季節", "限定", "ありがとう", "春の", "みんなと", "朝"),
        "夏祭り",
    ),
}
PLANTED_TAGS = ("#goldenhour", "#夏祭り")  # the second only beside the Japanese word
PLANTED_EMOJI = "🔥"
_EMOJI = ("🙂", "✨", "🌸", "☕")


def caption(rng: np.random.Generator) -> str:
    """A short caption with hashtags; about one post in ten has none (and so no .txt file)."""
    if rng.random() < 0.1:
        return ""
    words = " ".join(rng.choice(_WORDS, int(rng.integers(3, 12))))
    tags = " ".join(rng.choice(_TAGS, int(rng.integers(0, 4)), replace=False))
    return f"{words.capitalize()}. {tags}".strip()


def plant_captions(seed: int, posts: tuple[Post, ...], factor: float) -> tuple[Post, ...]:
    """Captions in English, Russian and Japanese; half carry a planted word, and then PoR x ``factor``.

    A planted caption holds its language's word (:data:`CAPTION_LANGUAGES`: "sunrise",
    "распродажа", "夏祭り" inside a sentence without spaces) and, each with probability 1/2,
    the hashtag ``#goldenhour`` (``#夏祭り`` beside the Japanese word) and the emoji 🔥. Every
    caption has some of the brand's usual hashtags and emoji. A post without a caption keeps none.

    Drawn from a generator of its own (seeded by ``seed``) after everything else, and only the
    counts of planted posts change: pictures, times and shapes are those of the profile without
    the effect (the feature cache serves both).
    """
    rng = np.random.default_rng([seed, 18])
    result = []
    for post in posts:
        if not post.caption:
            result.append(post)
            continue
        planted = bool(rng.random() < 0.5)
        post = replace(post, caption=_language_caption(rng, planted))
        if planted:
            por = post.por * factor
            total = int(round(por * post.followers))
            comments = int(round(total * post.comments / max(post.likes + post.comments, 1)))
            post = replace(post, por=por, likes=total - comments, comments=comments)
        result.append(post)
    return tuple(result)


def _language_caption(rng: np.random.Generator, planted: bool) -> str:
    language = str(rng.choice(list(CAPTION_LANGUAGES)))
    vocabulary, keyword = CAPTION_LANGUAGES[language]
    words = [str(w) for w in rng.choice(vocabulary, int(rng.integers(3, 9)))]
    extras = [str(t) for t in rng.choice(_TAGS, int(rng.integers(0, 3)), replace=False)]
    extras += [str(e) for e in rng.choice(_EMOJI, int(rng.integers(0, 2)))]
    if planted:
        words.insert(int(rng.integers(len(words) + 1)), keyword)
        tag = PLANTED_TAGS[language == "ja"]
        extras += [extra for extra in (tag, PLANTED_EMOJI) if rng.random() < 0.5]
    sentence = ("" if language == "ja" else " ").join(words)
    return " ".join([sentence, *extras])
