"""Answers as Telegram HTML and as console text. Pure functions over the answer types.

All document and user text goes through `html.escape`; messages are kept within
Telegram's 4096-character limit by dropping whole quotes first and trimming the text of
a single quote only when it alone is too long, so the HTML stays well-formed.

Telegram counts UTF-16 code units (an emoji counts twice), so every length here is
measured and cut in those units, on the escaped text: an escaped "&" is five units long,
and a cut never falls inside such an entity.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.answering.i18n import language_name, text
from bot.retrieval.answers import Answer, Context, Quote

TELEGRAM_LIMIT = 4096
ELLIPSIS = "…"


def escape(value: str) -> str:
    """Text safe to put between Telegram HTML tags."""
    return html.escape(value, quote=False)


def place(quote: Quote, lang: str) -> str:
    """Where a quote stands, e.g. "Absatz 2, Satz 1" or "paragraph 2, sentences 1–2".

    In a paginated document the page comes first: "Seite 3, Absatz 1, Satz 2".
    """
    key = "place_range" if quote.last_sentence != quote.sentence else "place"
    found = text(
        key, lang, paragraph=quote.paragraph, sentence=quote.sentence, last=quote.last_sentence
    )
    return found if quote.page is None else text("place_page", lang, page=quote.page, place=found)


def quote_html(quote: Quote, lang: str, *, max_chars: int = TELEGRAM_LIMIT) -> str:
    """One quote as a blockquote with its place and document title below it.

    The part that answers the question, if known, is bold. The whole markup stays within
    `max_chars` UTF-16 units; only the quote text is trimmed.
    """
    head = "<blockquote>"
    tail = f"</blockquote>\n— <i>{escape(quote.document)}</i>, {place(quote, lang)}"
    room = max_chars - _units(head) - _units(tail)
    escaped = escape(quote.text)
    body = _trim(escaped, room)
    if quote.highlight and body == escaped:  # a trimmed quote is shown unmarked
        start, end = quote.highlight
        marked = f"{escape(quote.text[:start])}<b>{escape(quote.text[start:end])}</b>"
        marked += escape(quote.text[end:])
        body = marked if _units(marked) <= room else body
    return f"{head}{body}{tail}"


def answer_html(
    answer: Answer, lang: str, *, examples: Sequence[str] = (), limit: int = TELEGRAM_LIMIT
) -> str:
    """The reply to a question: quotes with places, or an abstention with suggestions."""
    if answer.abstained:
        return abstention_html(lang, examples, limit=limit)
    footer = _translation_note(answer.quotes, lang)
    room = limit - (_units(footer) + 2 if footer else 0)
    return _fit(
        [quote_html(q, lang, max_chars=room) for q in answer.quotes], footer=footer, limit=limit
    )


def more_html(quotes: Sequence[Quote], lang: str, *, limit: int = TELEGRAM_LIMIT) -> str:
    """Further quotes, shown after "More"."""
    if not quotes:
        return text("no_more", lang)
    heading = f"<b>{escape(text('more_title', lang))}</b>"
    room = limit - _units(heading) - 2
    return _fit(
        [quote_html(q, lang, max_chars=room) for q in quotes],
        heading=heading,
        footer="",
        limit=limit,
    )


def abstention_html(lang: str, examples: Sequence[str] = (), *, limit: int = TELEGRAM_LIMIT) -> str:
    """Say plainly that the document has no answer, and what it does cover."""
    parts = [escape(text("abstain", lang))]
    if examples:
        bullets = "\n".join(f"• {escape(e)}" for e in examples)
        parts.append(f"{escape(text('abstain_suggest', lang))}\n{bullets}")
    return _fit(parts, footer="", limit=limit)


def context_html(context: Context, lang: str, *, limit: int = TELEGRAM_LIMIT) -> str:
    """A whole paragraph with the quoted sentences in bold."""
    key = "context_title" if context.page is None else "context_title_page"
    title = text(key, lang, title=context.document, paragraph=context.paragraph, page=context.page)
    head, tail = f"<b>{escape(title)}</b>\n<blockquote>", "</blockquote>"
    room = limit - _units(head) - _units(tail)
    pieces: list[str] = []
    for sentence, cited in context.sentences:
        space = 1 if pieces else 0
        tags = len("<b></b>") if cited else 0
        body = escape(sentence)
        piece = _trim(body, room - space - tags)
        if not piece:
            break
        pieces.append(f"<b>{piece}</b>" if cited else piece)
        room -= space + tags + _units(piece)
        if piece != body:  # the rest of the paragraph does not fit
            break
    return f"{head}{' '.join(pieces)}{tail}"


def answer_text(answer: Answer, lang: str, *, examples: Sequence[str] = ()) -> str:
    """The same reply as plain text for the console."""
    return html_to_text(answer_html(answer, lang, examples=examples, limit=1_000_000))


def html_to_text(markup: str) -> str:
    """Plain text of the little HTML this module writes (for the console)."""
    import re

    markup = markup.replace("<blockquote>", "  » ").replace("</blockquote>", "")
    return html.unescape(re.sub(r"</?(b|i|u|s|code)>", "", markup))


def _translation_note(quotes: Sequence[Quote], lang: str) -> str:
    source = next((q.language for q in quotes if q.language != lang), None)
    if source is None:
        return ""
    return f"<i>{escape(text('translated_note', lang, language=language_name(source, lang)))}</i>"


def _fit(parts: list[str], *, footer: str, limit: int, heading: str = "") -> str:
    """Join `parts` with blank lines, dropping trailing parts that would exceed `limit`.

    The first part is always kept (callers size it to fit), so a `heading` never stands
    alone.
    """
    kept: list[str] = [heading] if heading else []
    size = sum(_units(p) + 2 for p in kept) + (_units(footer) + 2 if footer else 0)
    for number, part in enumerate(parts):
        if number and size + _units(part) + 2 > limit:
            break
        kept.append(part)
        size += _units(part) + 2
    return "\n\n".join(kept + ([footer] if footer else []))


def _units(value: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji counts twice)."""
    return len(value.encode("utf-16-le")) // 2


def _trim(markup: str, max_units: int) -> str:
    """Escaped `markup` cut at a word boundary to at most `max_units` UTF-16 units, marked "…".

    The cut never splits a surrogate pair or an entity such as "&amp;".
    """
    if _units(markup) <= max_units:
        return markup
    if max_units <= _units(ELLIPSIS):
        return ""
    room = max_units - _units(ELLIPSIS)
    # Decoding a prefix of the UTF-16 bytes drops a half surrogate pair at the end.
    head = markup.encode("utf-16-le")[: 2 * room].decode("utf-16-le", errors="ignore")
    cut = head.rsplit(" ", 1)[0] or head
    if cut.rfind("&") > cut.rfind(";"):  # inside an entity: "&am"
        cut = cut[: cut.rfind("&")]
    return cut + ELLIPSIS
