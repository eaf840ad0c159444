"""PDF, Word and HTML documents end to end: uploads, /add <url>, /docs, citations by page.

The real bot and model against the fake Bot API; pages for /add come from a local web
server the test starts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import pytest_asyncio
from fakebotapi import FakeBotAPI
from samples import (
    ARTICLE,
    BOILERPLATE,
    LIGHTHOUSE,
    docx_file,
    html_page,
    pdf_file,
    scanned_pdf,
    zip_bomb_docx,
)
from telegram.ext import Application
from telegrambot import (
    ADMIN,
    WAIT,
    blockquotes,
    bot_settings,
    buttons,
    command,
    polling_bot,
    report,
    snapshot,
)
from website import Site, local_site

from bot.answering.i18n import text
from bot.app.services import Services
from bot.settings import Settings
from bot.telegram.keyboards import CONTEXT

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]

USER = 6300
Bot = Callable[..., AbstractAsyncContextManager[Application]]


@pytest_asyncio.fixture
async def start_bot(api: FakeBotAPI, settings: Settings, services: Services) -> Bot:
    """Starts the bot with settings overrides (default: real-sized uploads)."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[Application]:
        values = {"max_upload_bytes": 2_000_000} | overrides
        return polling_bot(bot_settings(settings, api, **values), services)

    return start


@pytest_asyncio.fixture
async def app(start_bot: Bot) -> AsyncIterator[Application]:
    async with start_bot() as running:
        yield running


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    async with local_site() as running:
        yield running


async def upload(api: FakeBotAPI, data: bytes, name: str, mime: str, lang: str = "en") -> dict:
    api.mark()
    api.send_document(data, name, mime, user_id=ADMIN, language_code=lang)
    return await api.next_message(chat_id=ADMIN, timeout=WAIT)


async def upload_and_index(api: FakeBotAPI, data: bytes, name: str, mime: str) -> None:
    saved = await upload(api, data, name, mime)
    assert saved["text"] == text("admin_saved", "en", name=name), saved["text"]
    final = await report(api, since=saved["message_id"])
    assert "added 1" in final["text"], final["text"]


# ---------------------------------------------------------------------------- uploads


async def test_a_pdf_is_cited_by_page(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    data = pdf_file(LIGHTHOUSE, title="Der grüne Riese")
    await upload_and_index(api, data, "leuchtturm.pdf", "application/pdf")
    answer = await command(api, "Wer strich den Leuchtturm im Jahr 1923 grün?", USER, "de")
    assert blockquotes(answer)[0] == "Im Jahr 1923 strich Mira Kettlewell den Leuchtturm grün."
    assert "— Der grüne Riese, Seite 2, Absatz 1, Satz 1" in answer["text"]
    english = await command(api, "How many steps does the lighthouse staircase have?", USER)
    assert blockquotes(english)[0] == "Die Treppe im Inneren hat 212 Stufen."
    assert "— Der grüne Riese, page 2, paragraph 2, sentence 1" in english["text"]

    api.press_button(english, buttons(english)[CONTEXT])
    context = await api.next_message(chat_id=USER, timeout=WAIT)
    assert context["text"].startswith("Context – Der grüne Riese, page 2, paragraph 2")

    api.inline_query("Wer strich den Leuchtturm grün?", language_code="de")
    await api.wait_for(lambda: api.inline_answers, timeout=WAIT)
    card = api.inline_answers[-1]["results"][0]
    assert card["description"] == "Seite 2, Absatz 1, Satz 1 · Der grüne Riese"
    assert "Seite 2, Absatz 1, Satz 1" in card["input_message_content"]["message_text"]

    listing = await command(api, "/docs")
    quoted = sum(1 for s in services.searcher.corpus.sentences if s.doc_id == "leuchtturm")
    assert f"leuchtturm – Der grüne Riese (PDF, pages: 3, sentences: {quoted})" in listing["text"]
    assert (
        "nordkorea-soldaten-ukraine – Nordkoreanische Soldaten in der Ukraine (TXT"
        in (listing["text"])
    )


async def test_word_and_html_uploads_are_answered(api: FakeBotAPI, app: Application) -> None:
    word = docx_file(["# Der Hafen", "Im Hafen von Kettlewell liegen zwölf blaue Fischerboote."])
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    await upload_and_index(api, word, "hafen.docx", mime)
    await upload_and_index(api, html_page(ARTICLE), "leuchtturm.html", "text/html")
    boats = await command(api, "Wie viele Fischerboote liegen im Hafen?", USER, "de")
    assert blockquotes(boats) == ["Im Hafen von Kettlewell liegen zwölf blaue Fischerboote."]
    assert "— Der Hafen, Absatz 2, Satz 1" in boats["text"]  # no pages in a Word file
    painted = await command(api, "Who painted the Zorblax lighthouse green?", USER)
    assert "Mira Kettlewell" in blockquotes(painted)[0]
    listing = await command(api, "/docs")
    assert "hafen – Der Hafen (DOCX, sentences: 2)" in listing["text"]
    assert "leuchtturm – Der Zorblax-Leuchtturm (HTML, sentences: 5)" in listing["text"]


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (scanned_pdf(), "scan.pdf", "“scan.pdf” has no text layer (scanned?)"),
        (b"%PDF-1.7\nkaputt", "kaputt.pdf", "“kaputt.pdf” is not a readable PDF"),
        (zip_bomb_docx(), "bombe.docx", "refused as a possible zip bomb"),
        (b"PK\x03\x04", "kaputt.docx", "“kaputt.docx” is not a readable Word file"),
        (b"<html><body><nav><a href='/'>Start</a></nav></body></html>", "menue.html",
         "“menue.html” has no main text"),
    ],
    ids=["scan", "corrupt-pdf", "zip-bomb", "corrupt-docx", "no-main-text"],
)  # fmt: skip
async def test_unreadable_documents_are_refused_with_the_reason(
    api: FakeBotAPI, app: Application, settings: Settings, data: bytes, name: str, reason: str
) -> None:
    before = snapshot(settings.documents_dir)
    reply = await upload(api, data, name, "application/octet-stream")
    assert reply["text"].startswith("I can't accept this file: ") and reason in reply["text"]
    assert snapshot(settings.documents_dir) == before
    german = await upload(api, scanned_pdf(), "scan.pdf", "application/pdf", lang="de")
    assert german["text"] == (
        "Diese Datei nehme ich nicht an: „scan.pdf“ hat keine Textebene (gescannt?)"
    )


async def test_reindex_names_the_files_it_skipped(
    api: FakeBotAPI, app: Application, settings: Settings
) -> None:
    (settings.documents_dir / "scan.pdf").write_bytes(scanned_pdf())
    (settings.documents_dir / "bericht.pdf").write_bytes(pdf_file(LIGHTHOUSE))
    await command(api, "/reindex")
    final = await report(api)
    assert "Documents: 2 (added 1," in final["text"]
    assert final["text"].endswith("Not indexed (1):\n• “scan.pdf” has no text layer (scanned?)")


# ---------------------------------------------------------------------------- /add


async def test_add_stores_a_page_and_answers_from_its_main_text(
    api: FakeBotAPI, start_bot: Bot, settings: Settings, services: Services, site: Site
) -> None:
    url = site.url("/article")
    async with start_bot(allow_private_urls=True):
        saved = await command(api, f"/add {url}")
        assert saved["text"] == text("admin_saved", "en", name="127-0-0-1-article.html")
        final = await report(api, since=saved["message_id"])
        assert "added 1" in final["text"]
        stored = settings.documents_dir / "127-0-0-1-article.html"
        meta = json.loads((settings.documents_dir / "127-0-0-1-article.meta.json").read_text())
        assert meta == {"url": url} and stored.read_bytes().startswith(b"<!doctype html>")
        answer = await command(api, "Wie viele Stufen hat die Treppe im Leuchtturm?", USER, "de")
        assert blockquotes(answer)[0].startswith("Die Treppe im Inneren hat 212 Stufen")
        assert "— Der Zorblax-Leuchtturm, Absatz 3, Satz 2" in answer["text"]
        page = [s.text for s in services.searcher.corpus.sentences if s.doc_id == stored.stem]
        assert page and not [w for w in BOILERPLATE if any(w in s for s in page)]
        # Adding it again asks before replacing the stored page.
        again = await command(api, f"/add {url}")
        assert again["text"] == text("admin_confirm_replace", "en", name=stored.name)
    assert site.paths == ["/article", "/article"]


async def test_add_refuses_private_addresses_by_default(
    api: FakeBotAPI, app: Application, settings: Settings, site: Site
) -> None:
    before = snapshot(settings.documents_dir)
    reply = await command(api, f"/add {site.url('/article')}")
    assert reply["text"] == (
        "I can't add this page: “127.0.0.1” is at 127.0.0.1, a private, loopback, link-local "
        "or reserved address; I don't fetch those"
    )
    german = await command(api, f"/add {site.url('/article', host='localhost')}", lang="de")
    assert german["text"].startswith("Diese Seite füge ich nicht hinzu: „localhost“ liegt unter")
    assert site.paths == [] and snapshot(settings.documents_dir) == before


async def test_add_checks_the_address_and_what_arrives(
    api: FakeBotAPI, start_bot: Bot, settings: Settings, site: Site
) -> None:
    before = snapshot(settings.documents_dir)
    async with start_bot(allow_private_urls=True, max_upload_bytes=50_000):
        usage = await command(api, "/add")
        assert usage["text"] == text("admin_add_usage", "en")
        for line, reason in [
            ("/add ftp://example.org/x.html", "is not an http or https address"),
            (f"/add {site.url('/image')}", "gives “image/png”, not a web page or document"),
            (f"/add {site.url('/endless')}", "larger than 50,000 bytes"),
            (f"/add {site.url('/nothing')}", "the server answered 404"),
        ]:
            reply = await command(api, line)
            assert reply["text"].startswith("I can't add this page: ") and reason in reply["text"]
    assert snapshot(settings.documents_dir) == before
