"""One step of a conversation: detect the language, resolve follow-ups, ask the Searcher.

Shared by the console and the Telegram bot so both answer exactly alike.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass

from bot.answers import Answer
from bot.language import detect_language
from bot.search import Searcher

# Short questions that lean on the previous one: "und wann?", "what about Russia?", "who said that?"
_FOLLOWUP = re.compile(
    r"^\s*(und|aber|und was|was ist mit|wie ist es mit|and|but|what about|how about|who said that"
    r"|wer hat das gesagt|warum|wieso|why|when|wann|wo|where)\b",
    re.IGNORECASE,
)
_MAX_FOLLOWUP_WORDS = 5


@dataclass(frozen=True, slots=True)
class _Turn:
    question: str
    at: float


def is_followup(question: str) -> bool:
    """True for short questions that only make sense after a previous one."""
    words = question.split()
    return len(words) <= _MAX_FOLLOWUP_WORDS and bool(_FOLLOWUP.match(question))


class Conversation:
    """Answers questions per chat, remembering each chat's last question for a while."""

    def __init__(self, searcher: Searcher, *, followup_seconds: float = 300, max_chats: int = 10_000) -> None:
        self.searcher = searcher
        self.followup_seconds = followup_seconds
        self._last: OrderedDict[object, _Turn] = OrderedDict()
        self._max_chats = max_chats

    def ask(self, chat: object, question: str, *, fallback_language: str | None = None) -> Answer:
        """Answer `question` in chat `chat` (any hashable key) in the question's language."""
        language = detect_language(question, fallback=fallback_language)
        now = time.monotonic()
        previous = self._last.get(chat)
        query = question
        if previous and now - previous.at <= self.followup_seconds and is_followup(question):
            query = f"{previous.question} {question}"
        answer = self.searcher.answer(query, language=language)
        self._remember(chat, _Turn(question if query == question else query, now))
        return answer

    def forget(self, chat: object) -> None:
        self._last.pop(chat, None)

    def _remember(self, chat: object, turn: _Turn) -> None:
        self._last[chat] = turn
        self._last.move_to_end(chat)
        while len(self._last) > self._max_chats:
            self._last.popitem(last=False)
