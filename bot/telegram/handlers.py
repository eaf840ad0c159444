"""The conversation: /start, /help, questions, the buttons under answers and polite hints.

Every handler reaches the bot's resources through `runtime(context)`. Searching and
SQLite writes run in worker threads so one slow question never holds up other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, ReplyParameters, Update, User
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import metrics
from bot.answers import Answer
from bot.formatting import answer_html, context_html, escape, more_html
from bot.i18n import language_name, text
from bot.language import detect_language
from bot.settings import Settings
from bot.state import StateStore
from bot.telegram.keyboards import (
    AnswerCache,
    ButtonData,
    answer_keyboard,
    decode,
    examples_keyboard,
    version_tag,
)
from bot.telegram.limits import QuestionLimiter, fit_message, question_problem

if TYPE_CHECKING:
    from bot.app import Services

logger = logging.getLogger(__name__)

RUNTIME = "runtime"


@dataclass
class Runtime:
    """What the handlers share, kept in `application.bot_data[RUNTIME]`."""

    settings: Settings
    services: Services
    state: StateStore
    answers: AnswerCache
    limiter: QuestionLimiter

    def version(self) -> str:
        """The tag of the index version now serving (buttons carry it)."""
        return version_tag(self.services.searcher.version.manifest.version)


def runtime(context: ContextTypes.DEFAULT_TYPE) -> Runtime:
    """The bot's shared resources (set up in post_init)."""
    return context.bot_data[RUNTIME]


def user_language(user: User | None) -> str:
    """German for users whose Telegram app is set to German, else English."""
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"


# -- commands ------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet the user, say what the document is and offer example questions."""
    lang = user_language(update.effective_user)
    await _introduce(update, context, escape(text("start", lang)), lang)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain how to ask, with the document and example questions."""
    lang = user_language(update.effective_user)
    await _introduce(update, context, text("help", lang, bot=context.bot.username), lang)


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Point to /help when a private chat sends a command the bot does not know."""
    message = update.effective_message
    if _for_other_bot(message, context.bot.username):
        return
    await message.reply_text(escape(text("unknown_command", user_language(update.effective_user))))


async def _introduce(
    update: Update, context: ContextTypes.DEFAULT_TYPE, greeting: str, lang: str
) -> None:
    rt = runtime(context)
    examples = rt.services.examples(lang)
    parts = [greeting, document_line(rt.services, lang), escape(text("how_to_ask", lang))]
    keyboard = examples_keyboard(examples, lang=lang, version=rt.version())
    await update.effective_message.reply_text(
        fit_message("\n\n".join(part for part in parts if part)), reply_markup=keyboard
    )


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


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text message in a private chat with quotes from the document."""
    message = update.effective_message
    await answer_question(context, message.chat_id, message.text or "", update.effective_user)


async def answer_question(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    question_text: str,
    user: User | None,
    *,
    reply_to: int | None = None,
) -> None:
    """Check, search and send the answer to `question_text` (shared by chats, groups, buttons)."""
    rt = runtime(context)
    question_text = question_text.strip()
    refusal = _refusal(rt, question_text, user)
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    if refusal:
        await context.bot.send_message(chat_id, refusal, reply_parameters=reply)
        return
    await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    version = rt.version()  # before searching: a reindex meanwhile makes the buttons stale
    fallback = user.language_code if user else None
    answer = await asyncio.to_thread(
        rt.services.conversation.ask, chat_id, question_text, fallback_language=fallback
    )
    await asyncio.to_thread(rt.state.record_answer, question_text, abstained=answer.abstained)
    body, keyboard = reply_for(rt, answer, version)
    await context.bot.send_message(chat_id, body, reply_markup=keyboard, reply_parameters=reply)
    metrics.record_question(answer)


def _refusal(rt: Runtime, question_text: str, user: User | None) -> str | None:
    """The polite reason not to search (too long, empty, too many questions), or None."""
    problem = question_problem(question_text, max_chars=rt.settings.max_question_chars)
    if problem is None and (user is None or rt.limiter.allow(user.id)):
        return None
    fallback = user.language_code if user else None
    lang = detect_language(question_text[:300], fallback=fallback)
    if problem == "too_long":
        limit = rt.settings.max_question_chars
        return escape(text(problem, lang, length=len(question_text), limit=limit))
    if problem == "empty_question":
        examples = rt.services.examples(lang) or ["?"]
        return escape(text(problem, lang, example=examples[0]))
    return escape(text("rate_limited", lang))


def reply_for(rt: Runtime, answer: Answer, version: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """The HTML and the buttons of an answer (example questions after an abstention)."""
    examples = rt.services.examples(answer.language)
    body = fit_message(answer_html(answer, answer.language, examples=examples))
    if answer.abstained:
        return body, examples_keyboard(examples, lang=answer.language, version=version)
    key = rt.answers.put(answer)
    return body, answer_keyboard(answer, key=key, version=version)


# -- buttons --------------------------------------------------------------------------------


async def context_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the paragraph around the answer's first quote, the cited sentence in bold."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    found = runtime(context).services.searcher.context(answer.quotes[0])
    await query.answer()
    await context.bot.send_message(
        query.message.chat.id, fit_message(context_html(found, answer.language))
    )


async def more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the next-best quotes of the answer."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    await query.answer()
    body = fit_message(more_html(answer.more, answer.language))
    await context.bot.send_message(query.message.chat.id, body)


async def vote_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store a 👍 or 👎 on the answer and thank the user with a toast."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    vote = 1 if decode(query.data).extra == "1" else -1
    ids = [i for quote in answer.quotes for i in quote.sentence_ids]
    await asyncio.to_thread(
        runtime(context).state.record_feedback,
        user_id=query.from_user.id,
        question=answer.question,
        sentence_ids=ids,
        vote=vote,
    )
    await query.answer(text("feedback_thanks", answer.language))


async def example_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the example question on the button, as if the user had typed it."""
    query = update.callback_query
    data, rt = decode(query.data), runtime(context)
    current = data.version == rt.version() and query.message is not None
    examples = rt.services.examples(data.key) if current else []
    if not data.extra.isdigit() or int(data.extra) >= len(examples):
        await expired_button(update, context)
        return
    await query.answer()
    await answer_question(
        context, query.message.chat.id, examples[int(data.extra)], query.from_user
    )


async def expired_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell the user that a button is from an older answer and to ask again."""
    query = update.callback_query
    await query.answer(text("expired", user_language(query.from_user)))


async def _stored_answer(query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE) -> Answer | None:
    """The answer a button belongs to; None (after an "expired" toast) when it is stale."""
    data: ButtonData | None = decode(query.data)
    rt = runtime(context)
    stale = data is None or data.version != rt.version() or query.message is None
    answer = None if stale else rt.answers.get(data.key)
    if answer is None or not answer.quotes:
        await query.answer(text("expired", user_language(query.from_user)))
        return None
    return answer


# -- everything else ------------------------------------------------------------------------


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask for a typed question when a sticker, photo, voice message or the like arrives."""
    lang = user_language(update.effective_user)
    await update.effective_message.reply_text(escape(text("not_text", lang)))


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the user to send an edited question again instead of answering it twice."""
    lang = user_language(update.effective_user)
    await update.effective_message.reply_text(escape(text("edited", lang)))


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback and apologize to the user, if there is one."""
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update):
        return
    lang = user_language(update.effective_user)
    if update.callback_query is not None:  # stop the button's spinner, if still spinning
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    if update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(update.effective_chat.id, escape(text("error", lang)))
