"""Admin commands, buttons and uploads end to end: the real bot and model against a fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fakebotapi import FakeBotAPI
from telegram.ext import Application
from telegrambot import (
    ADMIN,
    REINDEX_WAIT,
    WAIT,
    blockquotes,
    bot_settings,
    command,
    polling_bot,
    report,
    runtime_of,
    settled,
    snapshot,
)

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]

STRANGER = 777001
NEW_DOC = (
    "The Zorblax lighthouse\n\n"
    "The Zorblax lighthouse was painted green by Mira Kettlewell in 1923. "
    "It stands on a granite cliff north of the harbour.\n"
)


@pytest_asyncio.fixture
async def app(
    api: FakeBotAPI, settings: Settings, services: Services
) -> AsyncIterator[Application]:
    tight = bot_settings(settings, api, max_upload_bytes=5_000)
    async with polling_bot(tight, services) as running:
        yield running


@pytest.fixture
def slow_build(services: Services, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make builds wait until the returned event is set (at most REINDEX_WAIT seconds)."""
    release, original = threading.Event(), services.indexer.build

    def build(*args: Any, **kwargs: Any) -> Any:
        release.wait(REINDEX_WAIT)
        return original(*args, **kwargs)

    monkeypatch.setattr(services.indexer, "build", build)
    return release


# ---------------------------------------------------------------------------- admins


async def test_status_shows_documents_index_and_counters(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    doc = services.searcher.corpus.documents[0]
    await command(api, "Wer besuchte im Juni Pjöngjang?", user_id=5555, lang="de")
    reply = await command(api, "/status")
    manifest = services.searcher.version.manifest
    assert doc.title in reply["text"] and doc.checksum[:8] in reply["text"]
    assert f"Sentences: {len(services.searcher.corpus.sentences)}" in reply["text"]
    assert manifest.index_sha256[:12] in reply["text"] and manifest.model in reply["text"]
    total = len(services.searcher.corpus.sentences)
    assert re.search(
        rf"second model: {services.settings.rerank_model} \(\d+/{total}\)", reply["text"]
    )
    assert "Questions answered: 1" in reply["text"] and "Abstention rate: 0%" in reply["text"]
    german = await command(api, "/status", lang="de")
    assert "Sätze:" in german["text"] and "Laufzeit" in german["text"]


async def test_reindex_edits_one_message_into_a_change_report(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    first = await command(api, "/reindex")
    assert first["text"] == text("admin_reindex_started", "en")
    final = await report(api)
    assert final["message_id"] == first["message_id"]
    assert "Documents: 1 (added 0, removed 0, changed 0, unchanged 1)" in final["text"]
    assert services.searcher.version.manifest.index_sha256[:12] in final["text"]
    edits = [c for c in api.calls_to("editMessageText") if c["chat_id"] == ADMIN]
    bodies = [c["text"] for c in edits]
    assert len(bodies) == len(set(bodies))  # never the same text twice
    status = await command(api, "/status")
    assert "Last reindex: succeeded" in status["text"]


async def test_reindex_on_a_full_disk_tells_the_admin_and_keeps_serving(
    api: FakeBotAPI, app: Application, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = services.searcher.version.manifest.version

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(services.indexer.store, "write", full_disk)
    first = await command(api, "/reindex")
    final = await report(api)
    assert final["message_id"] == first["message_id"]
    assert final["text"].startswith(text("admin_reindex_failed", "en", reason="")[:12])
    assert "No space left on device" in final["text"]
    assert services.searcher.version.manifest.version == before
    answer = await command(api, "Wer besuchte im Juni Pjöngjang?", user_id=5555, lang="de")
    assert blockquotes(answer)
    status = await command(api, "/status")
    assert "Last reindex: failed" in status["text"]


async def test_second_reindex_while_one_runs_is_refused_and_questions_get_answers(
    api: FakeBotAPI, app: Application, slow_build: threading.Event
) -> None:
    await command(api, "/reindex")
    again = await command(api, "/reindex")
    assert again["text"] == text("admin_already_running", "en")
    users = [6000 + n for n in range(20)]
    for user in users:
        api.send_text("Wer besuchte im Juni Pjöngjang?", user_id=user)
    answers = await asyncio.gather(
        *(api.next_message(chat_id=user, timeout=REINDEX_WAIT) for user in users)
    )
    assert all(a["text"] for a in answers) and sum(bool(blockquotes(a)) for a in answers) == 20
    slow_build.set()
    final = await report(api)
    assert final["text"].startswith("Index rebuilt")


async def test_upload_of_a_new_document_is_stored_and_answerable(
    api: FakeBotAPI, app: Application, settings: Settings
) -> None:
    api.send_document(
        NEW_DOC.encode(), "lighthouse.txt", "text/plain", user_id=ADMIN, language_code="en"
    )
    saved = await api.next_message(chat_id=ADMIN, timeout=WAIT)
    assert saved["text"] == text("admin_saved", "en", name="lighthouse.txt")
    final = await report(api)
    assert "added 1" in final["text"]
    assert (settings.documents_dir / "lighthouse.txt").read_text() == NEW_DOC
    answer = await command(api, "Who painted the Zorblax lighthouse green?", user_id=6100)
    assert any("Kettlewell" in quote for quote in blockquotes(answer)), answer["text"]
    listing = await command(api, "/docs")
    assert "lighthouse" in listing["text"]


async def test_upload_of_an_existing_name_asks_before_replacing(
    api: FakeBotAPI, app: Application, settings: Settings, services: Services
) -> None:
    name = next(p.name for p in settings.documents_dir.glob("*.txt"))
    before = snapshot(settings.documents_dir)
    api.send_document(NEW_DOC.encode(), name, "text/plain", user_id=ADMIN, language_code="en")
    question = await api.next_message(chat_id=ADMIN, timeout=WAIT)
    assert question["text"] == text("admin_confirm_replace", "en", name=name)
    no = question["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
    api.press_button(question, no, user_id=ADMIN, language_code="en")
    cancelled = await api.next_message(chat_id=ADMIN, timeout=WAIT)
    assert cancelled["text"] == text("admin_cancelled", "en")
    assert snapshot(settings.documents_dir) == before


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "picture.txt", "binary"),
        (b"", "empty.txt", "no text"),
        (b"a" * 6_000, "big.txt", "limit"),
        (b"root:x:0:0:root:/root:/bin/bash", "../../etc/passwd.txt", "not a safe file name"),
        ("Grüße aus Köln".encode("latin-1"), "latin.txt", "not UTF-8"),
    ],
)
async def test_invalid_uploads_are_refused_with_the_reason(
    api: FakeBotAPI, app: Application, settings: Settings, data: bytes, name: str, reason: str
) -> None:
    before = snapshot(settings.documents_dir)
    api.send_document(data, name, "text/plain", user_id=ADMIN, language_code="en")
    reply = await api.next_message(chat_id=ADMIN, timeout=WAIT)
    assert reply["text"].startswith("I can't accept this file") and reason in reply["text"]
    assert snapshot(settings.documents_dir) == before
    if name == "big.txt":  # refused before downloading
        assert not api.calls_to("getFile")


async def test_remove_asks_then_removes_and_reindexes(
    api: FakeBotAPI, app: Application, settings: Settings, services: Services
) -> None:
    (settings.documents_dir / "lighthouse.txt").write_text(NEW_DOC)
    await command(api, "/reindex")
    await report(api)
    doc_id = "lighthouse"
    before = snapshot(settings.documents_dir)
    missing = await command(api, "/remove nothing-here")
    assert "nothing-here" in missing["text"] and not missing["reply_markup"]
    question = await command(api, f"/remove {doc_id}", lang="de")
    assert question["text"] == text("admin_confirm_remove", "de", doc_id=doc_id)
    yes = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    api.press_button(question, yes, user_id=STRANGER, language_code="de")
    await api.wait_for(lambda: api.callback_answers, timeout=WAIT)
    assert api.callback_answers[-1]["text"] == text("admin_refused", "de")
    assert snapshot(settings.documents_dir) == before
    api.press_button(question, yes, user_id=ADMIN, language_code="de")
    removed = await api.next_message(chat_id=ADMIN, timeout=WAIT)
    assert removed["text"] == text("admin_removed", "de", doc_id=doc_id)
    final = await report(api, lang="de", since=removed["message_id"])
    assert "entfernt 1" in final["text"]
    assert not list(settings.documents_dir.glob(f"{doc_id}.txt"))


async def test_rollback_serves_the_previous_version(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    refused = await command(api, "/rollback")
    assert refused["text"].startswith("Cannot roll back")
    serving = services.searcher.version.manifest.version
    await command(api, "/reindex")
    await report(api)
    assert services.searcher.version.manifest.version != serving
    reply = await command(api, "/rollback")
    assert services.searcher.version.manifest.version == serving
    assert serving in reply["text"]


async def test_feedback_and_unanswered_list_questions(
    api: FakeBotAPI, app: Application, settings: Settings, services: Services
) -> None:
    answer = await command(api, "Wer besuchte im Juni Pjöngjang?", user_id=6200, lang="de")
    [quoted] = blockquotes(answer)
    down = answer["reply_markup"]["inline_keyboard"][1][1]["callback_data"]
    api.press_button(answer, down, user_id=6200)
    await api.wait_for(lambda: api.callback_answers, timeout=WAIT)
    await command(api, "Wie backe ich einen Apfelkuchen mit Zimt?", user_id=6201, lang="de")
    # A document that sorts first moves every sentence id of the article.
    (settings.documents_dir / "a-lighthouse.txt").write_text(NEW_DOC, "utf-8")
    await command(api, "/reindex")
    await report(api)
    [vote] = runtime_of(app).state.feedback()
    assert services.searcher.corpus.sentences[vote.sentence_ids[0]].text not in quoted
    listing = await command(api, "/feedback")
    assert "Wer besuchte im Juni Pjöngjang?" in listing["text"]
    assert blockquotes(listing) == [quoted]
    unanswered = await command(api, "/unanswered")
    assert unanswered["text"].startswith(text("admin_unanswered_title", "en"))


# ---------------------------------------------------------------------------- everyone else


@pytest.mark.parametrize(
    "line",
    [
        "/status",
        "/reindex",
        "/docs",
        "/add http://127.0.0.1:9/never-fetched",
        "/remove x",
        "/rollback",
        "/feedback",
        "/unanswered",
    ],
)
async def test_non_admin_commands_are_refused_and_logged(
    api: FakeBotAPI,
    app: Application,
    settings: Settings,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    line: str,
) -> None:
    before, serving = snapshot(settings.documents_dir), services.searcher.version.manifest.version
    caplog.set_level(logging.WARNING, logger="bot.telegram.handlers.replies")
    for user, lang in ((STRANGER, "de"), (STRANGER + 1, "en")):  # two chats: no pacing
        reply = await command(api, line, user_id=user, lang=lang)
        assert reply["text"] == text("admin_refused", lang) and not reply["reply_markup"]
        assert f"refused admin command {line.split()[0]} from user {user}" in caplog.text
    await settled(api, app)
    assert snapshot(settings.documents_dir) == before
    assert services.searcher.version.manifest.version == serving


async def test_non_admin_upload_is_refused_and_nothing_is_written(
    api: FakeBotAPI, app: Application, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshot(settings.documents_dir)
    api.send_document(NEW_DOC.encode(), "lighthouse.txt", "text/plain", user_id=STRANGER)
    reply = await api.next_message(chat_id=STRANGER, timeout=WAIT)
    assert reply["text"] == text("admin_refused", "de")
    assert f"refused admin command upload from user {STRANGER}" in caplog.text
    assert not api.calls_to("getFile") and snapshot(settings.documents_dir) == before
