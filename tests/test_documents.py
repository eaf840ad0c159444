"""Loading and validating documents: formats, bad content, unsafe names, metadata, seeding."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest

from bot.errors import DocumentError
from bot.retrieval.documents import (
    document_id,
    ensure_documents_dir,
    load_document,
    load_documents,
    parse_document,
)

SEED = Path(__file__).resolve().parents[1] / "bot" / "seed"
SEED_NAME = "nordkorea-soldaten-ukraine"

MARKDOWN = b"""# Bericht aus Seoul

Ein **fetter** und *kursiver* Satz mit [einem Link](https://example.com/x) und `Code`.

## Zweiter Abschnitt

```python
print("nicht zitieren")
```

- Punkt eins
- Punkt zwei
"""


def test_plain_text_document() -> None:
    doc = parse_document("bericht_aus-seoul.txt", b"Kim sprach in Seoul.\n\nDanach nichts.")
    assert doc.doc_id == "bericht_aus-seoul"
    assert doc.title == "Bericht aus seoul"
    assert doc.text == "Kim sprach in Seoul.\n\nDanach nichts."
    assert len(doc.checksum) == 64


def test_markdown_is_stripped_to_text() -> None:
    doc = parse_document("bericht.md", MARKDOWN)
    assert doc.title == "Bericht aus Seoul"
    assert doc.text.split("\n\n") == [
        "Bericht aus Seoul",
        "Ein fetter und kursiver Satz mit einem Link und Code.",
        "Zweiter Abschnitt",
        "Punkt eins",
        "Punkt zwei",
    ]
    for markup in ("#", "*", "[", "](", "https://", "`", "nicht zitieren"):
        assert markup not in doc.text


def test_bom_crlf_and_trailing_spaces_are_normalized() -> None:
    data = b"\xef\xbb\xbf\r\nErster Satz.   \r\nZweiter Satz.\t\r\n\r\nDritter.  \r\n\r\n"
    doc = parse_document("a.txt", data)
    assert doc.text == "Erster Satz.\nZweiter Satz.\n\nDritter."
    assert doc.checksum == parse_document("a.txt", doc.text.encode()).checksum


def _random_bytes(size: int, *, nul: bool) -> bytes:
    data = random.Random(7).randbytes(size)
    return data if nul else data.replace(b"\x00", b"\x01")


@pytest.mark.parametrize(
    ("data", "max_bytes", "message"),
    [
        (b"", None, "contains no text"),
        (b" \n\t\r\n   \n", None, "contains no text"),
        (b"12345 -- 678.", None, "contains no text"),
        (b"Text mit \x00 NUL-Byte.", None, "binary file"),
        (_random_bytes(4096, nul=True), None, "binary file"),
        (_random_bytes(4096, nul=False), None, "not UTF-8"),
        ("Grüße aus Köln".encode("latin-1"), None, "not UTF-8 text (byte 2)"),
        (b"Text\x01\x02\x03\x04\x05 mit Steuerzeichen.", None, "control characters"),
        (b"Ein Satz. " * 100, 999, "1,000 bytes; the limit is 999 bytes"),
    ],
    ids=[
        "empty",
        "whitespace",
        "no-letters",
        "nul",
        "random",
        "random-no-nul",
        "latin-1",
        "control",
        "oversize",
    ],
)
def test_unusable_content_is_rejected(data: bytes, max_bytes: int | None, message: str) -> None:
    with pytest.raises(DocumentError, match="^a.txt ") as caught:
        parse_document("a.txt", data, max_bytes=max_bytes)
    assert message in str(caught.value)


def test_size_limit_is_inclusive() -> None:
    data = b"Ein Satz. " * 100
    assert parse_document("a.txt", data, max_bytes=len(data)).text == data.decode().strip()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../etc/passwd.txt", "not a safe file name"),
        (".hidden.txt", "not a safe file name"),
        ("a/b.txt", "not a safe file name"),
        ("a\\b.txt", "not a safe file name"),
        ("a..b.txt", "not a safe file name"),
        ("leer zeichen.txt", "not a safe file name"),
        ("x" * 120 + ".txt", "not a safe file name"),
        ("x.exe", "accepted: .txt, .md, .pdf, .docx, .html, .htm"),
        ("notes", "accepted: .txt, .md, .pdf"),
    ],
)
def test_unsafe_names_are_rejected(name: str, message: str) -> None:
    with pytest.raises(DocumentError, match="not a safe file name|accepted") as caught:
        document_id(name)
    assert message in str(caught.value)
    with pytest.raises(DocumentError):
        parse_document(name, b"Ein Satz.")


@pytest.mark.parametrize(("name", "doc_id"), [("bericht.md", "bericht"), ("Nr_5-a.TXT", "Nr_5-a")])
def test_safe_names(name: str, doc_id: str) -> None:
    assert document_id(name) == doc_id


def test_metadata_sidecar_is_read(tmp_path: Path) -> None:
    (tmp_path / "bericht.txt").write_text("Kim sprach in Seoul.", "utf-8")
    plain = load_document(tmp_path / "bericht.txt", language_of=lambda text: "en")
    assert (plain.title, plain.language, plain.date, plain.examples) == ("Bericht", "en", None, {})

    meta = {
        "title": "Aus Seoul",
        "language": "de",
        "date": "2024-10-08",
        "examples": {"de": ["Wer sprach?"], "en": ["Who spoke?"]},
    }
    (tmp_path / "bericht.meta.json").write_text(json.dumps(meta), "utf-8")
    doc = load_document(tmp_path / "bericht.txt", language_of=lambda text: "en")
    assert (doc.title, doc.language, doc.date) == ("Aus Seoul", "de", "2024-10-08")
    assert doc.examples == meta["examples"]
    assert doc.text == plain.text
    # A metadata edit must reach the index, so it changes the checksum.
    assert doc.checksum != plain.checksum
    (tmp_path / "bericht.meta.json").write_text(json.dumps({**meta, "title": "Neu"}), "utf-8")
    assert load_document(tmp_path / "bericht.txt").checksum != doc.checksum


def test_seed_document_and_metadata() -> None:
    doc = load_document(SEED / f"{SEED_NAME}.txt")
    assert doc.doc_id == SEED_NAME
    assert doc.title == "Nordkoreanische Soldaten in der Ukraine"
    assert (doc.language, doc.date) == ("de", "2024-10-08")
    assert doc.examples["en"] and doc.examples["de"]


def test_load_documents_skips_bad_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "b.md").write_text("# B\n\nZweites Dokument.", "utf-8")
    (tmp_path / "a.txt").write_text("Erstes Dokument.", "utf-8")
    (tmp_path / "a.meta.json").write_text('{"title": "A"}', "utf-8")
    (tmp_path / "leer.txt").write_bytes(b"")
    (tmp_path / "binär.txt").write_bytes(b"\x00\x01")
    (tmp_path / "bild.png").write_bytes(b"\x89PNG")
    (tmp_path / "kaputt.txt").write_text("Gute Datei.", "utf-8")
    (tmp_path / "kaputt.meta.json").write_text("{nicht json", "utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.retrieval.documents"):
        docs = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["a", "b"]
    assert [d.title for d in docs] == ["A", "B"]
    skipped = " ".join(r.getMessage() for r in caplog.records)
    for name in ("leer.txt", "binär.txt", "kaputt.txt"):
        assert f"skipping document {name}" in skipped
    assert "bild.png" not in skipped


def test_ensure_documents_dir_seeds_a_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "neu" / "documents"
    ensure_documents_dir(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{SEED_NAME}.meta.json",
        f"{SEED_NAME}.txt",
    ]
    assert (folder / f"{SEED_NAME}.txt").read_bytes() == (SEED / f"{SEED_NAME}.txt").read_bytes()
    assert [d.doc_id for d in load_documents(folder)] == [SEED_NAME]


def test_ensure_documents_dir_leaves_an_existing_folder_alone(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "eigen.txt").write_text("Eigener Text.", "utf-8")
    ensure_documents_dir(folder)
    assert [p.name for p in folder.iterdir()] == ["eigen.txt"]
    (folder / "eigen.txt").unlink()
    ensure_documents_dir(folder)
    assert list(folder.iterdir()) == []
