"""The bot's own records in SQLite: feedback votes, counters and questions it could not answer.

Only what is needed to improve answers is kept: a numeric user id with each vote, never a
name or username. Every write is one transaction, and one lock serializes the connection
so handlers running in worker threads can share it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

QUESTIONS_ANSWERED = "questions_answered"
ABSTENTIONS = "abstentions"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    at REAL NOT NULL,
    user_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    sentence_ids TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    quotes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS counters (
    counter TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS abstained (
    at REAL NOT NULL,
    question TEXT NOT NULL
);
"""


_FEEDBACK = "SELECT at, user_id, question, sentence_ids, vote, quotes FROM feedback"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One 👍 (+1) or 👎 (-1) on an answer."""

    at: float
    user_id: int
    question: str
    sentence_ids: tuple[int, ...]  # ids in the index version that answered
    vote: int
    quotes: tuple[str, ...] = ()  # the quoted text, which outlives a reindex


class StateStore:
    """Feedback, counters and abstained questions in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent on a crash
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(feedback)")}
            if "quotes" not in columns:  # a file from before quotes were kept
                self._db.execute(
                    "ALTER TABLE feedback ADD COLUMN quotes TEXT NOT NULL DEFAULT '[]'"
                )

    def record_feedback(
        self,
        *,
        user_id: int,
        question: str,
        sentence_ids: Sequence[int],
        vote: int,
        quotes: Sequence[str] = (),
    ) -> None:
        """Store a vote (+1 or -1) on the answer made of `sentence_ids`, quoting `quotes`."""
        if vote not in (-1, 1):
            raise ValueError(f"vote must be 1 or -1, got {vote!r}")
        ids = ",".join(str(i) for i in sentence_ids)
        self._write(
            "INSERT INTO feedback (at, user_id, question, sentence_ids, vote, quotes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), user_id, question, ids, vote, json.dumps(list(quotes))),
        )

    def record_answer(self, question: str, *, abstained: bool) -> None:
        """Count an answered question, or an abstention together with its question."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._increment(ABSTENTIONS if abstained else QUESTIONS_ANSWERED)
            if abstained:
                self._db.execute(
                    "INSERT INTO abstained (at, question) VALUES (?, ?)", (time.time(), question)
                )

    def counters(self) -> dict[str, int]:
        """All counters by name (missing ones count as 0)."""
        with self._lock:
            rows = self._db.execute("SELECT counter, value FROM counters").fetchall()
        found = {QUESTIONS_ANSWERED: 0, ABSTENTIONS: 0}
        found.update(dict(rows))
        return found

    def feedback(self) -> list[Feedback]:
        """Every vote, oldest first."""
        with self._lock:
            rows = self._db.execute(f"{_FEEDBACK} ORDER BY rowid").fetchall()
        return [_feedback(row) for row in rows]

    def latest_feedback(self, vote: int, limit: int = 10) -> list[Feedback]:
        """The most recent votes of one kind (+1 or -1), newest first."""
        with self._lock:
            rows = self._db.execute(
                f"{_FEEDBACK} WHERE vote = ? ORDER BY rowid DESC LIMIT ?", (vote, limit)
            ).fetchall()
        return [_feedback(row) for row in rows]

    def abstained_questions(self, limit: int = 100) -> list[tuple[float, str]]:
        """The most recent questions the bot could not answer, newest first."""
        with self._lock:
            return self._db.execute(
                "SELECT at, question FROM abstained ORDER BY rowid DESC LIMIT ?", (limit,)
            ).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, values: tuple[object, ...]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(sql, values)

    def _increment(self, name: str) -> None:
        self._db.execute(
            "INSERT INTO counters (counter, value) VALUES (?, 1) "
            "ON CONFLICT (counter) DO UPDATE SET value = value + 1",
            (name,),
        )


def _feedback(row: tuple) -> Feedback:
    at, user, question, ids, vote, quotes = row
    sentence_ids = tuple(int(i) for i in ids.split(",") if i)
    return Feedback(at, user, question, sentence_ids, vote, tuple(json.loads(quotes)))
