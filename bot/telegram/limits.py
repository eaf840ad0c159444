"""What the bot refuses before searching: too many questions, too long or empty ones.

Also the last guard on every reply: Telegram rejects messages over 4096 UTF-16 units.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bot.formatting import TELEGRAM_LIMIT, escape, html_to_text

INLINE_QUERY_LIMIT = 256  # Telegram's own limit on inline query text


class QuestionLimiter:
    """A moving-window rate limit per user, e.g. "20/minute", kept in memory."""

    def __init__(self, rate: str) -> None:
        try:
            self.rate: RateLimitItem = parse(rate)
        except ValueError as exc:
            raise ValueError(f"RATE_LIMIT {rate!r} is not a rate like '20/minute'") from exc
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, user_id: int) -> bool:
        """Count one question of `user_id`; False when the user is over the limit."""
        return self._limiter.hit(self.rate, "questions", str(user_id))


def question_problem(question: str, *, max_chars: int) -> str | None:
    """The i18n key of why `question` cannot be searched ("too_long", "empty_question"), or None."""
    if len(question) > max_chars:
        return "too_long"
    if not any(ch.isalnum() for ch in question):
        return "empty_question"  # whitespace, emoji or punctuation only
    return None


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
