"""Inline keyboards under answers, and the callback data their buttons carry.

Callback data is limited to 64 bytes, so a button carries only a kind, a tag of the index it
was made for (its model and documents, so a reindex that changes nothing keeps it) and a
short key; the answer itself waits in a small in-memory LRU. A button whose tag is not the
serving one, or whose key has been evicted or was issued before a restart, is stale: the bot
then asks the user to ask again instead of quoting the wrong text. So is any data this bot
did not make.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answering.i18n import text
from bot.retrieval.answers import Answer

CONTEXT, MORE, VOTE, EXAMPLE = "c", "m", "v", "q"
KINDS = (CONTEXT, MORE, VOTE, EXAMPLE)
SEPARATOR = "|"
MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True, slots=True)
class ButtonData:
    """What a button says: its kind, the tag of the index it belongs to, a key or argument."""

    kind: str
    version: str
    key: str
    extra: str = ""

    def encode(self) -> str:
        """The callback data string (at most 64 bytes)."""
        parts = [self.kind, self.version, self.key] + ([self.extra] if self.extra else [])
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data {data!r} is longer than {MAX_CALLBACK_BYTES} bytes")
        return data


def decode(data: str | None) -> ButtonData | None:
    """The ButtonData in a callback data string, or None for anything this bot did not make."""
    parts = (data or "").split(SEPARATOR)
    if len(parts) not in (3, 4) or parts[0] not in KINDS or not all(parts[1:3]):
        return None
    return ButtonData(*parts)


def version_tag(content: str) -> str:
    """A short, stable tag of what an index holds (8 hex digits)."""
    return hashlib.blake2s(content.encode(), digest_size=4).hexdigest()


class AnswerCache:
    """The most recent answers by short key, so buttons can refer to them (thread-safe LRU).

    Keys start with a random prefix per process, so a button from before a restart never
    finds a newer answer that happens to have the same number.
    """

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self._prefix = _base36(secrets.randbelow(36**4)).rjust(4, "0")
        self._items: OrderedDict[str, Answer] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def put(self, answer: Answer) -> str:
        """Keep `answer`; returns its key."""
        with self._lock:
            key = self._prefix + _base36(next(self._ids))
            self._items[key] = answer
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return key

    def get(self, key: str) -> Answer | None:
        with self._lock:
            answer = self._items.get(key)
            if answer is not None:
                self._items.move_to_end(key)
            return answer


def answer_keyboard(answer: Answer, *, key: str, version: str) -> InlineKeyboardMarkup:
    """Context / More on the first row (More only when there is more), 👍 / 👎 below."""
    lang = answer.language
    first = [_button(text("button_context", lang), ButtonData(CONTEXT, version, key))]
    if answer.more:
        first.append(_button(text("button_more", lang), ButtonData(MORE, version, key)))
    votes = [
        _button("👍", ButtonData(VOTE, version, key, "1")),
        _button("👎", ButtonData(VOTE, version, key, "-1")),
    ]
    return InlineKeyboardMarkup([first, votes])


def examples_keyboard(
    examples: Sequence[str], *, lang: str, version: str
) -> InlineKeyboardMarkup | None:
    """One button per example question (tapping it asks that question); None without examples."""
    if not examples:
        return None
    rows = [
        [_button(example, ButtonData(EXAMPLE, version, lang, str(number)))]
        for number, example in enumerate(examples)
    ]
    return InlineKeyboardMarkup(rows)


def _button(label: str, data: ButtonData) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.encode())


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def kind_is(kind: str) -> Callable[[object], bool]:
    """A CallbackQueryHandler pattern: data that decodes to a button of `kind`."""

    def matches(data: object) -> bool:
        found = decode(data) if isinstance(data, str) else None
        return found is not None and found.kind == kind

    return matches
