"""The shipped seed article as the retrieval tests know it: its title, questions with the
sentence that answers each, and what makes a quote of it exact."""

from __future__ import annotations

from pathlib import Path

from bot.retrieval.answers import Answer
from bot.retrieval.corpus import Corpus

SEED_TEXT = Path(__file__).resolve().parents[1] / "bot" / "seed" / "nordkorea-soldaten-ukraine.txt"
TITLE = "Nordkoreanische Soldaten in der Ukraine"


def sentence_id(corpus: Corpus, fragment: str) -> int:
    """The id of the one sentence that contains `fragment`."""
    found = [s.id for s in corpus.sentences if fragment in s.text]
    assert len(found) == 1, f"{fragment!r} is in {len(found)} sentences"
    return found[0]


def assert_quotes_are_exact(answer: Answer, corpus: Corpus) -> None:
    """Each quote is verbatim source text at the place it claims."""
    for quote in answer.quotes + answer.more:
        doc = corpus.document(quote.doc_id)
        cited = [corpus.sentences[i] for i in quote.sentence_ids]
        assert quote.document == doc.title == TITLE
        assert {s.paragraph for s in cited} == {quote.paragraph}
        assert [s.number for s in cited] == list(range(quote.sentence, quote.last_sentence + 1))
        assert quote.text == doc.text[cited[0].start : cited[-1].end]
        assert quote.language == "de"


FACTS = [
    # (question, a fragment of the sentence that answers it)
    ("Who visited Pyongyang in June?", "Militärkooperationsabkommen"),
    ("Wo starben sechs nordkoreanische Offiziere?", "nahe Donetsk"),
    ("Von welcher Universität ist Lim Eul-chul?", "Kyungnam-Universität"),
    ("Wie heißt der südkoreanische Verteidigungsminister?", "Kim Yong-kyun"),
    (
        "How many North Korean officers were killed near Donetsk?",
        "von sechs nordkoreanischen Offizieren",
    ),
    (
        "In which month did Moscow cast its veto in the UN Security Council?",
        "Veto im UN-Sicherheitsrat",
    ),
    ("Welches Abkommen von 1991 könnte Nordkorea aufkündigen?", "Grundsatzabkommen von 1991"),
    ("What does North Korea hope to get from Russia in return?", "im Gegenzug von Russland"),
]
