"""`/add <url>`: an admin adds a web page (or a document on the web) as a document.

The page is fetched with the checks of bot/app/fetch.py (http and https only, private
addresses refused unless ALLOW_PRIVATE_URLS, every redirect checked, size and time
limits), validated like an upload, stored in DOCUMENTS_DIR under a name made from its
address with the address in its `.meta.json`, and indexed like an upload.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from telegram import Message, Update
from telegram.constants import ChatAction

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.app.fetch import fetch, page_name
from bot.errors import DocumentError, FetchError
from bot.telegram.context import Context
from bot.telegram.handlers.documents import refusal, store_upload
from bot.telegram.handlers.reindexing import admin_state
from bot.telegram.handlers.replies import refused, user_language
from bot.telegram.receipts import once

logger = logging.getLogger(__name__)


async def add(update: Update, context: Context) -> None:
    """Fetch the page /add names, store it as a document and reindex."""
    if await refused(update, context, "/add"):
        return
    lang, message = user_language(update.effective_user), update.effective_message
    if not context.args:
        await message.reply_text(escape(text("admin_add_usage", lang)))
        return
    await once(partial(_add_page, context, message, lang), "/add")


async def _add_page(context: Context, message: Message, lang: str) -> None:
    await context.bot.send_chat_action(message.chat_id, ChatAction.TYPING)
    try:
        name, data, meta = await fetched_document(context, context.args[0])
    except (FetchError, DocumentError) as exc:
        logger.warning("not adding %s: %s", context.args[0], exc)
        await message.reply_text(escape(refusal(exc, lang, key="admin_add_refused")))
        return
    await store_upload(context, message, name, data, lang, meta=meta)


async def fetched_document(context: Context, url: str) -> tuple[str, bytes, dict[str, str]]:
    """The file name, bytes and metadata of the document at `url`, fetched and checked.

    Raises:
        FetchError: the address is refused, or the page cannot be fetched.
        DocumentError: what arrived is not a usable document (no main text, a scan …).
    """
    settings = context.runtime.settings
    fetched = await fetch(
        url,
        max_bytes=settings.max_upload_bytes,
        timeout=settings.fetch_timeout_seconds,
        allow_private=settings.allow_private_urls,
    )
    name = page_name(url, fetched.suffix)  # the address given: adding it again replaces it
    await asyncio.to_thread(admin_state(context).admin.check_upload, name, fetched.data)
    logger.info("fetched %s (%d bytes) as %s", fetched.url, len(fetched.data), name)
    return name, fetched.data, {"url": fetched.url}
