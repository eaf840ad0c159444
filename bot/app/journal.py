"""The update journal: every update the bot fetched, kept until its replies have gone out.

Telegram forgets an update as soon as the bot confirms it (with its next getUpdates, or the
200 of a webhook request), long before the update is answered. The journal keeps it from
the moment it was fetched: one row per update with its raw JSON, when it was received and
whether it was answered, and one row per reply sent for it. After a crash, the updates still
pending are handled again, and a reply that went out before the crash is not sent twice.

Durability: WAL, with `synchronous=FULL` for the transaction that stores fetched updates
(fsynced before Telegram is told to forget them, so not even a power cut loses one) and
`NORMAL` for everything else: a killed process loses nothing the OS has been given, and a
power cut can undo only the records since the last fsync, so replies may be repeated but
never lost.

What is kept about users: the raw update (name, username, chat id, text) only while it is
pending; once answered, only ids and times remain, and they are deleted after two days
(Telegram keeps an update for at most a day, and after a week without updates its ids may
start anew).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_REPLAYS = 10  # starts with an update still pending before it is given up as poisonous
KEEP_SECONDS = 2 * 24 * 3600
BUSY_SECONDS = 1.0  # only this process writes; a lock held longer is someone else's
PENDING, ANSWERED, ABANDONED = "pending", "answered", "abandoned"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    raw TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'answered', 'abandoned')),
    replays INTEGER NOT NULL DEFAULT 0,
    answered_at REAL
);
CREATE INDEX IF NOT EXISTS updates_pending ON updates (status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS replies (
    update_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    message_id INTEGER,
    sent_at REAL NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (update_id, number)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    """An update fetched before the last stop and not answered yet."""

    update_id: int
    raw: dict[str, Any]
    received_at: float  # Unix time
    sent: dict[int, int | None]  # its replies that went out before the stop: message ids


class Journal:
    """Fetched updates and the replies sent for them, in one SQLite file.

    Not thread-safe: the bot uses it from one thread at a time. Errors are sqlite3's own
    (`OperationalError` for a full disk, a read-only file or a lock held elsewhere).
    """

    def __init__(self, path: Path, *, bot_id: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, timeout=BUSY_SECONDS, check_same_thread=False
        )
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._belongs_to(bot_id)
        except sqlite3.Error:
            self._db.close()
            raise

    def record(self, updates: Sequence[tuple[int, dict[str, Any] | None]]) -> set[int]:
        """Store fetched updates, each (update_id, raw update, or None when there is nothing
        to answer); returns the ids the journal did not have. Fsynced before it returns."""
        now, new = time.time(), set()
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                for update_id, raw in updates:
                    added = self._db.execute(
                        "INSERT OR IGNORE INTO updates (update_id, received_at, raw, status,"
                        " answered_at) VALUES (?, ?, ?, ?, ?)",
                        (update_id, now, _dumps(raw), PENDING if raw else ANSWERED,
                         None if raw else now),
                    )  # fmt: skip
                    if added.rowcount:
                        new.add(update_id)
        finally:
            self._db.execute("PRAGMA synchronous=NORMAL")
        return new

    def pending(self) -> tuple[list[Pending], list[int]]:
        """The updates to handle again after a restart, oldest first, and the ids given up
        on now: pending through more than MAX_REPLAYS starts, they are taken to crash the bot.
        Counts this start as one more replay of each."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE updates SET replays = replays + 1 WHERE status = 'pending'")
            abandoned = self._db.execute(
                "UPDATE updates SET status = 'abandoned', raw = NULL"
                " WHERE status = 'pending' AND replays > ? RETURNING update_id",
                (MAX_REPLAYS,),
            ).fetchall()
            rows = self._db.execute(
                "SELECT update_id, raw, received_at FROM updates WHERE status = 'pending'"
                " ORDER BY update_id"
            ).fetchall()
            sent: dict[int, dict[int, int | None]] = {}
            for update_id, number, message_id in self._db.execute(
                "SELECT r.update_id, r.number, r.message_id FROM replies r"
                " JOIN updates u USING (update_id) WHERE u.status = 'pending'"
            ):
                sent.setdefault(update_id, {})[number] = message_id
        found = [
            Pending(update_id, json.loads(raw), received_at, sent.get(update_id, {}))
            for update_id, raw, received_at in rows
        ]
        return found, sorted(row[0] for row in abandoned)

    def reply_sent(
        self, update_id: int, number: int, *, message_id: int | None, sent_at: float
    ) -> None:
        """Note that reply `number` (0, 1, …) of an update went out (Telegram accepted it)."""
        self._db.execute(
            "INSERT OR REPLACE INTO replies (update_id, number, message_id, sent_at, recorded_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (update_id, number, message_id, sent_at, time.time()),
        )

    def answered(self, update_id: int) -> None:
        """Note that an update was handled: it is not handled again, and its text is dropped."""
        self._db.execute(
            "UPDATE updates SET status = 'answered', raw = NULL, answered_at = ?"
            " WHERE update_id = ? AND status = 'pending'",
            (time.time(), update_id),
        )

    def prune(self, *, older_than: float = KEEP_SECONDS) -> int:
        """Delete updates handled (or given up) more than `older_than` seconds ago."""
        cutoff = time.time() - older_than
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM replies WHERE update_id IN (SELECT update_id FROM updates"
                " WHERE status != 'pending' AND received_at < ?)",
                (cutoff,),
            )
            return self._db.execute(
                "DELETE FROM updates WHERE status != 'pending' AND received_at < ?", (cutoff,)
            ).rowcount

    def patience(self, seconds: float) -> None:
        """How long a write waits for a lock another connection holds (then: "locked")."""
        self._db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def close(self) -> None:
        self._db.close()

    def _belongs_to(self, bot_id: int) -> None:
        """Start afresh when the token is another bot's: update ids are counted per bot."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'bot_id'").fetchone()
            if row is not None and row[0] == str(bot_id):
                return
            self._db.execute("DELETE FROM replies")
            self._db.execute("DELETE FROM updates")
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('bot_id', ?)", (str(bot_id),)
            )


def _dumps(raw: dict[str, Any] | None) -> str | None:
    return None if raw is None else json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
