"""What admin commands change: the admin state, reindexing with a progress message, rollback.

A reindex runs in a worker thread so the bot keeps answering questions meanwhile; one
message shows its progress and then its report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from telegram import Message
from telegram.error import TelegramError

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.app.admin import Admin
from bot.telegram.admin_texts import outcome_text, progress_text
from bot.telegram.context import Context, Runtime
from bot.telegram.limits import fit_message

logger = logging.getLogger(__name__)

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


def admin_state(context: Context) -> AdminState:
    """The admin state of this bot, created on first use."""
    if context.bot_data.admin is None:
        context.bot_data.admin = AdminState(Admin(context.runtime.services))
    return context.bot_data.admin


class _Progress:
    """Remembers the latest (stage, done, total) reported by the worker thread."""

    def __init__(self) -> None:
        self.latest: tuple[str, int, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.latest = (stage, done, total)


async def reindex_with_status(context: Context, chat_id: int, lang: str) -> None:
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


def rollback_text(rt: Runtime, state: AdminState, lang: str) -> str:
    """Roll back and say which version serves now, or why that was not possible (HTML)."""
    try:
        version_id = state.admin.rollback()
    except Exception as exc:  # IndexCorrupt: no previous version, or it is damaged
        logger.warning("rollback failed: %s", exc)
        return escape(text("admin_rollback_failed", lang, reason=str(exc)))
    digest = rt.services.searcher.version.manifest.index_sha256[:12]
    return escape(text("admin_rolled_back", lang, version=version_id, digest=digest))
