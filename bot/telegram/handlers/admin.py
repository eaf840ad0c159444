"""Admin commands: /status, /reindex, /docs, /remove, /rollback, /feedback, /unanswered.

Only users listed in `admin_user_ids` may use them; anyone else gets a polite refusal, a log
line with their numeric id, and nothing about the documents or the index. Commands that
change what the bot serves run `once`: handled again after a crash, they are not repeated.
"""

from __future__ import annotations

import asyncio
from functools import partial

from telegram import Update

from bot.telegram.admin_texts import docs_text, feedback_text, status_text, unanswered_text
from bot.telegram.context import Context
from bot.telegram.handlers.documents import removal_question
from bot.telegram.handlers.reindexing import admin_state, reindex_with_status, rollback_text
from bot.telegram.handlers.replies import refused, user_language
from bot.telegram.limits import fit_message
from bot.telegram.receipts import once


async def status(update: Update, context: Context) -> None:
    """Show documents, index, uptime, counters, votes and the last reindex."""
    if await refused(update, context, "/status"):
        return
    lang, last = user_language(update.effective_user), admin_state(context).admin.last
    durable = context.bot_data.durable
    durability = durable.durability if durable is not None else None
    body = await asyncio.to_thread(status_text, context.runtime, last, lang, durability)
    await update.effective_message.reply_text(fit_message(body))


async def reindex(update: Update, context: Context) -> None:
    """Rebuild the index in a worker thread, showing progress and then a change report."""
    if await refused(update, context, "/reindex"):
        return
    lang = user_language(update.effective_user)
    await once(partial(reindex_with_status, context, update.effective_chat.id, lang), "/reindex")


async def docs(update: Update, context: Context) -> None:
    """List the indexed documents with their ids."""
    if await refused(update, context, "/docs"):
        return
    lang = user_language(update.effective_user)
    await update.effective_message.reply_text(fit_message(docs_text(context.runtime, lang)))


async def remove(update: Update, context: Context) -> None:
    """Ask for confirmation before removing the document /remove names."""
    if await refused(update, context, "/remove"):
        return
    lang, message = user_language(update.effective_user), update.effective_message
    doc_id = context.args[0] if context.args else ""
    reply, keyboard = removal_question(context, doc_id, lang)
    await message.reply_text(reply, reply_markup=keyboard)


async def rollback(update: Update, context: Context) -> None:
    """Serve the previous index version again and say which one serves now."""
    if await refused(update, context, "/rollback"):
        return
    await once(partial(_roll_back, update, context), "/rollback")


async def _roll_back(update: Update, context: Context) -> None:
    lang = user_language(update.effective_user)
    rt, state = context.runtime, admin_state(context)
    reply = await asyncio.to_thread(rollback_text, rt, state, lang)
    await update.effective_message.reply_text(reply)


async def feedback(update: Update, context: Context) -> None:
    """List the latest 👎 questions with the quotes they were given."""
    await _listing(update, context, "/feedback", feedback_text)


async def unanswered(update: Update, context: Context) -> None:
    """List the recent questions the bot abstained on."""
    await _listing(update, context, "/unanswered", unanswered_text)


async def _listing(update: Update, context: Context, command: str, render) -> None:
    """Reply with `render(runtime, lang)`, read in a worker thread (it queries SQLite)."""
    if await refused(update, context, command):
        return
    lang = user_language(update.effective_user)
    body = await asyncio.to_thread(render, context.runtime, lang)
    await update.effective_message.reply_text(fit_message(body))
