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

import numpy as np
import pandas as pd

from instapop.context import caption_tokens
from instapop.datasets import MediaSet
from instapop.models.captions import MIN_POSTS
from instapop.models.ranker import Ranker

_WORD = re.compile(r"\w+")
COLUMNS = ("term", "effect", "posts", "mean_percentile")


def caption_terms(caption: str) -> set[str]:
    """The whole terms of one caption: its hashtags, mentions and emoji, and its other words
    (lower-cased runs of letters and digits)."""
    tokens = caption_tokens(caption)
    text = caption.lower()
    for token in sorted(tokens, key=len, reverse=True):  # longest first: "#sunrise" before "#sun"
        # a hashtag's or mention's letters are not a word of their own
        text = text.replace(token, " ")
    return set(tokens) | set(_WORD.findall(text))


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
        counts once, however many items it holds.
    top : int
        Rows of each table.
    min_posts : int
        Terms in fewer posts are left out (the vocabulary's own threshold by default).

    Returns
    -------
    (raising, lowering) : pandas.DataFrame
        Columns ``term``, ``effect`` (score move of the term as the whole caption, against an
        empty caption, in percentile units), ``posts`` (posts whose caption holds it) and
        ``mean_percentile`` (theirs); ``raising`` has the largest positive effects first,
        ``lowering`` the most negative first.
    """
    _, first = np.unique(items.groups, return_index=True)
    posts: dict[str, list[float]] = defaultdict(list)
    for row in first:
        for term in caption_terms(str(items.captions[row])):
            posts[term].append(float(items.percentile[row]))
    terms = sorted(term for term, found in posts.items() if len(found) >= min_posts)
    effects = ranker.words_part(terms) - ranker.words_part([""])[0] if terms else np.zeros(0)
    table = pd.DataFrame(
        {
            "term": terms,
            "effect": effects,
            "posts": [len(posts[t]) for t in terms],
            "mean_percentile": [float(np.mean(posts[t])) for t in terms],
        },
        columns=list(COLUMNS),
    )
    raising = table[table["effect"] > 0].sort_values("effect", ascending=False, kind="stable")
    lowering = table[table["effect"] < 0].sort_values("effect", kind="stable")
    return raising.head(top).reset_index(drop=True), lowering.head(top).reset_index(drop=True)
