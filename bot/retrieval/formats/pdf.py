"""PDF: the text layer of each page (pypdf), its lines joined into paragraphs.

A PDF has no paragraphs, only lines placed on a page. pypdf reports each piece of text
with its position; lines are grouped into paragraphs where the vertical gap grows, the
font size changes, or a short line ends one (see `paragraphs`). A page number standing
alone at the top or bottom of a page is dropped, and a word hyphenated at a line end is
joined again.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import DependencyError

from bot.errors import DocumentError
from bot.retrieval.formats import Extracted

logger = logging.getLogger(__name__)

PARAGRAPH_GAP = 1.3  # a gap this many times the page's usual line spacing starts a paragraph
SHORT_LINE = 0.6  # a line shorter than this share of the page's longest one ends a paragraph
SIZE_CHANGE = 0.15  # a font size differing by this share starts a paragraph (headings)
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—]*(?:(?:seite|page|s\.|p\.)\s*)?\d{1,4}(?:\s*(?:/|von|of)\s*\d{1,4})?[\s\-–—]*$",
    re.IGNORECASE,
)
_HYPHEN_END = re.compile(r"[^\W\d_]-$")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a page as pypdf reads it: its text, baseline height and font size.

    `y` grows upwards (PDF coordinates) and is None when pypdf gave no position.
    """

    text: str
    y: float | None = None
    size: float = 0.0


def extract_pdf(name: str, data: bytes) -> Extracted:
    """The text of each page of a PDF, as paragraphs separated by blank lines.

    Raises:
        DocumentError: the file is not a readable PDF, it is encrypted with a password,
            or no page has a text layer (a scan).
    """
    reader = _open(name, data)
    try:
        pages = tuple("\n\n".join(paragraphs(page_lines(page))) for page in reader.pages)
        title = _title(reader)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on a damaged file
        raise _corrupt(name, exc) from exc
    if not any(ch.isalpha() for page in pages for ch in page):
        raise DocumentError(
            f"{name} has no text layer (scanned?)", "no_text_layer", name=name, pages=len(pages)
        )
    return Extracted("pdf", pages, paginated=True, title=title)


def _open(name: str, data: bytes) -> PdfReader:
    """A reader over `data`, decrypted if it needs no password."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(
                f"{name} is encrypted: it cannot be read without its password",
                "encrypted", name=name,
            )  # fmt: skip
        len(reader.pages)  # reads the page tree: a damaged one fails here, not later
    except DocumentError:
        raise
    except DependencyError as exc:
        raise DocumentError(f"{name} is encrypted in a way pypdf cannot read: {exc}",
                            "encrypted", name=name) from exc  # fmt: skip
    except Exception as exc:  # PdfReadError, PdfStreamError, EmptyFileError, ValueError, …
        raise _corrupt(name, exc) from exc
    return reader


def _corrupt(name: str, exc: Exception) -> DocumentError:
    logger.debug("cannot read %s", name, exc_info=exc)
    detail = f"{type(exc).__name__}: {exc}"
    return DocumentError(
        f"{name} is not a readable PDF ({detail})", "corrupt_pdf", name=name, detail=detail
    )


def page_lines(page) -> list[Line]:
    """The non-blank lines of a pypdf page in reading order, with position and font size."""
    lines: list[Line] = []
    parts: list[str] = []
    found: list[float | None] = [None, 0.0]  # y and size of the current line

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        for number, chunk in enumerate(text.split("\n")):
            if number:
                lines.append(Line("".join(parts), found[0], found[1] or 0.0))
                parts.clear()
                found[:] = [None, 0.0]
            if chunk.strip() and found[0] is None:
                # Where the text starts on the page: the text matrix through the CTM.
                found[0] = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                found[1] = abs(size * (tm[3] or 1.0) * (cm[3] or 1.0))
            parts.append(chunk)

    page.extract_text(visitor_text=visit)
    lines.append(Line("".join(parts), found[0], found[1] or 0.0))
    kept = [Line(" ".join(line.text.split()), line.y, line.size) for line in lines]
    return _without_page_numbers([line for line in kept if line.text])


def _without_page_numbers(lines: list[Line]) -> list[Line]:
    """Drop a first or last line that is only a page number ("3", "Seite 3 von 5", "- 3 -")."""
    while lines and _PAGE_NUMBER.match(lines[-1].text):
        lines = lines[:-1]
    while lines and _PAGE_NUMBER.match(lines[0].text):
        lines = lines[1:]
    return lines


def paragraphs(lines: list[Line]) -> list[str]:
    """Group a page's lines into paragraphs, each one line of text.

    A new paragraph starts after a line much shorter than the page's longest (the last
    line of a paragraph, a heading), where the gap to the line above is clearly larger
    than the page's usual line spacing (or the text moves up: a new column), and where
    the font size changes (a heading). Merging two real paragraphs is the lesser error:
    splitting one would cut its sentences apart.
    """
    if not lines:
        return []
    spacing = _usual_spacing(lines)
    longest = max(len(line.text) for line in lines)
    groups: list[list[str]] = [[lines[0].text]]
    for above, line in zip(lines, lines[1:], strict=False):
        if _breaks(above, line, spacing=spacing, longest=longest):
            groups.append([])
        groups[-1].append(line.text)
    return [_join_lines(group) for group in groups]


def _usual_spacing(lines: list[Line]) -> float | None:
    """The page's line spacing: its smallest gap between lines, ignoring sub- and superscripts.

    Not the median: on a page of short paragraphs most gaps are paragraph gaps.
    """
    sizes = [line.size for line in lines if line.size]
    floor = 0.5 * statistics.median(sizes) if sizes else 0.0
    gaps = [
        above.y - line.y
        for above, line in zip(lines, lines[1:], strict=False)
        if above.y is not None and line.y is not None and above.y - line.y > floor
    ]
    return min(gaps) if gaps else None


def _breaks(above: Line, line: Line, *, spacing: float | None, longest: int) -> bool:
    if len(above.text) < SHORT_LINE * longest:
        return True
    if above.size and line.size and abs(above.size - line.size) > SIZE_CHANGE * above.size:
        return True
    if above.y is None or line.y is None or spacing is None:
        return False
    gap = above.y - line.y
    return gap <= 0 or gap > PARAGRAPH_GAP * spacing


def _join_lines(lines: list[str]) -> str:
    """One paragraph from its lines; "Ent-" + "wicklung" becomes "Entwicklung"."""
    text = lines[0]
    for line in lines[1:]:
        if _HYPHEN_END.search(text) and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text.replace("\u00ad", "")  # soft hyphens


def _title(reader: PdfReader) -> str | None:
    """The title in the PDF's metadata, unless it is empty or a program's placeholder."""
    title = " ".join(str(reader.metadata.title or "").split()) if reader.metadata else ""
    placeholder = title.lower() in ("untitled", "unbenannt") or title.startswith("Microsoft ")
    return title if any(ch.isalpha() for ch in title) and not placeholder else None
