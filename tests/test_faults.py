"""Faults end to end: the real bot against a fake Bot API server that fails in Telegram's ways.

The server is down at the start or for a while mid-run, answers 5xx, drops connections,
answers slowly or rate-limits; the process gets SIGTERM with a reply in flight. What must
hold: no update is lost, no reply is sent twice, each incident is one log line (not a
traceback per retry), and a stop is clean.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from botprocess import START_WAIT, bot_process, stopped
from fakebotapi import DEFAULT_USER_ID, FakeBotAPI
from telegrambot import (
    ENGLISH_QUESTION,
    GERMAN_QUESTION,
    TOKEN,
    WAIT,
    ask,
    blockquotes,
    bot_settings,
    nothing_more,
    polling_bot,
    texts,
)

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]


def trouble(records: list[logging.LogRecord]) -> list[str]:
    """The bot's lines about the connection to the Bot API."""
    return [r.getMessage() for r in records if r.name == "bot.telegram.outbox"]


# ---------------------------------------------------------------------------- at the start


@pytest.mark.parametrize("fault", ["unreachable", "502"])
async def test_server_down_at_start_is_waited_for_and_nothing_is_lost(
    api: FakeBotAPI, settings: Settings, fault: str
) -> None:
    """The bot tries again with backoff, one log line when that starts and one when it ends,
    then answers what was sent meanwhile: Telegram keeps updates until the bot confirms them."""
    url = f"http://127.0.0.1:{api.port}"
    if fault == "unreachable":
        await api.go_offline()
    else:
        api.fail_next(times=2, status=502, methods=["getMe"])
    api.send_text(GERMAN_QUESTION)  # waits on the server for the bot
    early = ""
    async with bot_process(api, token=TOKEN) as process:
        if fault == "unreachable":
            while "Cannot reach" not in early:  # the first try, after the imports
                line = await asyncio.wait_for(process.stderr.readline(), START_WAIT)
                assert line, early
                early += line.decode()
            await asyncio.sleep(2.5)  # tries after 1 and 2 s more
            await api.go_online()
        reply = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=START_WAIT)
        assert blockquotes(reply)
        log = early + await stopped(process, WAIT)
    assert process.returncode == 0, log[-2000:]
    assert not api.pending_updates()
    assert log.count(f"Cannot reach the Bot API server at {url}") == 1, log
    assert log.count(f"The Bot API server at {url} answers again after") == 1, log
    assert "Traceback" not in log


# ---------------------------------------------------------------------------- mid-run


async def test_outage_mid_run_is_one_line_each_way_and_loses_no_update(
    api: FakeBotAPI, settings: Settings
) -> None:
    async with bot_process(api, token=TOKEN) as process:
        await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=START_WAIT)
        first = await ask(api, GERMAN_QUESTION)
        assert blockquotes(first)
        await api.go_offline()
        users = [5001, 5002, 5003]
        for user in users:  # asked while the bot cannot reach the server
            api.send_text(ENGLISH_QUESTION, user_id=user, language_code="en")
        await asyncio.sleep(3.0)
        await api.go_online()
        answers = await asyncio.gather(
            *(api.next_message(chat_id=user, timeout=WAIT + 30) for user in users)
        )
        assert all(blockquotes(answer) for answer in answers)
        log = await stopped(process, WAIT)
    assert process.returncode == 0, log[-2000:]
    assert all(len(texts(api, user)) == 1 for user in users)
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    down = [line for line in log.splitlines() if "Bot API trouble" in line]
    up = [line for line in log.splitlines() if "Bot API answers again" in line]
    assert len(down) == 1 and "polling for updates again" in down[0], log[-3000:]
    assert len(up) == 1, log[-3000:]


async def test_5xx_and_dropped_connections_on_replies_are_retried(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with polling_bot(bot_settings(settings, api), services) as app:
        api.fail_next(times=2, status=502, methods=["sendMessage"])
        api.reset_connections(times=1, methods=["sendMessage"])
        api.fail_next(times=1, status=503, methods=["answerCallbackQuery"])
        reply = await ask(api, GERMAN_QUESTION)
        assert blockquotes(reply)
        api.press_button(reply, reply["reply_markup"]["inline_keyboard"][1][0]["callback_data"])
        await api.wait_for(lambda: api.callback_answers, timeout=WAIT)
        await nothing_more(api, app, DEFAULT_USER_ID)
    assert texts(api, DEFAULT_USER_ID) == [reply["text"]]
    assert api.callback_answers[-1]["text"] == text("feedback_thanks", "de")
    lines = trouble(caplog.records)  # two incidents (reply, then button): two lines each
    assert len(lines) == 4 and "Bad Gateway" in lines[0] and "Service Unavailable" in lines[2]
    assert lines[1].startswith("Bot API answers again") and lines[3].startswith("Bot API answers")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_slow_server_still_answers_everyone(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    async with polling_bot(bot_settings(settings, api), services):
        api.delay(1.0)  # every request, getUpdates too
        users = [6001, 6002, 6003, 6004]
        for user in users:
            api.send_text(GERMAN_QUESTION, user_id=user)
        answers = await asyncio.gather(
            *(api.next_message(chat_id=user, timeout=WAIT) for user in users)
        )
        api.delay(0)
    assert all(blockquotes(answer) for answer in answers)
    assert not trouble(caplog.records)


async def test_reply_slower_than_the_read_timeout_is_not_sent_twice(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """The server has the reply but answers after PTB's 5 s read timeout: sending it again
    would show it twice, so the bot logs one line and lets it arrive."""
    caplog.set_level(logging.WARNING)
    async with polling_bot(bot_settings(settings, api), services) as app:
        api.delay(6.0, methods=["sendMessage"])
        reply = await ask(api, GERMAN_QUESTION)
        api.delay(0)
        assert blockquotes(reply)
        await nothing_more(api, app, DEFAULT_USER_ID)
    assert len(api.calls_to("sendMessage")) == 1 and len(texts(api, DEFAULT_USER_ID)) == 1
    [line] = trouble(caplog.records)
    assert "ReadTimeout" in line and "not sent again" in line
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_flood_limits_are_kept_instead_of_hitting_429s(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """One user asking five questions at once and 40 users at the same moment: every
    question is answered, no 429 is returned, and one chat never gets two messages in a
    second (Telegram's limits: 30 a second per bot, one a second per chat)."""
    api.flood_control(per_chat_per_second=1, global_per_second=30)
    async with polling_bot(bot_settings(settings, api), services, telegram_pacing=True):
        for question in [GERMAN_QUESTION, ENGLISH_QUESTION] * 2 + ["Wie hoch ist der Eiffelturm?"]:
            api.send_text(question)
        crowd = [7000 + n for n in range(40)]
        for user in crowd:
            api.send_text(GERMAN_QUESTION, user_id=user)
        await api.wait_for(
            lambda: (
                len(texts(api, DEFAULT_USER_ID)) == 5 and all(texts(api, user) for user in crowd)
            ),
            timeout=WAIT + 15,
        )
    assert api.stats["429"] == 0
    times = sorted(message["sent_at"] for message in api.messages(DEFAULT_USER_ID))
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[1:], strict=False))
    assert all(len(texts(api, user)) == 1 for user in crowd)


# ---------------------------------------------------------------------------- stopping


async def test_sigterm_finishes_the_reply_in_flight_and_exits_0(
    api: FakeBotAPI, settings: Settings
) -> None:
    async with bot_process(api, token=TOKEN) as process:
        await api.wait_for(lambda: api.calls_to("getUpdates"), timeout=START_WAIT)
        api.delay(3.0, methods=["sendMessage"])
        api.send_text(GERMAN_QUESTION)
        await api.wait_for(lambda: api.calls_to("sendMessage"), timeout=WAIT)  # in flight
        log = await stopped(process, WAIT)
    assert process.returncode == 0, log[-2000:]
    [reply] = api.messages(DEFAULT_USER_ID)
    assert blockquotes(reply)
    assert not api.pending_updates()  # confirmed: a restart does not answer it again
    assert "Traceback" not in log, log[-3000:]


# ---------------------------------------------------------------------------- poison updates


async def test_an_update_the_library_cannot_parse_does_not_stop_the_bot(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """A poll as a Bot API server before 9.6 sends it (options without ids): PTB 22.8 cannot
    read it. It is skipped with a warning and the question behind it is answered."""
    options = [{"text": "A", "voter_count": 0}, {"text": "B", "voter_count": 0}]  # no ids
    poll = {
        "id": "1",
        "question": "Wer?",
        "options": options,
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    async with polling_bot(bot_settings(settings, api), services):
        api.send_message_update({"poll": poll}, user_id=5555)
        api.send_text(GERMAN_QUESTION)
        reply = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=5.0)
        assert blockquotes(reply)
    assert not api.messages(5555)
    [skipped] = [r for r in caplog.records if r.getMessage().startswith("skipping update")]
    assert skipped.levelno == logging.WARNING and "(message)" in skipped.getMessage()
    assert "Wer?" not in skipped.getMessage()
