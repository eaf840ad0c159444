"""Private chats: /start, /help, questions and polite hints for everything else.

Searching and SQLite writes run in worker threads so one slow question never holds up
other chats; replies go out in tasks of their own (`replies.reply`).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Message, ReplyParameters, Update, User
from telegram.constants import ChatAction

from bot.answering.formatting import TELEGRAM_LIMIT, answer_html, escape
from bot.answering.i18n import language_name, text
from bot.answering.pipeline import Question, Refusal
from bot.app import metrics
from bot.retrieval.answers import Answer
from bot.telegram.context import Context, Runtime
from bot.telegram.handlers.replies import reply, user_language
from bot.telegram.keyboards import answer_keyboard, examples_keyboard
from bot.telegram.limits import fit_message
from bot.telegram.receipts import late_line

if TYPE_CHECKING:
    from bot.app.services import Services

logger = logging.getLogger(__name__)


# -- commands ------------------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    """Greet the user, say what the document is and offer example questions."""
    lang = user_language(update.effective_user)
    await _introduce(update, context, escape(text("start", lang)), lang)


async def help_command(update: Update, context: Context) -> None:
    """Explain how to ask, with the document and example questions."""
    lang = user_language(update.effective_user)
    await _introduce(update, context, text("help", lang, bot=context.bot.username), lang)


async def unknown_command(update: Update, context: Context) -> None:
    """Point to /help when a private chat sends a command the bot does not know."""
    message = update.effective_message
    if _for_other_bot(message, context.bot.username):
        return
    lang = user_language(update.effective_user)
    await reply(update, context, escape(text("unknown_command", lang)))


async def _introduce(update: Update, context: Context, greeting: str, lang: str) -> None:
    rt = context.runtime
    examples = rt.services.examples(lang)
    parts = [greeting, document_line(rt.services, lang), escape(text("how_to_ask", lang))]
    keyboard = examples_keyboard(examples, lang=lang, version=rt.version())
    body = fit_message("\n\n".join(part for part in parts if part))
    await reply(update, context, body, reply_markup=keyboard)


def document_line(services: Services, lang: str) -> str:
    """The document's title, date and language, or how many documents there are (HTML)."""
    documents = services.searcher.corpus.documents
    if not documents:
        return ""
    doc = documents[0]
    if len(documents) > 1:
        return text("documents_line", lang, count=len(documents), title=escape(doc.title))
    date = f", {escape(doc.date)}" if doc.date else ""
    language = escape(language_name(doc.language, lang))
    return text("document_line", lang, title=escape(doc.title), date=date, language=language)


def _for_other_bot(message: Message, username: str) -> bool:
    """True for "/cmd@otherbot": a command meant for another bot in the same chat."""
    command = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    _, _, target = command.partition("@")
    return bool(target) and target.lower() != username.lower()


# -- questions ------------------------------------------------------------------------------


async def question(update: Update, context: Context) -> None:
    """Answer a text message in a private chat with quotes from the document."""
    await answer_question(update, context, update.effective_message.text or "")


async def answer_question(update: Update, context: Context, question_text: str) -> None:
    """Check, search and send the answer to `question_text` (shared by chats, groups, buttons)."""
    rt, chat_id = context.runtime, update.effective_chat.id
    checked = _checked(rt, question_text, update.effective_user)
    if isinstance(checked, Refusal):
        await reply(update, context, escape(checked.message))
        return
    await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    version = rt.version()  # before searching: a reindex meanwhile makes the buttons stale
    async with rt.searching:
        answer = await asyncio.to_thread(rt.services.pipeline.answer, chat_id, checked)
    await asyncio.to_thread(rt.state.record_answer, checked.text, abstained=answer.abstained)
    late = late_line(update, after=rt.settings.late_answer_seconds, lang=answer.language)
    body, keyboard = reply_for(rt, answer, version, late=late)
    options: dict[str, Any] = {"reply_markup": keyboard}
    if late and update.message is not None:  # show which question this answers
        options["reply_parameters"] = ReplyParameters(
            update.message.message_id, allow_sending_without_reply=True
        )
    await reply(update, context, body, sent=partial(metrics.record_question, answer), **options)


def _checked(rt: Runtime, question_text: str, user: User | None) -> Question | Refusal:
    """The question cleaned and in its language, or why not to search it (too long, empty,
    too many questions from this user); the Telegram app's language decides when unsure."""
    fallback = user.language_code if user else None
    allow = partial(rt.limiter.allow, user.id) if user is not None else None
    return rt.services.pipeline.check(question_text, fallback_language=fallback, allow=allow)


def reply_for(
    rt: Runtime, answer: Answer, version: str, *, late: str = ""
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The HTML and the buttons of an answer (example questions after an abstention), after
    the `late` line if there is one."""
    examples = rt.services.examples(answer.language)
    room = TELEGRAM_LIMIT - (len(late.encode("utf-16-le")) // 2 + 2 if late else 0)
    body = fit_message(
        answer_html(answer, answer.language, examples=examples, limit=room), limit=room
    )
    body = f"{late}\n\n{body}" if late else body
    if answer.abstained:
        return body, examples_keyboard(examples, lang=answer.language, version=version)
    key = rt.answers.put(answer)
    return body, answer_keyboard(answer, key=key, version=version)


# -- everything else ------------------------------------------------------------------------


async def not_text(update: Update, context: Context) -> None:
    """Ask for a typed question when a sticker, photo, voice message or the like arrives."""
    lang = user_language(update.effective_user)
    await reply(update, context, escape(text("not_text", lang)))


async def edited(update: Update, context: Context) -> None:
    """Ask the user to send an edited question again instead of answering it twice."""
    lang = user_language(update.effective_user)
    await reply(update, context, escape(text("edited", lang)))
