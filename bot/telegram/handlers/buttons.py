"""The buttons under answers and greetings: context, more, votes and example questions."""

from __future__ import annotations

import asyncio

from telegram import CallbackQuery, Update

from bot.answering.formatting import context_html, more_html
from bot.answering.i18n import LANGUAGES, text
from bot.retrieval.answers import Answer
from bot.telegram.context import Context
from bot.telegram.handlers.questions import answer_question
from bot.telegram.handlers.replies import reply, toast, user_language
from bot.telegram.keyboards import ButtonData, decode
from bot.telegram.limits import fit_message


async def context_button(update: Update, context: Context) -> None:
    """Send the paragraph around the answer's first quote, the cited sentence in bold."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    found = context.runtime.services.searcher.context(answer.quotes[0])
    await toast(query)
    await reply(update, context, fit_message(context_html(found, answer.language)))


async def more_button(update: Update, context: Context) -> None:
    """Send the next-best quotes of the answer."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    await toast(query)
    await reply(update, context, fit_message(more_html(answer.more, answer.language)))


async def vote_button(update: Update, context: Context) -> None:
    """Store a 👍 or 👎 on the answer and thank the user with a toast."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context, extras=("1", "-1"))) is None:
        return
    vote = 1 if decode(query.data).extra == "1" else -1
    ids = [i for quote in answer.quotes for i in quote.sentence_ids]
    await asyncio.to_thread(
        context.runtime.state.record_feedback,
        user_id=query.from_user.id,
        question=answer.question,
        sentence_ids=ids,
        vote=vote,
        quotes=[quote.text for quote in answer.quotes],
    )
    await toast(query, text("feedback_thanks", answer.language))


async def example_button(update: Update, context: Context) -> None:
    """Ask the example question on the button, as if the user had typed it."""
    query = update.callback_query
    data, rt = decode(query.data), context.runtime
    current = data.version == rt.version() and query.message is not None
    examples = rt.services.examples(data.key) if current and data.key in LANGUAGES else []
    if not data.extra.isdigit() or int(data.extra) >= len(examples):
        await expired_button(update, context)
        return
    await toast(query)
    await answer_question(update, context, examples[int(data.extra)])


async def expired_button(update: Update, context: Context) -> None:
    """Tell the user that a button is from an older answer and to ask again."""
    query = update.callback_query
    await toast(query, text("expired", user_language(query.from_user)))


async def _stored_answer(
    query: CallbackQuery, context: Context, *, extras: tuple[str, ...] = ("",)
) -> Answer | None:
    """The answer a button belongs to; None (after an "expired" toast) when it is stale or
    its data was not made by this bot (an argument other than `extras`)."""
    data: ButtonData | None = decode(query.data)
    rt = context.runtime
    stale = data is None or data.version != rt.version() or query.message is None
    answer = None if stale or data.extra not in extras else rt.answers.get(data.key)
    if answer is None or not answer.quotes:
        await toast(query, text("expired", user_language(query.from_user)))
        return None
    return answer
