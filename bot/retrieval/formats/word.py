"""Word (.docx): paragraphs and table cells in document order (python-docx).

Headings stay paragraphs of their own, so a section title is never glued to the first
sentence under it; the document's title is the one in its properties, else its Title
paragraph or first heading. A .docx is a zip archive: its declared unpacked size is
checked before python-docx opens it, so a zip bomb is refused without being inflated
(zipfile never inflates a member beyond its declared size).
"""

from __future__ import annotations

import io
import zipfile

from bot.errors import DocumentError
from bot.retrieval.formats import Extracted

MAX_UNPACKED_BYTES = 64 * 2**20
MAX_RATIO = 100  # unpacked : packed, for archives that unpack to more than RATIO_FROM
RATIO_FROM = 8 * 2**20  # small archives compress as well as they like (Word's own: ~20:1)
MAX_MEMBERS = 10_000


def extract_docx(name: str, data: bytes) -> Extracted:
    """The paragraphs of a .docx file, separated by blank lines.

    Raises:
        DocumentError: not a readable .docx, a zip bomb, or no text in it.
    """
    _check_archive(name, data)
    import docx  # lxml underneath: imported when a .docx is read

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [block for block in _blocks(document) if block[0]]
        title = " ".join((document.core_properties.title or "").split())
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors …
        raise _corrupt(name, exc) from exc
    if not any(ch.isalpha() for text, _ in blocks for ch in text):
        raise DocumentError(f"{name} contains no text", "no_text", name=name)
    headings = [text for text, heading in blocks if heading]
    return Extracted(
        "docx",
        ("\n\n".join(text for text, _ in blocks),),
        title=title or (headings[0] if headings else None),
    )


def _check_archive(name: str, data: bytes) -> None:
    """Refuse what is no zip archive, and archives that would unpack to too much."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _corrupt(name, exc) from exc
    unpacked = sum(member.file_size for member in members)
    ratio = unpacked / max(1, len(data))
    if (
        len(members) > MAX_MEMBERS
        or unpacked > MAX_UNPACKED_BYTES
        or (unpacked > RATIO_FROM and ratio > MAX_RATIO)
    ):
        raise DocumentError(
            f"{name} would unpack to {unpacked:,} bytes in {len(members):,} parts "
            f"(limit {MAX_UNPACKED_BYTES:,} bytes, {MAX_RATIO}:1): refused as a zip bomb",
            "zip_bomb", name=name, size=unpacked, limit=MAX_UNPACKED_BYTES,
        )  # fmt: skip


def _blocks(document) -> list[tuple[str, bool]]:
    """(text, is a heading) of each paragraph and table cell, in document order."""
    from docx.table import Table

    found: list[tuple[str, bool]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                seen: list[object] = []
                for cell in row.cells:
                    if cell._tc in seen:  # a merged cell is reported once per grid column
                        continue
                    seen.append(cell._tc)
                    found.extend((_clean(p.text), False) for p in cell.paragraphs)
        else:
            style = (item.style.name if item.style is not None else "").lower()
            found.append((_clean(item.text), style == "title" or style.startswith("heading")))
    return found


def _clean(text: str) -> str:
    """One line: line breaks and tabs inside a paragraph become spaces."""
    return " ".join(text.split())


def _corrupt(name: str, exc: Exception) -> DocumentError:
    detail = f"{type(exc).__name__}: {exc}"
    return DocumentError(
        f"{name} is not a readable Word file ({detail})", "corrupt_docx", name=name, detail=detail
    )
