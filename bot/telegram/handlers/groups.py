"""Group chats: the bot speaks only when spoken to.

It answers `/ask question`, messages that mention it and replies to its own messages, and
stays silent on everything else (no hints for stickers or chatter between members).
"""

from __future__ import annotations

import re

from telegram import Bot, Message, MessageEntity, Update

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.telegram.context import Context
from bot.telegram.handlers.questions import answer_question
from bot.telegram.handlers.replies import reply, user_language


async def ask_command(update: Update, context: Context) -> None:
    """Answer `/ask question` (or `/ask@bot question`), or show how to use it."""
    message = update.effective_message
    question = command_argument(message.text or "")
    if not question:
        lang = user_language(update.effective_user)
        await reply(update, context, escape(text("ask_usage", lang)))
        return
    await answer_question(update, context, question)


async def group_message(update: Update, context: Context) -> None:
    """Answer a group message that mentions the bot or replies to it; ignore all others."""
    message = update.effective_message
    question = addressed_question(message, context.bot)
    if question is None:
        return
    await answer_question(update, context, question)


def command_argument(message_text: str) -> str:
    """The text after the command word: "/ask@bot  Wer?" -> "Wer?"."""
    parts = message_text.split(maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


def addressed_question(message: Message, bot: Bot) -> str | None:
    """The question in a message meant for the bot (mention stripped), or None if it is not."""
    message_text = message.text or ""
    if mentions_bot(message, bot.username):
        pattern = re.compile(rf"@{re.escape(bot.username)}(?!\w)", re.IGNORECASE)
        return " ".join(pattern.sub(" ", message_text).split()).strip(" ,:;")
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        return message_text
    return None


def mentions_bot(message: Message, username: str) -> bool:
    """True when one of the message's @mentions is the bot."""
    mentions = message.parse_entities([MessageEntity.MENTION]).values()
    return any(mention[1:].lower() == username.lower() for mention in mentions)
