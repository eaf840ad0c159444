"""Telegram's limits: questions per user (a moving window), inline query and reply lengths.

Every reply is kept under 4096 UTF-16 units. How questions are cleaned and refused is
`bot/answering/pipeline.py`; how replies are paced to Telegram's flood limits is
`bot/telegram/outbox.py`.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.answering.formatting import TELEGRAM_LIMIT, escape, html_to_text

INLINE_QUERY_LIMIT = 256  # Telegram's own limit on inline query text
INLINE_QUERIES_PER_QUESTION = 3  # apps send a query while the user is still typing


class QuestionLimiter:
    """A moving-window rate limit per user, e.g. "20/minute", kept in memory."""

    def __init__(self, rate: str) -> None:
        try:
            self.rate: RateLimitItem = parse(rate)
        except ValueError as exc:
            raise ValueError(f"RATE_LIMIT {rate!r} is not a rate like '20/minute'") from exc
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

        self.inline_rate: RateLimitItem = type(self.rate)(
            self.rate.amount * INLINE_QUERIES_PER_QUESTION, self.rate.multiples
        )

    def allow(self, user_id: int) -> bool:
        """Count one question of `user_id`; False when the user is over the limit."""
        return self._limiter.hit(self.rate, "questions", str(user_id))

    def allow_inline(self, user_id: int) -> bool:
        """Count one inline query of `user_id` (three per question of the rate)."""
        return self._limiter.hit(self.inline_rate, "inline", str(user_id))


def clip_inline_query(query: str) -> str:
    """An inline query cut to 256 characters without splitting a surrogate pair or a word."""
    query = " ".join(query.split())
    if len(query) <= INLINE_QUERY_LIMIT:
        return query
    cut = query[:INLINE_QUERY_LIMIT]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def fit_message(markup: str, *, limit: int = TELEGRAM_LIMIT) -> str:
    """`markup` unchanged if Telegram accepts its length, else its plain text, escaped and cut."""
    if _units(markup) <= limit:
        return markup
    plain = html_to_text(markup).strip()
    while plain and _units(escape(plain)) > limit - 1:
        excess = _units(escape(plain)) - (limit - 1)
        plain = plain[: len(plain) - max(excess // 5, 1)]  # "&amp;" is the widest escape
    return escape(plain) + "…"


def _units(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2
