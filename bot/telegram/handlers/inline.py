"""Inline mode: `@bot question` in any chat offers quotes as cards to send.

Each card's message is the quoted sentence with its place and the document title. A query
the document does not answer gets a card that says so, followed by the example questions;
an empty query gets the example questions (choosing one sends the question with its
answer). Inline queries count against the user's rate limit, three to a question, since
apps send a new one while the user is still typing.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from telegram import (
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode

from bot.answering.formatting import abstention_html, answer_html, escape, place, quote_html
from bot.answering.i18n import text
from bot.answering.pipeline import Refusal, clean_question
from bot.app import metrics
from bot.retrieval.answers import Quote
from bot.telegram.context import Context, Runtime
from bot.telegram.handlers.replies import user_language
from bot.telegram.limits import INLINE_QUERY_LIMIT, clip_inline_query, fit_message

if TYPE_CHECKING:
    from bot.app.services import Services

MAX_CARDS = 5
CACHE_SECONDS = 10
TITLE_CHARS = 60
Cards = list[InlineQueryResultArticle]
CardCache = dict[tuple[str, str], Cards]  # example cards by (index version, language)


async def inline_query(update: Update, context: Context) -> None:
    """Offer up to five quotes, a "no answer" card with examples, or just the examples."""
    query, rt = update.inline_query, context.runtime
    lang = user_language(query.from_user)
    if not rt.limiter.allow_inline(query.from_user.id):
        wait = InlineQueryResultsButton(text("inline_rate_limited", lang), start_parameter="help")
        answer = partial(query.answer, [], cache_time=0, is_personal=True, button=wait)
        outcome = "rate_limited"
    else:
        cache = context.bot_data.example_cards
        cards, outcome = await asyncio.to_thread(cards_for, rt, cache, query.query, lang)
        answer = partial(query.answer, cards, cache_time=CACHE_SECONDS, is_personal=False)
    await answer()
    metrics.INLINE_QUERIES.labels(outcome=outcome).inc()


def cards_for(rt: Runtime, cache: CardCache, query: str, fallback: str) -> tuple[Cards, str]:
    """The cards for an inline query and what they are: "quotes", "no_answer" or "examples"
    (in a worker thread: it searches)."""
    asked = clip_inline_query(clean_question(query))
    checked = rt.services.pipeline.check(
        asked, fallback_language=fallback, max_chars=INLINE_QUERY_LIMIT
    )
    if isinstance(checked, Refusal):
        return cached_example_cards(rt, cache, fallback), "examples"
    asked, lang = checked.text, checked.language
    cards = quote_cards(rt.services, asked, lang)
    if cards:
        return cards, "quotes"
    examples = cached_example_cards(rt, cache, lang)
    return [no_answer_card(rt.services, asked, lang), *examples], "no_answer"


def quote_cards(services: Services, question: str, lang: str) -> Cards:
    """One card per quote, best first; none when the document has no answer."""
    answer = services.searcher.answer(question, language=lang)
    quotes = (answer.quotes + answer.more)[:MAX_CARDS]
    return [_quote_card(f"{n}-{q.sentence_ids[0]}", q, lang) for n, q in enumerate(quotes)]


def no_answer_card(services: Services, question: str, lang: str) -> InlineQueryResultArticle:
    """A card saying that the document does not answer `question`, and what it covers."""
    body = f"❓ <b>{escape(question)}</b>\n\n{abstention_html(lang, services.examples(lang))}"
    return InlineQueryResultArticle(
        id=f"none-{lang}",
        title=text("inline_no_answer", lang),
        description=text("inline_no_answer_hint", lang),
        input_message_content=_content(body),
    )


def cached_example_cards(rt: Runtime, cache: CardCache, lang: str) -> Cards:
    """The example cards of the serving index version (each one costs a search)."""
    key = (rt.version(), lang)
    if key not in cache:
        for stale in [k for k in cache if k[0] != key[0]]:  # made for an older version
            cache.pop(stale, None)
        cache[key] = example_cards(rt.services, lang)
    return cache[key]


def example_cards(services: Services, lang: str) -> Cards:
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
