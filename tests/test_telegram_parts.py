"""The Telegram layer's pure parts: limits, callback data, the answer cache, group addressing,
and the state database."""

from __future__ import annotations

import contextlib
import datetime as dtm
import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeChat,
    Chat,
    Message,
    MessageEntity,
    User,
)
from telegram.error import BadRequest
from telegram_html import parse_html, utf16_len

from bot.answering.pipeline import question_problem
from bot.app.state import StateStore
from bot.retrieval.answers import Answer
from bot.telegram.app import register_commands
from bot.telegram.handlers.groups import addressed_question, command_argument
from bot.telegram.keyboards import AnswerCache, ButtonData, decode, version_tag
from bot.telegram.limits import QuestionLimiter, clip_inline_query, fit_message

BOT = SimpleNamespace(username="quote_bot", id=123456789)


# ---------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        ("Wer besuchte Pjöngjang?", None),
        ("1991?", None),
        ("", "empty_question"),
        ("  \n\t ", "empty_question"),
        ("🤔🙈", "empty_question"),
        ("?!… —", "empty_question"),
        ("x" * 501, "too_long"),
    ],
)
def test_question_problem(question: str, problem: str | None) -> None:
    assert question_problem(question, max_chars=500) == problem


def test_rate_limit_is_per_user_and_validated() -> None:
    limiter = QuestionLimiter("2/minute")
    assert [limiter.allow(1) for _ in range(3)] == [True, True, False]
    assert limiter.allow(2)
    with pytest.raises(ValueError, match="RATE_LIMIT 'often'"):
        QuestionLimiter("often")


def test_inline_query_is_clipped_at_a_word() -> None:
    assert clip_inline_query("  wer   war  da? ") == "wer war da?"
    clipped = clip_inline_query("Pjöngjang 🚀 " * 40)
    assert len(clipped) <= 256 and clipped.endswith("🚀")
    assert len(clip_inline_query("x" * 300)) == 256


def test_fit_message_keeps_valid_html_within_the_limit() -> None:
    short = "<b>a &amp; b</b>"
    assert fit_message(short) == short
    long = "<blockquote>" + "Tom &amp; Jerry 🐭 &lt;3 " * 400 + "</blockquote>"
    fitted = fit_message(long)
    parsed = parse_html(fitted)
    assert utf16_len(fitted) <= 4096 and fitted.endswith("…")
    assert parsed.text.startswith("» Tom & Jerry 🐭 <3 Tom")


# ---------------------------------------------------------------------------- callback data


def test_button_data_round_trip_and_limit() -> None:
    data = ButtonData("v", version_tag("20241008T101010-abcdef12"), "k3y9", "-1")
    assert decode(data.encode()) == data and len(data.encode()) <= 64
    assert len(version_tag("x")) == 8 and version_tag("x") != version_tag("y")
    with pytest.raises(ValueError, match="64 bytes"):
        ButtonData("c", "v" * 40, "k" * 40).encode()
    for garbage in (None, "", "more", "x|1|2", "c||k", "c|v", "c|v|k|e|f"):
        assert decode(garbage) is None


def test_answer_cache_is_a_bounded_lru_with_per_process_keys() -> None:
    cache = AnswerCache(capacity=2)
    answers = [Answer(f"q{i}", "de", False) for i in range(3)]
    first, second = cache.put(answers[0]), cache.put(answers[1])
    assert cache.get(first) is answers[0]  # now the most recent
    third = cache.put(answers[2])
    assert cache.get(second) is None and cache.get(first) is answers[0]
    assert cache.get(third) is answers[2]
    assert AnswerCache().put(answers[0]) != AnswerCache().put(answers[0])  # another "restart"


# ---------------------------------------------------------------------------- groups


def message(text: str, *, mention: bool = True, reply_from: User | None = None) -> Message:
    entities = []
    if mention and "@" in text:
        start = text.index("@")
        length = len(text[start:].split()[0].rstrip(",:"))
        entities.append(MessageEntity(MessageEntity.MENTION, start, length))
    replied = None
    if reply_from is not None:
        replied = Message(1, dtm.datetime.now(dtm.UTC), Chat(-1, Chat.GROUP), from_user=reply_from)
    return Message(
        2,
        dtm.datetime.now(dtm.UTC),
        Chat(-1, Chat.GROUP),
        text=text,
        entities=entities,
        from_user=User(1001, "Test", False),
        reply_to_message=replied,
    )


def test_group_messages_addressed_to_the_bot() -> None:
    assert addressed_question(message("@quote_bot, wer war in Pjöngjang?"), BOT) == (
        "wer war in Pjöngjang?"
    )
    assert addressed_question(message("Sag mal @Quote_Bot wann?"), BOT) == "Sag mal wann?"
    assert addressed_question(message("frag @other_bot"), BOT) is None
    assert addressed_question(message("wer war da?"), BOT) is None
    bot_user = User(BOT.id, "Quote Bot", True)
    assert addressed_question(message("und wann?", reply_from=bot_user), BOT) == "und wann?"
    other = User(1002, "Anna", False)
    assert addressed_question(message("und wann?", reply_from=other), BOT) is None
    assert command_argument("/ask@quote_bot   Wer war da? ") == "Wer war da?"
    assert command_argument("/ask") == ""


# ---------------------------------------------------------------------------- state


def test_state_store_records_votes_counters_and_abstentions(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.sqlite3"
    store = StateStore(path)
    store.record_feedback(
        user_id=7, question="Wer?", sentence_ids=[4, 5], vote=1, quotes=["Kim sagte: „Ja.“"]
    )
    store.record_answer("Wer?", abstained=False)
    store.record_answer("Wie hoch ist der Eiffelturm?", abstained=True)
    with pytest.raises(ValueError, match="vote"):
        store.record_feedback(user_id=7, question="Wer?", sentence_ids=[4], vote=5)
    store.close()

    reopened = StateStore(path)
    [row] = reopened.feedback()
    assert (row.user_id, row.question, row.sentence_ids, row.vote) == (7, "Wer?", (4, 5), 1)
    assert row.quotes == ("Kim sagte: „Ja.“",)
    assert reopened.counters() == {"questions_answered": 1, "abstentions": 1}
    assert [q for _, q in reopened.abstained_questions()] == ["Wie hoch ist der Eiffelturm?"]
    reopened.close()
    columns = {
        row[1]
        for table in ("feedback", "counters", "abstained")
        for row in sqlite3.connect(path).execute(f"PRAGMA table_info({table})")
    }
    assert not columns & {"name", "username", "first_name", "last_name"}


def test_state_store_opens_a_file_from_before_quotes_were_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.execute(
            "CREATE TABLE feedback (at REAL NOT NULL, user_id INTEGER NOT NULL,"
            " question TEXT NOT NULL, sentence_ids TEXT NOT NULL, vote INTEGER NOT NULL)"
        )
        old.execute("INSERT INTO feedback VALUES (1.0, 7, 'Wer?', '4', -1)")
        old.commit()
    store = StateStore(path)
    store.record_feedback(user_id=8, question="Wo?", sentence_ids=[1], vote=-1, quotes=["A."])
    assert [(f.question, f.quotes) for f in store.feedback()] == [("Wer?", ()), ("Wo?", ("A.",))]
    store.close()


def test_state_store_is_safe_across_threads(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.sqlite3")

    def work(user: int) -> None:
        for n in range(50):
            store.record_feedback(user_id=user, question=f"q{n}", sentence_ids=[n], vote=1)
            store.record_answer(f"q{n}", abstained=n % 2 == 0)

    threads = [threading.Thread(target=work, args=(user,)) for user in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(store.feedback()) == 400
    assert store.counters() == {"questions_answered": 200, "abstentions": 200}
    store.close()


# ---------------------------------------------------------------------------- command menus


async def test_admins_who_never_started_the_bot_are_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[tuple[str, str | None]] = []

    async def set_my_commands(
        commands: list[BotCommand], *, scope: BotCommandScope, language_code: str | None
    ) -> None:
        if isinstance(scope, BotCommandScopeChat) and scope.chat_id == 1:
            raise BadRequest("Chat not found")
        calls.append((scope.type, language_code))

    await register_commands(
        SimpleNamespace(set_my_commands=set_my_commands), admin_ids=frozenset({1, 2})
    )
    assert calls == [
        ("all_private_chats", "de"),
        ("all_private_chats", None),
        ("all_group_chats", "de"),
        ("all_group_chats", None),
        ("chat", "de"),
        ("chat", None),
    ]
    assert "Chat not found" in caplog.text
