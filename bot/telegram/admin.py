"""Admin commands, buttons and uploads: /status, /reindex, /docs, /remove, /rollback,
/feedback, /unanswered and new documents sent as files.

Only users listed in `admin_user_ids` may use them; anyone else gets a polite refusal, a log
line with their numeric id, and nothing about the documents or the index. A reindex runs in
a worker thread so the bot keeps answering questions meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.admin import Admin, DocumentError
from bot.errors import FetchError
from bot.formatting import escape
from bot.i18n import text
from bot.telegram.admin_texts import (
    docs_text,
    feedback_text,
    outcome_text,
    progress_text,
    reason_text,
    status_text,
    unanswered_text,
)
from bot.telegram.handlers import Runtime, runtime, user_language
from bot.telegram.limits import fit_message

logger = logging.getLogger(__name__)

ADMIN = "admin"
CALLBACK_PREFIX = "adm|"
CALLBACK_PATTERN = r"^adm\|"
EDIT_INTERVAL = 1.0  # seconds between two edits of a progress message


@dataclass(frozen=True, slots=True)
class Pending:
    """An action awaiting Yes/No: remove the document `name`, or store `data` as `name`
    (with `meta` merged into its metadata)."""

    kind: str  # "remove" or "replace"
    name: str
    data: bytes = b""
    meta: dict | None = None


@dataclass
class AdminState:
    """The Admin object, confirmations awaiting a tap and whether a reindex is under way."""

    admin: Admin
    pending: dict[str, Pending] = field(default_factory=dict)
    reindexing: bool = False


class _Progress:
    """Remembers the latest (stage, done, total) reported by the worker thread."""

    def __init__(self) -> None:
        self.latest: tuple[str, int, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.latest = (stage, done, total)


def admin_state(context: ContextTypes.DEFAULT_TYPE) -> AdminState:
    """The admin state of this bot, created on first use."""
    found = context.bot_data.get(ADMIN)
    if found is None:
        found = context.bot_data[ADMIN] = AdminState(Admin(runtime(context).services))
    return found


# -- commands -------------------------------------------------------------------------------


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show documents, index, uptime, counters, votes and the last reindex."""
    if await refused(update, context, "/status"):
        return
    lang = user_language(update.effective_user)
    body = await asyncio.to_thread(
        status_text, runtime(context), admin_state(context).admin.last, lang
    )
    await update.effective_message.reply_text(fit_message(body))


async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Rebuild the index in a worker thread, showing progress and then a change report."""
    if await refused(update, context, "/reindex"):
        return
    lang = user_language(update.effective_user)
    await reindex_with_status(context, update.effective_chat.id, lang)


async def docs(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the indexed documents with their ids."""
    if await refused(update, context, "/docs"):
        return
    lang = user_language(update.effective_user)
    await update.effective_message.reply_text(fit_message(docs_text(runtime(context), lang)))


async def remove(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask for confirmation before removing the document /remove names."""
    if await refused(update, context, "/remove"):
        return
    lang, message = user_language(update.effective_user), update.effective_message
    doc_id = context.args[0] if context.args else ""
    reply, keyboard = removal_question(context, doc_id, lang)
    await message.reply_text(reply, reply_markup=keyboard)


async def rollback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Serve the previous index version again and say which one serves now."""
    if await refused(update, context, "/rollback"):
        return
    lang = user_language(update.effective_user)
    reply = await asyncio.to_thread(rollback_text, runtime(context), admin_state(context), lang)
    await update.effective_message.reply_text(reply)


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the latest 👎 questions with the quotes they were given."""
    if await refused(update, context, "/feedback"):
        return
    lang = user_language(update.effective_user)
    body = await asyncio.to_thread(feedback_text, runtime(context), lang)
    await update.effective_message.reply_text(fit_message(body))


async def unanswered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the recent questions the bot abstained on."""
    if await refused(update, context, "/unanswered"):
        return
    lang = user_language(update.effective_user)
    body = await asyncio.to_thread(unanswered_text, runtime(context), lang)
    await update.effective_message.reply_text(fit_message(body))


async def upload(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Check a document an admin sent; store it and reindex, or ask before replacing one."""
    if await refused(update, context, "upload"):
        return
    lang, message = user_language(update.effective_user), update.effective_message
    try:
        name, data = await checked_upload(context, message)
    except DocumentError as exc:
        await message.reply_text(escape(refusal(exc, lang)))
        return
    await store_upload(context, message, name, data, lang)


async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Carry out (Yes) or drop (No) a removal or replacement an admin was asked about."""
    query = update.callback_query
    lang = user_language(query.from_user)
    if not query.data:  # PTB routes a button without data to the first button handler: here
        await query.answer(text("expired", lang))
        return
    if await refused(update, context, "button"):
        return
    _, _, rest = query.data.partition(CALLBACK_PREFIX)
    token, _, answer = rest.partition("|")
    action = admin_state(context).pending.pop(token, None)
    await query.answer(None if action else text("expired", lang))
    if action is not None and query.message is not None:
        await carry_out(context, query.message, action, answer == "y", lang)


# -- refusing non-admins --------------------------------------------------------------------


async def refused(update: Update, context: ContextTypes.DEFAULT_TYPE, what: str) -> bool:
    """True (after a polite refusal and a log line) unless the sender is an admin."""
    user = update.effective_user
    if user is not None and user.id in runtime(context).settings.admin_user_ids:
        return False
    logger.warning("refused admin command %s from user %s", what, user.id if user else None)
    refusal = escape(text("admin_refused", user_language(user)))
    if update.callback_query is not None:
        await update.callback_query.answer(refusal, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(refusal)
    return True


# -- reindexing -----------------------------------------------------------------------------


async def reindex_with_status(context: ContextTypes.DEFAULT_TYPE, chat_id: int, lang: str) -> None:
    """Run a reindex in a worker thread; one message shows its progress, then its report."""
    state = admin_state(context)
    if state.reindexing or state.admin.running:
        await context.bot.send_message(chat_id, escape(text("admin_already_running", lang)))
        return
    state.reindexing = True
    try:
        message = await context.bot.send_message(
            chat_id, escape(text("admin_reindex_started", lang))
        )
        progress = _Progress()
        work = asyncio.ensure_future(asyncio.to_thread(state.admin.reindex, progress))
        editor = _Editor(message)
        while not work.done():
            await asyncio.wait({work}, timeout=EDIT_INTERVAL)
            if not work.done():
                await editor.edit(progress_text(progress.latest, lang))
        await editor.edit(outcome_text(work, lang), final=True)
    finally:
        state.reindexing = False


class _Editor:
    """Edits one message, at most once per EDIT_INTERVAL and never with the same text."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.shown = message.text_html or ""
        self.at = time.monotonic()

    async def edit(self, body: str, *, final: bool = False) -> None:
        if body == self.shown:
            return
        wait = self.at + EDIT_INTERVAL - time.monotonic()
        if wait > 0:
            if not final:
                return
            await asyncio.sleep(wait)
        try:
            await self.message.edit_text(fit_message(body))
        except TelegramError as exc:  # a lost edit must not hide the reindex's outcome
            logger.warning("cannot edit the reindex message: %s", exc)
            if final:
                await self.message.get_bot().send_message(self.message.chat_id, fit_message(body))
        self.shown, self.at = body, time.monotonic()


# -- documents ------------------------------------------------------------------------------


def removal_question(
    context: ContextTypes.DEFAULT_TYPE, doc_id: str, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question whether to remove `doc_id`, with Yes/No buttons, or why not (HTML)."""
    if not doc_id:
        return escape(text("admin_remove_usage", lang)), None
    known = {d.doc_id for d in runtime(context).services.searcher.corpus.documents}
    if doc_id not in known:
        return escape(text("admin_no_such_document", lang, doc_id=doc_id)), None
    keyboard = confirm_keyboard(context, Pending("remove", doc_id), lang)
    return escape(text("admin_confirm_remove", lang, doc_id=doc_id)), keyboard


def confirm_keyboard(
    context: ContextTypes.DEFAULT_TYPE, action: Pending, lang: str
) -> InlineKeyboardMarkup:
    """Yes/No buttons for an action kept until one of them is tapped."""
    token = secrets.token_hex(4)
    admin_state(context).pending[token] = action
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text("admin_yes", lang), callback_data=f"adm|{token}|y"),
                InlineKeyboardButton(text("admin_no", lang), callback_data=f"adm|{token}|n"),
            ]
        ]
    )


async def checked_upload(context: ContextTypes.DEFAULT_TYPE, message: Message) -> tuple[str, bytes]:
    """The name and bytes of an uploaded document, downloaded only if small enough.

    Raises:
        DocumentError: the file is too large, has a bad name or is not usable text.
    """
    document = message.document
    limit = runtime(context).settings.max_upload_bytes
    if document is None:
        raise DocumentError("not a document", "not_a_document")
    if document.file_size and document.file_size > limit:
        raise DocumentError(
            f"the file is {document.file_size} bytes; the limit is {limit} bytes",
            "too_large", size=document.file_size, limit=limit,
        )  # fmt: skip
    name = document.file_name or ""
    file = await context.bot.get_file(document.file_id)
    data = bytes(await file.download_as_bytearray())
    await asyncio.to_thread(admin_state(context).admin.check_upload, name, data)
    return name, data


def refusal(
    error: DocumentError | FetchError, lang: str, *, key: str = "admin_upload_refused"
) -> str:
    """Why a file or page is refused, in the admin's language when the error names its reason."""
    prefix = "url_" if isinstance(error, FetchError) else "upload_"
    reason = reason_text(error.reason, error.values, str(error), lang, prefix=prefix)
    return text(key, lang, reason=reason)


async def store_upload(
    context: ContextTypes.DEFAULT_TYPE,
    message: Message,
    name: str,
    data: bytes,
    lang: str,
    *,
    meta: dict | None = None,
) -> None:
    """Save a checked upload and reindex, or first ask whether to replace the stored one."""
    state, action = admin_state(context), Pending("replace", name, data, meta)
    if await asyncio.to_thread(state.admin.exists, name):
        keyboard = confirm_keyboard(context, action, lang)
        await message.reply_text(
            escape(text("admin_confirm_replace", lang, name=name)), reply_markup=keyboard
        )
        return
    await carry_out(context, message, action, True, lang)


async def carry_out(
    context: ContextTypes.DEFAULT_TYPE,
    message: Message,
    action: Pending,
    confirmed: bool,
    lang: str,
) -> None:
    """Remove or store a document as confirmed, then reindex; or say nothing changed."""
    if message.from_user is not None and message.from_user.is_bot:  # under the buttons
        with contextlib.suppress(TelegramError):
            await message.edit_reply_markup(None)
    if not confirmed:
        await message.reply_text(escape(text("admin_cancelled", lang)))
        return
    admin, name = admin_state(context).admin, action.name
    if action.kind == "remove":
        await asyncio.to_thread(admin.remove_document, name)
        done = text("admin_removed", lang, doc_id=name)
    else:
        try:
            await asyncio.to_thread(admin.save_document, name, action.data, meta=action.meta)
        except DocumentError as exc:
            await message.reply_text(escape(refusal(exc, lang)))
            return
        except OSError as exc:
            await message.reply_text(escape(text("admin_upload_refused", lang, reason=str(exc))))
            return
        done = text("admin_saved", lang, name=name)
    await message.reply_text(escape(done))
    await reindex_with_status(context, message.chat_id, lang)


def rollback_text(rt: Runtime, state: AdminState, lang: str) -> str:
    """Roll back and say which version serves now, or why that was not possible (HTML)."""
    try:
        version_id = state.admin.rollback()
    except Exception as exc:  # IndexCorrupt: no previous version, or it is damaged
        logger.warning("rollback failed: %s", exc)
        return escape(text("admin_rollback_failed", lang, reason=str(exc)))
    digest = rt.services.searcher.version.manifest.index_sha256[:12]
    return escape(text("admin_rolled_back", lang, version=version_id, digest=digest))
