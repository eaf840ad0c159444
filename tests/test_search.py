"""Retrieval with the real default model over the seed article: facts, abstention, quotes."""

from __future__ import annotations

from pathlib import Path

import pytest
from seedfacts import FACTS, SEED_TEXT, TITLE, assert_quotes_are_exact, sentence_id

from bot.answering.conversation import Conversation, is_followup
from bot.retrieval.answers import Hit, context_of, quotes_from_hits
from bot.retrieval.corpus import Corpus
from bot.retrieval.documents import load_document
from bot.retrieval.indexing import Indexer
from bot.retrieval.search import Searcher
from bot.retrieval.store import IndexStore
from bot.settings import Settings


@pytest.fixture(scope="module")
def searcher(model, built_seed: Path) -> Searcher:
    """One Searcher over the pre-built seed index (read-only in these tests)."""
    return Searcher(model, IndexStore(built_seed / "index").load())


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.from_documents([load_document(SEED_TEXT)])


@pytest.mark.parametrize(("question", "fragment"), FACTS, ids=[q for q, _ in FACTS])
def test_first_quote_answers_the_question(searcher: Searcher, question: str, fragment: str) -> None:
    expected = sentence_id(searcher.corpus, fragment)
    answer = searcher.answer(question)
    assert not answer.abstained
    first = answer.quotes[0]
    assert expected in first.sentence_ids, f"first quote is {first.text[:80]!r}"
    assert searcher.corpus.sentences[expected].text in first.text
    assert_quotes_are_exact(answer, searcher.corpus)


@pytest.mark.parametrize(
    ("question", "marked"),
    [
        ("How many North Korean officers were killed near Donetsk?", "sechs"),
        ("wie viele offiziere starben", "sechs"),
        ("When did Moscow use its veto?", "März"),
        ("Wann besuchte Putin Pjöngjang?", "Juni"),
        ("Who visited Pyongyang in June?", None),
    ],
)
def test_the_date_or_count_asked_for_is_marked_in_the_first_quote(
    searcher: Searcher, question: str, marked: str | None
) -> None:
    first = searcher.answer(question).quotes[0]
    assert (first.text[slice(*first.highlight)] if first.highlight else None) == marked
    assert first.to_json().get("answer") == marked


@pytest.mark.parametrize(
    "question",
    [
        "How tall is the Eiffel Tower?",
        "Was kostet ein Flug nach Mallorca?",
        "Recommend me a pizza recipe",
        "Wer hat die Fußball-WM 2014 gewonnen?",
    ],
)
def test_off_topic_questions_are_refused(searcher: Searcher, question: str) -> None:
    answer = searcher.answer(question)
    assert answer.abstained
    assert answer.quotes == () and answer.more == ()
    assert answer.to_json()["quotes"] == []


def test_answer_records_question_and_language(searcher: Searcher) -> None:
    answer = searcher.answer("Wo starben sechs nordkoreanische Offiziere?", language="de")
    assert (answer.question, answer.language) == (
        "Wo starben sechs nordkoreanische Offiziere?",
        "de",
    )
    assert answer.top_score == answer.quotes[0].score
    assert all(q.score <= answer.top_score for q in answer.quotes + answer.more)
    assert len(answer.quotes) <= 3


def test_search_ranks_every_sentence_at_most_once(searcher: Searcher) -> None:
    hits = searcher.search("Pjöngjang Moskau Raketen", k=20)
    ids = [h.sentence_id for h in hits]
    assert len(ids) == len(set(ids)) <= 11
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_adjacent_hits_merge_into_one_quote(corpus: Corpus) -> None:
    quotes = quotes_from_hits([Hit(1, 0.9), Hit(0, 0.5)], corpus)
    assert len(quotes) == 1
    quote = quotes[0]
    assert (quote.paragraph, quote.sentence, quote.last_sentence) == (1, 1, 2)
    assert quote.sentence_ids == (0, 1)
    assert quote.score == 0.9
    doc = corpus.documents[0]
    assert quote.text == doc.text[corpus.sentences[0].start : corpus.sentences[1].end]
    assert quote.text.startswith("Am 8. Oktober 2024") and quote.text.endswith("am 3. Oktober.")


def test_hits_in_different_paragraphs_stay_apart(corpus: Corpus) -> None:
    # Sentence 1 ends paragraph 1 and sentence 2 opens paragraph 2: neighbours, but not one quote.
    quotes = quotes_from_hits([Hit(2, 0.8), Hit(1, 0.7)], corpus)
    assert [(q.paragraph, q.sentence, q.sentence_ids) for q in quotes] == [
        (2, 1, (2,)),
        (1, 2, (1,)),
    ]
    assert [q.score for q in quotes] == [0.8, 0.7]


def test_gap_in_a_paragraph_keeps_quotes_apart(corpus: Corpus) -> None:
    quotes = quotes_from_hits([Hit(10, 0.6), Hit(8, 0.5)], corpus)
    assert [q.sentence_ids for q in quotes] == [(10,), (8,)]
    assert [(q.paragraph, q.sentence) for q in quotes] == [(5, 3), (5, 1)]


def test_run_of_three_takes_the_best_rank(corpus: Corpus) -> None:
    quotes = quotes_from_hits([Hit(4, 0.95), Hit(10, 0.9), Hit(8, 0.7), Hit(9, 0.4)], corpus)
    assert [q.sentence_ids for q in quotes] == [(4,), (8, 9, 10)]
    merged = quotes[1]
    assert (merged.paragraph, merged.sentence, merged.last_sentence, merged.score) == (5, 1, 3, 0.9)
    assert merged.text == " ".join(corpus.sentences[i].text for i in (8, 9, 10))


def test_context_marks_the_cited_sentences(corpus: Corpus) -> None:
    quote = quotes_from_hits([Hit(9, 0.7)], corpus)[0]
    context = context_of(quote, corpus)
    assert (context.document, context.paragraph) == (TITLE, 5)
    assert [cited for _, cited in context.sentences] == [False, True, False]
    assert [text for text, _ in context.sentences] == [corpus.sentences[i].text for i in (8, 9, 10)]


def test_searcher_context_uses_the_serving_version(searcher: Searcher) -> None:
    answer = searcher.answer("Von welcher Universität ist Lim Eul-chul?")
    context = searcher.context(answer.quotes[0])
    assert any(cited and "Kyungnam" in text for text, cited in context.sentences)


@pytest.mark.parametrize(
    "question",
    [
        "und wann?",
        "Und Russland?",
        "What about Russia?",
        "and why?",
        "Who said that?",
        "Wer hat das gesagt?",
        "Warum?",
        "Aber wo genau?",
    ],
)
def test_followups(question: str) -> None:
    assert is_followup(question)


@pytest.mark.parametrize(
    "question",
    [
        "Wer besuchte im Juni Pjöngjang?",
        "Who visited Pyongyang in June?",
        "Was hat Nordkorea an Russland geliefert?",
        "Undercover operations?",
        "Wann legte Moskau im UN-Sicherheitsrat sein Veto ein?",
    ],
)
def test_standalone_questions(question: str) -> None:
    assert not is_followup(question)


@pytest.mark.parametrize(
    "question", ["Wo starben sechs nordkoreanische Offiziere?", "Where did six officers die?"]
)
def test_short_standalone_w_questions_are_not_followups(question: str) -> None:
    assert not is_followup(question)


def test_conversation_remembers_the_previous_question(searcher: Searcher) -> None:
    conversation = Conversation(searcher, followup_seconds=300)
    first = conversation.ask("chat-1", "Was hat Südkorea Nordkorea vorgeworfen?")
    assert first.question == "Was hat Südkorea Nordkorea vorgeworfen?"
    assert first.language == "de"

    followup = conversation.ask("chat-1", "und wann?")
    assert followup.question == "Was hat Südkorea Nordkorea vorgeworfen? und wann?"
    # Another chat has no previous question.
    assert conversation.ask("chat-2", "und wann?").question == "und wann?"
    # A standalone question replaces what is remembered.
    conversation.ask("chat-1", "Who visited Pyongyang in June?")
    assert (
        conversation.ask("chat-1", "and why?").question == "Who visited Pyongyang in June? and why?"
    )

    conversation.forget("chat-1")
    assert conversation.ask("chat-1", "und wann?").question == "und wann?"


def test_conversation_forgets_after_the_time_limit(searcher: Searcher) -> None:
    conversation = Conversation(searcher, followup_seconds=0)
    conversation.ask("chat", "Was hat Südkorea Nordkorea vorgeworfen?")
    assert conversation.ask("chat", "und wann?").question == "und wann?"


def test_empty_index_abstains(settings: Settings, model) -> None:
    for path in settings.documents_dir.iterdir():
        path.unlink()
    indexer = Indexer(
        documents_dir=settings.documents_dir,
        index_dir=settings.index_dir,
        model=model,
        model_name=settings.embedding_model,
    )
    answer = Searcher(model, indexer.open()).answer("Wer besuchte im Juni Pjöngjang?")
    assert answer.abstained and answer.quotes == ()
