"""What follows one update through its handling: its receipt, in a context variable.

PTB handles each update in a task of its own; `JournaledProcessor` sets the update's
`Receipt` there, and tasks the handler starts (`carried`) inherit it. `JournaledOutbox`
numbers the replies sent for the update and has each noted in the journal once Telegram
accepted it; a reply whose number the journal has from before a restart is not sent again.
When the handler and all its tasks are done, the update is marked answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import SimpleUpdateProcessor

from bot.formatting import escape
from bot.i18n import text
from bot.telegram.outbox import Outbox

if TYPE_CHECKING:
    from bot.telegram.durable import Durable

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Receipt:
    """One update being handled: when it came, what it got before a restart, what is open."""

    owner: Durable
    update_id: int
    received_at: float  # Unix time
    sent_before: frozenset[int] = frozenset()
    replies: int = 0  # replies sent (or skipped as sent before) so far: the next one's number
    open: int = 1  # the handler, plus each task it started that has not finished


_receipt: ContextVar[Receipt | None] = ContextVar("receipt", default=None)


def carried(work: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None]:
    """`work`, to run in a task of its own: its update counts as answered only after it."""
    receipt = _receipt.get()
    if receipt is None:
        return work
    receipt.open += 1

    async def carrying() -> None:
        try:
            await work
        finally:
            await receipt.owner.release(receipt)

    return carrying()


def asked_at(update: Update) -> float:
    """When the user asked (Unix time): the message's date, else when the bot received it."""
    if update.message is not None:
        return update.message.date.timestamp()
    receipt = _receipt.get()
    return receipt.received_at if receipt is not None else time.time()


def late_line(update: Update, *, after: float, lang: str) -> str:
    """For a question that waited longer than `after` seconds, the line saying when it was
    received (HTML); else ""."""
    asked = asked_at(update)
    if time.time() - asked <= after:
        return ""
    moment = datetime.fromtimestamp(asked, UTC)
    day, clock = moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M")
    return escape(text("late_answer", lang, date=day, time=clock))


class JournaledProcessor(SimpleUpdateProcessor):
    """Handles updates like PTB's own processor, with each one's receipt set while it runs."""

    def __init__(self, max_concurrent_updates: int, *, durable: Durable) -> None:
        super().__init__(max_concurrent_updates)
        self.durable = durable

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        receipt = self.durable.take_up(update)
        token = _receipt.set(receipt)
        try:
            await coroutine
        finally:
            _receipt.reset(token)
            if receipt is not None:
                await self.durable.release(receipt)


class JournaledOutbox(Outbox):
    """The Outbox, noting each reply to an update in the journal once Telegram accepted it,
    and skipping a reply that went out before a restart."""

    def __init__(self, durable: Durable, **options: Any) -> None:
        super().__init__(**options)
        self.durable = durable

    async def send(self, chat_id: int | None, request: Any, **options: Any) -> Any:
        receipt = _receipt.get()
        if receipt is None:
            return await super().send(chat_id, request, **options)
        number, receipt.replies = receipt.replies, receipt.replies + 1
        if number in receipt.sent_before:
            logger.info(
                "update %s: reply %d went out before the restart", receipt.update_id, number
            )
            return None
        result = await super().send(chat_id, request, **options)
        await self.durable.reply_sent(receipt, number, result)
        return result
