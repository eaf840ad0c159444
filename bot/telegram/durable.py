"""Nothing fetched is lost to a crash, and nothing is answered twice: the journal at work.

Each update is written to the journal (`bot.app.journal`) before Telegram is told to forget it:
the getUpdates request (`updates.py`) hands a fetched batch to `Durable.admit` before PTB
sees it, so the next getUpdates only confirms what is on disk; the webhook answers 200 only
after the same. An update the journal already has (Telegram sends one again when the bot
died before confirming it) is replaced by an empty update no handler takes up.

While an update is handled, its `Receipt` (`receipts.py`) follows it into the tasks its
handler starts: each reply sent for it is noted in the journal the moment Telegram has
accepted it, and once the handler and its replies are done, the update is marked answered.
On start, `replay` puts the updates still pending back into the Application's queue, and
the replies they got before the crash are not sent again.

What remains: a crash between Telegram accepting a reply and its note in the journal (the
response's way back to the bot, then one SQLite write of about 30 µs) sends that reply
again after the restart.

A journal that fails (full disk, read-only file, a lock held elsewhere) does not stop the
bot: it logs one line, answers on without it, says so in /status and /healthz, and tries
the journal again every RETRY_SECONDS (one more line when it works again).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import Application, ExtBot

from bot.app import metrics
from bot.app.journal import BUSY_SECONDS, Journal, Pending
from bot.telegram.receipts import Receipt

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_SECONDS = 10.0  # while the journal fails, how long to do without it before trying again
PRUNE_EVERY = 1000  # fetched batches between two deletions of old journal rows
READY_SECONDS = 30.0  # how long a webhook request waits for the journal to open


@dataclass(frozen=True, slots=True)
class Durability:
    """Whether the journal works; if not, since when (Unix time) and why."""

    degraded: bool
    problem: str | None = None
    since: float | None = None


class Durable:
    """The journal of one bot: written in a worker thread of its own, so the event loop never
    waits for it, except for the short notes after a reply (see `_now`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ready = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._lock = threading.Lock()  # the connection: the journal's thread or the event loop
        self._journal: Journal | None = None
        self._bot_id: int | None = None
        self._problem: str | None = None
        self._since: float | None = None
        self._retry_at = 0.0
        self._closed = False
        self._batches = 0
        self._here: dict[int, float] = {}  # admitted or replayed, not taken up: received at
        self._handling: set[int] = set()  # taken up, not yet answered
        self._replayed: dict[int, Pending] = {}

    @property
    def durability(self) -> Durability:
        return Durability(self._problem is not None, self._problem, self._since)

    @property
    def unanswered(self) -> int:
        """Updates written to the journal and not yet answered: queued, or being handled
        (the handler or a reply it started is still at work)."""
        return len(self._here) + len(self._handling)

    async def open(self, *, bot_id: int) -> None:
        """Open the journal (or note that it cannot be) and delete rows no longer needed."""
        self._bot_id = bot_id
        await self._call(lambda journal: journal.prune(), None)
        self.ready.set()

    async def close(self) -> None:
        """Close the journal once everything queued for it is written."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._shut)
        self._executor.shutdown(wait=True)

    async def admit(self, raws: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A fetched batch made durable: `raws` with each update the journal already had
        replaced by an empty one (only its update_id), which no handler takes up."""
        if not raws:
            return raws
        batch = [(raw["update_id"], raw if len(raw) > 1 else None) for raw in raws]
        self._batches += 1
        prune = self._batches % PRUNE_EVERY == 0

        def record(journal: Journal) -> set[int]:
            new = journal.record(batch)
            if prune:
                journal.prune()
            return new

        new = await self._call(record, None)
        if new is None:  # the journal failed: answer the batch without it
            return raws
        now = time.time()
        self._here.update((update_id, now) for update_id, raw in batch if raw and update_id in new)
        known = [raw["update_id"] for raw in raws if raw["update_id"] not in new]
        if known:
            logger.info(
                "%d updates (ids %s to %s) were fetched before: not handled again",
                len(known), known[0], known[-1],
            )  # fmt: skip
        return [raw if raw["update_id"] in new else {"update_id": raw["update_id"]} for raw in raws]

    async def replay(self, application: Application) -> int:
        """Queue the updates fetched before the last stop and not answered; returns how many."""
        found = await self._call(lambda journal: journal.pending(), None)
        if found is None:
            return 0
        pending, abandoned = found
        for update_id in abandoned:
            logger.warning(
                "giving up on update %s: the bot stopped every time before it was answered",
                update_id,
            )
        queued = 0
        for entry in pending:
            if entry.update_id in self._here:  # came in through the webhook while loading
                continue
            try:
                update = Update.de_json(entry.raw, application.bot)
            except Exception as exc:  # e.g. a library update that reads it differently now
                logger.warning("cannot handle update %s again (%s)", entry.update_id, exc)
                continue
            if isinstance(application.bot, ExtBot):
                application.bot.insert_callback_data(update)
            self._here[entry.update_id] = entry.received_at
            self._replayed[entry.update_id] = entry
            await application.update_queue.put(update)
            queued += 1
        if queued:
            logger.info("handling %d updates fetched before the last stop again", queued)
        return queued

    def take_up(self, update: object) -> Receipt | None:
        """The receipt for an update about to be handled (None: nothing to note for it)."""
        if not isinstance(update, Update) or update.update_id not in self._here:
            return None
        if not any(getattr(update, kind) is not None for kind in Update.ALL_TYPES):
            return None  # emptied: fetched before, or unreadable
        received_at = self._here.pop(update.update_id)
        self._handling.add(update.update_id)
        entry = self._replayed.pop(update.update_id, None)
        sent_before = entry.sent if entry is not None else {}
        return Receipt(self, update.update_id, received_at, sent_before)

    async def reply_sent(self, receipt: Receipt, number: int, result: object) -> None:
        """Note in the journal that reply `number` of the receipt's update went out (`result`:
        the Bot API's answer, whose message_id is kept)."""
        sent_at, started = time.time(), time.perf_counter()
        message_id = result.get("message_id") if isinstance(result, dict) else None
        note = partial(
            Journal.reply_sent, update_id=receipt.update_id, number=number,
            message_id=message_id, sent_at=sent_at,
        )  # fmt: skip
        await self._now(lambda journal: note(journal), None)
        metrics.REPLY_JOURNALED_SECONDS.observe(time.perf_counter() - started)

    async def release(self, receipt: Receipt) -> None:
        """One part of handling the update is done; the last one marks it answered."""
        receipt.open -= 1
        if receipt.open == 0:
            await self._now(lambda journal: journal.answered(receipt.update_id), None)
            self._handling.discard(receipt.update_id)

    async def _call(self, work: Callable[[Journal], T], fallback: T) -> T:
        """`work(journal)` in the journal's thread; `fallback` while the journal fails."""
        if self._skipping():
            return fallback
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, self._run, work)
        except Exception as exc:  # sqlite3.Error or OSError: a full disk, a read-only file
            self._failed(exc)
            return fallback
        self._worked()
        return result

    async def _now(self, work: Callable[[Journal], T], fallback: T) -> T:
        """`work(journal)` right here if the journal is free, else in its thread.

        For the notes after a reply went out: until one is written, a crash sends that
        reply again, and under load a thread can wait for its turn far longer than the
        write takes (about 30 µs; nothing is fsynced). Never waits here for a lock: one held
        by the journal's thread or another process sends the work to the thread.
        """
        if self._skipping():
            return fallback
        if self._journal is None or not self._lock.acquire(blocking=False):
            return await self._call(work, fallback)
        try:
            self._journal.patience(0.0)
            result = work(self._journal)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                self._failed(exc)
                return fallback
        except Exception as exc:
            self._failed(exc)
            return fallback
        else:
            self._worked()
            return result
        finally:
            self._lock.release()
        return await self._call(work, fallback)  # busy: wait in the thread

    def _skipping(self) -> bool:
        """True once closed, and for RETRY_SECONDS after the journal failed."""
        return self._closed or (self._problem is not None and time.monotonic() < self._retry_at)

    def _run(self, work: Callable[[Journal], T]) -> T:
        with self._lock:
            if self._journal is None:
                self._journal = Journal(self.path, bot_id=self._bot_id or 0)
            self._journal.patience(BUSY_SECONDS)
            return work(self._journal)

    def _shut(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def _failed(self, exc: Exception) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if self._problem is None:
            self._problem, self._since = f"{type(exc).__name__}: {exc}", time.time()
            metrics.JOURNAL_DEGRADED.set(1)
            logger.warning(
                "the update journal %s fails (%s): answering on without it, but a crash now "
                "can lose or repeat answers; trying again every %.0f s",
                self.path, self._problem, RETRY_SECONDS,
            )  # fmt: skip

    def _worked(self) -> None:
        if self._problem is not None:
            logger.warning(
                "the update journal works again after %.0f s", time.time() - (self._since or 0)
            )
            self._problem = self._since = None
            metrics.JOURNAL_DEGRADED.set(0)
