"""Document formats on real files made on the spot: PDF by page, Word, HTML, and bad ones."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from samples import (
    ARTICLE,
    BOILERPLATE,
    LIGHTHOUSE,
    docx_file,
    encrypted_pdf,
    html_page,
    pdf_file,
    scanned_pdf,
    zip_bomb_docx,
)

from bot.errors import DocumentError
from bot.retrieval.corpus import Corpus
from bot.retrieval.documents import join_pages, parse_document, read_documents
from bot.retrieval.formats.pdf import Line, paragraphs


def places(doc) -> list[tuple[int | None, int, int, str]]:
    """(page, paragraph, sentence, text) of every sentence of `doc`."""
    return [(s.page, s.paragraph, s.number, s.text) for s in Corpus.from_documents([doc]).sentences]


# ---------------------------------------------------------------------------- PDF


def test_pdf_keeps_its_pages_and_numbers_paragraphs_within_each() -> None:
    doc = parse_document("leuchtturm.pdf", pdf_file(LIGHTHOUSE, title="Der grüne Riese"))
    assert (doc.format, doc.title, len(doc.page_starts)) == ("pdf", "Der grüne Riese", 3)
    found = places(doc)
    assert found[0] == (1, 1, 1, "Der Zorblax-Leuchtturm")  # the heading is its own paragraph
    assert found[2] == (
        1, 2, 2, "Er wurde im Jahr 1887 aus grauem Stein erbaut und ist zweiunddreißig Meter hoch."
    )  # fmt: skip
    assert (1, 3, 2, "Er ist kurz.") in found
    assert found[5:8] == [
        (2, 1, 1, "Im Jahr 1923 strich Mira Kettlewell den Leuchtturm grün."),
        (2, 1, 2, "Seitdem nennen ihn die Fischer den grünen Riesen, und auf alten Postkarten "
                  "ist er so zu sehen."),
        (2, 2, 1, "Die Treppe im Inneren hat 212 Stufen."),
    ]  # fmt: skip
    assert found[-1] == (3, 1, 2, "Die alte Linse steht im Museum der Stadt.")
    # The page numbers at the bottom of each page are not quoted.
    assert not any(text.isdigit() for *_, text in found)
    # Every sentence is quoted from where it stands in the document text, on its own page.
    for sentence in Corpus.from_documents([doc]).sentences:
        start, end = doc.page_starts[sentence.page - 1], (*doc.page_starts[1:], len(doc.text))
        assert start <= sentence.start < sentence.end <= end[sentence.page - 1]


def test_pdf_title_defaults_to_the_file_name() -> None:
    assert parse_document("jahres_bericht.pdf", pdf_file(LIGHTHOUSE)).title == "Jahres bericht"


def test_pdf_pages_without_text_keep_the_numbering() -> None:
    pages = [["Erste Seite mit Text."], [], ["Dritte Seite mit Text."]]
    doc = parse_document("luecke.pdf", pdf_file(pages, page_numbers=False))
    assert [(page, text) for page, _, _, text in places(doc)] == [
        (1, "Erste Seite mit Text."),
        (3, "Dritte Seite mit Text."),
    ]


def test_join_pages_records_where_each_page_starts() -> None:
    text, starts = join_pages(["Eins.\r\n", "  \n", "", "Vier.  \n\nVier b."])
    assert text == "Eins.\n\nVier.\n\nVier b."
    assert starts == (0, 5, 5, 7)


def test_lines_become_paragraphs_by_gap_size_and_length() -> None:
    body = "x" * 70
    lines = [
        Line("Kapitel 1", 800, 16),  # a heading: larger font
        Line(f"{body} Ent-", 770, 11),
        Line("wicklung geht weiter.", 756, 11),  # short: ends the paragraph
        Line(body, 742, 11),
        Line(body, 728, 11),
        Line(body, 704, 11),  # a larger gap: a new paragraph
        Line("Ende.", 690, 11),
        Line(body, 760, 11),  # the text moves up: a new column
    ]
    assert paragraphs(lines) == [
        "Kapitel 1",
        f"{body} Entwicklung geht weiter.",
        f"{body} {body}",
        f"{body} Ende.",
        body,
    ]


def test_lines_without_positions_join_unless_short() -> None:
    body = "y" * 60
    lines = [Line(body), Line(f"{body} Nord-"), Line("Süd-Verbindung."), Line(body)]
    assert paragraphs(lines) == [f"{body} {body} Nord- Süd-Verbindung.", body]
    assert paragraphs([]) == []


def test_scanned_pdf_is_refused_as_having_no_text_layer() -> None:
    with pytest.raises(DocumentError, match=r"^scan.pdf has no text layer \(scanned\?\)$") as e:
        parse_document("scan.pdf", scanned_pdf(pages=3))
    assert (e.value.reason, e.value.values) == ("no_text_layer", {"name": "scan.pdf", "pages": 3})


def test_encrypted_pdf_is_refused_unless_it_opens_without_a_password() -> None:
    plain = pdf_file(LIGHTHOUSE)
    with pytest.raises(DocumentError, match="encrypted") as caught:
        parse_document("geheim.pdf", encrypted_pdf(plain))
    assert caught.value.reason == "encrypted"
    # Restricted (an owner password only) but readable: indexed like any PDF.
    opened = parse_document("offen.pdf", encrypted_pdf(plain, password=""))
    assert opened.text == parse_document("offen.pdf", plain).text


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n" + bytes(range(256)) * 8,
        pdf_file(LIGHTHOUSE)[:600],
        b"Das ist eine Textdatei mit falscher Endung.",
        b"",
    ],
    ids=["garbage", "truncated", "text", "empty"],
)
def test_corrupt_pdf_is_refused_with_the_reason(data: bytes) -> None:
    with pytest.raises(DocumentError, match=r"^kaputt.pdf is not a readable PDF \(") as caught:
        parse_document("kaputt.pdf", data)
    assert caught.value.reason == "corrupt_pdf"


# ---------------------------------------------------------------------------- Word


def test_docx_paragraphs_headings_and_tables() -> None:
    data = docx_file(
        [
            "Title: Hafenbericht",
            "# Der Leuchtturm",
            "Der Leuchtturm ist grün.\tEr steht am Hafen.",
            "",
            "# Die Fischer",
            "Die Fischer fahren jeden Morgen hinaus.",
        ],
        table=[["Baujahr: 1887.", "Höhe: 32 Meter."]],
    )
    doc = parse_document("hafen.docx", data)
    assert (doc.format, doc.title, doc.page_starts) == ("docx", "Hafenbericht", ())
    assert doc.text.split("\n\n") == [
        "Hafenbericht",
        "Der Leuchtturm",  # a heading stays a paragraph of its own
        "Der Leuchtturm ist grün. Er steht am Hafen.",
        "Die Fischer",
        "Die Fischer fahren jeden Morgen hinaus.",
        "Baujahr: 1887.",
        "Höhe: 32 Meter.",
    ]
    assert (None, 3, 2, "Er steht am Hafen.") in places(doc)


def test_docx_title_comes_from_its_properties_first() -> None:
    data = docx_file(["# Erste Überschrift", "Text."], title="Aus den Eigenschaften")
    assert parse_document("a.docx", data).title == "Aus den Eigenschaften"
    assert parse_document("a.docx", docx_file(["# Erste Überschrift", "Text."])).title == (
        "Erste Überschrift"
    )


def test_docx_zip_bomb_is_refused_without_unpacking_it() -> None:
    bomb = zip_bomb_docx(megabytes=200)
    assert len(bomb) < 1_000_000
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="refused as a zip bomb") as caught:
        parse_document("bombe.docx", bomb)
    assert time.perf_counter() - started < 1.0
    assert caught.value.reason == "zip_bomb" and caught.value.values["size"] > 200 * 2**20


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04 kein Archiv", b"Nur Text.", pdf_file(LIGHTHOUSE)], ids=str
)
def test_corrupt_docx_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentError, match="^kaputt.docx is not a readable Word file") as e:
        parse_document("kaputt.docx", data)
    assert e.value.reason == "corrupt_docx"


def test_docx_without_text_is_refused() -> None:
    with pytest.raises(DocumentError, match="contains no text"):
        parse_document("leer.docx", docx_file(["", "   "]))


# ---------------------------------------------------------------------------- HTML


def test_html_keeps_the_main_text_only() -> None:
    doc = parse_document("leuchtturm.html", html_page(ARTICLE))
    assert (doc.format, doc.title) == ("html", "Der Zorblax-Leuchtturm")
    assert doc.text.split("\n\n") == ["Der Zorblax-Leuchtturm", *ARTICLE]
    for word in BOILERPLATE:
        assert word not in doc.text


@pytest.mark.parametrize(
    "page",
    [
        b"<html><body><nav><a href='/'>Start</a></nav><footer>Impressum</footer></body></html>",
        b"<html><head><title>Shop</title></head><body><div class='cookie-banner'>Wir verwenden "
        b"Cookies. Alle akzeptieren.</div><script>var x = 'Text';</script></body></html>",
        b"",
    ],
    ids=["navigation", "cookie-banner", "empty"],
)
def test_html_without_main_text_is_refused(page: bytes) -> None:
    with pytest.raises(DocumentError, match=r"^leer.html has no main text") as caught:
        parse_document("leer.html", page)
    assert caught.value.reason == "no_main_text"


# ---------------------------------------------------------------------------- a folder


def test_a_folder_of_real_documents_indexes_the_good_and_names_the_bad(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = {
        "bericht.pdf": pdf_file(LIGHTHOUSE),
        "hafen.docx": docx_file(["# Der Hafen", "Im Hafen liegen zwölf Boote."]),
        "seite.html": html_page(ARTICLE),
        "notiz.md": b"# Notiz\n\nEine kurze Notiz.",
        "scan.pdf": scanned_pdf(),
        "kaputt.pdf": b"%PDF-1.7\nnichts weiter",
        "geheim.pdf": encrypted_pdf(pdf_file(LIGHTHOUSE)),
        "bombe.docx": zip_bomb_docx(megabytes=80),
        "menue.htm": b"<html><body><nav><a href='/'>Start</a></nav></body></html>",
        "bild.png": b"\x89PNG\r\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    before = sorted(p.name for p in tmp_path.iterdir())
    with caplog.at_level(logging.WARNING, logger="bot.retrieval.documents"):
        docs, skipped = read_documents(tmp_path)
    assert [(d.doc_id, d.format) for d in docs] == [
        ("bericht", "pdf"),
        ("hafen", "docx"),
        ("notiz", "md"),
        ("seite", "html"),
    ]
    assert {s.name: s.reason for s in skipped} == {
        "bombe.docx": "zip_bomb",
        "geheim.pdf": "encrypted",
        "kaputt.pdf": "corrupt_pdf",
        "menue.htm": "no_main_text",
        "scan.pdf": "no_text_layer",
    }
    for entry in skipped:
        assert f"skipping document {entry.name}: {entry.message}" in caplog.text
    assert "scan.pdf has no text layer (scanned?)" in caplog.text
    assert "bild.png" not in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_two_files_with_one_name_index_the_first(tmp_path: Path) -> None:
    (tmp_path / "bericht.md").write_text("# Bericht\n\nAus dem Markdown.", "utf-8")
    (tmp_path / "bericht.pdf").write_bytes(pdf_file([["Aus dem PDF."]]))
    docs, skipped = read_documents(tmp_path)
    assert [d.format for d in docs] == ["md"]
    assert [(s.name, s.reason, s.values["other"]) for s in skipped] == [
        ("bericht.pdf", "duplicate", "bericht.md")
    ]
