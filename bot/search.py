"""The Searcher: the one object the bot and the console use to answer questions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sentence_transformers import SentenceTransformer

from bot.answers import Answer, Context, Hit, Quote, context_of, quotes_from_hits
from bot.bridging import TermBridge
from bot.corpus import Corpus
from bot.embedding import embed_documents, embed_queries
from bot.fusion import FusionWeights, confident, fuse, rank
from bot.highlight import answer_span
from bot.lexical import LexicalIndex, tokens
from bot.rerank import Reranker
from bot.splitting import clauses
from bot.store import IndexVersion

MAX_QUOTES = 3
MORE_QUOTES = 5
CANDIDATES = 100  # per signal; scoring is exact within their union
Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class _Serving:
    """One index version with everything derived from it for searching."""

    version: IndexVersion
    lexical: LexicalIndex
    bridge: TermBridge
    windows: np.ndarray  # per sentence: normalized mean of it and its paragraph neighbours
    clause_vectors: np.ndarray
    clause_owner: np.ndarray  # sentence id of each clause vector
    texts: list[str]  # sentence texts by id

    @property
    def corpus(self) -> Corpus:
        return self.version.corpus


class Searcher:
    """Answers questions from one index version; `swap` replaces the version atomically.

    Queries read `self._serving` once, so a query in flight finishes on the version it
    started with while a reindex swaps in the next one.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        version: IndexVersion,
        *,
        weights: FusionWeights | None = None,
        embed: Embed | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.model = model
        self.weights = weights or FusionWeights()
        self.reranker = reranker
        self._embed = embed or (lambda texts: embed_documents(model, texts))
        self._serving = self._serve(version)

    @property
    def version(self) -> IndexVersion:
        return self._serving.version

    @property
    def corpus(self) -> Corpus:
        return self._serving.corpus

    def swap(self, version: IndexVersion) -> None:
        """Serve `version` from now on (its derived keys are prepared before the switch)."""
        self._serving = self._serve(version)

    def search(self, question: str, *, k: int = MAX_QUOTES + MORE_QUOTES) -> list[Hit]:
        """The `k` best sentences for `question`, best first (no abstention, no merging)."""
        serving = self._serving
        scores = self._scores(serving, question)
        return [Hit(i, float(scores[i])) for i in self._ranked(serving, question, scores, k)]

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
        found = scores[np.isfinite(scores)]
        top = float(found.max()) if len(found) else 0.0
        known = serving.lexical.known_terms(question)
        if not len(found) or not confident(top, self.weights, known_keywords=known):
            debug = {"ms": round((time.perf_counter() - started) * 1000, 2)}
            return Answer(question, language, True, top_score=top, debug=debug)
        ranked = self._ranked(serving, question, scores, MAX_QUOTES + MORE_QUOTES)
        hits = [Hit(i, float(scores[i])) for i in ranked]
        debug = {"ms": round((time.perf_counter() - started) * 1000, 2)}
        # Only genuinely relevant hits are shown (and merged when adjacent); the rest wait
        # behind "More". When the reranker overruled the hybrid's first choice, the hybrid
        # score no longer says which others are related, so the first quote stands alone.
        overruled = ranked[0] != int(np.argmax(scores))
        ratio = self.weights.related_ratio
        strong = hits[:1] + ([] if overruled else [h for h in hits[1:] if h.score >= top * ratio])
        shown = quotes_from_hits(strong, serving.corpus)[:MAX_QUOTES]
        used = {i for q in shown for i in q.sentence_ids}
        more = quotes_from_hits([h for h in hits if h.sentence_id not in used], serving.corpus)
        shown, more = _highlighted(question, shown), _highlighted(question, more[:MORE_QUOTES])
        return Answer(question, language, False, shown, more, top, debug)

    def context(self, quote: Quote) -> Context:
        """The paragraph around `quote` (from the version now serving)."""
        return context_of(quote, self.corpus)

    def _ranked(self, serving: _Serving, question: str, scores: np.ndarray, k: int) -> list[int]:
        """The `k` best sentence ids by score, the head re-ranked if there is a reranker."""
        reranker = self.reranker
        order = rank(scores, max(k, reranker.candidates) if reranker else k)
        order = [i for i in order if np.isfinite(scores[i])]
        if reranker is not None:
            order = reranker.reorder(question, order, scores, serving.texts)
        return order[:k]

    def _scores(self, serving: _Serving, question: str) -> np.ndarray:
        """Fused score per sentence; -inf for sentences outside the candidate set."""
        if not serving.corpus.sentences:  # nothing to quote: the answer is an abstention
            return np.zeros(0, dtype=np.float32)
        question_words = tokens(question)[:32]
        vectors = embed_queries(self.model, [question, *(w for w, _ in question_words)])
        query, word_vectors = vectors[0], vectors[1:]
        exact = {t: 1.0 for t in serving.lexical.query_terms(question)}
        bridged = serving.bridge.expand([f for _, f in question_words], word_vectors)
        lexical = serving.lexical.weighted_scores({**bridged, **exact})
        candidates = _candidates(serving, query, lexical)
        clause = np.full(len(lexical), -1.0, dtype=np.float32)
        if len(serving.clause_owner):
            np.maximum.at(clause, serving.clause_owner, serving.clause_vectors @ query)
        scores = np.full(len(lexical), -np.inf, dtype=np.float32)
        scores[candidates] = fuse(
            serving.version.vectors[candidates] @ query,
            serving.windows[candidates] @ query,
            clause[candidates],
            lexical[candidates],
            self.weights,
        )
        return scores

    def _serve(self, version: IndexVersion) -> _Serving:
        corpus = version.corpus
        texts = [s.text for s in corpus.sentences]
        if self.reranker is not None:
            self.reranker.keep_only(texts)
        lexical = LexicalIndex(texts, language=_main_language(corpus))
        vocab, folded, terms = lexical.vocabulary()
        pieces = [(s.id, c) for s in corpus.sentences for c in clauses(s.text)]
        dim = version.vectors.shape[1]
        # No sentences (every document removed): no keys, and every question abstains.
        keys = (
            self._embed(vocab + [c for _, c in pieces])
            if vocab or pieces
            else np.zeros((0, dim), dtype=np.float32)
        )
        return _Serving(
            version=version,
            lexical=lexical,
            bridge=TermBridge(folded, terms, keys[: len(vocab)].reshape(len(vocab), dim)),
            windows=_windows(corpus, version.vectors),
            clause_vectors=keys[len(vocab) :].reshape(len(pieces), dim),
            clause_owner=np.array([sid for sid, _ in pieces], dtype=np.int64),
            texts=texts,
        )


def _highlighted(question: str, quotes: list[Quote]) -> tuple[Quote, ...]:
    """`quotes` with the part that answers `question` marked where it can be found."""
    return tuple(replace(q, highlight=answer_span(question, q.text)) for q in quotes)


def _windows(corpus: Corpus, vectors: np.ndarray) -> np.ndarray:
    """Each sentence's vector averaged with its paragraph neighbours, renormalized."""
    windows = np.zeros_like(vectors)
    for sentence in corpus.sentences:
        mean = vectors[[s.id for s in corpus.neighbours(sentence)]].mean(axis=0)
        windows[sentence.id] = mean / (np.linalg.norm(mean) or 1.0)
    return windows


def _candidates(serving: _Serving, query: np.ndarray, lexical: np.ndarray) -> np.ndarray:
    """Sentences worth scoring: FAISS's nearest neighbours plus the best BM25 matches."""
    index = serving.version.index
    k = min(CANDIDATES, index.ntotal)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    _, dense_ids = index.search(query.reshape(1, -1), k)
    best_lexical = np.argsort(-lexical)[:k]
    best_lexical = best_lexical[lexical[best_lexical] > 0]
    return np.union1d(dense_ids[0][dense_ids[0] >= 0], best_lexical)


def _main_language(corpus: Corpus) -> str:
    counts: dict[str, int] = {}
    for doc in corpus.documents:
        counts[doc.language] = counts.get(doc.language, 0) + corpus.sentences_of(doc.doc_id)
    return max(counts, key=counts.get) if counts else "de"
