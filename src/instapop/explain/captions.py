"""Which whole words of the captions move a ranker's score: the words, hashtags, mentions and emoji.

The ranker reads a caption as character n-grams and whole tokens
(:mod:`instapop.models.captions`); a fragment such as "ris" means nothing to a reader. This
scores each *whole* term found in the captions through the fitted model instead: the term
alone, as a caption, against an empty caption (:meth:`~instapop.models.ranker.Ranker.words_part`),
so every n-gram and token of the term adds its weight. Beside each term: how many posts use it
and their mean within-window percentile, the raw evidence behind the weight.

A term is a hashtag, an @mention or an emoji (:func:`instapop.context.caption_tokens`), or a
word: a run of letters and digits between spaces and punctuation, lower-cased. A language
written without spaces (Japanese, Chinese) has no such words inside a sentence: its terms are
its hashtags and the runs between punctuation, and only a run found in two or more posts is
scored. Its n-grams still count in the score; this only chooses what to show.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from instapop.context import caption_tokens
from instapop.datasets import MediaSet
from instapop.models.captions import MIN_POSTS
from instapop.models.ranker import Ranker

_WORD = re.compile(r"\w+")
COLUMNS = ("term", "effect", "posts", "mean_percentile", "examples")
EXAMPLES = 2  # posts named beside each term: what a person looks at to see the term in use


def caption_terms(caption: str) -> set[str]:
    """The whole terms of one caption: its hashtags, mentions and emoji, and its other words
    (lower-cased runs of letters and digits)."""
    tokens = caption_tokens(caption)
    text = caption.lower()
    for token in sorted(tokens, key=len, reverse=True):  # longest first: "#sunrise" before "#sun"
        # a hashtag's or mention's letters are not a word of their own
        text = text.replace(token, " ")
    return set(tokens) | set(_WORD.findall(text))


def term_effects(ranker: Ranker, terms: Sequence[str]) -> np.ndarray:
    """Each term's move of the score (percentile units): the term alone as a caption, against an
    empty caption, so every n-gram and token of it adds its weight."""
    if not terms:
        return np.zeros(0)
    return ranker.words_part(list(terms)) - ranker.words_part([""])[0]


def caption_pushes(
    ranker: Ranker, caption: str, top: int = 3
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The whole terms of one caption that raise and lower the score most, (term, effect) each,
    strongest first: what a person changes to move a candidate's words part."""
    terms = sorted(caption_terms(caption))
    effects = term_effects(ranker, terms)
    order = np.argsort(-effects, kind="stable")
    up = [(terms[i], float(effects[i])) for i in order if effects[i] > 0]
    down = [(terms[i], float(effects[i])) for i in order[::-1] if effects[i] < 0]
    return up[:top], down[:top]


def caption_word_effects(
    ranker: Ranker, items: MediaSet, top: int = 10, min_posts: int = MIN_POSTS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The terms that raise and lower a ranker's score most, with their posts and mean percentile.

    Parameters
    ----------
    ranker : Ranker
        A fitted ranker (without caption words every effect is 0, and both tables are empty).
    items : MediaSet
        The items it was trained on: captions, posts (``groups``) and percentiles. Each post
        counts once (by its first item), however many items it holds.
    top : int
        Rows of each table.
    min_posts : int
        Terms in fewer posts are left out (the vocabulary's own threshold by default).

    Returns
    -------
    (raising, lowering) : pandas.DataFrame
        Columns ``term``, ``effect`` (:func:`term_effects`), ``posts`` (posts whose caption
        holds it), ``mean_percentile`` (theirs) and ``examples`` (media ids of up to two of those
        posts' first items: the most popular for a raising term, the least for a lowering one);
        ``raising`` has the largest positive effects first, ``lowering`` the most negative first.
    """
    _, first = np.unique(items.groups, return_index=True)
    posts: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for row in first:
        for term in caption_terms(str(items.captions[row])):
            posts[term].append((float(items.percentile[row]), items.ids[row]))
    terms = sorted(term for term, found in posts.items() if len(found) >= min_posts)
    effects = term_effects(ranker, terms)
    table = pd.DataFrame(
        {
            "term": terms,
            "effect": effects,
            "posts": [len(posts[t]) for t in terms],
            "mean_percentile": [float(np.mean([p for p, _ in posts[t]])) for t in terms],
            "examples": [_examples(posts[t], effect > 0) for t, effect in zip(terms, effects, strict=True)],
        },
        columns=list(COLUMNS),
    )
    raising = table[table["effect"] > 0].sort_values("effect", ascending=False, kind="stable")
    lowering = table[table["effect"] < 0].sort_values("effect", kind="stable")
    return raising.head(top).reset_index(drop=True), lowering.head(top).reset_index(drop=True)


def _examples(found: list[tuple[float, str]], popular: bool) -> list[str]:
    """Media ids of the most (``popular``) or least popular posts among ``found``, ties by id."""
    ordered = sorted(found, key=lambda pair: (-pair[0] if popular else pair[0], pair[1]))
    return [media_id for _, media_id in ordered[:EXAMPLES]]
