"""The date or count that answers a when / how-many question is found, and only then."""

from __future__ import annotations

import pytest

from bot.retrieval.highlight import answer_span

OFFICERS = (
    "Diese Offenbarung folgt auf Berichte ukrainischer Medien über den Tod von sechs "
    "nordkoreanischen Offizieren bei einem Raketenangriff nahe Donetsk am 3. Oktober."
)
MINISTER = (
    "Am 8. Oktober 2024 erklärte der südkoreanische Verteidigungsminister Kim Yong-kyun, "
    "dass Nordkorea wahrscheinlich Soldaten entsenden werde."
)


def marked(question: str, text: str) -> str | None:
    span = answer_span(question, text)
    return text[span[0] : span[1]] if span else None


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("Wann starben die Offiziere?", OFFICERS, "3. Oktober"),
        ("when did the officers die", OFFICERS, "3. Oktober"),
        ("An welchem Tag sprach der Minister?", MINISTER, "8. Oktober 2024"),
        ("Wie viele Offiziere starben?", OFFICERS, "sechs"),
        ("wieviele offiziere", OFFICERS, "sechs"),
        ("How many officers were killed?", OFFICERS, "sechs"),
        ("In which month was the veto?", "Das Veto im März dieses Jahres.", "März"),
        ("When was the agreement signed?", "Das Grundsatzabkommen von 1991 gilt.", "1991"),
        ("When did it happen?", "It happened on Monday, 8 October 2024.", "Monday, 8 October 2024"),
        ("How many containers?", "Tausende von Containern mit Waffen.", "Tausende"),
        ("How many people?", "Rund 12.000 Soldaten, sagte er.", "12.000"),
        ("How much did it rise?", "It rose by 4.5 % in May.", "4.5 %"),
    ],
)
def test_the_asked_for_date_or_count_is_marked(question: str, text: str, expected: str) -> None:
    assert marked(question, text) == expected


@pytest.mark.parametrize(
    ("question", "text"),
    [
        # Not a when / how-many question: nothing is marked, even with a date in the quote.
        ("Wo starben die Offiziere?", OFFICERS),
        ("Who spoke on 8 October?", MINISTER),
        # The date of MINISTER is not a count; its day and year are part of the date.
        ("Wie viele Soldaten?", MINISTER),
        # Two candidates: which one answers is not clear, so none is marked.
        ("When?", "Zwischen dem 3. Oktober und dem 8. Oktober."),
        ("How many?", "Zwei Panzer und drei Flugzeuge."),
        # "may" the verb is not the month May.
        ("When will they come?", "More soldiers may come."),
        # Nothing of the kind in the quote.
        ("Wann?", "Die zentrale Frage bleibt offen."),
    ],
)
def test_nothing_is_marked_when_the_answer_is_not_unambiguous(question: str, text: str) -> None:
    assert answer_span(question, text) is None
