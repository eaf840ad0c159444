"""Handlers the python-telegram-bot way: built updates through `Application.process_update`.

No polling and no webhook: each update the fake Bot API builds (as Telegram would send it)
goes straight to the real Application, with the real model and index. The replies are
Bot API calls, so they still reach the fake server, which records them. Fetching updates,
confirming them and surviving faults on the way are tests/test_telegram.py's and
tests/test_faults.py's.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from fakebotapi import DEFAULT_GROUP_CHAT_ID, DEFAULT_USER_ID, FakeBotAPI
from telegram import Update
from telegram.ext import Application
from telegrambot import ADMIN, GERMAN_QUESTION, blockquotes, bot_settings, buttons, outbox

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.keyboards import CONTEXT, MORE

STRANGER = 777


@contextlib.asynccontextmanager
async def handling(settings: Settings, services: Services) -> AsyncIterator[Application]:
    """The real Application, initialized as `python -m bot run` does, but not fetching."""
    app = build_application(settings, services=services, outbox=outbox())
    async with app:
        await app.post_init(app)
        try:
            yield app
        finally:
            await app.post_shutdown(app)


@pytest_asyncio.fixture
async def app(api: FakeBotAPI, settings: Settings, services: Services):
    async with handling(bot_settings(settings, api), services) as application:
        yield application


async def handle(api: FakeBotAPI, app: Application, update: dict[str, Any]) -> list[dict]:
    """Process one built update to its end; the messages the bot sent to its chat meanwhile."""
    chat = next(
        part["chat"]["id"] if "chat" in part else part["message"]["chat"]["id"]
        for part in update.values()
        if isinstance(part, dict)
    )
    before = len(api.messages(chat))
    await app.process_update(Update.de_json(update, app.bot))
    return api.messages(chat)[before:]


async def test_a_german_question_is_answered_with_the_exact_sentence(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    [reply] = await handle(api, app, api.send_text(GERMAN_QUESTION))
    gold = next(s for s in services.searcher.corpus.sentences if "russischen Präsidenten" in s.text)
    assert any(gold.text in quote for quote in blockquotes(reply)), reply["text"]
    assert set(buttons(reply)) == {CONTEXT, MORE, "v+1", "v-1"}


async def test_a_question_the_document_does_not_answer_is_refused(
    api: FakeBotAPI, app: Application
) -> None:
    [reply] = await handle(api, app, api.send_text("Wie hoch ist der Eiffelturm?"))
    assert reply["text"].startswith(text("abstain", "de"))
    assert "<blockquote>" not in reply["raw_text"]


async def test_the_context_button_shows_the_paragraph(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    [reply] = await handle(api, app, api.send_text(GERMAN_QUESTION))
    [context] = await handle(api, app, api.press_button(reply, buttons(reply)[CONTEXT]))
    gold = next(s for s in services.searcher.corpus.sentences if "russischen Präsidenten" in s.text)
    assert f"<b>{html.escape(gold.text, quote=False)}</b>" in context["raw_text"]
    assert context["text"].startswith(
        text("context_title", "de", title=services.searcher.corpus.documents[0].title,
             paragraph=gold.paragraph)
    )  # fmt: skip


async def test_start_greets_in_the_users_language(api: FakeBotAPI, app: Application) -> None:
    [german] = await handle(api, app, api.send_text("/start", language_code="de"))
    [english] = await handle(api, app, api.send_text("/start", user_id=1002, language_code="en"))
    assert german["text"].startswith("Hallo!") and english["text"].startswith("Hello!")


async def test_admin_commands_refuse_strangers_and_serve_admins(
    api: FakeBotAPI, app: Application
) -> None:
    [refused] = await handle(
        api, app, api.send_text("/status", user_id=STRANGER, language_code="en")
    )
    assert refused["text"] == text("admin_refused", "en")
    [status] = await handle(api, app, api.send_text("/status", user_id=ADMIN, language_code="en"))
    assert status["text"].startswith("Documents (1):")


async def test_an_edited_question_gets_a_hint_not_an_answer(
    api: FakeBotAPI, app: Application
) -> None:
    original = api.send_text(GERMAN_QUESTION, chat_id=DEFAULT_USER_ID)
    await handle(api, app, original)
    [hint] = await handle(api, app, api.send_edited_text(original, "Wer besuchte Moskau?"))
    assert hint["text"] == text("edited", "de")


async def test_in_a_group_only_what_is_addressed_to_the_bot_is_answered(
    api: FakeBotAPI, app: Application
) -> None:
    # Each update is handled to its end, so "no reply" is certain, not a timeout.
    group = {"chat_type": "group", "chat_id": DEFAULT_GROUP_CHAT_ID}
    for unaddressed in (
        api.send_text(GERMAN_QUESTION, **group),
        api.send_sticker(**group),
        api.send_text("/frobnicate", **group),
        api.send_text(f"/ask@otherbot {GERMAN_QUESTION}", **group),
    ):
        assert await handle(api, app, unaddressed) == []
    [reply] = await handle(api, app, api.send_text(f"/ask {GERMAN_QUESTION}", **group))
    assert blockquotes(reply)
