"""Every Bot API call within Telegram's flood limits, retried when the way to Telegram fails.

The `Outbox` is the bot's PTB rate limiter (`ApplicationBuilder().rate_limiter`), so every
request the bot makes passes through it, whoever makes it: it keeps to about 30 requests a
second per bot, one message a second per chat and 20 a minute per group instead of running
into 429s, and retries what fails on the way (429, 5xx, lost connections) with backoff. An
outage is logged once when it starts and once when it ends, not on every retry. Replies to
an update are numbered and noted in the journal on their way (`receipts.journaled`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import BaseRateLimiter

from bot.telegram.receipts import journaled

logger = logging.getLogger(__name__)

T = TypeVar("T")

PER_SECOND = 30  # Telegram: about 30 messages a second per bot
CHAT_INTERVAL = 1.0  # seconds between two messages in one chat
GROUP_PER_MINUTE = 20  # and 20 a minute per group
PATIENCE = 25.0  # seconds a reply is retried: within systemd's 30 s to stop, if it must
MAX_BACKOFF = 10.0
NEW_OUTAGE_AFTER = 60.0  # seconds without failures: PTB's polling retries at least every 30 s
# Answers to button taps and inline queries go first: the user is watching a spinner.
URGENT = frozenset({"answerCallbackQuery", "answerInlineQuery"})
# Typing indicators do not count against the flood limits and must not wait behind replies.
UNPACED = frozenset({"sendChatAction"})
# The replies to an update: numbered and noted in the journal, not sent again after a crash.
# Edits are not (a reindex edits its message as often as its progress changes).
JOURNALED = frozenset({"sendMessage", "sendDocument", "answerCallbackQuery", "answerInlineQuery"})

Result = bool | dict[str, Any] | list[dict[str, Any]]
RateLimitArgs = dict[str, float]  # {"patience": seconds a request may be retried}


class Connection:
    """Whether the Bot API server answers: logs an outage when it starts and when it ends."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.failures = 0
        self._last_failure = 0.0

    def failed(self, error: TelegramError, consequence: str) -> None:
        """Note a failed request and what happens about it; only an outage's first is logged."""
        now = time.monotonic()
        if self.down_since is None or now - self._last_failure > NEW_OUTAGE_AFTER:
            self.down_since, self.failures = now, 0
            logger.warning("Bot API trouble: %s; %s", describe(error), consequence)
        self.failures += 1
        self._last_failure = now

    def answered(self) -> None:
        """Note a request that went through; ends an outage, if there was one."""
        if self.down_since is None:
            return
        logger.warning(
            "Bot API answers again after %.1f s (%d failed requests)",
            time.monotonic() - self.down_since,
            self.failures,
        )
        self.down_since = None


def describe(error: BaseException) -> str:
    """One line on a Telegram or network error, with the underlying cause."""
    line, cause = f"{type(error).__name__}: {error}", error.__cause__
    if isinstance(cause, httpx.HTTPError) and type(cause).__name__ not in line:
        line += f" ({type(cause).__name__})"  # e.g. which timeout: connect, read or pool
    return line


class Slots:
    """At most `limit` requests per `period` seconds, as the server counts them.

    A slot is held from before a request starts until `period` seconds after it ended, so
    no window of `period` seconds sees more than `limit` arrivals, however slow the network.
    Waiters are served by priority (lower first), then in order.
    """

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period, self.free = limit, period, limit
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def idle(self) -> bool:
        return self.free == self.limit and not self._waiters

    async def acquire(self, priority: int = 1) -> None:
        if self.free and not self._waiters:
            self.free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._hand_on()  # granted just before the cancellation: pass the slot on
            raise

    def release(self) -> None:
        """Give the slot back `period` seconds from now."""
        asyncio.get_running_loop().call_later(self.period, self._hand_on)

    def _hand_on(self) -> None:
        while self._waiters:
            _, _, granted = heapq.heappop(self._waiters)
            if not granted.done():
                granted.set_result(None)
                return
        self.free += 1


class Outbox(BaseRateLimiter[RateLimitArgs]):
    """Paces and retries every Bot API request (PTB's rate limiter interface).

    A request waits for a slot of its chat when it puts or changes a message there (one
    each `chat_interval` seconds, by default Telegram's one a second; in groups also 20 a
    minute) and for one of the bot (30 a second; answers to button taps and inline queries
    go first), then is made. A 429 waits its retry_after; a 5xx, a lost connection or a
    connect timeout backs off (0.5 s doubling to 10 s, jittered) and tries again, for up to
    `patience` seconds (a call may pass its own as
    `rate_limit_args={"patience": seconds}`). PTB's interface leaves errors other than 429
    to the caller; these are retried here because they are the way's, not the request's.
    A request the server received but did not answer in time (read timeout) is not sent
    again, since it may have arrived: one reply twice is worse than one reply late.
    """

    def __init__(
        self,
        *,
        per_second: int = PER_SECOND,
        chat_interval: float = CHAT_INTERVAL,
        patience: float = PATIENCE,
    ) -> None:
        self.patience, self.chat_interval = patience, chat_interval
        self.connection = Connection()
        self.stats: dict[str, int] = {"429 waited out": 0, "retried": 0, "given up": 0}
        self._bot = Slots(per_second, 1.0)
        self._chats: dict[int | str, list[Slots]] = {}

    async def initialize(self) -> None:
        """Nothing to open: slots are made as chats come."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: RateLimitArgs | None,
    ) -> Result:
        """The result of `callback(*args, **kwargs)`, made within the limits (see the class)."""
        patience = (rate_limit_args or {}).get("patience", self.patience)
        chat_id = data.get("chat_id") if _in_chat(endpoint) else None
        send = partial(
            self.send,
            chat_id,
            partial(callback, *args, **kwargs),
            urgent=endpoint in URGENT,
            paced=endpoint not in UNPACED,
            patience=patience,
            may_arrive=endpoint in JOURNALED or _in_chat(endpoint),
        )
        stand_in = partial(_stand_in, endpoint, data)
        if endpoint in JOURNALED:
            return await journaled(send, stand_in)
        result = await send()
        return stand_in(None) if result is None else result

    async def send(
        self,
        chat_id: int | str | None,
        request: Callable[[], Awaitable[T]],
        *,
        urgent: bool = False,
        paced: bool = True,
        patience: float | None = None,
        may_arrive: bool = True,
    ) -> T | None:
        """The result of `request()`, made within the limits of `chat_id` (None: no chat).

        Unless `paced`, the request takes no slot and only a 429 is waited out (a typing
        indicator: the retries would only hold up the answer it announces).
        Returns None when the server got the request but did not answer it in time, if it
        `may_arrive` (a message); else that timeout is raised like any other error.
        Raises the request's error when it cannot succeed or patience runs out.
        """
        deadline = time.monotonic() + (self.patience if patience is None else patience)
        for attempt in itertools.count():
            try:
                if paced:
                    result = await self._paced(chat_id, request, urgent)
                else:
                    result = await request()
            except TelegramError as exc:
                wait = retry_wait(exc, attempt) if paced or isinstance(exc, RetryAfter) else None
                if wait is None and may_arrive and _maybe_delivered(exc):
                    self.connection.failed(exc, "a reply is not sent again: it may have arrived")
                    return None
                if wait is None or time.monotonic() + wait > deadline:
                    self.stats["given up"] += wait is not None
                    raise
                if isinstance(exc, RetryAfter):
                    self.stats["429 waited out"] += 1
                else:
                    self.stats["retried"] += 1
                    self.connection.failed(exc, f"retrying replies for up to {self.patience:.0f} s")
                await asyncio.sleep(wait)
            else:
                self.connection.answered()
                return result
        raise AssertionError("unreachable")

    async def _paced(
        self, chat_id: int | str | None, request: Callable[[], Awaitable[T]], urgent: bool
    ) -> T:
        held: list[Slots] = []
        try:
            for slots in [*self._chat(chat_id), self._bot]:
                await slots.acquire(0 if urgent else 1)
                held.append(slots)
            return await request()
        finally:
            for slots in held:
                slots.release()

    def _chat(self, chat_id: int | str | None) -> list[Slots]:
        if chat_id is None:
            return []
        if len(self._chats) > 1000:  # forget chats that have been quiet for a while
            self._chats = {k: v for k, v in self._chats.items() if not all(s.idle for s in v)}
        if chat_id not in self._chats:
            group = [Slots(GROUP_PER_MINUTE, 60.0)] if _is_group(chat_id) else []
            self._chats[chat_id] = [Slots(1, self.chat_interval), *group]
        return self._chats[chat_id]


def retry_wait(error: TelegramError, attempt: int) -> float | None:
    """Seconds to wait before trying a failed request again, or None if it must not be."""
    if isinstance(error, RetryAfter):
        with warnings.catch_warnings():  # PTB warns that retry_after becomes a timedelta
            warnings.simplefilter("ignore", DeprecationWarning)
            after = error.retry_after
        seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
        return seconds + 0.1
    if isinstance(error, BadRequest) or not isinstance(error, NetworkError):
        return None  # Telegram refused the request itself: sending it again changes nothing
    if isinstance(error, TimedOut) and _maybe_delivered(error):
        return None
    return min(MAX_BACKOFF, 0.5 * 2**attempt) * random.uniform(0.5, 1.0)


def _maybe_delivered(error: TelegramError) -> bool:
    """True for a timeout after the request was sent (it may have taken effect)."""
    cause = error.__cause__
    return isinstance(error, TimedOut) and isinstance(
        cause, (httpx.ReadTimeout, httpx.WriteTimeout)
    )


def _in_chat(endpoint: str) -> bool:
    """True for requests that put a message into a chat or change one there."""
    return endpoint.startswith(("send", "edit", "copy", "forward")) and endpoint not in UNPACED


def _is_group(chat_id: int | str) -> bool:
    return isinstance(chat_id, int) and chat_id < 0


def _stand_in(endpoint: str, data: dict[str, Any], message_id: int | None) -> Result:
    """What stands for the answer to a request not made now (sent before a restart) or not
    answered in time: the message as sent, with its id when the journal has it; else True."""
    if not endpoint.startswith("send"):
        return True
    chat_id = data.get("chat_id")
    kind = "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup"
    return {
        "message_id": message_id or 0,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": kind},
        "text": data.get("text", ""),
    }
