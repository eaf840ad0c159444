"""The bad input matrix, end to end: odd texts, odd messages, forged buttons and odd inline
queries against the real bot, model and index on a fake Bot API server.

Every case gets a clear, polite reply, or deliberate silence where Telegram etiquette wants
it (group messages not meant for the bot); never a rejected send or an error in the log.
Cases already covered elsewhere are not repeated here: punctuation- and emoji-only
questions, 5000 characters, HTML in questions, unknown commands, /cmd@otherbot in private
chats, stickers, photos and locations, edits in private chats, stale version and key in
callback data, 880-character inline queries (tests/test_telegram.py), and admin commands
and uploads from non-admins in private chats (tests/test_telegram_admin.py).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fakebotapi import DEFAULT_GROUP_CHAT_ID, DEFAULT_USER_ID, FakeBotAPI
from telegram.ext import Application
from telegrambot import (
    ADMIN,
    BOT,
    GERMAN_QUESTION,
    WAIT,
    blockquotes,
    bot_settings,
    buttons,
    nothing_more,
    polling_bot,
    runtime_of,
)

from bot.answering.i18n import text
from bot.answering.pipeline import clean_question
from bot.app.admin import Admin
from bot.app.services import Services
from bot.settings import Settings
from bot.telegram.keyboards import CONTEXT, MORE, VOTE, decode

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"),
    pytest.mark.slow,  # the bot end to end, beyond the handlers of test_telegram
]

STRANGER = 777002
GROUP = {"chat_type": "group", "chat_id": DEFAULT_GROUP_CHAT_ID}

# What a reply must be: quotes, an abstention, or one of the polite refusals.
ANSWER, ABSTAIN, EMPTY, TOO_LONG, NOT_TEXT, SILENT = (
    "answer",
    "abstain",
    "empty_question",
    "too_long",
    "not_text",
    "silent",
)


@pytest_asyncio.fixture
async def app(
    api: FakeBotAPI, settings: Settings, services: Services, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Application]:
    """The bot; afterwards no send was rejected and nothing reached the error handler."""
    async with polling_bot(bot_settings(settings, api), services) as running:
        yield running
    assert api.stats["4xx"] == 0, api.errors
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors


def is_(kind: str, reply: dict[str, Any]) -> bool:
    """Whether a reply is of `kind`, in German or English (the question decides which)."""
    if kind == ANSWER:
        return bool(blockquotes(reply))
    starts = (text(kind, lang, example="", length=0, limit=0)[:20] for lang in ("de", "en"))
    return reply["text"].startswith(tuple(starts))


async def one_reply(api: FakeBotAPI, app: Application, chat_id: int) -> dict[str, Any]:
    """The bot's reply to `chat_id`, making sure it is the only one."""
    reply = await api.next_message(chat_id=chat_id, timeout=WAIT)
    await nothing_more(api, app, chat_id)
    return reply


# ---------------------------------------------------------------------------- texts


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        pytest.param("", NOT_TEXT, id="empty text"),
        pytest.param(" \n\t  ", EMPTY, id="whitespace only"),
        pytest.param("?", EMPTY, id="one character, no word"),
        pytest.param("a", ABSTAIN, id="one letter"),
        pytest.param("Wer? " * 819 + "x", TOO_LONG, id="4096 characters, Telegram's maximum"),
        pytest.param("👩‍👩‍👧🇩🇪🚀", EMPTY, id="emoji only, with ZWJ sequence and flag"),
        pytest.param(f"🚀 {GERMAN_QUESTION} 🇰🇵", ANSWER, id="emoji around a question"),
        # Neither German nor English: the second model's cosine stays below the bar for a
        # language other than the document's, so the bot refuses rather than guesses.
        pytest.param("من زار بيونغ يانغ في يونيو؟", ABSTAIN, id="Arabic, right to left"),
        pytest.param("מי ביקר בפיונגיאנג ביוני?", ABSTAIN, id="Hebrew, right to left"),
        pytest.param(f"\u202e{GERMAN_QUESTION}\u202c", ANSWER, id="right-to-left override"),
        pytest.param("Wer\x00 besuchte\x07 im Juni\x1b[31m Pjöngjang?\x7f", ANSWER, id="control"),
        pytest.param(
            "W\u200be\u200br besuchte\u200d im Juni Pjöngjang\ufeff?",
            ANSWER,
            id="zero-width characters inside words",
        ),
        pytest.param("\u200b\u200c\u200d\u2060\ufeff", EMPTY, id="zero-width characters only"),
        pytest.param("W̷̛e̸r̴ b̶e̷s̵u̸c̷h̶t̴e̶ i̷m̶ J̴u̸n̷i̶ P̴j̸ö̷n̶g̵j̸a̵n̶g̸?", ANSWER, id="combining marks (Zalgo)"),
        pytest.param(
            unicodedata.normalize("NFD", GERMAN_QUESTION), ANSWER, id="decomposed umlauts (NFD)"
        ),
        pytest.param(
            "*Wer* _besuchte_ im Juni [Pjöngjang](http://evil.example) `x`?",
            ANSWER,
            id="Markdown injection",
        ),
        pytest.param(
            "<a href='tg://user?id=1'>Wer</a> besuchte im Juni Pjöngjang?</blockquote>",
            ANSWER,
            id="HTML link and closing tag",
        ),
        pytest.param("&lt;b&gt; &amp;#0; &#x1F600;", ABSTAIN, id="HTML entities"),
    ],
)
async def test_private_texts(api: FakeBotAPI, app: Application, question: str, kind: str) -> None:
    api.send_text(question, entities=[])
    reply = await one_reply(api, app, DEFAULT_USER_ID)
    assert is_(kind, reply), reply["text"][:300]


# ---------------------------------------------------------------------------- other messages

FILE = {"file_id": "AwACAgIAAxkBAAIBfake", "file_unique_id": "AgADfake"}
FORWARDED = {"type": "hidden_user", "sender_user_name": "Jemand", "date": 1728367200}
CHANNEL = {
    "type": "channel",
    "chat": {"id": -1001111111111, "type": "channel", "title": "Nachrichten"},
    "message_id": 42,
    "date": 1728367200,
}


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        pytest.param({"voice": {**FILE, "duration": 3}}, NOT_TEXT, id="voice"),
        pytest.param({"audio": {**FILE, "duration": 180}}, NOT_TEXT, id="audio"),
        pytest.param(
            {"video": {**FILE, "width": 640, "height": 360, "duration": 5}}, NOT_TEXT, id="video"
        ),
        pytest.param(
            {"video_note": {**FILE, "length": 240, "duration": 5}}, NOT_TEXT, id="video note"
        ),
        pytest.param(
            {"animation": {**FILE, "width": 320, "height": 240, "duration": 2}, "document": FILE},
            NOT_TEXT,
            id="GIF",
        ),
        pytest.param(
            {"contact": {"phone_number": "+4930123456", "first_name": "Kim"}},
            NOT_TEXT,
            id="contact",
        ),
        pytest.param(
            {
                "venue": {
                    "location": {"latitude": 39.0, "longitude": 125.75},
                    "title": "Kim-Il-sung-Platz",
                    "address": "Pjöngjang",
                }
            },
            NOT_TEXT,
            id="venue",
        ),
        pytest.param({"dice": {"emoji": "🎲", "value": 4}}, NOT_TEXT, id="dice"),
        pytest.param(
            {
                "poll": {
                    "id": "1",
                    "question": "Wer?",
                    "total_voter_count": 0,
                    "options": [
                        {"text": "A", "voter_count": 0, "persistent_id": "a"},
                        {"text": "B", "voter_count": 0, "persistent_id": "b"},
                    ],
                    "is_closed": False,
                    "is_anonymous": True,
                    "type": "regular",
                    "allows_multiple_answers": False,
                    "allows_revoting": False,
                    "members_only": False,
                }
            },
            NOT_TEXT,
            id="poll",
        ),
        pytest.param(
            {"photo": [{**FILE, "width": 90, "height": 90}], "caption": GERMAN_QUESTION},
            NOT_TEXT,
            id="photo with the question as caption",
        ),
        pytest.param(
            {"text": GERMAN_QUESTION, "forward_origin": FORWARDED}, ANSWER, id="forwarded question"
        ),
        pytest.param(
            {"text": "Pjöngjang " * 60, "forward_origin": CHANNEL},
            TOO_LONG,
            id="forwarded long channel post",
        ),
        pytest.param(
            {"photo": [{**FILE, "width": 90, "height": 90}], "forward_origin": CHANNEL},
            NOT_TEXT,
            id="forwarded photo",
        ),
    ],
)
async def test_private_messages(
    api: FakeBotAPI, app: Application, fields: dict[str, Any], kind: str
) -> None:
    api.send_message_update(fields)
    reply = await one_reply(api, app, DEFAULT_USER_ID)
    assert is_(kind, reply), reply["text"][:300]


# ---------------------------------------------------------------------------- groups


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        pytest.param("/help@otherbot", SILENT, id="/help@otherbot"),
        pytest.param("/start@otherbot", SILENT, id="/start@otherbot"),
        pytest.param(f"/frobnicate@otherbot {GERMAN_QUESTION}", SILENT, id="/unknown@otherbot"),
        pytest.param(f"@otherbot {GERMAN_QUESTION}", SILENT, id="question to another bot"),
        pytest.param(f"@{BOT}", EMPTY, id="a mention and nothing else"),
        pytest.param(f"@{BOT} 🤔🤔", EMPTY, id="a mention and emoji"),
        pytest.param("/ask 🤔", EMPTY, id="/ask with emoji only"),
        pytest.param(f"/ask@{BOT} " + "Wer? " * 200, TOO_LONG, id="/ask@bot, 1000 characters"),
        pytest.param(
            f"@{BOT} \u200bWer\u200b besuchte im Juni Pjöngjang?",
            ANSWER,
            id="a mention with zero-width characters",
        ),
    ],
)
async def test_group_messages(api: FakeBotAPI, app: Application, line: str, kind: str) -> None:
    api.send_text(line, **GROUP)
    if kind == SILENT:
        await nothing_more(api, app, DEFAULT_GROUP_CHAT_ID)
        return
    reply = await one_reply(api, app, DEFAULT_GROUP_CHAT_ID)
    assert is_(kind, reply), reply["text"][:300]
    assert reply["message"]["reply_to_message"]["text"]  # said to whom


async def test_group_edits_forwards_and_anonymous_admins(api: FakeBotAPI, app: Application) -> None:
    """Silence for edits and for forwards that do not address the bot; an anonymous group
    admin (sent as the group itself, no language) who mentions the bot gets an answer."""
    asked = api.send_text(f"/ask {GERMAN_QUESTION}", **GROUP)
    await one_reply(api, app, DEFAULT_GROUP_CHAT_ID)
    api.send_edited_text(asked, f"/ask {GERMAN_QUESTION} Und wann?", chat_id=DEFAULT_GROUP_CHAT_ID)
    api.send_message_update({"text": GERMAN_QUESTION, "forward_origin": CHANNEL}, chat_type="group")
    await nothing_more(api, app, DEFAULT_GROUP_CHAT_ID)
    anonymous = {
        "text": f"@{BOT} {GERMAN_QUESTION}",
        "entities": [{"type": "mention", "offset": 0, "length": len(BOT) + 1}],
        "sender_chat": {"id": DEFAULT_GROUP_CHAT_ID, "type": "group", "title": "Test Group"},
    }
    api.send_message_update(
        anonymous, user_id=1087968824, first_name="Group", language_code=None, chat_type="group"
    )
    reply = await one_reply(api, app, DEFAULT_GROUP_CHAT_ID)
    assert blockquotes(reply)


@pytest.mark.parametrize("line", ["/reindex", f"/status@{BOT}", "/remove nordkorea", "/docs"])
async def test_admin_commands_from_non_admins_in_groups_do_nothing(
    api: FakeBotAPI, app: Application, services: Services, line: str
) -> None:
    """Admin commands work in private chats only; in a group they are not answered at all,
    so nothing about the documents or the index is said in front of the group."""
    serving = services.searcher.version.manifest.version
    api.send_text(line, user_id=STRANGER, **GROUP)
    api.send_text(line, user_id=ADMIN, **GROUP)
    await nothing_more(api, app, DEFAULT_GROUP_CHAT_ID)
    assert services.searcher.version.manifest.version == serving


# ---------------------------------------------------------------------------- buttons


async def answered(api: FakeBotAPI, user_id: int = DEFAULT_USER_ID) -> dict[str, Any]:
    api.send_text(GERMAN_QUESTION, user_id=user_id)
    return await api.next_message(chat_id=user_id, timeout=WAIT)


async def toast(api: FakeBotAPI, count: int) -> dict[str, Any]:
    await api.wait_for(lambda: len(api.callback_answers) >= count, timeout=WAIT)
    return api.callback_answers[count - 1]


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda data: f"{VOTE}|{data.version}|{data.key}|5", id="vote of 5"),
        pytest.param(lambda data: f"{VOTE}|{data.version}|{data.key}", id="vote without value"),
        pytest.param(lambda data: f"{CONTEXT}|{data.version}|{data.key}|x", id="extra field"),
        pytest.param(lambda data: f"{MORE}|{data.version}|{data.key}|1|2", id="two extra fields"),
        pytest.param(lambda data: f"{CONTEXT}||{data.key}", id="empty version"),
        pytest.param(lambda data: "q|" + data.version + "|xx|0", id="example in no language"),
        pytest.param(lambda data: "q|" + data.version + "|de|-1", id="example -1"),
        pytest.param(lambda data: "adm|deadbeef|y", id="admin confirmation, unknown"),
        pytest.param(lambda data: "|" * 63, id="separators only"),
        pytest.param(lambda data: "ü" * 32, id="64 bytes of umlauts"),
    ],
)
async def test_tampered_buttons_expire(api: FakeBotAPI, app: Application, forge: Any) -> None:
    reply = await answered(api, ADMIN)
    data = forge(decode(buttons(reply)[CONTEXT]))
    api.press_button(reply, data, user_id=ADMIN, check=False)
    assert (await toast(api, 1))["text"] == text("expired", "de")
    await nothing_more(api, app, ADMIN)
    assert not runtime_of(app).state.feedback()


async def test_buttons_without_message_expire(api: FakeBotAPI, app: Application) -> None:
    """Buttons under a message sent in inline mode: the bot puts none there, so their data is
    forged; the bot has no message to answer under either."""
    reply = await answered(api)
    api.press_inline_button(buttons(reply)[CONTEXT])
    api.press_inline_button(buttons(reply)["v+1"])
    await toast(api, 2)
    assert {a["text"] for a in api.callback_answers} == {text("expired", "de")}
    await nothing_more(api, app, DEFAULT_USER_ID)
    assert not runtime_of(app).state.feedback()


async def test_button_without_data_has_expired(api: FakeBotAPI, app: Application) -> None:
    """PTB hands a callback without data (only games have those) to the first callback
    handler, the admin confirmation: admin or not, the button has expired."""
    api.press_inline_button(None)
    api.press_inline_button(None, user_id=ADMIN)
    await toast(api, 2)
    assert [a["text"] for a in api.callback_answers] == [text("expired", "de")] * 2


async def test_admin_confirmation_from_a_non_admin_is_refused(
    api: FakeBotAPI, app: Application
) -> None:
    reply = await answered(api, STRANGER)
    api.press_button(reply, "adm|deadbeef|y", user_id=STRANGER, check=False)
    refusal = await toast(api, 1)
    assert refusal["text"] == text("admin_refused", "de") and refusal["show_alert"]


async def test_buttons_from_before_a_restart_expire(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with polling_bot(bot_settings(settings, api), services):
        reply = await answered(api)
    async with polling_bot(bot_settings(settings, api), services):
        api.press_button(reply, buttons(reply)[CONTEXT])
        api.press_button(reply, buttons(reply)["v-1"])
        await toast(api, 2)
    assert {a["text"] for a in api.callback_answers} == {text("expired", "de")}
    assert len(api.messages(DEFAULT_USER_ID)) == 1


@pytest.mark.parametrize("document_changed", [False, True])
async def test_buttons_from_before_a_reindex(
    api: FakeBotAPI,
    app: Application,
    settings: Settings,
    services: Services,
    document_changed: bool,
) -> None:
    """A reindex that changes no document keeps earlier buttons working; one that changes
    the document makes them expire rather than quote a paragraph that may have moved."""
    reply = await answered(api)
    if document_changed:
        path = next(settings.documents_dir.glob("*.txt"))
        path.write_text(path.read_text() + "\n\nEin neuer Absatz über Pjöngjang.\n")
    serving = services.searcher.version.manifest.version
    await asyncio.to_thread(Admin(services).reindex)
    assert services.searcher.version.manifest.version != serving
    api.press_button(reply, buttons(reply)[CONTEXT])
    first = await toast(api, 1)
    if document_changed:
        assert first["text"] == text("expired", "de")
        await nothing_more(api, app, DEFAULT_USER_ID)
    else:
        assert first.get("text") is None
        context = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
        assert context["text"].startswith("Kontext")


# ---------------------------------------------------------------------------- inline mode


async def inline_answer(api: FakeBotAPI, query: str, **sender: Any) -> dict[str, Any]:
    count = len(api.inline_answers)
    api.inline_query(query, **sender)
    await api.wait_for(lambda: len(api.inline_answers) > count, timeout=WAIT)
    return api.inline_answers[-1]


@pytest.mark.parametrize(
    ("query", "cards"),
    [
        pytest.param("Wie hoch ist der Eiffelturm?", "none", id="not answered by the document"),
        pytest.param("🤔🙈", "examples", id="emoji only"),
        pytest.param("\u200b\u200d\ufeff", "examples", id="zero-width only"),
        pytest.param("Wer\x00 besuchte\x1b im Juni Pjöngjang?", "quotes", id="control characters"),
        pytest.param("من زار بيونغ يانغ في يونيو؟", "none", id="Arabic"),
        pytest.param("<b>Wer</b> besuchte im Juni & Pjöngjang?", "quotes", id="HTML"),
        pytest.param("Pjöngjang" * 28 + "Juni", "quotes", id="256 characters, no word break"),
        pytest.param("Juni Pjöngjang " * 17 + "Besuch", "quotes", id="261 characters"),
    ],
)
async def test_inline_queries(
    api: FakeBotAPI, app: Application, services: Services, query: str, cards: str
) -> None:
    answer = await inline_answer(api, query)
    results = answer["results"]
    examples = services.examples("de")
    ids = [r["id"] for r in results]
    if cards == "none":
        assert ids[0].startswith("none")
        title = results[0]["title"]
        lang = "de" if title == text("inline_no_answer", "de") else "en"
        assert title == text("inline_no_answer", lang)
        message = results[0]["input_message_content"]["message_text"]
        assert message.startswith(f"❓ <b>{query[:6]}") and text("abstain", lang) in message
        assert [r["title"] for r in results[1:]] == services.examples(lang)
    elif cards == "examples":
        assert [r["title"] for r in results] == examples
    else:
        assert results and all(not i.startswith(("none", "example")) for i in ids)


async def test_inline_queries_are_rate_limited_per_user(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    """Three inline queries per question of RATE_LIMIT (apps send them while one types);
    over that, no cards but a button that says to wait, cached for nobody else."""
    async with polling_bot(bot_settings(settings, api, rate_limit="2/minute"), services):
        for number in range(6):
            answer = await inline_answer(api, f"Pjöngjang {number}")
            assert answer["results"] and not answer.get("button")
        limited = await inline_answer(api, "Pjöngjang", language_code="en")
        other = await inline_answer(api, "Pjöngjang", user_id=STRANGER)
    assert limited["results"] == [] and limited["is_personal"] and limited["cache_time"] == 0
    assert limited["button"]["text"] == text("inline_rate_limited", "en")
    assert other["results"]


# ---------------------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "bild.txt", ("upload_binary", {})),
        (b"  \n\n ", "leer.txt", ("upload_no_text", {})),
        ("Grüße".encode("latin-1"), "latin.txt", ("upload_not_utf8", {"byte": 2})),
    ],
)
async def test_upload_refusals_speak_the_admins_language(
    api: FakeBotAPI, app: Application, data: bytes, name: str, reason: tuple[str, dict]
) -> None:
    api.send_document(data, name, "text/plain", user_id=ADMIN, language_code="de")
    reply = await api.next_message(chat_id=ADMIN, timeout=WAIT)
    key, values = reason
    expected = text("admin_upload_refused", "de", reason=text(key, "de", name=name, **values))
    assert reply["text"] == expected


# ---------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Wer\n\tbesuchte  Pjöngjang? ", "Wer besuchte Pjöngjang?"),
        ("W\u200be\u200cr\u200d\u2060\ufeff?", "Wer?"),
        ("\u202eWer?\u202c \u200fمن؟\u200e", "Wer? من؟"),
        ("Wer\x00\x07\x1b[31m?\x7f", "Wer[31m?"),
        (unicodedata.normalize("NFD", "Pjöngjang, Süd"), "Pjöngjang, Süd"),
        ("Ẃ̷̛e̸r̴", "Ẃer"),
        ("👩‍👩‍👧 🇩🇪", "👩👩👧 🇩🇪"),
        ("", ""),
    ],
)
def test_clean_question(raw: str, clean: str) -> None:
    assert clean_question(raw) == clean
