"""Document formats: the text a file holds, page by page where the format has pages.

One module per format family (`plain` for .txt/.md, `pdf`, `word`, `webpage`); `extract`
picks one by the file's suffix. Each refuses what it cannot read with a DocumentError whose
reason names why (bot/answering/i18n.py words it as `upload_<reason>`). Extractors return paragraphs
separated by blank lines; bot/retrieval/documents.py normalizes and numbers what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FORMATS = {
    ".txt": "txt",
    ".md": "md",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
}
"""Accepted file suffixes and the format each one is read as."""

SUFFIXES = tuple(FORMATS)


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a file holds, before normalization.

    `pages` is one text per page for paginated formats (PDF) and a single text otherwise;
    `title` is the title the file itself names (a heading, the PDF's metadata), if any.
    """

    format: str
    pages: tuple[str, ...]
    paginated: bool = False
    title: str | None = None


def format_of(name: str) -> str | None:
    """The format a file name's suffix stands for ("pdf", "docx", …), or None."""
    return FORMATS.get(Path(name).suffix.lower())


def extract(name: str, data: bytes) -> Extracted:
    """The text of file `name` with content `data`, read as its suffix says.

    Raises:
        DocumentError: the content cannot be read as that format (the reason says why).
        ValueError: the suffix is not one of SUFFIXES (check names with document_id first).
    """
    kind = format_of(name)
    # Imported on use: the HTML extractor alone takes a few tenths of a second to import.
    if kind in ("txt", "md"):
        from bot.retrieval.formats import plain

        return plain.extract_plain(name, data, markdown=kind == "md")
    if kind == "pdf":
        from bot.retrieval.formats import pdf

        return pdf.extract_pdf(name, data)
    if kind == "docx":
        from bot.retrieval.formats import word

        return word.extract_docx(name, data)
    if kind == "html":
        from bot.retrieval.formats import webpage

        return webpage.extract_html(name, data)
    raise ValueError(f"{name!r} has no accepted suffix; accepted: {', '.join(SUFFIXES)}")
