"""What follows one update through its handling: its receipt, in a context variable.

PTB handles each update in a task of its own; `JournaledProcessor` sets the update's
`Receipt` there, and tasks the handler starts (`carried`) inherit it. The Outbox (the
bot's rate limiter) hands each reply to `journaled`, which numbers the replies sent for the
update and has each noted in the journal once Telegram accepted it; a reply whose number the
journal has from before a restart is not sent again. A command that changes what the bot
serves runs `once`: after a restart it is not carried out a second time. When the handler
and all its tasks are done, the update is marked answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import Update
from telegram.ext import SimpleUpdateProcessor

from bot.answering.formatting import escape
from bot.answering.i18n import text

if TYPE_CHECKING:
    from bot.telegram.durable import Durable

logger = logging.getLogger(__name__)

R = TypeVar("R")
DONE = -1  # the reply number that notes a command's work as carried out (see `once`)


@dataclass(eq=False)
class Receipt:
    """One update being handled: when it came, what it got before a restart, what is open."""

    owner: Durable
    update_id: int
    received_at: float  # Unix time
    sent_before: Mapping[int, int | None] = field(default_factory=dict)  # number: message_id
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


async def journaled(
    send: Callable[[], Awaitable[R | None]], stand_in: Callable[[int | None], R]
) -> R:
    """The result of `send()` for a reply to the update being handled, noted in the journal;
    `stand_in(message_id)` instead when it went out before a restart (it is not sent again)
    or when `send` could not tell (None: the server got it but did not answer in time)."""
    receipt = _receipt.get()
    if receipt is None:
        result = await send()
        return stand_in(None) if result is None else result
    number, receipt.replies = receipt.replies, receipt.replies + 1
    if number in receipt.sent_before:
        logger.info("update %s: reply %d went out before the restart", receipt.update_id, number)
        return stand_in(receipt.sent_before[number])
    result = await send()
    await receipt.owner.reply_sent(receipt, number, result)
    return stand_in(None) if result is None else result


async def once(work: Callable[[], Awaitable[None]], what: str) -> None:
    """Await `work()` unless it was done for this update before a restart; note it when done.

    For commands that change what the bot serves (a reindex, a rollback): handling their
    update again after a crash skips the replies that went out, and must not do the work a
    second time either.
    """
    receipt = _receipt.get()
    if receipt is not None and DONE in receipt.sent_before:
        logger.info("update %s: %s was done before the restart", receipt.update_id, what)
        return
    await work()
    if receipt is not None:
        await receipt.owner.reply_sent(receipt, DONE, None)
