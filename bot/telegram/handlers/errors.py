"""The one error handler: logs the failure and apologizes to the user."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Conflict, NetworkError, TelegramError

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.telegram.context import Context
from bot.telegram.handlers.replies import user_language

logger = logging.getLogger(__name__)

APOLOGY_PATIENCE = 10.0  # seconds; an apology that cannot get through soon is not worth it


async def error_handler(update: object, context: Context) -> None:
    """Log the failure with its traceback and apologize to the user, if there is one.

    Polling that fails on the network (or on a second instance) is retried by PTB with
    backoff; that is logged once per outage, not with a traceback per retry.
    """
    error, outbox = context.error, context.bot_data.outbox
    network = isinstance(error, NetworkError) and not isinstance(error, BadRequest)
    if update is None and outbox is not None and (network or isinstance(error, Conflict)):
        outbox.connection.failed(error, "polling for updates again with backoff")
        return
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("update %s failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and context.bot_data.runtime is not None:
        await _apologize(update, context)


async def _apologize(update: Update, context: Context) -> None:
    """Stop a button's spinner and say sorry in the chat, each if still possible."""
    chat, query, bot = update.effective_chat, update.callback_query, context.bot
    sorry = escape(text("error", user_language(update.effective_user)))
    patience = {"patience": APOLOGY_PATIENCE}
    attempts = []
    if query is not None:
        attempts.append(lambda: bot.answer_callback_query(query.id, rate_limit_args=patience))
    if chat is not None:
        attempts.append(lambda: bot.send_message(chat.id, sorry, rate_limit_args=patience))
    for attempt in attempts:
        try:
            await attempt()
        except TelegramError as exc:  # e.g. the spinner was stopped already
            logger.debug("update %s: %s", update.update_id, exc)
