"""The Searcher: the one object the bot and the console use to answer questions."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
from sentence_transformers import SentenceTransformer

from bot.answers import Answer, Context, Hit, Quote, context_of, quotes_from_hits
from bot.corpus import Corpus
from bot.embedding import embed_queries
from bot.fusion import FusionWeights, confident, fuse, rank
from bot.lexical import LexicalIndex
from bot.store import IndexVersion

logger = logging.getLogger(__name__)

MAX_QUOTES = 3
MORE_QUOTES = 5
CANDIDATES = 100  # per signal; scoring is exact within their union


@dataclass(frozen=True, slots=True)
class _Serving:
    """An index version with the lexical index built over the same sentences."""

    version: IndexVersion
    lexical: LexicalIndex

    @property
    def corpus(self) -> Corpus:
        return self.version.corpus


class Searcher:
    """Answers questions from one index version; `swap` replaces the version atomically.

    Queries read `self._serving` once, so a query in flight finishes on the version it
    started with while a reindex swaps in the next one.
    """

    def __init__(self, model: SentenceTransformer, version: IndexVersion, *,
                 weights: FusionWeights | None = None) -> None:
        self.model = model
        self.weights = weights or FusionWeights()
        self._serving = _serve(version)
        self._encode_lock = threading.Lock()

    @property
    def version(self) -> IndexVersion:
        return self._serving.version

    @property
    def corpus(self) -> Corpus:
        return self._serving.corpus

    def swap(self, version: IndexVersion) -> None:
        """Serve `version` from now on."""
        self._serving = _serve(version)

    def answer(self, question: str, *, language: str = "en") -> Answer:
        """Answer `question` with up to three quotes, or abstain.

        Args:
            question: the user's question, any length (it is embedded as given).
            language: the language to answer in ("de" or "en"); recorded on the Answer.

        Returns:
            An Answer whose quotes are ranked best first; `abstained` is True when the
            evidence is too weak, and then `quotes` is empty.
        """
        serving = self._serving
        started = time.perf_counter()
        scores = self._scores(serving, question)
        order = rank(scores, MAX_QUOTES + MORE_QUOTES)
        top = float(scores[order[0]]) if order else 0.0
        debug = {"ms": round((time.perf_counter() - started) * 1000, 2)}
        if not order or not confident(top, self.weights):
            return Answer(question, language, True, top_score=top, debug=debug)
        hits = [Hit(i, float(scores[i])) for i in order]
        quotes = quotes_from_hits(hits, serving.corpus)
        shown = [q for q in quotes[:MAX_QUOTES] if q.score >= top * self.weights.related_ratio]
        more = quotes[len(shown) : len(shown) + MORE_QUOTES]
        return Answer(question, language, False, tuple(shown), tuple(more), top, debug)

    def context(self, quote: Quote) -> Context:
        """The paragraph around `quote` (from the version now serving)."""
        return context_of(quote, self.corpus)

    def _scores(self, serving: _Serving, question: str) -> np.ndarray:
        with self._encode_lock:  # the numpy/torch encoders are not re-entrant
            query = embed_queries(self.model, [question])[0]
        lexical = serving.lexical.scores(question)
        candidates = _candidates(serving.version, query, lexical)
        scores = np.full(len(lexical), -np.inf, dtype=np.float32)
        # Exact cosine for every candidate, whichever list brought it in.
        dense = serving.version.vectors[candidates] @ query
        scores[candidates] = fuse(dense, lexical[candidates], self.weights, lexical_top=lexical.max(initial=0.0))
        return scores


def _candidates(version: IndexVersion, query: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Sentences worth scoring: FAISS's nearest neighbours plus the best BM25 matches."""
    k = min(CANDIDATES, version.index.ntotal)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    _, dense_ids = version.index.search(query.reshape(1, -1), k)
    lexical_ids = np.argsort(-lexical)[:k][lexical[np.argsort(-lexical)[:k]] > 0]
    return np.union1d(dense_ids[0][dense_ids[0] >= 0], lexical_ids)


def _serve(version: IndexVersion) -> _Serving:
    corpus = version.corpus
    language = _main_language(corpus)
    return _Serving(version, LexicalIndex([s.text for s in corpus.sentences], language=language))


def _main_language(corpus: Corpus) -> str:
    counts: dict[str, int] = {}
    for doc in corpus.documents:
        counts[doc.language] = counts.get(doc.language, 0) + corpus.sentences_of(doc.doc_id)
    return max(counts, key=counts.get) if counts else "de"
