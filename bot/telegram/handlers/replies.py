"""How handlers answer: in the user's language, in the background, and refusing non-admins."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from telegram import CallbackQuery, ReplyParameters, Update, User
from telegram.constants import ChatType

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.telegram.context import Context
from bot.telegram.receipts import carried

logger = logging.getLogger(__name__)


def user_language(user: User | None) -> str:
    """German for users whose Telegram app is set to German, else English."""
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"


async def reply(
    update: Update,
    context: Context,
    body: str,
    *,
    sent: Callable[[], object] | None = None,
    **options: Any,
) -> None:
    """Send `body` (HTML) to the update's chat, in groups as a reply to its message.

    The message waits for its chat's turn in the flood limits in a task of its own, so the
    handler returns and the next update is taken up; `sent` is called once it went out.
    """
    message = update.effective_message
    if message.chat.type != ChatType.PRIVATE:
        quoted = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        options.setdefault("reply_parameters", quoted)
    request = partial(context.bot.send_message, message.chat_id, body, **options)

    async def deliver() -> None:
        await request()
        if sent is not None:
            sent()

    await in_background(update, context, deliver())


async def in_background(update: Update, context: Context, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` in a task of its own; its errors reach the error handler with `update`.

    While the application stops, `work` is awaited right here instead: the Application
    waits for its own tasks only while it runs, and in-flight replies must still go out.
    """
    if context.application.running:
        context.application.create_task(carried(work), update=update)
    else:
        await work


async def toast(query: CallbackQuery, note: str | None = None) -> None:
    """Answer a button tap (stops its spinner; the Outbox sends it ahead of messages)."""
    await query.answer(note)


async def refused(update: Update, context: Context, what: str) -> bool:
    """True (after a polite refusal and a log line) unless the sender is an admin."""
    user = update.effective_user
    if user is not None and user.id in context.runtime.settings.admin_user_ids:
        return False
    logger.warning("refused admin command %s from user %s", what, user.id if user else None)
    refusal = escape(text("admin_refused", user_language(user)))
    if update.callback_query is not None:
        await update.callback_query.answer(refusal, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(refusal)
    return True
