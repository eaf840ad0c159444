"""Paragraph and sentence splitting on literal German and English text and on the seed article."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.retrieval.documents import normalize_text, parse_document
from bot.retrieval.splitting import split_document, split_paragraphs, split_sentences

SEED_TEXT = Path(__file__).resolve().parents[1] / "bot" / "seed" / "nordkorea-soldaten-ukraine.txt"
FOLLOWER = "Danach kam mehr."


def sentences(text: str, language: str = "de") -> list[str]:
    return [span.text for span in split_sentences(text, language=language)]


def assert_spans_match_source(text: str) -> None:
    """Every paragraph and sentence span is the source slice at its offsets."""
    for para in split_document(text):
        assert " ".join(text[para.span.start : para.span.end].split()) == para.span.text
        for span in para.sentences:
            assert para.span.start <= span.start < span.end <= para.span.end
            assert " ".join(text[span.start : span.end].split()) == span.text


def test_seed_article_has_five_paragraphs_and_eleven_sentences() -> None:
    text = normalize_text(SEED_TEXT.read_text("utf-8"))
    paragraphs = split_document(text)
    assert [len(p.sentences) for p in paragraphs] == [2, 2, 2, 2, 3]
    assert [p.number for p in paragraphs] == [1, 2, 3, 4, 5]


def test_seed_sentences_are_exact_source_slices() -> None:
    text = normalize_text(SEED_TEXT.read_text("utf-8"))
    spans = [s for p in split_document(text) for s in p.sentences]
    assert len(spans) == 11
    for span in spans:
        assert text[span.start : span.end] == span.text
    assert spans[0].text.startswith("Am 8. Oktober 2024 erklärte")
    assert spans[0].text.endswith("im Einsatz gefallen sind.")
    assert spans[1].text.endswith("nahe Donetsk am 3. Oktober.")
    assert spans[2].text.startswith("Kim betonte")
    assert spans[-1].text.startswith("In der Zwischenzeit")
    assert "1991 zwischen Nord- und Südkorea" in spans[-1].text
    assert spans[-1].text.endswith("zwischenstaatliche Beziehungen' charakterisierte.")


@pytest.mark.parametrize(
    "sentence",
    [
        "Am 8. Oktober 2024 erklärte der Minister, dass Soldaten entsandt wurden.",
        "Sechs Offiziere starben bei einem Angriff nahe Donetsk am 3. Oktober.",
        "Das gilt z. B. für Artillerie und Marschflugkörper.",
        "Der Antrag steht unter Nr. 5 auf der Liste.",
        "Prof. Dr. Lim äußerte sich in einer Anhörung.",
        "Das Grundsatzabkommen von 1991 zwischen Nord- und Südkorea könnte fallen.",
    ],
)
def test_german_abbreviations_and_dates_do_not_split(sentence: str) -> None:
    assert sentences(f"{sentence} {FOLLOWER}") == [sentence, FOLLOWER]


def test_sentence_ending_in_a_date_ends_there() -> None:
    text = f"Der Angriff war am 3. Oktober. {FOLLOWER}"
    assert sentences(text) == ["Der Angriff war am 3. Oktober.", FOLLOWER]


def test_consecutive_dates_in_one_paragraph_do_not_split() -> None:
    # pysbd alone reads "8. … 9. …" as a numbered list and splits before each number.
    first = "Am 8. Oktober 2024 sprach Kim vor dem Parlament."
    second = "Am 9. Oktober 2024 sprach er erneut."
    assert sentences(f"{first} {second}") == [first, second]
    assert sentences("Es begann am 1. Januar. Am 2. Februar endete es.") == [
        "Es begann am 1. Januar.",
        "Am 2. Februar endete es.",
    ]


def test_consecutive_ordinals_in_one_paragraph_do_not_split() -> None:
    first = "Im 19. Jahrhundert war das anders."
    second = "Im 20. Jahrhundert nicht mehr."
    assert sentences(f"{first} {second}") == [first, second]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (
            "Er belegte den 3. Platz. Sie den 4. Platz.",
            "de",
            ["Er belegte den 3. Platz.", "Sie den 4. Platz."],
        ),
        (
            "Am 19. und 20. Juni tagte der Rat. Danach kam mehr.",
            "de",
            ["Am 19. und 20. Juni tagte der Rat.", "Danach kam mehr."],
        ),
        ("Das geschah 2024. Danach kam mehr.", "de", ["Das geschah 2024.", "Danach kam mehr."]),
        (
            "It ranked 3. in 2019 and 4. in 2020. Then it fell.",
            "en",
            ["It ranked 3. in 2019 and 4. in 2020.", "Then it fell."],
        ),
        # In English a number before a capital word ends the sentence.
        ("He finished 3. Then he left.", "en", ["He finished 3.", "Then he left."]),
    ],
)
def test_numbers_in_running_text(text: str, language: str, expected: list[str]) -> None:
    assert sentences(text, language=language) == expected


@pytest.mark.parametrize(
    "quoted",
    [
        "Er sagte: „Wir kommen. Wir bleiben. Wir kämpfen.“",
        'Er sagte: "Wir kommen. Wir bleiben. Wir kämpfen."',
        "Er sagte: “Wir kommen. Wir bleiben. Wir kämpfen.”",
    ],
)
def test_no_split_inside_quotes(quoted: str) -> None:
    assert sentences(f"{quoted} {FOLLOWER}") == [quoted, FOLLOWER]


def test_quote_closed_midsentence_then_new_sentence() -> None:
    text = "„Wir kommen“, sagte er. „Wir bleiben.“ Dann ging er."
    assert sentences(text) == ["„Wir kommen“, sagte er.", "„Wir bleiben.“", "Dann ging er."]


def test_no_split_inside_german_guillemets() -> None:
    quoted = "Er sagte: »Wir kommen. Wir bleiben.«"
    assert sentences(f"{quoted} {FOLLOWER}") == [quoted, FOLLOWER]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith arrived late. Then he left.", ["Dr. Smith arrived late.", "Then he left."]),
        (
            "The meeting ends at 5 p.m. tomorrow. Then he left.",
            ["The meeting ends at 5 p.m. tomorrow.", "Then he left."],
        ),
        ("We met at 5 p.m. Then he left.", ["We met at 5 p.m.", "Then he left."]),
        (
            '"We come," he said. "We stay." Then he left.',
            ['"We come," he said.', '"We stay."', "Then he left."],
        ),
    ],
)
def test_english_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text, language="en") == expected


def test_offsets_point_into_the_whole_text() -> None:
    text = "Erster Satz hier. Zweiter Satz dort."
    spans = split_sentences(text, start=18)
    assert [(s.start, s.end, s.text) for s in spans] == [(18, len(text), "Zweiter Satz dort.")]


def test_paragraphs_by_blank_lines() -> None:
    text = "Erster Satz. Zweiter Satz.\nNoch im ersten Absatz.\n\nZweiter Absatz.\n \t\nDritter."
    paragraphs = split_paragraphs(text)
    assert [p.text for p in paragraphs] == [
        "Erster Satz. Zweiter Satz. Noch im ersten Absatz.",
        "Zweiter Absatz.",
        "Dritter.",
    ]
    assert_spans_match_source(text)


def test_one_paragraph_per_line_without_blank_lines() -> None:
    text = "Erste Zeile. Noch ein Satz.\nZweite Zeile.\nDritte Zeile."
    split = split_document(text)
    assert [p.span.text for p in split] == [
        "Erste Zeile. Noch ein Satz.",
        "Zweite Zeile.",
        "Dritte Zeile.",
    ]
    assert [len(p.sentences) for p in split] == [2, 1, 1]


def test_line_break_inside_a_sentence_is_folded() -> None:
    text = "Ein Satz, der über\nzwei Zeilen geht.\n\nZweiter Absatz."
    first = split_document(text)[0].sentences[0]
    assert first.text == "Ein Satz, der über zwei Zeilen geht."
    assert text[first.start : first.end] == "Ein Satz, der über\nzwei Zeilen geht."


def test_hard_wrapped_seed_gives_the_same_sentences() -> None:
    text = normalize_text(SEED_TEXT.read_text("utf-8"))
    wrapped = "\n\n".join(
        textwrap.fill(line, 72, break_on_hyphens=False) for line in text.split("\n")
    )
    assert [[s.text for s in p.sentences] for p in split_document(wrapped)] == [
        [s.text for s in p.sentences] for p in split_document(text)
    ]
    assert_spans_match_source(wrapped)


def test_crlf_bom_and_trailing_spaces() -> None:
    data = "\ufeffErster Satz.  \r\nNoch einer. \t\r\n\r\nZweiter Absatz.\r\n\r\n".encode()
    text = parse_document("brief.txt", data).text
    assert text == "Erster Satz.\nNoch einer.\n\nZweiter Absatz."
    split = split_document(text)
    assert [[s.text for s in p.sentences] for p in split] == [
        ["Erster Satz.", "Noch einer."],
        ["Zweiter Absatz."],
    ]
    assert_spans_match_source(text)


def test_old_mac_line_ends() -> None:
    assert normalize_text("Eins.\rZwei.\r\rDrei.") == "Eins.\nZwei.\n\nDrei."


def test_blank_text_has_no_paragraphs() -> None:
    assert split_document("  \n\n \t\n") == []


def test_pages_number_their_paragraphs_from_one() -> None:
    text = "Der Hafen ist alt. Er liegt im Norden.\n\nDie Boote sind klein.\n\n"
    text += "Der Turm ist grün.\n\nEr hat 212 Stufen. Oben weht Wind."
    third = text.index("Der Turm")
    split = split_document(text, page_starts=(0, third, third))  # page 2 has no text
    assert [(p.page, p.number, [s.text for s in p.sentences]) for p in split] == [
        (1, 1, ["Der Hafen ist alt.", "Er liegt im Norden."]),
        (1, 2, ["Die Boote sind klein."]),
        (3, 1, ["Der Turm ist grün."]),
        (3, 2, ["Er hat 212 Stufen.", "Oben weht Wind."]),
    ]
    assert all(text[s.start : s.end] == s.text for p in split for s in p.sentences)
    assert {p.page for p in split_document(text)} == {None}
