"""The conversation: /start, /help, questions, the buttons under answers and polite hints.

Every handler reaches the bot's resources through `runtime(context)`. Searching and
SQLite writes run in worker threads so one slow question never holds up other chats.
Replies and answers to button taps go out through the runtime's `Outbox` (`send`, `reply`,
`toast`), which keeps to Telegram's flood limits and retries what fails on the way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, ReplyParameters, Update, User
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Conflict, NetworkError, TelegramError
from telegram.ext import ContextTypes

from bot import metrics
from bot.answers import Answer
from bot.formatting import TELEGRAM_LIMIT, answer_html, context_html, escape, more_html
from bot.i18n import LANGUAGES, language_name, text
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
from bot.telegram.limits import QuestionLimiter, clean_question, fit_message, question_problem
from bot.telegram.outbox import Outbox
from bot.telegram.receipts import carried, late_line

if TYPE_CHECKING:
    from bot.app import Services
    from bot.telegram.durable import Durable

logger = logging.getLogger(__name__)

RUNTIME = "runtime"
APOLOGY_PATIENCE = 10.0  # seconds; an apology that cannot get through soon is not worth it
# Searches at once. They hold the GIL most of the time: more of them only make the event
# loop wait for it, and every reply's way from Telegram into the journal with it.
SEARCHES = 2


@dataclass
class Runtime:
    """What the handlers share, kept in `application.bot_data[RUNTIME]`."""

    settings: Settings
    services: Services
    state: StateStore
    answers: AnswerCache
    limiter: QuestionLimiter
    outbox: Outbox = field(default_factory=Outbox)
    durable: Durable | None = None  # the update journal, when there is one
    searching: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(SEARCHES))

    def version(self) -> str:
        """The tag of what the serving index holds (buttons carry it): model and documents.

        A reindex that changes no document keeps the tag, so the buttons under earlier
        answers keep working; one that changes a document makes them stale.
        """
        manifest = self.services.searcher.version.manifest
        documents = ",".join(f"{d}:{c}" for d, c in sorted(manifest.documents.items()))
        return version_tag(f"{manifest.format_version}|{manifest.model}|{documents}")


def runtime(context: ContextTypes.DEFAULT_TYPE) -> Runtime:
    """The bot's shared resources (set up in post_init)."""
    return context.bot_data[RUNTIME]


def user_language(user: User | None) -> str:
    """German for users whose Telegram app is set to German, else English."""
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"


# -- sending --------------------------------------------------------------------------------


async def reply(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
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
        await runtime(context).outbox.send(message.chat_id, request)
        if sent is not None:
            sent()

    await in_background(update, context, deliver())


async def in_background(
    update: Update, context: ContextTypes.DEFAULT_TYPE, work: Coroutine[Any, Any, None]
) -> None:
    """Run `work` in a task of its own; its errors reach the error handler with `update`.

    While the application stops, `work` is awaited right here instead: the Application
    waits for its own tasks only while it runs, and in-flight replies must still go out.
    """
    if context.application.running:
        context.application.create_task(carried(work), update=update)
    else:
        await work


async def toast(
    context: ContextTypes.DEFAULT_TYPE, query: CallbackQuery, note: str | None = None
) -> None:
    """Answer a button tap (stops its spinner), ahead of messages in the flood limits."""
    await runtime(context).outbox.send(None, partial(query.answer, note), urgent=True)


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
    lang = user_language(update.effective_user)
    await reply(update, context, escape(text("unknown_command", lang)))


async def _introduce(
    update: Update, context: ContextTypes.DEFAULT_TYPE, greeting: str, lang: str
) -> None:
    rt = runtime(context)
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


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text message in a private chat with quotes from the document."""
    await answer_question(update, context, update.effective_message.text or "")


async def answer_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question_text: str
) -> None:
    """Check, search and send the answer to `question_text` (shared by chats, groups, buttons)."""
    rt, chat_id, user = runtime(context), update.effective_chat.id, update.effective_user
    question_text = clean_question(question_text)
    refusal = _refusal(rt, question_text, user)
    if refusal:
        await reply(update, context, refusal)
        return
    await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    version = rt.version()  # before searching: a reindex meanwhile makes the buttons stale
    fallback = user.language_code if user else None
    async with rt.searching:
        answer = await asyncio.to_thread(
            rt.services.conversation.ask, chat_id, question_text, fallback_language=fallback
        )
    await asyncio.to_thread(rt.state.record_answer, question_text, abstained=answer.abstained)
    late = late_line(update, after=rt.settings.late_answer_seconds, lang=answer.language)
    body, keyboard = reply_for(rt, answer, version, late=late)
    options: dict[str, Any] = {"reply_markup": keyboard}
    if late and update.message is not None:  # show which question this answers
        options["reply_parameters"] = ReplyParameters(
            update.message.message_id, allow_sending_without_reply=True
        )
    await reply(update, context, body, sent=partial(metrics.record_question, answer), **options)


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


# -- buttons --------------------------------------------------------------------------------


async def context_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the paragraph around the answer's first quote, the cited sentence in bold."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    found = runtime(context).services.searcher.context(answer.quotes[0])
    await toast(context, query)
    await reply(update, context, fit_message(context_html(found, answer.language)))


async def more_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the next-best quotes of the answer."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context)) is None:
        return
    await toast(context, query)
    await reply(update, context, fit_message(more_html(answer.more, answer.language)))


async def vote_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store a 👍 or 👎 on the answer and thank the user with a toast."""
    query = update.callback_query
    if (answer := await _stored_answer(query, context, extras=("1", "-1"))) is None:
        return
    vote = 1 if decode(query.data).extra == "1" else -1
    ids = [i for quote in answer.quotes for i in quote.sentence_ids]
    await asyncio.to_thread(
        runtime(context).state.record_feedback,
        user_id=query.from_user.id,
        question=answer.question,
        sentence_ids=ids,
        vote=vote,
        quotes=[quote.text for quote in answer.quotes],
    )
    await toast(context, query, text("feedback_thanks", answer.language))


async def example_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the example question on the button, as if the user had typed it."""
    query = update.callback_query
    data, rt = decode(query.data), runtime(context)
    current = data.version == rt.version() and query.message is not None
    examples = rt.services.examples(data.key) if current and data.key in LANGUAGES else []
    if not data.extra.isdigit() or int(data.extra) >= len(examples):
        await expired_button(update, context)
        return
    await toast(context, query)
    await answer_question(update, context, examples[int(data.extra)])


async def expired_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell the user that a button is from an older answer and to ask again."""
    query = update.callback_query
    await toast(context, query, text("expired", user_language(query.from_user)))


async def _stored_answer(
    query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, *, extras: tuple[str, ...] = ("",)
) -> Answer | None:
    """The answer a button belongs to; None (after an "expired" toast) when it is stale or
    its data was not made by this bot (an argument other than `extras`)."""
    data: ButtonData | None = decode(query.data)
    rt = runtime(context)
    stale = data is None or data.version != rt.version() or query.message is None
    answer = None if stale or data.extra not in extras else rt.answers.get(data.key)
    if answer is None or not answer.quotes:
        await toast(context, query, text("expired", user_language(query.from_user)))
        return None
    return answer


# -- everything else ------------------------------------------------------------------------


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask for a typed question when a sticker, photo, voice message or the like arrives."""
    lang = user_language(update.effective_user)
    await reply(update, context, escape(text("not_text", lang)))


async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask the user to send an edited question again instead of answering it twice."""
    lang = user_language(update.effective_user)
    await reply(update, context, escape(text("edited", lang)))


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback and apologize to the user, if there is one.

    Polling that fails on the network (or on a second instance) is retried by PTB with
    backoff; that is logged once per outage, not with a traceback per retry.
    """
    rt: Runtime | None = context.bot_data.get(RUNTIME)
    error = context.error
    network = isinstance(error, NetworkError) and not isinstance(error, BadRequest)
    if update is None and rt is not None and (network or isinstance(error, Conflict)):
        rt.outbox.connection.failed(error, "polling for updates again with backoff")
        return
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or rt is None:
        return
    await _apologize(update, context, rt)


async def _apologize(update: Update, context: ContextTypes.DEFAULT_TYPE, rt: Runtime) -> None:
    """Stop a button's spinner and say sorry in the chat, each if still possible."""
    chat, query = update.effective_chat, update.callback_query
    sorry = escape(text("error", user_language(update.effective_user)))
    attempts = [(None, partial(query.answer))] if query is not None else []
    if chat is not None:
        attempts.append((chat.id, partial(context.bot.send_message, chat.id, sorry)))
    for chat_id, request in attempts:
        try:
            await rt.outbox.send(
                chat_id, request, urgent=chat_id is None, patience=APOLOGY_PATIENCE
            )
        except TelegramError as exc:  # e.g. the spinner was stopped already
            logger.debug("update %s: %s", update.update_id, exc)
