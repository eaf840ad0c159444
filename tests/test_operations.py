"""Operations: the webhook server's secret check, /healthz, /metrics, the question log line,
and a clean stop on SIGTERM, end to end against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import aiohttp
import pytest
from botprocess import bot_process, unused_port
from fakebotapi import DEFAULT_USER_ID, FakeBotAPI
from prometheus_client.parser import text_string_to_metric_families
from telegrambot import (
    ENGLISH_QUESTION,
    GERMAN_QUESTION,
    HOOK,
    TOKEN,
    WAIT,
    ask,
    blockquotes,
    bot_settings,
    outbox,
    quiet,
    webhook_bot,
)
from tornado.netutil import bind_sockets

from bot.answering.i18n import text
from bot.app.services import Services
from bot.logs import setup_logging
from bot.settings import Settings
from bot.telegram.app import build_application
from bot.telegram.web import WebhookServer, webhook_path

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]

SECRET = "hook-Secret_7f3a9c"
OFF_TOPIC = "Wie hoch ist der Eiffelturm?"


async def get(url: str) -> tuple[int, str, str]:
    """Status, content type and body of a GET request."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        async with session.get(url) as response:
            return response.status, response.headers["Content-Type"], await response.text()


async def post(url: str, body: bytes, *, secret: str) -> int:
    """Status of a POST with the secret header and a raw body."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        async with session.post(url, data=body, headers=headers) as response:
            return response.status


async def health(root: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT)) as session:
        async with session.get(f"{root}/healthz") as response:
            return response.status, await response.json()


async def scrape(root: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    status, content_type, body = await get(f"{root}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def settled(root: str, updates: float, answers: float = 0) -> dict:
    """/metrics once `updates` updates are handled and `answers` answers went out.

    A handler returns while its reply still waits its turn in the flood limits, so an
    update counts as handled before its answer is counted: wait for both.
    """

    def done(samples: dict) -> bool:
        return (
            value(samples, "quote_bot_updates_total") >= updates
            and value(samples, "quote_bot_answer_seconds_count") >= answers
        )

    async with asyncio.timeout(WAIT):
        while not done(samples := await scrape(root)):
            await asyncio.sleep(0.05)
    return samples


async def ask_via_webhook(api: FakeBotAPI, question: str, **sender: Any) -> dict[str, Any]:
    """Send `question` as a user through the webhook; the bot's reply."""
    api.send_text(question, **sender)
    assert await api.post_update_to_webhook() == 200
    return await api.next_message(chat_id=sender.get("user_id", DEFAULT_USER_ID), timeout=WAIT)


# ---------------------------------------------------------------------------- webhook


async def test_updates_without_the_right_secret_are_refused_and_not_handled(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        before = await scrape(root)
        api.send_text(GERMAN_QUESTION)
        assert await api.post_update_to_webhook(secret_token=None) == 403
        assert await api.post_update_to_webhook(secret_token="wrong") == 403
        assert await api.post_update_to_webhook(secret_token=SECRET[:-1]) == 403
        assert await post(root + HOOK, b"{not json", secret=SECRET) == 400
        await quiet(api, DEFAULT_USER_ID, 0.5)
        after = await scrape(root)
        assert value(after, "quote_bot_updates_total") == value(before, "quote_bot_updates_total")
        assert (await health(root))[1]["last_update_at"] is None

        assert await api.post_update_to_webhook() == 200  # the same update, now with the secret
        reply = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        assert blockquotes(reply)
        assert not api.pending_updates()


async def test_an_update_the_library_cannot_read_is_confirmed_and_skipped(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """Telegram re-sends an update until the webhook answers 2xx: one the library cannot
    read (a poll without option ids, as before Bot API 9.6) is confirmed and dropped."""
    options = [{"text": "A", "voter_count": 0}, {"text": "B", "voter_count": 0}]
    poll = {"id": "1", "question": "Wer?", "options": options, "total_voter_count": 0,
            "is_closed": False, "is_anonymous": True, "type": "regular",
            "allows_multiple_answers": False}  # fmt: skip
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        api.send_message_update({"poll": poll}, user_id=5555)
        assert await api.post_update_to_webhook() == 200
        assert await post(root + HOOK, b'{"message": {}}', secret=SECRET) == 400  # no update_id
        reply = await ask_via_webhook(api, GERMAN_QUESTION)
        assert blockquotes(reply)
        await quiet(api, 5555, 0.3)
        assert not api.pending_updates()


async def test_healthz_reports_the_loaded_index(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    manifest = services.searcher.version.manifest
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        status, report = await health(root)
        assert status == 200
        assert report["index_loaded"] is True and report["index_version"] == manifest.version
        assert report["documents"] == 1 and report["sentences"] == 11
        assert report["index_sha256"] == manifest.index_sha256 and len(manifest.index_sha256) == 64
        assert report["last_update_at"] is None and report["uptime_seconds"] >= 0

        handled = value(await scrape(root), "quote_bot_updates_total")
        await ask_via_webhook(api, GERMAN_QUESTION)
        await settled(root, handled + 1)
        _, report = await health(root)
        assert report["last_update_at"] and report["last_update_at"].endswith("+00:00")


async def test_healthz_is_503_until_the_index_is_loaded(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """Before post_init has loaded model and index, /healthz says so with 503."""
    app = build_application(bot_settings(settings, api), services=services, outbox=outbox())
    sockets = bind_sockets(0, "127.0.0.1")
    server = WebhookServer(app, path=HOOK, secret=SECRET)
    server.add_sockets(sockets)
    try:
        status, report = await health(f"http://127.0.0.1:{sockets[0].getsockname()[1]}")
    finally:
        await server.stop()
    assert status == 503
    assert report["index_loaded"] is False and report["sentences"] is None


async def test_metrics_count_questions_by_outcome_with_latency(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        before = await scrape(root)
        answered = await ask_via_webhook(api, GERMAN_QUESTION)
        abstained = await ask_via_webhook(api, OFF_TOPIC)
        english = await ask_via_webhook(api, ENGLISH_QUESTION, user_id=1002, language_code="en")
        assert blockquotes(answered) and blockquotes(english)
        assert abstained["text"].startswith(text("abstain", "de"))
        after = await settled(
            root,
            value(before, "quote_bot_updates_total") + 3,
            value(before, "quote_bot_answer_seconds_count") + 3,
        )

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    questions = "quote_bot_questions_total"
    assert grew(questions, language="de", outcome="answered") == 1
    assert grew(questions, language="de", outcome="abstained") == 1
    assert grew(questions, language="en", outcome="answered") == 1
    assert grew("quote_bot_abstentions_total") == 1
    assert grew("quote_bot_answer_seconds_count") == 3
    assert 0 < grew("quote_bot_answer_seconds_sum") < 3 * WAIT
    assert grew("quote_bot_answer_seconds_bucket", le="+Inf") == 3
    assert grew("quote_bot_updates_total") == 3
    assert value(after, "quote_bot_index_loaded") == 1
    assert value(after, "quote_bot_index_documents") == 1
    assert value(after, "quote_bot_index_sentences") == 11
    manifest = services.searcher.version.manifest
    assert value(after, "quote_bot_index_build_seconds") == manifest.build_seconds
    assert ("process_resident_memory_bytes", ()) in after  # the default collectors come along


async def test_metrics_count_inline_queries_by_what_they_got(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        before = await scrape(root)
        for query in ("Pjöngjang Juni Besuch", "Wie hoch ist der Eiffelturm?", ""):
            api.inline_query(query)
            assert await api.post_update_to_webhook() == 200
        await api.wait_for(lambda: len(api.inline_answers) == 3, timeout=WAIT)
        after = await settled(root, value(before, "quote_bot_updates_total") + 3)

    def grew(outcome: str) -> float:
        name = "quote_bot_inline_queries_total"
        return value(after, name, outcome=outcome) - value(before, name, outcome=outcome)

    assert [grew(o) for o in ("quotes", "no_answer", "examples", "rate_limited")] == [1, 1, 1, 0]
    assert value(after, "quote_bot_questions_total", language="de", outcome="answered") == value(
        before, "quote_bot_questions_total", language="de", outcome="answered"
    )


async def test_failed_updates_are_counted_as_errors(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with webhook_bot(api, settings, services, secret=SECRET) as root:
        before = await scrape(root)
        api.fail_next(times=1, status=500, methods=["sendChatAction"])
        reply = await ask_via_webhook(api, GERMAN_QUESTION)
        assert reply["text"] == text("error", "de")
        after = await settled(root, value(before, "quote_bot_updates_total") + 1)
    assert value(after, "quote_bot_errors_total") - value(before, "quote_bot_errors_total") == 1
    assert value(after, "quote_bot_updates_total") - value(before, "quote_bot_updates_total") == 1
    answered = value(after, "quote_bot_questions_total", language="de", outcome="answered")
    assert answered == value(before, "quote_bot_questions_total", language="de", outcome="answered")


def test_webhook_path_must_not_hide_healthz_or_metrics() -> None:
    assert webhook_path("https://bot.example.org/telegram/hook/") == "/telegram/hook"
    assert webhook_path("https://bot.example.org") == "/"
    for taken in ("healthz", "metrics"):
        with pytest.raises(ValueError, match=f"WEBHOOK_URL must not end in /{taken}"):
            webhook_path(f"https://bot.example.org/{taken}")


# ---------------------------------------------------------------------------- the log


async def test_log_has_one_line_per_question_and_no_secrets(
    api: FakeBotAPI,
    settings: Settings,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs = logging.getLogger()
    saved = logs.handlers[:], logs.level
    try:
        setup_logging("DEBUG", secrets=[TOKEN, SECRET])  # what LOG_LEVEL=DEBUG sets up
        logs.addHandler(caplog.handler)  # setup_logging replaced the root's handlers
        async with webhook_bot(api, settings, services, secret=SECRET) as root:
            before = await scrape(root)
            api.send_text(GERMAN_QUESTION)
            assert await api.post_update_to_webhook(secret_token="not-the-secret") == 403
            assert await api.post_update_to_webhook() == 200
            await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
            await ask_via_webhook(api, OFF_TOPIC)
            await settled(
                root,
                value(before, "quote_bot_updates_total") + 2,
                value(before, "quote_bot_answer_seconds_count") + 2,
            )
    finally:
        logs.handlers[:], level = saved
        logs.setLevel(level)
    written = capsys.readouterr().err
    assert "DEBUG" in written and "setWebhook" in written  # the log really ran at DEBUG
    for secret in (TOKEN, TOKEN.split(":")[1], SECRET):
        assert secret not in written

    lines = [r for r in caplog.records if r.name == "bot.app.metrics" and r.levelno == logging.INFO]
    assert [r.args[:2] for r in lines] == [("de", False), ("de", True)]
    assert lines[0].getMessage().startswith("question language=de abstained=False latency_ms=")
    assert "top_score=" in lines[0].getMessage() and lines[1].getMessage().endswith("quotes=0")
    texts = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(GERMAN_QUESTION in t for t in texts)  # the text is there, at DEBUG only
    for record in caplog.records:
        message = record.getMessage()
        assert TOKEN.split(":")[1] not in message and SECRET not in message
        if record.levelno >= logging.INFO:
            assert GERMAN_QUESTION not in message and OFF_TOPIC not in message


# ---------------------------------------------------------------------------- python -m bot run


async def test_python_m_bot_run_webhook_serves_health_metrics_and_stops_cleanly(
    api: FakeBotAPI, settings: Settings
) -> None:
    """The real entry point in webhook mode: SIGTERM lets an update in progress finish."""
    port = unused_port()
    root = f"http://127.0.0.1:{port}"
    env = {
        "LOG_LEVEL": "DEBUG",
        "WEBHOOK_URL": f"{root}{HOOK}",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": SECRET,
    }
    async with bot_process(api, token=TOKEN, env=env) as process:
        try:
            await api.wait_for(lambda: api.calls_to("setWebhook") or process.returncode, timeout=90)
            assert (await health(root))[0] == 200
            api.send_text(GERMAN_QUESTION)
            assert await api.post_update_to_webhook(secret_token=None) == 403
            assert await api.post_update_to_webhook() == 200
            assert blockquotes(await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT))
            metrics = await settled(root, 1, answers=1)
            answered = {"language": "de", "outcome": "answered"}
            assert value(metrics, "quote_bot_questions_total", **answered) == 1
            assert value(metrics, "quote_bot_answer_seconds_count") == 1

            api.delay(1.5, methods=["sendMessage"])  # an answer still on its way at SIGTERM
            api.send_text(OFF_TOPIC)
            assert await api.post_update_to_webhook() == 200
            await api.wait_for(lambda: len(api.calls_to("sendChatAction")) >= 2, timeout=WAIT)
            process.send_signal(signal.SIGTERM)
            late = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
            assert late["text"].startswith(text("abstain", "de"))
        finally:
            if process.returncode is None:
                process.terminate()
            _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    log = stderr.decode()
    assert process.returncode == 0, log[-2000:]
    assert "question language=de abstained=True" in log and "Traceback" not in log
    assert TOKEN.split(":")[1] not in log and SECRET not in log
    info = [line for line in log.splitlines() if " INFO " in line or " WARNING " in line]
    assert info and not any(GERMAN_QUESTION in line or OFF_TOPIC in line for line in info)
    with pytest.raises(aiohttp.ClientConnectionError):  # the server is gone with the process
        await health(root)


async def test_python_m_bot_run_polling_serves_metrics_on_metrics_port(
    api: FakeBotAPI, settings: Settings
) -> None:
    port = unused_port()
    env = {"LOG_LEVEL": "DEBUG", "METRICS_PORT": str(port)}
    async with bot_process(api, token=TOKEN, env=env) as process:
        try:
            await api.wait_for(lambda: api.calls_to("getUpdates") or process.returncode, timeout=90)
            assert blockquotes(await ask(api, GERMAN_QUESTION))
            metrics = await settled(f"http://127.0.0.1:{port}", 1, answers=1)
            answered = {"language": "de", "outcome": "answered"}
            assert value(metrics, "quote_bot_questions_total", **answered) == 1
            assert value(metrics, "quote_bot_index_sentences") == 11
        finally:
            if process.returncode is None:
                process.terminate()
            _, stderr = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 0, stderr.decode()[-2000:]
