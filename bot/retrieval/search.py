"""The Searcher: the one object the bot and the console use to answer questions.

Two stages, with bounded work per question: candidates are FAISS's nearest sentences, BM25's
best, and (once its vectors exist) the second model's nearest; every signal is then
computed on the candidates alone (bot/retrieval/fusion.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from bot.retrieval.answers import Answer, Context, Hit, Quote, context_of, quotes_from_hits
from bot.retrieval.config import RetrievalConfig
from bot.retrieval.corpus import Corpus
from bot.retrieval.embedding import embed_documents, embed_queries
from bot.retrieval.fusion import confident, fuse, rank, with_second
from bot.retrieval.highlight import answer_span
from bot.retrieval.keys import SearchKeys, open_keys
from bot.retrieval.lexical import tokens
from bot.retrieval.rerank import BiEncoder, CrossEncoderReranker, PassageVectors, Reranker
from bot.retrieval.signals import best_clauses, head_first, lexical_of, window_cosines
from bot.retrieval.store import IndexVersion

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class _Serving:
    """One index version with everything derived from it for searching."""

    version: IndexVersion
    keys: SearchKeys  # BM25, the term bridge, clause vectors, windows, languages
    second: PassageVectors | None  # the second model's sentence vectors (bi-encoder)

    @property
    def corpus(self) -> Corpus:
        return self.version.corpus


@dataclass(frozen=True, slots=True)
class _Ranking:
    """The candidates of one question, best first, and what abstention looks at."""

    ids: list[int]
    scores: np.ndarray  # per id in `ids`
    hybrid_top: float
    second_top: float | None
    cross: bool  # the best second-model sentence is in another language than the question


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
        config: RetrievalConfig | None = None,
        embed: Embed | None = None,
        reranker: Reranker | None = None,
        keys_dir: Path | None = None,
    ) -> None:
        """`keys_dir` holds each version's search keys (bot/retrieval/keys.py); without it they are
        built in memory whenever a version is served; `config` holds the candidate counts,
        weights and thresholds (the chosen defaults without one)."""
        self.model = model
        self.config = config or RetrievalConfig()
        self.reranker = reranker
        self.keys_dir = keys_dir
        self._embed = embed or (lambda texts: embed_documents(model, texts))
        self._serving = self._serve(version)

    @property
    def version(self) -> IndexVersion:
        return self._serving.version

    @property
    def corpus(self) -> Corpus:
        return self._serving.corpus

    @property
    def second_progress(self) -> tuple[int, int] | None:
        """(sentences with a second-model vector, sentences), or None without a bi-encoder."""
        second = self._serving.second
        return None if second is None else (second.done, len(second.keys))

    def swap(self, version: IndexVersion) -> None:
        """Serve `version` from now on (its derived keys are prepared before the switch)."""
        self._serving = self._serve(version)

    def search(self, question: str, *, k: int | None = None, language: str = "en") -> list[Hit]:
        """The `k` best sentences for `question` (as many as an answer considers without
        `k`), best first, with no abstention and no merging."""
        k = k or self.config.quotes + self.config.more_quotes
        ranking = self._rank(self._serving, question, language)
        return [Hit(i, float(s)) for i, s in zip(ranking.ids[:k], ranking.scores[:k], strict=True)]

    def answer(self, question: str, *, language: str = "en") -> Answer:
        """Answer `question` with up to three quotes, or abstain.

        Args:
            question: the user's question, any length (it is embedded as given).
            language: the question's language ("de" or "en"); lexical evidence and the
                abstention threshold depend on whether it is the document's.

        Returns:
            An Answer whose quotes are ranked best first; `abstained` is True when the
            evidence is too weak, and then `quotes` is empty. `ranking` always holds the
            best sentences found.
        """
        serving = self._serving
        started = time.perf_counter()
        ranking = self._rank(serving, question, language)
        cfg = self.config
        k = cfg.quotes + cfg.more_quotes
        hits = tuple(
            Hit(i, float(s)) for i, s in zip(ranking.ids[:k], ranking.scores[:k], strict=True)
        )
        known = serving.keys.lexical.known_terms(question)
        debug = {"ms": round((time.perf_counter() - started) * 1000, 2)}
        sure = confident(
            ranking.hybrid_top,
            cfg.fusion,
            known_keywords=known,
            second_top=ranking.second_top,
            cross=ranking.cross,
            sentences=len(serving.corpus.sentences),
        )
        top = ranking.second_top if ranking.second_top is not None else ranking.hybrid_top
        if not hits or not sure:
            return Answer(question, language, True, top_score=top, ranking=hits, debug=debug)
        # Only genuinely related hits are shown (and merged when adjacent); the rest wait
        # behind "More".
        w = cfg.fusion
        ratio = w.related_ratio if ranking.second_top is None else w.related_ratio_second
        strong = [h for h in hits if h.score >= hits[0].score * ratio]
        shown = quotes_from_hits(strong, serving.corpus)[: cfg.quotes]
        used = {i for q in shown for i in q.sentence_ids}
        more = quotes_from_hits([h for h in hits if h.sentence_id not in used], serving.corpus)
        shown, more = _highlighted(question, shown), _highlighted(question, more[: cfg.more_quotes])
        return Answer(question, language, False, shown, more, top, hits, debug)

    def context(self, quote: Quote) -> Context:
        """The paragraph around `quote` (from the version now serving)."""
        return context_of(quote, self.corpus)

    def _rank(self, serving: _Serving, question: str, language: str) -> _Ranking:
        """Candidates, scored by every signal and sorted best first."""
        if not serving.corpus.sentences:  # nothing to quote: the answer is an abstention
            return _Ranking([], np.zeros(0, dtype=np.float32), 0.0, None, False)
        keys, cfg = serving.keys, self.config
        question_words = tokens(question)[:32]
        vectors = embed_queries(self.model, [question, *(w for w, _ in question_words)])
        query, word_vectors = vectors[0], vectors[1:]
        exact = {t: 1.0 for t in keys.lexical.query_terms(question)}
        bridged = keys.bridge.expand([f for _, f in question_words], word_vectors, cfg.bridge)
        matched, matched_scores = keys.lexical.matches({**bridged, **exact})
        second_query = (
            self.reranker.query(question) if isinstance(self.reranker, BiEncoder) else None
        )
        ids = _candidates(serving, query, matched, matched_scores, second_query, cfg.candidates)
        cross = keys.languages[ids] != language
        table = serving.second  # the second model's sentence vectors, if it has any
        full = second_query is not None and table is not None and table.complete
        hybrid = fuse(
            serving.version.vectors[ids] @ query,
            window_cosines(serving.version.vectors, keys.windows, ids, query),
            best_clauses(keys.clause_vectors, keys.clause_ranges, ids, query),
            lexical_of(ids, matched, matched_scores),
            cfg.fusion,
            cross=cross,
            second=full,
        )
        scores, second_top, second_cross = hybrid, None, False
        if full:
            second = table.of(ids) @ second_query
            scores = with_second(hybrid, second, cfg.fusion)
            best = int(np.argmax(second))
            second_top, second_cross = float(second[best]), bool(cross[best])
        elif second_query is not None and table is not None:
            # Still filling: the hybrid's head is embedded on the spot and ordered with the
            # second model; abstention stays the hybrid's until every vector exists.
            head = np.argsort(-hybrid, kind="stable")[: cfg.head]
            second = table.of(ids[head]) @ second_query
            scores = head_first(hybrid, head, with_second(hybrid[head], second, cfg.fusion))
        elif isinstance(self.reranker, CrossEncoderReranker):
            head = np.argsort(-hybrid, kind="stable")[: self.reranker.head]
            texts = [serving.corpus.sentences[int(ids[i])].text for i in head]
            scores = head_first(hybrid, head, self.reranker.scores(question, texts))
        order = rank(scores, len(ids))
        return _Ranking(
            ids=[int(ids[i]) for i in order],
            scores=scores[order],
            hybrid_top=float(hybrid.max()),
            second_top=second_top,
            cross=second_cross,
        )

    def _serve(self, version: IndexVersion) -> _Serving:
        corpus = version.corpus
        keys = open_keys(
            self.keys_dir,
            version.manifest.version,
            corpus,
            self._embed,
            version.vectors.shape[1],
        )
        second = None
        if isinstance(self.reranker, BiEncoder):
            second = self.reranker.serve(second_keys(corpus), self.reranker.dimension)
        return _Serving(version=version, keys=keys, second=second)


def second_keys(corpus: Corpus) -> list[str]:
    """What the second model embeds per sentence: its document's title, then the sentence.

    The title says what a sentence with "he" or "the city" is about.
    """
    titles = {d.doc_id: d.title for d in corpus.documents}
    return [f"{titles[s.doc_id]}: {s.text}" for s in corpus.sentences]


def _highlighted(question: str, quotes: list[Quote]) -> tuple[Quote, ...]:
    """`quotes` with the part that answers `question` marked where it can be found."""
    return tuple(replace(q, highlight=answer_span(question, q.text)) for q in quotes)


def _candidates(
    serving: _Serving,
    query: np.ndarray,
    matched: np.ndarray,
    matched_scores: np.ndarray,
    second_query: np.ndarray | None,
    per_source: int,
) -> np.ndarray:
    """Sentences worth scoring: the nearest under each model plus the best BM25 matches."""
    index = serving.version.index
    k = min(per_source, index.ntotal)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    _, dense_ids = index.search(query.reshape(1, -1), k)
    best = np.argpartition(-matched_scores, k - 1)[:k] if k < len(matched) else slice(None)
    found = [dense_ids[0][dense_ids[0] >= 0], matched[best]]
    if second_query is not None and serving.second is not None:
        found.append(serving.second.nearest(second_query, k))
    return np.unique(np.concatenate(found)).astype(np.int64)
