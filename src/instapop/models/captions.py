"""Caption words: a post's caption as a sparse TF-IDF row, the ranker's third block (issue 18).

Two vocabularies side by side, each a scikit-learn ``TfidfVectorizer`` (sublinear term
frequency, smoothed idf, rows L2-normalised, terms found in at least two posts):

- ``ngrams``: character 2-4-grams inside word boundaries (``analyzer="char_wb"``), lower-cased.
  They need no word list and no spaces: "summer", "лето" and "夏祭りの" all give n-grams, a
  Japanese sentence written without spaces included, and inflected forms share most of theirs;
- ``tokens``: whole hashtags, @mentions and emoji (:func:`instapop.context.caption_tokens`),
  which an n-gram of at most four characters would cut apart.

A vocabulary is learned from the captions it is given and from nothing else: the ranker
fits one inside each training fold (and each inner fold), never on the rows it scores. Each
post counts once (carousel items share their post's caption), so document frequencies count
posts. Too few captions for any term to reach two posts give an empty vocabulary: the block
then has no columns, and the ranker learns nothing from it.

Saved as plain data: the terms in column order (JSON) and their idf (safetensors);
:meth:`CaptionWords.from_saved` rebuilds vectorizers that give the same features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from instapop.context import caption_tokens

NGRAMS, TOKENS = "ngrams", "tokens"
PARTS = (NGRAMS, TOKENS)
MIN_POSTS = 2  # a term in one post cannot say anything about another


def _vectorizer(part: str, max_features: int | None = None) -> TfidfVectorizer:
    """An unfitted vectorizer of one part (``max_features`` None: a saved vocabulary's size)."""
    if part == NGRAMS:
        analyzer, ngrams = "char_wb", (2, 4)
    else:
        analyzer, ngrams = caption_tokens, (1, 1)
    return TfidfVectorizer(
        analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, min_df=MIN_POSTS, max_features=max_features
    )


def _fitted(vectorizer: TfidfVectorizer, captions: Sequence[str]) -> TfidfVectorizer | None:
    """The vectorizer fitted on ``captions``, or None when no term is in ``MIN_POSTS`` of them."""
    if len(captions) < MIN_POSTS:  # scikit-learn refuses min_df above the number of documents
        return None
    try:
        return vectorizer.fit(captions)
    except ValueError:  # "no terms remain" / "empty vocabulary": nothing shared by two posts
        return None


@dataclass
class CaptionWords:
    """Fitted caption vocabularies: captions -> (n, V) sparse TF-IDF rows, n-grams then tokens.

    Attributes
    ----------
    ngrams, tokens : TfidfVectorizer or None
        The fitted parts (None: an empty vocabulary).

    Examples
    --------
    >>> words = CaptionWords.fit(["夏祭り #祭 🎆", "夏祭りです #祭", "Привет 🎆"], max_features=100)
    >>> words.transform(["夏祭り 🎆"]).shape[0], "#祭" in words.terms()[TOKENS]
    (1, True)
    """

    ngrams: TfidfVectorizer | None = None
    tokens: TfidfVectorizer | None = None

    @classmethod
    def fit(cls, captions: Sequence[str], max_features: int) -> CaptionWords:
        """Learn both vocabularies from ``captions`` (one per post; "" for none), at most
        ``max_features`` terms each (the most frequent)."""
        captions = list(captions)
        return cls(*(_fitted(_vectorizer(part, max_features), captions) for part in PARTS))

    def _items(self) -> list[tuple[str, TfidfVectorizer | None]]:
        return [(NGRAMS, self.ngrams), (TOKENS, self.tokens)]

    @property
    def size(self) -> int:
        """V: the number of columns."""
        return sum(len(terms) for terms in self.terms().values())

    def transform(self, captions: Sequence[str]) -> scipy.sparse.csr_matrix:
        """(n, V) float64 TF-IDF rows of ``captions``; terms not in the vocabulary are ignored."""
        captions = list(captions)
        blocks = [
            scipy.sparse.csr_matrix((len(captions), 0)) if v is None else v.transform(captions)
            for _, v in self._items()
        ]
        return scipy.sparse.hstack(blocks, format="csr", dtype=np.float64)

    def terms(self) -> dict[str, list[str]]:
        """Each part's terms in column order (JSON)."""
        return {part: [] if v is None else v.get_feature_names_out().tolist() for part, v in self._items()}

    def idf(self) -> dict[str, np.ndarray]:
        """Each part's idf, in column order (safetensors)."""
        return {part: np.zeros(0) if v is None else v.idf_.astype(np.float64) for part, v in self._items()}

    @classmethod
    def from_saved(cls, terms: dict[str, list[str]], idf: dict[str, np.ndarray]) -> CaptionWords:
        """Vectorizers that give the same rows as the saved ones, from :meth:`terms` and :meth:`idf`."""
        parts = []
        for part in PARTS:
            if len(terms[part]) != len(idf[part]):
                raise ValueError(f"caption {part}: {len(terms[part])} terms but {len(idf[part])} idf values")
            if not terms[part]:
                parts.append(None)
                continue
            vectorizer = _vectorizer(part).set_params(vocabulary={t: i for i, t in enumerate(terms[part])})
            vectorizer.idf_ = np.asarray(idf[part], dtype=np.float64)
            parts.append(vectorizer)
        return cls(*parts)


def post_captions(captions: np.ndarray, groups: np.ndarray, rows: np.ndarray) -> list[str]:
    """One caption per post among ``rows`` (its first item's), in row order: what a vocabulary
    is fitted on, so that a carousel's caption counts once."""
    _, first = np.unique(groups[rows], return_index=True)
    return [str(captions[r]) for r in rows[np.sort(first)]]
