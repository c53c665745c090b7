"""Caption words: a post's caption as a sparse TF-IDF row, the ranker's third block (issue 18).

Two vocabularies side by side, each what scikit-learn's ``TfidfVectorizer`` would learn
(sublinear term frequency, smoothed idf, rows L2-normalised, terms in at least two posts, at
most ``max_features`` of the most frequent):

- ``ngrams``: character 2-4-grams inside word boundaries (``analyzer="char_wb"``), lower-cased.
  They need no word list and no spaces: "summer", "лето" and "夏祭りの" all give n-grams, a
  Japanese sentence written without spaces included, and inflected forms share most of theirs;
- ``tokens``: whole hashtags, @mentions and emoji (:func:`instapop.context.caption_tokens`),
  which an n-gram of at most four characters would cut apart.

A vocabulary is learned from the captions it is given and from nothing else: the ranker
learns one inside each training fold (and each inner fold), never on the rows it scores. Each
post counts once (carousel items share their post's caption), so document frequencies count
posts. Too few captions for any term to reach two posts give an empty vocabulary: the block
then has no columns, and the ranker learns nothing from it.

Cross-validation learns a dozen vocabularies from the same captions, so :class:`CaptionCounts`
counts every term of the captions once (scikit-learn's ``CountVectorizer``) and each fold keeps
the columns its own rows select and weights them as ``TfidfTransformer`` does (:func:`idf_of`,
:func:`weighted`): the two steps of a ``TfidfVectorizer``, with the text read once instead of
twelve times and without scikit-learn's input checks on every fold (the test suite checks the
result equals ``TfidfVectorizer``'s).

Saved as plain data: the terms in column order (JSON) and their idf (safetensors);
:meth:`CaptionWords.from_saved` rebuilds the same features.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer

from instapop.context import caption_tokens

NGRAMS, TOKENS = "ngrams", "tokens"
PARTS = (NGRAMS, TOKENS)
MIN_POSTS = 2  # a term in one post cannot say anything about another
# scikit-learn's char_wb analyzer (lower-cased, words padded with a space), built once
caption_ngrams = CountVectorizer(analyzer="char_wb", ngram_range=(2, 4)).build_analyzer()
_ANALYZERS = {NGRAMS: caption_ngrams, TOKENS: caption_tokens}


def idf_of(counts: scipy.sparse.csr_matrix) -> np.ndarray:
    """Smoothed idf of each column over the documents (rows) of ``counts``, in
    ``TfidfTransformer``'s operations and order: log((1 + n) / (1 + df)) + 1."""
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64) + 1.0
    idf = np.full_like(df, counts.shape[0] + 1.0)
    idf /= df
    np.log(idf, out=idf)
    return idf + 1.0


def weighted(counts: scipy.sparse.csr_matrix, idf: np.ndarray) -> scipy.sparse.csr_matrix:
    """TF-IDF rows of term counts: (1 + log count) x idf, each row L2-normalised (as
    ``TfidfTransformer(sublinear_tf=True)``; an empty row stays empty)."""
    rows = counts.astype(np.float64)  # a copy
    np.log(rows.data, out=rows.data)
    rows.data += 1.0
    rows.data *= idf[rows.indices]
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    rows.data /= np.sqrt(np.bincount(row_of, weights=rows.data**2, minlength=rows.shape[0]))[row_of]
    return rows


@dataclass
class CaptionWords:
    """Fitted caption vocabularies: captions -> (n, V) sparse TF-IDF rows, n-grams then tokens.

    Attributes
    ----------
    terms : dict of str to list of str
        Each part's terms in column order (empty: no column).
    idf : dict of str to numpy.ndarray
        Each part's inverse document frequencies, in the same order.

    Examples
    --------
    >>> words = CaptionWords.fit(["夏祭り #祭 🎆", "夏祭りです #祭", "Привет 🎆"], max_features=100)
    >>> words.transform(["夏祭り 🎆"]).shape[0], words.terms["tokens"]
    (1, ['#祭', '🎆'])
    """

    terms: dict[str, list[str]] = field(default_factory=lambda: {part: [] for part in PARTS})
    idf: dict[str, np.ndarray] = field(default_factory=lambda: {part: np.zeros(0) for part in PARTS})

    def __post_init__(self) -> None:
        for part in PARTS:
            if len(self.terms[part]) != len(self.idf[part]):
                raise ValueError(
                    f"caption {part}: {len(self.terms[part])} terms but {len(self.idf[part])} idf values"
                )

    @classmethod
    def fit(cls, captions: Sequence[str], max_features: int) -> CaptionWords:
        """Learn both vocabularies from ``captions`` (one per post; "" for none)."""
        counts = CaptionCounts(np.asarray(captions, dtype=object))
        return counts.fit(counts.rows(captions), max_features).words

    @property
    def size(self) -> int:
        """V: the number of columns."""
        return sum(len(terms) for terms in self.terms.values())

    def transform(self, captions: Sequence[str]) -> scipy.sparse.csr_matrix:
        """(n, V) float64 TF-IDF rows of ``captions``; terms not in the vocabulary are ignored."""
        captions = list(captions)
        blocks = []
        for part in PARTS:
            if not self.terms[part]:
                blocks.append(scipy.sparse.csr_matrix((len(captions), 0)))
                continue
            vocabulary = {term: i for i, term in enumerate(self.terms[part])}
            counts = CountVectorizer(analyzer=_ANALYZERS[part], vocabulary=vocabulary).transform(captions)
            blocks.append(weighted(counts, self.idf[part]))
        return scipy.sparse.hstack(blocks, format="csr", dtype=np.float64)

    @classmethod
    def from_saved(cls, terms: dict[str, list[str]], idf: dict[str, np.ndarray]) -> CaptionWords:
        """The vocabulary saved as :attr:`terms` (JSON) and :attr:`idf` (safetensors)."""
        return cls(
            {part: list(terms[part]) for part in PARTS}, {part: np.asarray(idf[part]) for part in PARTS}
        )


class CaptionCounts:
    """Every term's count in each distinct caption of a set, read once; vocabularies are chosen
    from any of its rows (:meth:`fit`) and weighted without reading the text again (:meth:`tfidf`).

    Parameters
    ----------
    captions : numpy.ndarray of str
        The captions (repeats allowed); only the distinct texts are analysed.
    """

    def __init__(self, captions: np.ndarray) -> None:
        self.texts = np.unique(np.asarray(captions, dtype=str))
        self.counts: dict[str, scipy.sparse.csr_matrix] = {}
        self.terms: dict[str, np.ndarray] = {}
        for part in PARTS:
            vectorizer = CountVectorizer(analyzer=_ANALYZERS[part])
            try:
                self.counts[part] = vectorizer.fit_transform(self.texts).tocsr()
                self.terms[part] = vectorizer.get_feature_names_out()  # sorted, as TfidfVectorizer's
            except ValueError:  # "empty vocabulary": no caption has a term of this part
                self.counts[part] = scipy.sparse.csr_matrix((len(self.texts), 0), dtype=np.int64)
                self.terms[part] = np.zeros(0, dtype=str)

    def rows(self, captions: Sequence[str]) -> np.ndarray:
        """The row of each caption (one of the texts counted)."""
        return np.searchsorted(self.texts, np.asarray(captions, dtype=str))

    def fit(self, documents: np.ndarray, max_features: int) -> Chosen:
        """The vocabulary a ``TfidfVectorizer`` would learn from the captions of ``documents``
        (rows, one per post): terms in ``MIN_POSTS`` of them, the ``max_features`` most frequent."""
        terms, idf, columns = {}, {}, {}
        for part in PARTS:
            counts = self.counts[part][documents]
            columns[part] = self._kept(counts, max_features)
            terms[part] = self.terms[part][columns[part]].tolist()
            idf[part] = idf_of(counts[:, columns[part]])
        return Chosen(CaptionWords(terms, idf), columns)

    @staticmethod
    def _kept(counts: scipy.sparse.csr_matrix, max_features: int) -> np.ndarray:
        """Columns in at least ``MIN_POSTS`` documents, the most frequent ``max_features`` of them,
        in column order (``CountVectorizer._limit_features``'s rule and tie order)."""
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        kept = np.flatnonzero(df >= MIN_POSTS)
        if len(kept) > max_features:
            frequency = np.asarray(counts.sum(axis=0)).ravel()
            kept = np.sort(kept[(-frequency[kept]).argsort()[:max_features]])
        return kept

    def tfidf(self, chosen: Chosen, rows: np.ndarray) -> scipy.sparse.csr_matrix:
        """(len(rows), V) TF-IDF rows of the texts ``rows`` for a vocabulary :meth:`fit` chose
        here: the same as ``chosen.words.transform`` of their captions, without reading them again."""
        idf, columns = chosen.words.idf, chosen.columns
        blocks = [weighted(self.counts[part][rows][:, columns[part]], idf[part]) for part in PARTS]
        return scipy.sparse.hstack(blocks, format="csr", dtype=np.float64)


@dataclass(frozen=True)
class Chosen:
    """A vocabulary :meth:`CaptionCounts.fit` chose: its words, and their columns among the counts
    (so that weighting a fold's rows never looks terms up by their text)."""

    words: CaptionWords
    columns: dict[str, np.ndarray]


def shared_counts(captions: np.ndarray) -> CaptionCounts:
    """:class:`CaptionCounts` of every distinct caption of ``captions``, counted once for every
    fold, N and approach that reads the same captions.

    Counting a scored fold's captions with the rest learns nothing from them: a vocabulary keeps
    only terms of the documents :meth:`CaptionCounts.fit` is given (a term of the scored fold
    alone has no post there), and the text is read once instead of once per outer fold.
    """
    return _counts_of(tuple(np.unique(np.asarray(captions, dtype=str))))


@functools.lru_cache(maxsize=8)  # a profile's images, videos and both together, with room to spare
def _counts_of(texts: tuple[str, ...]) -> CaptionCounts:
    return CaptionCounts(np.asarray(texts, dtype=str))


def post_rows(groups: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One item per post among ``rows`` (its first), in row order: the documents a vocabulary
    is learned from, so that a carousel's caption counts once."""
    _, first = np.unique(groups[rows], return_index=True)
    return rows[np.sort(first)]


def describe_words(ranker: dict) -> str:
    """A saved ranker's caption words in a few words, for the model card (older models have none)."""
    if not ranker.get("words_weight_factor"):
        return "not used (inner cross-validation gave them weight 0)"
    terms = ranker["caption_terms"]
    return (
        f"weight {ranker['words_weight_factor']:g}, {len(terms['ngrams'])} character n-grams and "
        f"{len(terms['tokens'])} hashtags, mentions and emoji"
    )
