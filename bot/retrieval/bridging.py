"""Cross-lingual and misspelt words mapped onto the document's own vocabulary.

BM25 only matches words that occur in the document, so an English question ("officers",
"June", "Moscow") or a typo ("Nordkorae") scores nothing against German sentences. Each
question word is therefore mapped to document words that mean the same (nearest
neighbours in the multilingual embedding space: officers → Offizieren, Moscow → Moskau)
or are spelt almost the same (rapidfuzz ratio: Nordkorae → Nordkorea, Donezk → Donetsk).
The resulting terms carry the similarity as a weight into BM25.

Both lookups stay small as the vocabulary grows: the nearest word comes from a graph index
(FAISS HNSW), and spellings are compared only with the words that begin with the same two
letters.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import pairwise

import faiss
import numpy as np
from rapidfuzz import fuzz, process

from bot.retrieval.config import BridgeConfig

Embed = Callable[[list[str]], np.ndarray]


class TermBridge:
    """Maps question words to weighted document terms."""

    def __init__(
        self,
        words: Sequence[str],
        terms: Sequence[str],
        vectors: np.ndarray | faiss.Index,
        *,
        spelling_order: list[int] | None = None,
    ) -> None:
        """`vectors`: the words' normalized embeddings, or an index over them (`word_index`).

        `spelling_order`: the words' positions sorted by `spelling_key`, as `to_json` saved
        it (sorted here when not given).
        """
        self.words = list(words)
        self.terms = list(terms)
        exact = not isinstance(vectors, faiss.Index)
        self.index = word_index(vectors, exact=True) if exact else vectors
        spellings = [spelling_key(w) for w in self.words]
        if not _orders(spelling_order, spellings):  # none, or saved under other spelling keys
            spelling_order = sorted(range(len(spellings)), key=spellings.__getitem__)
        self._by_spelling = spelling_order
        self._spellings = [spellings[i] for i in self._by_spelling]

    def to_json(self) -> dict:
        """The words, their terms and their spelling order; the index is saved apart."""
        return {"words": self.words, "terms": self.terms, "spelling_order": self._by_spelling}

    @classmethod
    def from_json(cls, data: dict, index: faiss.Index) -> TermBridge:
        """The bridge `to_json` described, over its saved word index."""
        return cls(data["words"], data["terms"], index, spelling_order=data["spelling_order"])

    def expand(
        self,
        question_words: Sequence[str],
        vectors: np.ndarray,
        config: BridgeConfig | None = None,
    ) -> dict[str, float]:
        """Document terms for `question_words` (with their `vectors`), each with a weight in (0, 1].

        Args:
            question_words: folded words of the question, stop words removed.
            vectors: normalized embeddings of those words, one row each.
            config: the thresholds (the defaults without one).

        Returns:
            term -> weight; the strongest reason wins when several words lead to one term.
        """
        weights: dict[str, float] = {}
        if not self.words or not len(question_words):
            return weights
        cfg = config or BridgeConfig()
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(question_words), -1)
        similarities, nearest = self.index.search(queries, min(cfg.neighbours, len(self.words)))
        for n, word in enumerate(question_words):
            for similarity, i in zip(similarities[n], nearest[n], strict=True):
                if i >= 0 and similarity >= cfg.min_similarity:
                    _keep(weights, self.terms[i], float(similarity))
            if len(word) >= cfg.min_spelling_length:
                for i, score in self._spelt_alike(spelling_key(word), cfg):
                    _keep(weights, self.terms[i], score / 100)
        return weights

    def _spelt_alike(self, key: str, cfg: BridgeConfig) -> list[tuple[int, float]]:
        """(word, rapidfuzz ratio) of the two words spelt most like `key`, among those that
        begin with the same letters."""
        lo = bisect_left(self._spellings, key[: cfg.prefix])
        hi = bisect_left(self._spellings, key[: cfg.prefix] + "\uffff", lo)
        found = process.extract(
            key, self._spellings[lo:hi], scorer=fuzz.ratio, score_cutoff=cfg.min_spelling, limit=2
        )
        return [(self._by_spelling[lo + j], score) for _, score, j in found]


def word_index(vectors: np.ndarray, *, exact: bool = False) -> faiss.Index:
    """An inner-product index over the words' vectors: unless `exact`, a graph (HNSW: each
    lookup costs about log V) over 8-bit codes (a quarter of the memory; cosines within
    about 0.01)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dimension = vectors.shape[1] if vectors.ndim == 2 else 1
    if exact:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWSQ(
            dimension, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = 40
        index.hnsw.efSearch = 64
    if len(vectors):
        index.train(vectors)
        index.add(vectors)
    return index


def spelling_key(word: str) -> str:
    """A folded word with English/German transliteration differences evened out.

    English writes y where German writes j (Pyongyang/Pjöngjang, Yemen/Jemen) and ts, c or
    k where German writes z or k (Donetsk/Donezk); compare spellings on this key.
    """
    return word.replace("y", "j").replace("ts", "z").replace("c", "k")


def _orders(order: list[int] | None, keys: list[str]) -> bool:
    """Whether `order` lists every position of `keys` once, in ascending order of the keys."""
    if order is None or len(order) != len(keys) or len(set(order)) != len(keys):
        return False
    if keys and not (min(order) == 0 and max(order) == len(keys) - 1):
        return False
    return all(keys[a] <= keys[b] for a, b in pairwise(order))


def _keep(weights: dict[str, float], term: str, weight: float) -> None:
    weights[term] = max(weights.get(term, 0.0), weight)
