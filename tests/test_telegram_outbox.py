"""One mechanism paces every Bot API call: admin replies and edits go through the Outbox too."""

from __future__ import annotations

import pytest
from fakebotapi import FakeBotAPI
from telegram.ext import Application
from telegrambot import ADMIN, WAIT, bot_settings, command, polling_bot, report

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end against the fake Bot API
]


async def test_an_admin_reply_is_retried_when_the_way_fails(
    api: FakeBotAPI, app: Application
) -> None:
    api.fail_next(times=2, status=502, methods=["sendMessage"])
    reply = await command(api, "/status")
    assert "Sentences:" in reply["text"] and reply["text"] != text("error", "en")


async def test_admin_replies_and_edits_keep_to_the_chat_flood_limit(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """A reindex edits its message while /status and /docs are answered in the same chat:
    no 429, and never two of them in one second."""
    api.flood_control(per_chat_per_second=1, global_per_second=30)
    async with polling_bot(bot_settings(settings, api), services, telegram_pacing=True):
        started = await command(api, "/reindex")
        for line in ("/status", "/docs", "/status"):
            api.send_text(line, user_id=ADMIN, language_code="en")
        await report(api, since=started["message_id"] - 1)
        await api.wait_for(lambda: len(api.calls_to("sendMessage")) >= 4, timeout=WAIT)
    assert api.stats["429"] == 0
    times = sorted(message["sent_at"] for message in api.messages(ADMIN))
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[1:], strict=False))
