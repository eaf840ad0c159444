"""Inline mode: `@bot question` in any chat offers quotes as cards to send.

Each card's message is the quoted sentence with its place and the document title. An
empty query offers the example questions; choosing one sends the question with its answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telegram import InlineQueryResultArticle, InputTextMessageContent, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.answers import Quote
from bot.formatting import answer_html, escape, place, quote_html
from bot.language import detect_language
from bot.telegram.handlers import runtime, user_language
from bot.telegram.limits import (
    INLINE_QUERY_LIMIT,
    clip_inline_query,
    fit_message,
    question_problem,
)

if TYPE_CHECKING:
    from bot.app import Services

MAX_CARDS = 5
CACHE_SECONDS = 10
TITLE_CHARS = 60


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer up to five quotes for the query, or the example questions for an empty one."""
    query = update.inline_query
    services = runtime(context).services
    asked = clip_inline_query(query.query)
    lang = user_language(query.from_user)
    if question_problem(asked, max_chars=INLINE_QUERY_LIMIT) is None:
        cards = await asyncio.to_thread(quote_cards, services, asked, lang)
    else:
        cards = await asyncio.to_thread(example_cards, services, lang)
    await query.answer(cards, cache_time=CACHE_SECONDS, is_personal=False)


def quote_cards(services: Services, question: str, fallback: str) -> list[InlineQueryResultArticle]:
    """One card per quote, best first; none when the document has no answer."""
    lang = detect_language(question, fallback=fallback)
    answer = services.searcher.answer(question, language=lang)
    quotes = (answer.quotes + answer.more)[:MAX_CARDS]
    return [_quote_card(f"{n}-{q.sentence_ids[0]}", q, lang) for n, q in enumerate(quotes)]


def example_cards(services: Services, lang: str) -> list[InlineQueryResultArticle]:
    """One card per example question; its message is the question and its answer."""
    cards = []
    for number, example in enumerate(services.examples(lang)):
        answer = services.searcher.answer(example, language=lang)
        body = f"❓ <b>{escape(example)}</b>\n\n{answer_html(answer, lang, limit=3900)}"
        first = answer.quotes[0] if answer.quotes else None
        cards.append(
            InlineQueryResultArticle(
                id=f"example-{lang}-{number}",
                title=example,
                description=_short(first.text) if first else None,
                input_message_content=_content(body),
            )
        )
    return cards


def _quote_card(card_id: str, quote: Quote, lang: str) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=card_id,
        title=_short(quote.text),
        description=f"{place(quote, lang)} · {quote.document}",
        input_message_content=_content(quote_html(quote, lang)),
    )


def _content(body: str) -> InputTextMessageContent:
    return InputTextMessageContent(
        fit_message(body),
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


def _short(sentence: str) -> str:
    """The start of a sentence for a card title, cut at a word boundary."""
    if len(sentence) <= TITLE_CHARS:
        return sentence
    return sentence[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
