"""Telegram HTML and console text of answers: escaping, length limit, places, translation note."""

from __future__ import annotations

import string

import pytest
from telegram_html import parse_html, utf16_len

from bot.answering.formatting import (
    TELEGRAM_LIMIT,
    abstention_html,
    answer_html,
    answer_text,
    context_html,
    more_html,
    place,
    quote_html,
)
from bot.answering.i18n import CATALOGS, text
from bot.retrieval.answers import Answer, Context, Quote

TITLE = "Nordkoreanische Soldaten in der Ukraine"


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_every_text_with_the_same_placeholders() -> None:
    german, english = CATALOGS["de"], CATALOGS["en"]
    assert german.keys() == english.keys()
    for key, template in english.items():
        assert _placeholders(german[key]) == _placeholders(template), key


def test_a_text_in_an_unknown_language_is_english() -> None:
    assert text("place", "fr", paragraph=2, sentence=1) == "paragraph 2, sentence 1"
    assert text("place", "de", paragraph=2, sentence=1) == "Absatz 2, Satz 1"


def make_quote(
    text: str = "Kim betonte die hohe Wahrscheinlichkeit.",
    *,
    title: str = TITLE,
    language: str = "de",
    paragraph: int = 2,
    sentence: int = 1,
    last: int | None = None,
    score: float = 0.8,
    highlight: tuple[int, int] | None = None,
    page: int | None = None,
) -> Quote:
    last = sentence if last is None else last
    return Quote(
        text,
        "doc",
        title,
        language,
        paragraph,
        sentence,
        last,
        score,
        tuple(range(sentence, last + 1)),
        highlight,
        page,
    )


def answer_of(*quotes: Quote, language: str = "de") -> Answer:
    return Answer("Frage?", language, False, quotes, (), quotes[0].score if quotes else 0.0)


def telegram_length(markup: str) -> int:
    """What Telegram counts against its limit: UTF-16 units of the text after HTML parsing.

    `parse_html` also rejects unbalanced tags and unescaped `<` or `&`.
    """
    return utf16_len(parse_html(markup).text)


def test_quote_text_and_title_are_escaped() -> None:
    quote = make_quote(
        "Er schrieb <b>fett</b> & <script>alert(1)</script> weiter.", title="A & B <i>C</i>"
    )
    markup = answer_html(answer_of(quote), "de")
    assert "<script>" not in markup and "<b>fett" not in markup
    assert (
        "Er schrieb &lt;b&gt;fett&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; weiter."
        in markup
    )
    assert "<i>A &amp; B &lt;i&gt;C&lt;/i&gt;</i>" in markup
    parsed = parse_html(markup)
    assert "Er schrieb <b>fett</b> & <script>alert(1)</script> weiter." in parsed.text
    assert {e["type"] for e in parsed.entities} == {"blockquote", "italic"}


def test_quote_layout() -> None:
    markup = quote_html(make_quote(paragraph=2, sentence=1), "de")
    assert markup == (
        "<blockquote>Kim betonte die hohe Wahrscheinlichkeit.</blockquote>\n"
        f"— <i>{TITLE}</i>, Absatz 2, Satz 1"
    )


def test_the_part_that_answers_is_bold_and_escaped() -> None:
    text = "Am 3. Oktober starben 6 <Offiziere> & mehr."
    start = text.index("6 <Offiziere> &")
    quote = make_quote(text, highlight=(start, start + len("6 <Offiziere> &")))
    markup = quote_html(quote, "de")
    assert "Am 3. Oktober starben <b>6 &lt;Offiziere&gt; &amp;</b> mehr." in markup
    parsed = parse_html(markup)
    bold = [e for e in parsed.entities if e["type"] == "bold"]
    assert len(bold) == 1
    assert parsed.text[bold[0]["offset"] : bold[0]["offset"] + bold[0]["length"]] == (
        "6 <Offiziere> &"
    )


def test_a_trimmed_quote_is_shown_without_the_mark() -> None:
    text = "Sechs " + "sehr " * 3000 + "lange Sätze."
    quote = make_quote(text, highlight=(0, 5))
    markup = answer_html(answer_of(quote), "de")
    assert telegram_length(markup) <= TELEGRAM_LIMIT
    assert "<b>" not in markup and markup.count("<blockquote>") == 1


@pytest.mark.parametrize(
    ("lang", "single", "span"),
    [
        ("de", "Absatz 3, Satz 2", "Absatz 5, Sätze 1–3"),
        ("en", "paragraph 3, sentence 2", "paragraph 5, sentences 1–3"),
        ("fr", "paragraph 3, sentence 2", "paragraph 5, sentences 1–3"),
    ],
)
def test_place(lang: str, single: str, span: str) -> None:
    assert place(make_quote(paragraph=3, sentence=2), lang) == single
    assert place(make_quote(paragraph=5, sentence=1, last=3), lang) == span


def test_translation_note_when_languages_differ() -> None:
    german = make_quote()
    english = make_quote("Kim stressed the high likelihood.", language="en")
    assert answer_html(answer_of(german), "en").endswith(
        "\n\n<i>Quoted from the German original.</i>"
    )
    assert answer_html(answer_of(english), "de").endswith(
        "\n\n<i>Zitiert aus dem Original (Englisch).</i>"
    )
    for quote, lang in ((german, "de"), (english, "en")):
        markup = answer_html(answer_of(quote), lang)
        assert "original" not in markup.lower()
        assert markup.endswith("Satz 1" if lang == "de" else "sentence 1")


def test_abstention_names_what_the_document_covers() -> None:
    refused = Answer("Wie hoch ist der Eiffelturm?", "de", True)
    markup = answer_html(refused, "de", examples=["Wer besuchte <Pjöngjang> & wann?"])
    assert markup.startswith("Dazu steht im Dokument nichts")
    assert "• Wer besuchte &lt;Pjöngjang&gt; &amp; wann?" in markup
    assert "<blockquote>" not in markup
    assert abstention_html("en").startswith("The document does not say anything about that")
    parse_html(markup)


LONG_QUOTES = {
    "words": "Wort " * 2000,
    "one-word": "x" * 10_000,
    "ampersands": "Kim & Putin " * 900,
    "tags": "<b>fett</b> " * 1000,
}


@pytest.mark.parametrize("body", LONG_QUOTES.values(), ids=LONG_QUOTES.keys())
def test_a_10000_character_quote_is_trimmed_to_fit(body: str) -> None:
    markup = answer_html(answer_of(make_quote(body[:10_000])), "de")
    assert telegram_length(markup) <= TELEGRAM_LIMIT
    assert markup.count("<blockquote>") == markup.count("</blockquote>") == 1
    shown = parse_html(markup).text
    assert "…\n— " + TITLE in shown
    assert shown.startswith(body[:20])
    assert shown.endswith("Absatz 2, Satz 1")


def test_trimming_cuts_at_a_word_boundary() -> None:
    markup = answer_html(answer_of(make_quote("Wort " * 2000)), "de")
    assert "Wort…</blockquote>" in markup
    assert utf16_len(markup) <= TELEGRAM_LIMIT


def test_a_quote_of_emoji_is_trimmed_to_fit() -> None:
    markup = answer_html(answer_of(make_quote("😀 " * 5000)), "de")
    assert telegram_length(markup) <= TELEGRAM_LIMIT


def test_many_quotes_fit_and_keep_the_translation_note() -> None:
    quotes = [make_quote(f"Satz {i} & <mehr> " * 60, paragraph=i + 1) for i in range(12)]
    markup = answer_html(answer_of(*quotes), "en")
    assert telegram_length(markup) <= TELEGRAM_LIMIT
    assert utf16_len(markup) <= TELEGRAM_LIMIT
    kept = markup.count("<blockquote>")
    assert 1 <= kept < 12
    assert markup.count("</blockquote>") == kept
    # Whole quotes are dropped from the end, the first ones stay intact.
    assert "Satz 0 &amp; &lt;mehr&gt; " in markup and "paragraph 1, sentence 1" in markup
    assert "Satz 11 " not in markup
    assert markup.endswith("<i>Quoted from the German original.</i>")


def test_more_quotes_fit() -> None:
    quotes = [
        make_quote("Ein längerer Satz über Raketen. " * 30, paragraph=i + 1) for i in range(10)
    ]
    markup = more_html(quotes, "de")
    assert markup.startswith("<b>Weitere Stellen:</b>\n\n<blockquote>")
    assert telegram_length(markup) <= TELEGRAM_LIMIT
    assert more_html([], "en") == "No further matching passages."


def test_more_shows_a_long_quote_trimmed() -> None:
    markup = more_html([make_quote("Kim & Putin " * 900)], "en")
    assert "<blockquote>" in markup
    assert telegram_length(markup) <= TELEGRAM_LIMIT


def test_context_marks_cited_sentences_in_bold() -> None:
    context = Context(
        TITLE, 5, (("Erster & <Satz>.", False), ("Zweiter Satz.", True), ("Dritter Satz.", False))
    )
    markup = context_html(context, "de")
    assert markup == (
        f"<b>Kontext – {TITLE}, Absatz 5</b>\n"
        "<blockquote>Erster &amp; &lt;Satz&gt;. <b>Zweiter Satz.</b> Dritter Satz.</blockquote>"
    )
    assert context_html(context, "en").startswith(f"<b>Context – {TITLE}, paragraph 5</b>")


def test_paginated_places_name_the_page_first() -> None:
    quote = make_quote(page=2, paragraph=1, sentence=2)
    assert place(quote, "de") == "Seite 2, Absatz 1, Satz 2"
    assert place(quote, "en") == "page 2, paragraph 1, sentence 2"
    assert place(make_quote(page=7, paragraph=3, sentence=1, last=2), "en") == (
        "page 7, paragraph 3, sentences 1–2"
    )
    assert answer_text(answer_of(quote), "de").endswith(f"— {TITLE}, Seite 2, Absatz 1, Satz 2")
    context = Context(TITLE, 1, (("Ein Satz.", True),), page=2)
    assert context_html(context, "de").startswith(f"<b>Kontext – {TITLE}, Seite 2, Absatz 1</b>")
    assert context_html(context, "en").startswith(f"<b>Context – {TITLE}, page 2, paragraph 1</b>")


def test_quote_json_has_a_page_only_in_paginated_documents() -> None:
    assert list(make_quote(page=3).to_json()) == [
        "text", "document", "page", "paragraph", "sentence", "score"
    ]  # fmt: skip
    assert make_quote(page=3).to_json()["page"] == 3
    assert "page" not in make_quote().to_json()


def test_long_context_fits_with_balanced_tags() -> None:
    sentences = tuple(
        (f"Satz {i} & mehr Text über Raketen und Soldaten. " * 12, i % 2 == 0) for i in range(30)
    )
    markup = context_html(Context(TITLE, 1, sentences), "de")
    assert telegram_length(markup) <= TELEGRAM_LIMIT
    assert markup.count("<b>") == markup.count("</b>")


def test_long_context_of_emoji_fits() -> None:
    sentences = tuple((("😀 " * 200).strip(), i % 2 == 0) for i in range(20))
    markup = context_html(Context(TITLE, 1, sentences), "de")
    assert telegram_length(markup) <= TELEGRAM_LIMIT


def test_console_text_has_no_markup() -> None:
    quote = make_quote("Kim & Putin <unterzeichneten> ein Abkommen.")
    plain = answer_text(answer_of(quote), "en")
    assert plain == (
        "  » Kim & Putin <unterzeichneten> ein Abkommen.\n"
        f"— {TITLE}, paragraph 2, sentence 1\n\n"
        "Quoted from the German original."
    )
