"""Documents an admin sends, adds or removes: checks, Yes/No confirmations, then a reindex."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from functools import partial

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.app.admin import DocumentError
from bot.errors import FetchError
from bot.telegram.admin_texts import reason_text
from bot.telegram.context import Context
from bot.telegram.handlers.reindexing import Pending, admin_state, reindex_with_status
from bot.telegram.handlers.replies import refused, user_language
from bot.telegram.receipts import once

CALLBACK_PREFIX = "adm|"
CALLBACK_PATTERN = r"^adm\|"


async def upload(update: Update, context: Context) -> None:
    """Check a document an admin sent; store it and reindex, or ask before replacing one."""
    if await refused(update, context, "upload"):
        return
    lang, message = user_language(update.effective_user), update.effective_message
    await once(partial(_take_upload, context, message, lang), "an upload")


async def _take_upload(context: Context, message: Message, lang: str) -> None:
    try:
        name, data = await checked_upload(context, message)
    except DocumentError as exc:
        await message.reply_text(escape(refusal(exc, lang)))
        return
    await store_upload(context, message, name, data, lang)


async def confirm_button(update: Update, context: Context) -> None:
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
        work = partial(carry_out, context, query.message, action, answer == "y", lang)
        await once(work, f"{action.kind} {action.name}")


def removal_question(
    context: Context, doc_id: str, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question whether to remove `doc_id`, with Yes/No buttons, or why not (HTML)."""
    if not doc_id:
        return escape(text("admin_remove_usage", lang)), None
    known = {d.doc_id for d in context.runtime.services.searcher.corpus.documents}
    if doc_id not in known:
        return escape(text("admin_no_such_document", lang, doc_id=doc_id)), None
    keyboard = confirm_keyboard(context, Pending("remove", doc_id), lang)
    return escape(text("admin_confirm_remove", lang, doc_id=doc_id)), keyboard


def confirm_keyboard(context: Context, action: Pending, lang: str) -> InlineKeyboardMarkup:
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


async def checked_upload(context: Context, message: Message) -> tuple[str, bytes]:
    """The name and bytes of an uploaded document, downloaded only if small enough.

    Raises:
        DocumentError: the file is too large, has a bad name or is not usable text.
    """
    document = message.document
    limit = context.runtime.settings.max_upload_bytes
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
    context: Context,
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
    context: Context, message: Message, action: Pending, confirmed: bool, lang: str
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
