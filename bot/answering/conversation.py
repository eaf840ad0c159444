"""One step of a conversation: detect the language, resolve follow-ups, ask the Searcher.

Shared by the console and the Telegram bot so both answer exactly alike.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass

from bot.retrieval.answers import Answer
from bot.retrieval.language import detect_language
from bot.retrieval.lexical import fold, words
from bot.retrieval.search import Searcher

_MAX_FOLLOWUP_WORDS = 5
# Openers that continue the previous question: "und …", "what about …", "was ist mit …".
_OPENER = re.compile(
    r"^\W*(und|aber|and|but|was ist mit|wie (ist|steht) es mit|what about|how about)\b",
    re.IGNORECASE,
)
# Words that point back to what was asked or answered before ("who said that?").
_BACK_REFERENCES = frozenset(
    fold(w)
    for w in (
        "das dies dieses diese dazu dafür darüber davon damit daran dabei dort damals er sie es "
        "ihn ihm ihnen that this these those it he she they him her them there then"
    ).split()
)
# Words without a topic of their own that the lexical stop lists lack.
_NO_TOPIC = _BACK_REFERENCES | frozenset(
    fold(w)
    for w in (
        "about genau noch sonst seit viele mehr wieder else exactly again more many much"
    ).split()
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class _Turn:
    question: str
    at: float


def is_followup(question: str) -> bool:
    """True for short questions that only make sense after a previous one.

    Such a question has no topic words of its own ("und wann?", "Warum?"), or only as many
    as it has ties to the previous question: an opener ("Und Russland?", "What about
    Russia?") or a word pointing back ("Who said that?"). "Where did six officers die?" has
    topic words and no tie, so it stands alone.
    """
    if len(question.split()) > _MAX_FOLLOWUP_WORDS:
        return False
    topic = [w for w in words(question) if w not in _NO_TOPIC]
    ties = bool(_OPENER.match(question)) + _points_back(question)
    return len(topic) <= ties


def _points_back(question: str) -> bool:
    """True if a word refers back, e.g. "das" in "Wer hat das gesagt?" but not in "das Museum"."""
    tokens = _WORD.findall(question)
    for word, following in zip(tokens, [*tokens[1:], ""], strict=True):
        # Before a capitalized word, "das"/"that" is an article or determiner of a new topic.
        if fold(word) in _BACK_REFERENCES and not following[:1].isupper():
            return True
    return False


class Conversation:
    """Answers questions per chat, remembering each chat's last question for a while."""

    def __init__(
        self, searcher: Searcher, *, followup_seconds: float = 300, max_chats: int = 10_000
    ) -> None:
        self.searcher = searcher
        self.followup_seconds = followup_seconds
        self._last: OrderedDict[object, _Turn] = OrderedDict()
        self._max_chats = max_chats

    def ask(
        self,
        chat: object,
        question: str,
        *,
        language: str | None = None,
        fallback_language: str | None = None,
    ) -> Answer:
        """Answer `question` in chat `chat` (any hashable key) in `language`, by default the
        question's own (bot/answering/pipeline.py decides it for the bot, the console and
        the CLI)."""
        language = language or detect_language(question, fallback=fallback_language)
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
