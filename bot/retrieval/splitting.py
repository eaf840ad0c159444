"""Split a document's text into paragraphs and sentences with their positions.

Sentence boundaries come from pysbd (rule-based, with German and English abbreviation and
date rules: "Am 8. Oktober 2024", "z. B.", "Nr. 5", "Prof. Dr." stay whole). On top of it
one small rule: a boundary that falls inside an open quotation is undone; and numbers
followed by a period inside running text are hidden from pysbd, which reads a series of
them ("im 19. … im 20. …") as a numbered list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pysbd

RULES = 1  # raise when the splitting changes: stored splits are then not reused (corpus.py)

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_SPACE_RUN = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of the source text: `text` is `source[start:end]` with whitespace runs folded."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class SplitParagraph:
    """A paragraph (1-based `number`) and its sentences.

    In a paginated document `page` is the 1-based page and `number` counts within it.
    """

    number: int
    span: Span
    sentences: tuple[Span, ...]
    page: int | None = None


def split_paragraphs(text: str, *, start: int = 0, end: int | None = None) -> list[Span]:
    """Return the paragraphs of `text[start:end]`, with offsets into `text`.

    Paragraphs are separated by blank lines; a text without any blank line has one
    paragraph per line (the usual shape of news copy).
    """
    chunk = text[start:end]
    separator = _BLANK_LINE if _BLANK_LINE.search(chunk) else re.compile(r"\n")
    spans, pos = [], 0
    for match in [*separator.finditer(chunk), None]:
        stop = match.start() if match else len(chunk)
        spans.extend(_trimmed(text, start + pos, start + stop))
        pos = match.end() if match else len(chunk)
    return spans


def split_sentences(
    text: str, *, language: str = "de", start: int = 0, end: int | None = None
) -> list[Span]:
    """Return the sentences of `text[start:end]` with offsets into `text`."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    for lo, hi in _sentence_bounds(text[start:end], language):
        spans.extend(_trimmed(text, start + lo, start + hi))
    return spans


@lru_cache(maxsize=8192)
def _sentence_bounds(chunk: str, language: str) -> tuple[tuple[int, int], ...]:
    """Sentence (start, end) offsets within `chunk`, remembered per paragraph text.

    pysbd takes milliseconds per paragraph; a reindex after a small edit meets mostly
    paragraphs it has split before.
    """
    masked = _masked(chunk, language)
    pieces = [(s.start, s.end) for s in _segmenter(language).segment(masked)]
    return tuple(_merge_open_quotes(masked, pieces))


def split_document(
    text: str, *, language: str = "de", page_starts: tuple[int, ...] = ()
) -> list[SplitParagraph]:
    """Split `text` into numbered paragraphs, each with its sentences.

    With `page_starts` (the offset where each page begins) the text is split page by
    page, and paragraphs are numbered within their page: "page 2, paragraph 1".
    """
    if not page_starts:
        return _paragraphs(text, 0, len(text), language, None)
    ends = (*page_starts[1:], len(text))
    return [
        paragraph
        for page, (start, end) in enumerate(zip(page_starts, ends, strict=True), start=1)
        for paragraph in _paragraphs(text, start, end, language, page)
    ]


def _paragraphs(
    text: str, start: int, end: int, language: str, page: int | None
) -> list[SplitParagraph]:
    return [
        SplitParagraph(
            number,
            para,
            tuple(split_sentences(text, language=language, start=para.start, end=para.end)),
            page,
        )
        for number, para in enumerate(split_paragraphs(text, start=start, end=end), start=1)
    ]


_MONTHS = (
    "Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
)
_DAY_BEFORE_MONTH = re.compile(rf"\b(\d{{1,2}})\.(?=\s+(?:{_MONTHS})\b)")
# A number of up to three digits with a period between two words: an ordinal in running
# text ("im 19. Jahrhundert", "am 19. und 20. Juni"). Years are left alone: "… 2024. Danach".
_NUMBER_IN_TEXT = re.compile(r"([^\W\d_]\s+\d{1,3})\.(?=\s+([^\W\d_]))")
_LOOK_ALIKE = "\u2024"  # ONE DOT LEADER: looks like a period, pysbd does not split at it


def _masked(chunk: str, language: str) -> str:
    """`chunk` with the same length, hiding what misleads pysbd.

    Line breaks inside a paragraph (hard-wrapped text) become spaces, and the period of a
    day before a month ("8. Oktober") or of a number in running text ("im 19. Jahrhundert")
    becomes a look-alike, since pysbd reads a series of "8. … 9. …" as a numbered list.
    In English a number before a capital word ends a sentence ("He scored 12. Then…"), so
    there only one before a lower-case word is hidden; pysbd's German rules never end a
    sentence after "auf 12." anyway. Offsets stay valid because lengths do not change.
    """
    chunk = chunk.replace("\n", " ")
    chunk = _DAY_BEFORE_MONTH.sub(lambda m: m.group(1) + _LOOK_ALIKE, chunk)
    return _NUMBER_IN_TEXT.sub(
        lambda m: m.group(1) + (_LOOK_ALIKE if language == "de" or m.group(2).islower() else "."),
        chunk,
    )


@lru_cache(maxsize=8)
def _segmenter(language: str) -> pysbd.Segmenter:
    try:
        return pysbd.Segmenter(language=language, clean=False, char_span=True)
    except ValueError:  # pysbd knows ~20 languages; English rules are the safest fallback
        return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _merge_open_quotes(chunk: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join consecutive pieces while a quotation opened in them is not closed yet."""
    merged: list[tuple[int, int]] = []
    for lo, hi in pieces:
        # pysbd sometimes starts the next sentence with the closing quote: give it back.
        if (
            merged
            and chunk[lo:hi].startswith(('"', "“", "”", "»", "«"))
            and _quote_open(chunk[merged[-1][0] : lo])
        ):
            merged[-1] = (merged[-1][0], lo + 1)
            lo += 1
        if merged and _quote_open(chunk[merged[-1][0] : merged[-1][1]]):
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _quote_open(sentence: str) -> bool:
    """True if `sentence` opens a quotation it does not close (German or English style)."""
    count = sentence.count
    if count('"') % 2:
        return True
    if count("„"):  # German: „…“
        return count("„") > count("“")
    if count("“") > count("”"):  # English: “…”
        return True
    first = next((ch for ch in sentence if ch in "«»"), None)
    if first == "»":  # German guillemets: »…«
        return count("»") > count("«")
    return count("«") > count("»")


def _trimmed(text: str, start: int, end: int) -> list[Span]:
    """The span with surrounding whitespace removed, or nothing if it is blank."""
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return []
    lo = start + (len(piece) - len(piece.lstrip()))
    return [Span(lo, lo + len(stripped), _SPACE_RUN.sub(" ", stripped))]


_CLAUSE_BREAK = re.compile(r"[,;:–—]\s+")


def clauses(sentence: str, *, min_words: int = 4) -> list[str]:
    """The comma/semicolon-separated parts of a sentence, short parts joined to their neighbour.

    A sentence without such parts gives an empty list (the sentence is its own clause).
    """
    parts = [p.strip() for p in _CLAUSE_BREAK.split(sentence) if p.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and len(merged[-1].split()) < min_words:
            merged[-1] = f"{merged[-1]}, {part}"
        else:
            merged.append(part)
    if len(merged) > 1 and len(merged[-1].split()) < min_words:
        last = merged.pop()
        merged[-1] = f"{merged[-1]}, {last}"
    return merged if len(merged) > 1 else []
