"""One way in for every question: clean → refuse → language → conversation → answer.

The Telegram bot (private chats, groups, buttons, inline mode), the console and
`python -m bot ask` all put what the user typed through a `Pipeline`, so a question is
cleaned, refused and given its language the same way wherever it is asked. Nothing here
knows Telegram: a refusal is plain text for the caller to escape or print.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.answering.i18n import text
from bot.retrieval.language import detect_language

if TYPE_CHECKING:
    from bot.answering.conversation import Conversation
    from bot.retrieval.answers import Answer

LANGUAGE_SAMPLE = 300  # characters a refused question's language is told from: it may be huge
_INVISIBLE = frozenset({"Cc", "Cf", "Mn"})  # Unicode categories clean_question drops


@dataclass(frozen=True, slots=True)
class Question:
    """A question fit to search and the language to answer it in."""

    text: str  # as `clean_question` leaves it
    language: str  # "de" or "en": the question's own, or the fallback where that is unclear


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a question is not searched: an i18n key ("too_long", "empty_question",
    "rate_limited"), the language to say it in and the values its text needs."""

    reason: str
    language: str
    values: dict[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The polite refusal (plain text)."""
        return text(self.reason, self.language, **self.values)


def clean_question(question: str) -> str:
    """The question as it reads: composed (NFC), without control characters, invisible
    format characters (zero-width spaces, direction marks, a BOM) and stray combining marks
    ("Zalgo" text), and with whitespace collapsed. None of these carry meaning for a search,
    and some hide words from it."""
    composed = unicodedata.normalize("NFC", question)
    kept = (ch for ch in composed if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE)
    return " ".join("".join(kept).split())


def question_problem(question: str, *, max_chars: int) -> str | None:
    """The i18n key of why `question` cannot be searched ("too_long", "empty_question"), or None."""
    if len(question) > max_chars:
        return "too_long"
    if not any(ch.isalnum() for ch in question):
        return "empty_question"  # whitespace, emoji or punctuation only
    return None


class Pipeline:
    """Checks questions and answers them through one `Conversation`."""

    def __init__(
        self,
        conversation: Conversation,
        *,
        examples: Callable[[str], list[str]],
        max_chars: int,
    ) -> None:
        self.conversation = conversation
        self.examples = examples
        self.max_chars = max_chars

    def check(
        self,
        raw: str,
        *,
        fallback_language: str | None = None,
        allow: Callable[[], bool] | None = None,
        max_chars: int | None = None,
    ) -> Question | Refusal:
        """`raw` cleaned, with its language; or why it is refused.

        `allow` counts the question against the asker's rate limit (only when it could be
        searched at all) and says whether it is within it; `fallback_language` (e.g. the
        Telegram app's language) decides when the question's own language is unclear.
        """
        question = clean_question(raw)
        limit = self.max_chars if max_chars is None else max_chars
        problem = question_problem(question, max_chars=limit)
        if problem is None and (allow is None or allow()):
            return Question(question, detect_language(question, fallback=fallback_language))
        lang = detect_language(question[:LANGUAGE_SAMPLE], fallback=fallback_language)
        if problem == "too_long":
            return Refusal(problem, lang, {"length": len(question), "limit": limit})
        if problem == "empty_question":
            return Refusal(problem, lang, {"example": (self.examples(lang) or ["?"])[0]})
        return Refusal("rate_limited", lang)

    def answer(self, chat: object | None, question: Question) -> Answer:
        """The answer to a checked question; a `chat` (any hashable key) remembers it for
        follow-ups, None asks it on its own (blocking: it searches)."""
        if chat is None:
            return self.conversation.searcher.answer(question.text, language=question.language)
        return self.conversation.ask(chat, question.text, language=question.language)

    def ask(
        self, chat: object | None, raw: str, *, fallback_language: str | None = None
    ) -> Answer | Refusal:
        """`check` then `answer`: the answer to `raw`, or why it is refused."""
        checked = self.check(raw, fallback_language=fallback_language)
        return checked if isinstance(checked, Refusal) else self.answer(chat, checked)
