"""The bot's own records in SQLite: feedback votes, counters and questions it could not answer.

Only what is needed to improve answers is kept: a numeric user id with each vote, never a
name or username. Every write is one transaction, and one lock serializes the connection
so handlers running in worker threads can share it.
"""

from __future__ import annotations

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
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1))
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


@dataclass(frozen=True, slots=True)
class Feedback:
    """One 👍 (+1) or 👎 (-1) on an answer."""

    at: float
    user_id: int
    question: str
    sentence_ids: tuple[int, ...]
    vote: int


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

    def record_feedback(
        self, *, user_id: int, question: str, sentence_ids: Sequence[int], vote: int
    ) -> None:
        """Store a vote (+1 or -1) on the answer made of `sentence_ids`."""
        if vote not in (-1, 1):
            raise ValueError(f"vote must be 1 or -1, got {vote!r}")
        ids = ",".join(str(i) for i in sentence_ids)
        self._write(
            "INSERT INTO feedback (at, user_id, question, sentence_ids, vote)"
            " VALUES (?, ?, ?, ?, ?)",
            (time.time(), user_id, question, ids, vote),
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
            rows = self._db.execute(
                "SELECT at, user_id, question, sentence_ids, vote FROM feedback ORDER BY rowid"
            ).fetchall()
        return [
            Feedback(at, user, question, tuple(int(i) for i in ids.split(",") if i), vote)
            for at, user, question, ids, vote in rows
        ]

    def latest_feedback(self, vote: int, limit: int = 10) -> list[Feedback]:
        """The most recent votes of one kind (+1 or -1), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, user_id, question, sentence_ids, vote FROM feedback"
                " WHERE vote = ? ORDER BY rowid DESC LIMIT ?",
                (vote, limit),
            ).fetchall()
        return [
            Feedback(at, user, question, tuple(int(i) for i in ids.split(",") if i), vote)
            for at, user, question, ids, vote in rows
        ]

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
