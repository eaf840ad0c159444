"""The bot under test in this process, against the fake Bot API: its settings, the real
Application with long polling or behind its webhook server, and how a test talks to it."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fakebotapi import FakeBotAPI
from pydantic import SecretStr
from telegram.ext import Application
from tornado.netutil import bind_sockets

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.context import Runtime
from bot.telegram.keyboards import EXAMPLE, VOTE, decode
from bot.telegram.outbox import Outbox
from bot.telegram.runner import webhook_secret
from bot.telegram.web import serve

TOKEN = "123456789:AAF-test_token_for_the_fake_server_0123"
BOT = "quote_bot"
ADMIN = 4242
WAIT = 15.0  # seconds; generous for a slow machine, short enough to fail instead of hanging
REINDEX_WAIT = 120.0  # a reindex embeds with the real model
HOOK = "/telegram/hook"
# Seconds between two messages in one chat for bots under test whose subject is not the flood
# limits: the fake server does not need Telegram's second (tests that turn its flood control
# on keep it), and a test's replies to one chat would otherwise wait a second each.
QUICK_CHAT_INTERVAL = 0.05

GERMAN_QUESTION = "Wer besuchte im Juni Pjöngjang?"
ENGLISH_QUESTION = "What did professor Lim say about ammunition supplies?"


# ---------------------------------------------------------------------------- running the bot


def bot_settings(base: Settings, api: FakeBotAPI, **overrides: Any) -> Settings:
    """`base` (the private index copy) pointed at the fake server, with `overrides`."""
    values = {
        "index_dir": base.index_dir,
        "documents_dir": base.documents_dir,
        "telegram_bot_token": SecretStr(TOKEN),
        "telegram_api_url": f"http://{api.host}:{api.port}",
        "admin_user_ids": frozenset({ADMIN}),
        **overrides,
    }
    return Settings(_env_file=None, **values)


def outbox(*, telegram_pacing: bool = False) -> Outbox:
    """The rate limiter for a bot under test: Telegram's limits, or quicker chat pacing."""
    return Outbox() if telegram_pacing else Outbox(chat_interval=QUICK_CHAT_INTERVAL)


@contextlib.asynccontextmanager
async def polling_bot(
    settings: Settings, services: Services, *, telegram_pacing: bool = False
) -> AsyncIterator[Application]:
    """The real Application, started with long polling like `python -m bot run` does."""
    app = build_application(
        settings, services=services, outbox=outbox(telegram_pacing=telegram_pacing)
    )
    async with app:
        async with asyncio.timeout(WAIT):
            await app.post_init(app)
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            async with asyncio.timeout(WAIT):
                await app.updater.stop()
                await app.stop()
                await app.post_shutdown(app)


@contextlib.asynccontextmanager
async def webhook_bot(
    api: FakeBotAPI, settings: Settings, services: Services, *, secret: str, **overrides: Any
) -> AsyncIterator[str]:
    """The real Application behind the real webhook server, as `python -m bot run` starts it
    with WEBHOOK_URL set (path HOOK); yields the server's root URL once it has registered."""
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    config = bot_settings(
        settings,
        api,
        webhook_url=f"http://127.0.0.1:{port}{HOOK}",
        webhook_port=port,
        webhook_secret=SecretStr(secret),
        **overrides,
    )
    stopping = asyncio.Event()
    serving = asyncio.create_task(
        serve(
            build_application(config, services=services, outbox=outbox()),
            config,
            secret=webhook_secret(config),  # as `python -m bot run` checks and passes it
            sockets=sockets,
            allowed_updates=ALLOWED_UPDATES,
            stopping=stopping,
        )
    )
    try:
        await api.wait_for(lambda: api.calls_to("setWebhook") or serving.done(), timeout=WAIT)
        if serving.done():
            serving.result()  # raises what went wrong
        yield f"http://127.0.0.1:{port}"
    finally:
        stopping.set()
        await asyncio.wait_for(serving, WAIT)


def runtime_of(app: Application) -> Runtime:
    return app.bot_data.runtime


# ---------------------------------------------------------------------------- talking to it


async def ask(api: FakeBotAPI, question: str, **sender: Any) -> dict[str, Any]:
    """Send `question` as a user and return the bot's next message to that chat."""
    update = api.send_text(question, **sender)
    return await api.next_message(chat_id=update["message"]["chat"]["id"], timeout=WAIT)


async def command(api: FakeBotAPI, line: str, user_id: int = ADMIN, lang: str = "en") -> dict:
    """Send `line` (an admin's by default) and return the next message to that chat only."""
    api.mark()  # skip earlier messages and edits
    api.send_text(line, user_id=user_id, language_code=lang)
    return await api.next_message(chat_id=user_id, timeout=WAIT)


async def report(
    api: FakeBotAPI, chat_id: int = ADMIN, lang: str = "en", since: int = 0
) -> dict[str, Any]:
    """The reindex message (sent after message `since`) once it shows its report or failure."""
    failed = text("admin_reindex_failed", lang, reason="")[:12]
    done = (text("admin_report", lang, **_blank())[:12], failed, "already running")

    def finished() -> dict[str, Any] | None:
        for message in api.messages(chat_id):
            if message["message_id"] > since and message["text"].startswith(done):
                return message
        return None

    return await api.wait_for(finished, timeout=REINDEX_WAIT)


def _blank() -> dict[str, Any]:
    names = "documents docs_added docs_removed docs_changed docs_unchanged sentences sent_added"
    names += " sent_removed sent_unchanged embedded model digest"
    return {name: "" for name in names.split()} | {"seconds": 0.0}


async def settled(api: FakeBotAPI, app: Application) -> None:
    """Wait until `app` has fetched every update sent to it and answered each in full: its
    handler and every reply it started are done (the journal's count of unanswered ones)."""
    durable = app.bot_data.durable
    async with asyncio.timeout(WAIT):
        while api.pending_updates() or durable.unanswered:
            # Polled: the count drops after the server's last event, so `api.wait_for`,
            # woken by server events, could sleep until the next long poll returns.
            await asyncio.sleep(0.005)


async def nothing_more(api: FakeBotAPI, app: Application, chat_id: int) -> None:
    """Fail if `app`, once it has answered everything sent to it, sent `chat_id` a message
    no test has read yet."""
    await settled(api, app)
    await quiet(api, chat_id, 0)


async def quiet(api: FakeBotAPI, chat_id: int, seconds: float = 1.0) -> None:
    """Fail if the bot sends anything to `chat_id` within `seconds` (for a bot in another
    process or behind its webhook server; `nothing_more` for one in this process)."""
    with pytest.raises(TimeoutError):
        extra = await api.next_message(chat_id=chat_id, timeout=seconds)
        pytest.fail(f"unexpected message: {extra['text']!r}")


# ---------------------------------------------------------------------------- reading replies


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Callback data by kind ("c", "m", "v+1", "v-1", "q0", ...) of a message's keyboard."""
    found = {}
    for row in (message["reply_markup"] or {}).get("inline_keyboard", []):
        for button in row:
            data = decode(button["callback_data"])
            assert data is not None, button
            label = data.kind + (data.extra if data.kind in (VOTE, EXAMPLE) else "")
            found[label.replace("v1", "v+1")] = button["callback_data"]
    return found


def blockquotes(message: dict[str, Any]) -> list[str]:
    """The plain text inside each <blockquote> of a sent HTML message."""
    raw = message["raw_text"]
    quotes = re.findall(r"<blockquote>(.*?)</blockquote>", raw, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", q)) for q in quotes]


def texts(api: FakeBotAPI, chat_id: int) -> list[str]:
    """The text of every message the bot sent to `chat_id`, oldest first."""
    return [message["text"] for message in api.messages(chat_id)]


def snapshot(folder: Path) -> list[tuple[str, bytes]]:
    """Every file's name and bytes in `folder`: to show that nothing was written there."""
    return sorted((p.name, p.read_bytes()) for p in folder.iterdir())
