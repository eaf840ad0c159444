"""Running the bot: webhook mode, the command line, failures and what reaches the log."""

from __future__ import annotations

import asyncio
import logging
import signal

import pytest
from botprocess import bot_process, run_cli, unused_port
from fakebotapi import DEFAULT_USER_ID, FakeBotAPI
from pydantic import SecretStr
from telegrambot import (
    GERMAN_QUESTION,
    HOOK,
    TOKEN,
    WAIT,
    ask,
    blockquotes,
    bot_settings,
    polling_bot,
    quiet,
    webhook_bot,
)

from bot.answering.i18n import text
from bot.app.services import Services
from bot.logs import setup_logging
from bot.settings import Settings
from bot.telegram.runner import webhook_secret

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]

SECRET = "webhook-Secret_42"


# ---------------------------------------------------------------------------- webhook


async def test_webhook_rejects_updates_without_the_secret(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        registered = api.calls_to("setWebhook")[-1]
        assert registered["url"] == f"{root}{HOOK}" and registered["secret_token"] == SECRET
        api.send_text(GERMAN_QUESTION)
        assert await api.post_update_to_webhook(secret_token=None) == 403
        assert await api.post_update_to_webhook(secret_token="wrong") == 403
        await quiet(api, DEFAULT_USER_ID, 0.5)
        assert await api.post_update_to_webhook() == 200
        reply = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        assert blockquotes(reply)


def test_webhook_secret_must_suit_telegram(settings: Settings) -> None:
    assert webhook_secret(settings.model_copy(update={"webhook_secret": SecretStr("")})) is None
    bad = settings.model_copy(update={"webhook_secret": SecretStr("has spaces!")})
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        webhook_secret(bad)


# ---------------------------------------------------------------------------- command line


async def test_malformed_token_exits_2_with_one_line() -> None:
    code, stderr = await run_cli("run", env={"TELEGRAM_BOT_TOKEN": "12345:short"})
    assert code == 2
    assert stderr.strip().count("\n") == 0 and "Traceback" not in stderr
    assert "TELEGRAM_BOT_TOKEN is malformed" in stderr and "short" not in stderr


async def test_missing_token_says_how_to_set_it() -> None:
    code, stderr = await run_cli("run", env={})
    assert code == 2 and "Traceback" not in stderr
    assert "TELEGRAM_BOT_TOKEN is not set" in stderr and ".env" in stderr


async def test_token_rejected_by_the_server_exits_2(api: FakeBotAPI) -> None:
    other = "987654321:AAF-some_other_token_that_is_wrong"
    env = {"TELEGRAM_BOT_TOKEN": other, "TELEGRAM_API_URL": f"http://127.0.0.1:{api.port}"}
    code, stderr = await run_cli("run", env=env)
    assert code == 2 and "Traceback" not in stderr
    assert stderr.startswith(f"TELEGRAM_BOT_TOKEN was rejected by http://127.0.0.1:{api.port}")
    assert stderr.strip().count("\n") == 0 and other.split(":")[1] not in stderr


# ---------------------------------------------------------------------------- failures, logs


async def test_handler_failure_is_logged_and_answered_politely(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    async with polling_bot(bot_settings(settings, api), services):
        api.fail_next(times=1, status=500, methods=["sendChatAction"])
        reply = await ask(api, GERMAN_QUESTION)
        assert reply["text"] == text("error", "de")
        again = await ask(api, GERMAN_QUESTION)
        assert blockquotes(again)
    [record] = [r for r in caplog.records if r.name == "bot.telegram.handlers.errors"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


async def test_the_token_never_reaches_the_log(
    api: FakeBotAPI, settings: Settings, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("DEBUG", secrets=[TOKEN])
        logging.getLogger("httpx").setLevel(logging.DEBUG)  # the worst case: URLs with the token
        async with polling_bot(bot_settings(settings, api), services):
            await ask(api, GERMAN_QUESTION)
            api.block(DEFAULT_USER_ID)  # sending fails: an error with a traceback is logged
            api.send_text(GERMAN_QUESTION)
            await api.wait_for(lambda: api.stats["4xx"] >= 2, timeout=WAIT)
            await asyncio.sleep(0.2)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    err = capsys.readouterr().err
    assert "bot***" in err and "Forbidden" in err and "Traceback" in err
    assert TOKEN not in err and TOKEN.split(":")[1] not in err


async def test_unreachable_server_is_waited_for_until_sigterm() -> None:
    """No server at the URL: one log line, tries with backoff, SIGTERM ends the wait with 0."""
    url = f"http://127.0.0.1:{unused_port()}"
    async with bot_process(None, token=TOKEN, env={"TELEGRAM_API_URL": url}) as process:
        first = await asyncio.wait_for(process.stderr.readline(), 60)
        await asyncio.sleep(3.5)  # tries after 1 and 2 s more, all failing
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stderr.read(), 10)
        await process.wait()
    log = (first + rest).decode()
    assert process.returncode == 0, log
    assert f"WARNING bot.telegram.runner: Cannot reach the Bot API server at {url}" in log
    assert "trying again with backoff" in log and log.strip().count("\n") == 0


async def test_python_m_bot_run_answers_until_terminated(
    api: FakeBotAPI, settings: Settings
) -> None:
    """The real entry point in a new interpreter: load model and index, poll, answer, stop
    cleanly on SIGTERM."""
    env = {"LOG_LEVEL": "DEBUG"}
    async with bot_process(api, token=TOKEN, env=env, fresh=True) as process:
        try:
            await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=90)
            reply = await ask(api, GERMAN_QUESTION)
            assert blockquotes(reply)
            assert api.commands[("all_private_chats", "de")]
        finally:
            process.terminate()
            _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert "bot***" in log and TOKEN.split(":")[1] not in log
