"""Admin commands handled again after a crash: what went out is not sent, what was done is not
done again.

The journal is left as a SIGKILL would leave it (the update pending, some of its replies
noted), and the same update is still waiting on the server, unconfirmed; then the bot starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from typing import Any

import pytest
from fakebotapi import FakeBotAPI
from telegram import Bot
from telegrambot import ADMIN, TOKEN, WAIT, bot_settings, nothing_more, polling_bot, report

from bot.answering.i18n import text
from bot.app.admin import Admin
from bot.app.journal import Journal
from bot.app.services import Services
from bot.settings import Settings
from bot.telegram.receipts import DONE

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end against the fake Bot API
]

BOT_ID = int(TOKEN.split(":", 1)[0])


@pytest.fixture
def builds(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the index builds (each reindex makes one)."""
    counted, original, lock = [], services.indexer.build, threading.Lock()

    def build(*args: Any, **kwargs: Any) -> Any:
        with lock:
            counted.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(services.indexer, "build", build)
    return counted


def crashed_during(settings: Settings, update: dict[str, Any], noted: dict[int, int]) -> None:
    """The journal after a crash while `update` was handled: pending, with the replies
    `noted` (number: message_id) sent for it."""
    journal = Journal(settings.journal_db, bot_id=BOT_ID)
    try:
        journal.record([(update["update_id"], update)])
        for number, message_id in noted.items():
            journal.reply_sent(update["update_id"], number, message_id=message_id, sent_at=0.0)
    finally:
        journal.close()


def status(settings: Settings, update_id: int) -> str:
    with contextlib.closing(sqlite3.connect(settings.journal_db)) as db:
        [(found,)] = db.execute("SELECT status FROM updates WHERE update_id = ?", (update_id,))
    return found


async def answered(settings: Settings, update_id: int) -> None:
    async with asyncio.timeout(WAIT):
        while status(settings, update_id) != "answered":
            await asyncio.sleep(0.05)


async def test_a_reindex_done_before_the_crash_is_not_run_again(
    api: FakeBotAPI, settings: Settings, services: Services, builds: list[int]
) -> None:
    """Its started message and its report went out and it was noted done: nothing more."""
    config = bot_settings(settings, api)
    update = api.send_text("/reindex", user_id=ADMIN, language_code="en")
    crashed_during(config, update, {0: 1, DONE: None})
    async with polling_bot(config, services) as app:
        await answered(config, update["update_id"])
        await nothing_more(api, app, ADMIN)
    assert builds == [] and not api.calls_to("editMessageText")


async def test_a_reindex_that_never_got_going_runs_on_the_replay(
    api: FakeBotAPI, settings: Settings, services: Services, builds: list[int]
) -> None:
    """Nothing of it was noted: the replay runs it, with its started message and report."""
    config = bot_settings(settings, api)
    update = api.send_text("/reindex", user_id=ADMIN, language_code="en")
    crashed_during(config, update, {})
    async with polling_bot(config, services):
        first = await api.next_message(chat_id=ADMIN, timeout=WAIT)
        assert first["text"] == text("admin_reindex_started", "en")
        final = await report(api)
        await answered(config, update["update_id"])
    assert builds == [1] and final["message_id"] == first["message_id"]


async def test_a_rollback_done_before_the_crash_is_not_repeated(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """Rolling back again would serve an even older version than the admin asked for."""
    config = bot_settings(settings, api)
    await asyncio.to_thread(Admin(services).reindex, lambda *progress: None)
    serving = services.searcher.version.manifest.version  # the previous one is there too
    update = api.send_text("/rollback", user_id=ADMIN, language_code="en")
    crashed_during(config, update, {0: 1, DONE: None})
    async with polling_bot(config, services) as app:
        await answered(config, update["update_id"])
        await nothing_more(api, app, ADMIN)
    assert services.searcher.version.manifest.version == serving


async def test_a_reindex_cut_short_runs_again_in_the_message_it_started(
    api: FakeBotAPI, settings: Settings, services: Services, builds: list[int]
) -> None:
    """Its started message went out, its report did not: the replay runs the reindex and
    edits the message the admin has into the report instead of sending another."""
    config = bot_settings(settings, api)
    update = api.send_text("/reindex", user_id=ADMIN, language_code="en")
    async with Bot(TOKEN, base_url=f"http://{api.host}:{api.port}/bot") as bot:
        started = await bot.send_message(ADMIN, text("admin_reindex_started", "en"))
    crashed_during(config, update, {0: started.message_id})
    async with polling_bot(config, services):
        final = await report(api)
        await answered(config, update["update_id"])
    assert builds == [1] and final["message_id"] == started.message_id
    assert len(api.calls_to("sendMessage")) == 1  # the one before the crash
