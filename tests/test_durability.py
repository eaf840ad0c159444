"""Nothing lost on a crash: the update journal end to end, against the fake Bot API.

The bot is killed with SIGKILL after Telegram forgot the updates it had fetched (the next
getUpdates confirmed them, or the webhook answered 200) but before it answered them; after
the restart every question must be answered exactly once, and a reply that went out before
the kill must not go out again. Plus: late answers say when the question came, and a
journal that fails degrades durability, not answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botprocess import START_WAIT, bot_process, killed, stopped
from fakebotapi import DEFAULT_USER_ID, FakeBotAPI
from telegrambot import (
    ADMIN,
    ENGLISH_QUESTION,
    GERMAN_QUESTION,
    HOOK,
    TOKEN,
    WAIT,
    ask,
    blockquotes,
    bot_settings,
    buttons,
    polling_bot,
    quiet,
    settled,
    texts,
    webhook_bot,
)

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings
from bot.telegram import durable

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]

SECRET = "durable-Secret_7"
USERS = [8101, 8102, 8103]


def journal(settings: Settings) -> dict[int, tuple[str, int]]:
    """Each journaled update's status and number of replies noted, read as another process
    would (an empty dict while the bot has not created the file)."""
    if not settings.journal_db.exists():
        return {}
    with contextlib.closing(sqlite3.connect(settings.journal_db)) as db:
        rows = db.execute(
            "SELECT u.update_id, u.status, COUNT(r.number) FROM updates u"
            " LEFT JOIN replies r USING (update_id) GROUP BY u.update_id"
        ).fetchall()
    return {update_id: (status, replies) for update_id, status, replies in rows}


async def journal_has(settings: Settings, update_id: int, status: str, replies: int) -> None:
    """Wait until the journal says so about `update_id`."""
    async with asyncio.timeout(WAIT):
        while journal(settings).get(update_id) != (status, replies):
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------- SIGKILL


async def test_sigkill_before_the_answers_loses_none_and_repeats_none(
    api: FakeBotAPI, settings: Settings
) -> None:
    """Three questions and a tap on an example question are fetched and confirmed, the
    answers cannot get through (502s), the bot is killed; after the restart each question is
    answered once, the example too, and the tap's toast, sent before the kill, is not sent
    again (Telegram would refuse a second one)."""
    async with bot_process(api, token=TOKEN) as process:
        await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=START_WAIT)
        asked = api.send_text("/start")
        greeting = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        await journal_has(settings, asked["update_id"], "answered", 1)
        api.fail_next(times=10_000, status=502, methods=["sendMessage"])
        tap = api.press_button(greeting, buttons(greeting)["q0"])
        for user in USERS:
            api.send_text(ENGLISH_QUESTION, user_id=user, language_code="en")
        await api.wait_for(
            lambda: not api.pending_updates() and len(api.calls_to("sendMessage")) >= 5,
            timeout=WAIT,
        )
        await journal_has(settings, tap["update_id"], "pending", 1)  # the toast went out
        await killed(process)
    assert not api.pending_updates()  # Telegram has forgotten them: only the journal has them
    assert api.callback_answers and not any(texts(api, user) for user in USERS)
    api.clear_faults()
    async with bot_process(api, token=TOKEN) as process:
        answers = await asyncio.gather(
            *(api.next_message(chat_id=user, timeout=START_WAIT) for user in USERS)
        )
        example = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        await quiet(api, DEFAULT_USER_ID, 1.0)
        log = await stopped(process, WAIT)
    assert process.returncode == 0, log[-2000:]
    assert all(blockquotes(answer) for answer in answers)
    assert all(len(texts(api, user)) == 1 for user in USERS)
    assert blockquotes(example) and len(api.messages(DEFAULT_USER_ID)) == 2
    assert len(api.callback_answers) == 1
    assert set(api.errors) == {"sendMessage: 502 Bad Gateway"}  # ours: no 400 for a 2nd toast
    assert "handling 4 updates fetched before the last stop again" in log
    assert "Traceback" not in log, log[-3000:]
    assert {status for status, _ in journal(settings).values()} == {"answered"}


# ---------------------------------------------------------------------------- webhook


async def test_webhook_answers_200_only_once_the_journal_has_the_update(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """While another connection holds the journal's write lock the 200 waits; it comes once
    the update is on disk, and Telegram sending the same update again is not answered twice."""
    async with webhook_bot(api, settings, services, secret=SECRET):
        update = api.send_text(GERMAN_QUESTION)
        with contextlib.closing(sqlite3.connect(settings.journal_db, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            posting = asyncio.create_task(api.post_update_to_webhook())
            await asyncio.sleep(0.5)  # within the journal's busy timeout of 1 s
            assert not posting.done()  # Telegram has no 200: it would send the update again
            assert update["update_id"] not in journal(settings)
            db.execute("COMMIT")
        assert await asyncio.wait_for(posting, WAIT) == 200
        assert update["update_id"] in journal(settings)
        reply = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        assert blockquotes(reply)
        assert await api.post_update_to_webhook(update) == 200  # Telegram's retry
        await quiet(api, DEFAULT_USER_ID, 1.0)
    assert len(api.messages(DEFAULT_USER_ID)) == 1
    assert journal(settings)[update["update_id"]] == ("answered", 1)


async def test_sigkill_after_the_webhook_answered_200_still_answers(
    api: FakeBotAPI, settings: Settings, unused_tcp_port: int
) -> None:
    """The webhook confirmed the update (200), the bot dies before its answer got through;
    after the restart the question is answered, once."""
    port = unused_tcp_port
    env = {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}{HOOK}",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
    }
    async with bot_process(api, token=TOKEN, env=env) as process:
        await api.wait_for(lambda: api.calls_to("setWebhook"), timeout=START_WAIT)
        api.fail_next(times=10_000, status=502, methods=["sendMessage"])
        api.send_text(GERMAN_QUESTION)
        assert await api.post_update_to_webhook() == 200
        assert not api.pending_updates()  # Telegram will not send it again
        await api.wait_for(lambda: api.calls_to("sendMessage"), timeout=WAIT)
        await killed(process)
    api.clear_faults()
    async with bot_process(api, token=TOKEN, env=env) as process:
        reply = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=START_WAIT)
        await quiet(api, DEFAULT_USER_ID, 1.0)
        log = await stopped(process, WAIT)
    assert blockquotes(reply) and len(api.messages(DEFAULT_USER_ID)) == 1
    assert process.returncode == 0 and "Traceback" not in log, log[-3000:]


# ---------------------------------------------------------------------------- late answers


async def test_an_answer_to_a_question_that_waited_says_when_it_came(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """A question sent while the bot was down gets a reply to it that starts with when it
    was received; a question asked now does not."""
    update = api.send_text(GERMAN_QUESTION)
    await asyncio.sleep(3.2)  # dates are whole seconds
    config = bot_settings(settings, api, late_answer_seconds=2)
    async with polling_bot(config, services):
        late = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        fresh = await ask(api, ENGLISH_QUESTION, user_id=8201, language_code="en")
    asked = time.strftime("%Y-%m-%d", time.gmtime(update["message"]["date"]))
    at = time.strftime("%H:%M", time.gmtime(update["message"]["date"]))
    first_line = text("late_answer", "de", date=asked, time=at)
    assert late["text"].startswith(first_line + "\n\n") and blockquotes(late)
    assert late["message"]["reply_to_message"]["message_id"] == update["message"]["message_id"]
    assert text("late_answer", "en", date="", time="")[:10] not in fresh["text"]
    assert "reply_to_message" not in fresh["message"] and blockquotes(fresh)


async def test_an_update_is_unanswered_until_its_reply_is_sent(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """The count that tests wait for before checking that nothing more was sent (`settled`)."""
    async with polling_bot(bot_settings(settings, api), services) as app:
        durable = app.bot_data.durable
        api.delay(1.0, methods=["sendMessage"])
        api.send_text(GERMAN_QUESTION)
        await api.wait_for(lambda: not api.pending_updates(), timeout=WAIT)  # fetched
        assert durable.unanswered == 1
        await settled(api, app)
        api.delay(0)
        assert durable.unanswered == 0
        [reply] = api.messages(DEFAULT_USER_ID)
        assert blockquotes(reply)


# ---------------------------------------------------------------------------- degraded


async def health(root: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        async with session.get(f"{root}/healthz") as response:
            assert response.status == 200
            return await response.json()


async def admin_status(api: FakeBotAPI, root: str) -> str:
    api.send_text("/status", user_id=ADMIN, language_code="en")
    assert await api.post_update_to_webhook() == 200
    return (await api.next_message(chat_id=ADMIN, timeout=WAIT))["text"]


async def ask_via_webhook(api: FakeBotAPI, user: int) -> dict[str, Any]:
    api.send_text(GERMAN_QUESTION, user_id=user)
    assert await api.post_update_to_webhook() == 200
    return await api.next_message(chat_id=user, timeout=WAIT)


def journal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.telegram.durable"]


async def test_a_journal_that_cannot_be_opened_degrades_durability_not_answering(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """A journal file that is no database (a damaged disk): one log line, every question is
    answered, /healthz and /status say durability is degraded."""
    caplog.set_level(logging.WARNING)
    settings.journal_db.write_bytes(b"this is not an SQLite database, " * 64)
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        answers = [await ask_via_webhook(api, user) for user in USERS]
        report = await health(root)
        status = await admin_status(api, root)
    assert all(blockquotes(answer) for answer in answers)
    assert report["durable"] is False and "not a database" in report["durability_problem"]
    assert report["durability_degraded_since"].endswith("+00:00")
    assert "Durability: DEGRADED since" in status and "not a database" in status
    [line] = journal_lines(caplog)
    assert "fails" in line and "answering on without it" in line


async def test_a_journal_that_fails_mid_run_degrades_and_recovers(
    api: FakeBotAPI,
    settings: Settings,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another connection holds the journal's write lock (an operator's sqlite3 shell in the
    middle of a write): one line, the questions are answered, /healthz says degraded; once
    the lock is gone the journal is used again, with one more line."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(durable, "RETRY_SECONDS", 0.5)
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        assert (await health(root))["durable"] is True
        assert "Durability: ok" in await admin_status(api, root)
        with contextlib.closing(sqlite3.connect(settings.journal_db, isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")  # e.g. an operator's sqlite3 shell inside a write
            answers = [await ask_via_webhook(api, user) for user in USERS]
            report = await health(root)
            db.execute("ROLLBACK")
        await asyncio.sleep(0.6)
        after = await ask_via_webhook(api, 8301)
        await quiet(api, 8301, 0.3)
        recovered = await health(root)
    assert all(blockquotes(answer) for answer in answers) and blockquotes(after)
    assert report["durable"] is False and "locked" in report["durability_problem"]
    assert recovered["durable"] is True and recovered["durability_problem"] is None
    lines = journal_lines(caplog)
    assert len(lines) == 2 and "fails" in lines[0] and "works again" in lines[1], lines


@contextlib.contextmanager
def small_filesystem(path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs at `path`: a disk that really fills up (mounting needs root)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into `folder` until its filesystem is full."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 4096)
    return filler


async def test_a_full_disk_degrades_durability_until_there_is_room_again(
    api: FakeBotAPI,
    settings: Settings,
    services: Services,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The journal's filesystem fills up: SQLite's "database or disk is full", one line,
    every question answered, /healthz degraded; after space is freed, durable again."""
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(durable, "RETRY_SECONDS", 0.5)
    with small_filesystem(tmp_path / "small") as small:
        settings.journal_db.symlink_to(small / "journal.sqlite3")  # SQLite follows it
        async with webhook_bot(api, settings, services, secret=SECRET) as root:
            assert blockquotes(await ask_via_webhook(api, 8401))
            assert (small / "journal.sqlite3-wal").exists()
            filler = fill(small)
            answers = [await ask_via_webhook(api, user) for user in USERS]
            report = await health(root)
            filler.unlink()
            await asyncio.sleep(0.6)
            after = await ask_via_webhook(api, 8402)
            await quiet(api, 8402, 0.3)
            recovered = await health(root)
    assert all(blockquotes(answer) for answer in answers) and blockquotes(after)
    assert report["durable"] is False and "disk is full" in report["durability_problem"]
    assert recovered["durable"] is True
    lines = journal_lines(caplog)
    assert len(lines) == 2 and "fails" in lines[0] and "works again" in lines[1], lines
