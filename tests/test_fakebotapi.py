"""Tests of the fake Bot API server, driven by a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from fakebotapi import DEFAULT_GROUP_CHAT_ID, MAX_DOWNLOAD_SIZE, FakeBotAPI
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram_html import HtmlParseError, parse_html

# RetryAfter.retry_after warns about its coming switch from int to timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

TOKEN = "123456:TEST-token"
USER = 1001
KEYBOARD = InlineKeyboardMarkup.from_button(InlineKeyboardButton("Mehr", callback_data="more"))


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN, bot_username="quote_bot") as server:
        yield server


@pytest_asyncio.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


def bad_request(reason: str) -> Any:
    """pytest.raises for a 400; PTB strips "Bad Request: " and changes the case."""
    return pytest.raises(BadRequest, match="(?i)" + re.escape(reason))


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


# ------------------------------------------------------------------------------ protocol


@pytest.mark.asyncio
async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "quote_bot", True)
    assert me.supports_inline_queries is True
    assert me.can_read_all_group_messages is False


@pytest.mark.asyncio
async def test_wrong_token_is_invalid_token(api: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("654321:WRONG", base_url=api.base_url):
            pass


@pytest.mark.asyncio
async def test_raw_http_envelopes_and_body_formats(api: FakeBotAPI) -> None:
    api.add_chat(USER)
    markup = {"inline_keyboard": [[{"text": "Mehr", "callback_data": "more"}]]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}654321:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{api.base_url}{TOKEN}/sendDice") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"
        async with http.get(f"{api.base_url}{TOKEN}/GETME") as response:  # case-insensitive
            assert (await response.json())["result"]["username"] == "quote_bot"
        # JSON body with a nested object sent as a JSON string
        body = {"chat_id": USER, "text": "<b>json</b>", "parse_mode": "HTML"}
        body["reply_markup"] = json.dumps(markup)
        async with http.post(f"{api.base_url}{TOKEN}/sendMessage", json=body) as response:
            result = (await response.json())["result"]
            assert (result["text"], result["reply_markup"]) == ("json", markup)
        # multipart body, as used for uploads
        form = aiohttp.FormData({"chat_id": str(USER), "text": "123"})
        form.add_field("reply_markup", json.dumps(markup))
        form.add_field("document", b"data", filename="a.txt")
        async with http.post(f"{api.base_url}{TOKEN}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "123"
    assert api.calls_to("sendMessage")[-1]["reply_markup"] == markup


async def test_a_request_cut_off_before_its_body_arrived_is_no_call(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """As a bot's long poll cancelled while it is being sent: nothing counted, nothing logged."""
    _, writer = await asyncio.open_connection(api.host, api.port)
    writer.write(
        f"POST /bot{TOKEN}/getUpdates HTTP/1.1\r\nHost: {api.host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
        "timeout=1".encode()
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the server is reading the body now
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert not api.calls_to("getUpdates")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# ------------------------------------------------------------------------------ updates


@pytest.mark.asyncio
async def test_offset_confirms_and_forgets_updates(api: FakeBotAPI, bot: Bot) -> None:
    first, second = api.send_text("eins"), api.send_text("zwei")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"]]
    assert (updates[0].message.text, updates[0].message.chat.id) == ("eins", USER)
    assert len(await bot.get_updates(timeout=0)) == 2  # not confirmed yet: delivered again
    assert len(await bot.get_updates(timeout=0, limit=1)) == 1
    remaining = await bot.get_updates(offset=second["update_id"], timeout=0)
    assert [u.update_id for u in remaining] == [second["update_id"]]
    assert api.pending_updates() == [second]
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == ()
    assert api.pending_updates() == []
    assert api.delivery_counts == {first["update_id"]: 3, second["update_id"]: 3}


@pytest.mark.asyncio
async def test_long_poll_returns_as_soon_as_an_update_arrives(api: FakeBotAPI, bot: Bot) -> None:
    async def user_writes_later() -> None:
        await asyncio.sleep(0.2)
        api.send_text("spät")

    writer = asyncio.create_task(user_writes_later())
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert time.monotonic() - started < 1.5
    assert [u.message.text for u in updates] == ["spät"]
    await writer


@pytest.mark.asyncio
async def test_long_poll_timeout_returns_nothing(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.4) == ()
    assert 0.35 <= time.monotonic() - started < 1.5


@pytest.mark.asyncio
async def test_allowed_updates_filters_update_types(api: FakeBotAPI, bot: Bot) -> None:
    api.send_text("nicht gewünscht")
    query = api.inline_query("zitat")
    updates = await bot.get_updates(timeout=0, allowed_updates=["inline_query"])
    assert [u.update_id for u in updates] == [query["update_id"]]
    assert updates[0].inline_query.query == "zitat"


@pytest.mark.asyncio
async def test_a_second_poller_terminates_the_first(api: FakeBotAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_for(lambda: api.calls_to("getUpdates"))
    async with Bot(TOKEN, base_url=api.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


@pytest.mark.asyncio
async def test_webhook_mode(api: FakeBotAPI, bot: Bot) -> None:
    received: list[tuple[str | None, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        await bot.set_webhook(url, secret_token="s3cret")
        assert (await bot.get_webhook_info()).url == url
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        update = api.send_text("per Webhook")
        assert await api.post_update_to_webhook() == 200
        assert received == [("s3cret", update)]
        assert api.pending_updates() == []
        assert api.delivery_counts[update["update_id"]] == 1
        assert await api.post_update_to_webhook({"message": {}}, secret_token=None) == 200
        assert received[-1][0] is None
        await bot.delete_webhook()
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------------ messages


@pytest.mark.asyncio
async def test_send_message_with_valid_html(api: FakeBotAPI, bot: Bot) -> None:
    api.send_text("/start")
    text = '<b>Fett</b> &amp; <i>kursiv</i> <a href="https://example.org">Link</a> &#x1F600;'
    sent = await bot.send_message(USER, text, parse_mode=ParseMode.HTML, reply_markup=KEYBOARD)
    assert sent.text == "Fett & kursiv Link 😀"
    entities = [(e.type, e.offset, e.length, e.url) for e in sent.entities]
    assert entities == [
        ("bold", 0, 4, None),
        ("italic", 7, 6, None),
        ("text_link", 14, 4, "https://example.org"),
    ]
    assert sent.reply_markup == KEYBOARD
    assert (sent.from_user.username, sent.chat.id) == ("quote_bot", USER)
    stored = await api.next_message(chat_id=USER)
    assert (stored["text"], stored["raw_text"], stored["parse_mode"]) == (sent.text, text, "HTML")
    assert stored["reply_markup"] == KEYBOARD.to_dict()


@pytest.mark.asyncio
async def test_sending_to_an_unknown_or_blocked_chat_fails(api: FakeBotAPI, bot: Bot) -> None:
    with bad_request("chat not found"):
        await bot.send_message(4242, "hallo")
    api.add_chat(USER)
    api.block(USER)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(USER, "hallo")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>x", "Can't find end tag corresponding to start tag b"),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("Tom & Jerry", 'Character "&" must be escaped'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ('<span class="x">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ],
)
@pytest.mark.asyncio
async def test_invalid_html_is_rejected(api: FakeBotAPI, bot: Bot, text: str, reason: str) -> None:
    api.add_chat(USER)
    with bad_request(f"can't parse entities: {reason}"):
        await bot.send_message(USER, text, parse_mode=ParseMode.HTML)
    assert api.messages() == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [  # cases from Telegram's own parser tests: offsets are UTF-8 bytes
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;<i    aba>", 'Expected equal sign in declaration of an attribute of the tag "i"'),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        ("&#xDFDF;", "Text contains invalid Unicode characters"),
    ],
)
def test_html_parser_reports_telegrams_reasons(text: str, reason: str) -> None:
    with pytest.raises(HtmlParseError, match=re.escape(reason)):
        parse_html(text)


def test_html_parser_can_accept_a_bare_ampersand_like_telegram() -> None:
    parsed = parse_html("Tom & Jerry &nbsp; <b>🏟 x</b>", strict_ampersand=False)
    assert parsed.text == "Tom & Jerry &nbsp; 🏟 x"
    assert parsed.entities == [{"type": "bold", "offset": 19, "length": 4}]


@pytest.mark.asyncio
async def test_html_telegram_accepts(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    text = (
        '<tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">s</span> <u>u</u> <s>s</s> '
        '<pre><code class="language-python">x = 1</code></pre> <blockquote expandable>q'
        "</blockquote> &lt;&gt;&quot; <code>c</code>"
    )
    sent = await bot.send_message(USER, text, parse_mode=ParseMode.HTML)
    assert sent.text == 's s u s x = 1 q <>" c'
    pre = next(e for e in sent.entities if e.type == "pre")
    assert (pre.language, sent.parse_entity(pre)) == ("python", "x = 1")
    assert {e.type for e in sent.entities} >= {"spoiler", "expandable_blockquote", "code"}


@pytest.mark.asyncio
async def test_text_length_counts_utf16_code_units(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    assert len((await bot.send_message(USER, "a" * 4096)).text) == 4096
    with bad_request("message is too long"):
        await bot.send_message(USER, "a" * 4097)
    await bot.send_message(USER, "😀" * 2048)  # 2 UTF-16 code units each: exactly 4096
    with bad_request("message is too long"):
        await bot.send_message(USER, "😀" * 2048 + "a")
    await bot.send_message(USER, f"<b>{'a' * 4096}</b>", parse_mode=ParseMode.HTML)  # tags are free
    with bad_request("message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode=ParseMode.HTML)


@pytest.mark.asyncio
async def test_edit_message_text(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    sent = await bot.send_message(USER, "eins", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text(
        "<i>zwei</i>", USER, sent.message_id, parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
    )
    assert (edited.text, edited.reply_markup) == ("zwei", KEYBOARD)
    assert edited.edit_date is not None
    with bad_request("message is not modified"):
        await bot.edit_message_text(
            "<i>zwei</i>", USER, sent.message_id, parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
        )
    # Like Telegram: an edit without reply_markup removes the inline keyboard.
    assert (await bot.edit_message_text("zwei", USER, sent.message_id)).reply_markup is None
    with bad_request("message to edit not found"):
        await bot.edit_message_text("drei", USER, 999)
    [stored] = api.messages(USER)
    assert (stored["text"], stored["edits"], stored["reply_markup"]) == ("zwei", 2, None)
    history = [(await api.next_message(USER))["method"] for _ in range(3)]
    assert history == ["sendMessage", "editMessageText", "editMessageText"]


@pytest.mark.asyncio
async def test_edit_reply_markup_and_delete(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    sent = await bot.send_message(USER, "eins", reply_markup=KEYBOARD)
    assert (await bot.edit_message_reply_markup(USER, sent.message_id)).reply_markup is None
    with bad_request("message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id)
    assert await bot.delete_message(USER, sent.message_id)
    assert api.messages(USER) == []
    assert api.messages(USER, deleted=True)[0]["deleted"] is True
    with bad_request("message to delete not found"):
        await bot.delete_message(USER, sent.message_id)


@pytest.mark.asyncio
async def test_replies_and_edited_user_messages(api: FakeBotAPI, bot: Bot) -> None:
    question = api.send_text("Frage")
    answer = await bot.send_message(
        USER, "Antwort", reply_parameters=ReplyParameters(question["message"]["message_id"])
    )
    assert answer.reply_to_message.text == "Frage"
    with bad_request("message to be replied not found"):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(999))
    follow_up = api.send_text("Nachfrage", reply_to=api.messages(USER)[-1])
    edit = api.send_edited_text(question, "Frage, korrigiert")
    updates = await bot.get_updates(timeout=0)
    by_id = {u.update_id: u for u in updates}
    assert by_id[follow_up["update_id"]].message.reply_to_message.text == "Antwort"
    assert by_id[edit["update_id"]].edited_message.text == "Frage, korrigiert"


@pytest.mark.asyncio
async def test_injected_messages_look_like_telegram(api: FakeBotAPI, bot: Bot) -> None:
    api.send_text("/start@quote_bot hallo @quote_bot", language_code="en")
    api.send_sticker()
    api.send_photo(caption="Bild")
    api.send_document(b"abc", "notiz.txt", "text/plain")
    api.send_text("in der Gruppe", chat_type="supergroup", user_id=7)
    command, sticker, photo, document, group = (u.message for u in await bot.get_updates())
    assert command.parse_entities() == {
        command.entities[0]: "/start@quote_bot",
        command.entities[1]: "@quote_bot",
    }
    assert [e.type for e in command.entities] == ["bot_command", "mention"]
    assert (command.from_user.language_code, command.chat.type) == ("en", "private")
    assert [m.message_id for m in (command, sticker, photo, document)] == [1, 2, 3, 4]
    assert sticker.sticker.emoji == "👍"
    assert (photo.caption, len(photo.photo)) == ("Bild", 1)
    assert document.document.file_name == "notiz.txt"
    downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"abc"
    assert (group.chat.id, group.chat.type, group.from_user.id) == (
        DEFAULT_GROUP_CHAT_ID,
        "supergroup",
        7,
    )


@pytest.mark.asyncio
async def test_next_message_and_mark(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    api.add_chat(2002)
    await bot.send_message(USER, "alt")
    api.mark()
    await bot.send_message(2002, "andere")
    await bot.send_message(USER, "neu")
    assert (await api.next_message(chat_id=USER))["text"] == "neu"
    assert (await api.next_message())["text"] == "andere"
    with pytest.raises(TimeoutError):
        await api.next_message(timeout=0.1)
    assert [c.method for c in api.calls_since_mark()] == ["sendMessage", "sendMessage"]


# ------------------------------------------------------------------------------ queries


@pytest.mark.asyncio
async def test_answer_callback_query(api: FakeBotAPI, bot: Bot) -> None:
    api.send_text("/start")
    sent = await bot.send_message(USER, "Frage?", reply_markup=KEYBOARD)
    api.press_button(api.messages(USER)[-1], "more")
    query = (await bot.get_updates(timeout=0))[-1].callback_query
    assert (query.data, query.message.message_id) == ("more", sent.message_id)
    assert await bot.answer_callback_query(query.id, text="Ok")
    assert api.callback_answers[-1]["text"] == "Ok"
    with bad_request("query is too old and response timeout expired or query ID is invalid"):
        await bot.answer_callback_query(query.id)  # already answered
    with bad_request("query ID is invalid"):
        await bot.answer_callback_query("12345")
    with pytest.raises(ValueError, match="no button"):
        api.press_button(sent.message_id, "gibt es nicht")


@pytest.mark.asyncio
async def test_press_inline_button(api: FakeBotAPI, bot: Bot) -> None:
    api.press_inline_button("more")
    api.press_inline_button(None, user_id=2002)
    with_data, without = [u.callback_query for u in await bot.get_updates(timeout=0)]
    assert with_data.data == "more" and with_data.message is None
    assert with_data.inline_message_id and without.data is None
    assert without.from_user.id == 2002
    assert await bot.answer_callback_query(with_data.id)


@pytest.mark.asyncio
async def test_answer_inline_query(api: FakeBotAPI, bot: Bot) -> None:
    query_id = api.inline_query("zitat")["inline_query"]["id"]
    content = InputTextMessageContent("<b>Zitat</b>", parse_mode=ParseMode.HTML)
    article = InlineQueryResultArticle("1", "Titel", content)
    broken = InlineQueryResultArticle(
        "2", "Titel", InputTextMessageContent("<b>kaputt", parse_mode=ParseMode.HTML)
    )
    with bad_request("can't parse entities"):
        await bot.answer_inline_query(query_id, [broken])
    with bad_request("RESULT_ID_DUPLICATE"):
        await bot.answer_inline_query(query_id, [article, article])
    assert await bot.answer_inline_query(query_id, [article], cache_time=0)
    assert api.inline_answers[-1]["results"][0]["id"] == "1"
    with bad_request("query ID is invalid"):
        await bot.answer_inline_query(query_id, [article])
    too_many = [InlineQueryResultArticle(str(i), "T", content) for i in range(51)]
    with bad_request("RESULTS_TOO_MUCH"):
        await bot.answer_inline_query(api.inline_query("x")["inline_query"]["id"], too_many)


# ------------------------------------------------------------------------------ commands, files


@pytest.mark.asyncio
async def test_commands_are_stored_per_scope_and_language(api: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands(
        [BotCommand("start", "Start"), BotCommand("hilfe", "Hilfe")], language_code="de"
    )
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("admin", "Admin")], scope=BotCommandScopeChat(USER))
    assert [c.command for c in await bot.get_my_commands(language_code="de")] == ["start", "hilfe"]
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == ()
    assert api.commands[("chat:1001", "")] == [{"command": "admin", "description": "Admin"}]
    await bot.delete_my_commands(language_code="de")
    assert await bot.get_my_commands(language_code="de") == ()
    with bad_request("BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start!", "x")])


@pytest.mark.asyncio
async def test_get_file_and_download(api: FakeBotAPI, bot: Bot) -> None:
    file_id, unique_id = api.add_file(b"%PDF-1.7 test", "doc.pdf")
    file = await bot.get_file(file_id)
    assert (file.file_unique_id, file.file_size) == (unique_id, 13)
    assert file.file_path.startswith(f"{api.base_file_url}{TOKEN}/documents/")
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.7 test"
    with bad_request("invalid file_id"):
        await bot.get_file("nope")


@pytest.mark.asyncio
async def test_get_file_refuses_files_over_20_mb(api: FakeBotAPI, bot: Bot) -> None:
    at_limit, _ = api.add_file(bytes(MAX_DOWNLOAD_SIZE), "limit.bin")
    too_big, _ = api.add_file(bytes(MAX_DOWNLOAD_SIZE + 1), "big.bin")
    assert (await bot.get_file(at_limit)).file_size == MAX_DOWNLOAD_SIZE
    with bad_request("file is too big"):
        await bot.get_file(too_big)


@pytest.mark.asyncio
async def test_chat_action_and_get_chat(api: FakeBotAPI, bot: Bot) -> None:
    api.send_text("hallo", first_name="Anna")
    assert await bot.send_chat_action(USER, "typing")
    assert api.chat_actions == [{"chat_id": USER, "action": "typing"}]
    chat = await bot.get_chat(USER)
    assert (chat.id, chat.type, chat.first_name) == (USER, "private", "Anna")


# ------------------------------------------------------------------------------ faults


@pytest.mark.asyncio
async def test_forced_429_raises_retry_after(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    api.force_429(times=1, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "x")
    assert seconds(caught.value.retry_after) == 3
    assert (await bot.send_message(USER, "x")).text == "x"
    assert api.stats["429"] == 1
    assert len(api.messages(USER)) == 1


@pytest.mark.asyncio
async def test_flood_control_limits_each_chat(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    api.add_chat(2002)
    api.flood_control(per_chat_per_second=2, global_per_second=30)
    await bot.send_message(USER, "1")
    await bot.send_message(USER, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "3")
    await bot.send_message(2002, "andere Unterhaltung")
    assert api.stats["429"] == api.stats["429 chat"] == 1


@pytest.mark.asyncio
async def test_flood_control_limits_the_bot_as_a_whole(api: FakeBotAPI, bot: Bot) -> None:
    for chat in (USER, 2002, 2003):
        api.add_chat(chat)
    api.flood_control(per_chat_per_second=None, global_per_second=2)
    await bot.send_message(USER, "1")
    await bot.send_message(2002, "2")
    with pytest.raises(RetryAfter):
        await bot.send_message(2003, "3")
    assert (api.stats["429"], api.stats["429 global"], api.stats["429 chat"]) == (1, 1, 0)


@pytest.mark.asyncio
async def test_times_of_replies_and_answers_are_recorded(api: FakeBotAPI, bot: Bot) -> None:
    before = time.monotonic()
    api.send_text("/start")
    await bot.send_message(USER, "eins", reply_markup=KEYBOARD)
    await bot.send_message(USER, "zwei")
    first, second = api.messages(USER)
    assert before <= first["sent_at"] <= second["sent_at"] <= time.monotonic()
    event = await api.next_message(USER)
    assert event["at"] == first["sent_at"] and event["text"] == "eins"
    query_id = api.press_button(first, "more")["callback_query"]["id"]
    assert query_id not in api.answered_at
    await bot.answer_callback_query(query_id)
    assert api.answered_at[query_id] >= second["sent_at"]


@pytest.mark.asyncio
async def test_error_answers_are_counted_by_reason(api: FakeBotAPI, bot: Bot) -> None:
    with bad_request("chat not found"):
        await bot.send_message(999, "x")
    assert api.errors == {"sendMessage: 400 Bad Request: chat not found": 1}


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.asyncio
async def test_server_errors_raise_network_errors(api: FakeBotAPI, bot: Bot, status: int) -> None:
    api.add_chat(USER)
    api.fail_next(1, status=status, methods=["sendMessage"])
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    assert api.messages(USER) == []
    await bot.send_message(USER, "x")
    assert api.stats["5xx"] == 1


@pytest.mark.asyncio
async def test_error_after_processing_keeps_the_effect(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    api.fail_next(1, status=502, methods=["sendMessage"], after_processing=True)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER, "x")
    assert [m["text"] for m in api.messages(USER)] == ["x"]


@pytest.mark.asyncio
async def test_reset_connection(api: FakeBotAPI, bot: Bot) -> None:
    api.add_chat(USER)
    api.reset_connections(1, methods=["sendMessage"])
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    assert (await bot.send_message(USER, "y")).text == "y"
    assert api.stats["resets"] == 1


@pytest.mark.asyncio
async def test_delay(api: FakeBotAPI, bot: Bot) -> None:
    api.delay(0.3, methods=["getMe"])
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.3
    api.delay(0)


@pytest.mark.asyncio
async def test_offline_and_online_again_on_the_same_port(api: FakeBotAPI, bot: Bot) -> None:
    base_url = api.base_url
    update = api.send_text("vorher")
    waiting = asyncio.create_task(bot.get_updates(offset=update["update_id"] + 1, timeout=5))
    await api.wait_for(lambda: api.calls_to("getUpdates"))
    await api.go_offline()
    with pytest.raises(NetworkError):
        await waiting  # the open long poll is cut off
    with pytest.raises(NetworkError):
        await bot.get_me()
    later = api.send_text("während der Störung")
    await api.go_online()
    assert api.base_url == base_url
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [later["update_id"]]


# ------------------------------------------------------------------------------ with an Application


@pytest.mark.asyncio
async def test_application_polling_end_to_end(api: FakeBotAPI) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_html(f"<b>{html.escape(update.message.text)}</b>")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=1, poll_interval=0)
        try:
            update = api.send_text("a < b & c")
            reply = await api.next_message(chat_id=USER, timeout=5)
            assert (reply["text"], reply["entities"][0]["type"]) == ("a < b & c", "bold")
            await api.wait_for(lambda: not api.pending_updates(), timeout=5)
        finally:
            await app.updater.stop()
            await app.stop()
    assert api.delivery_counts == {update["update_id"]: 1}
