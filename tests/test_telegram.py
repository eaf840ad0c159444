"""The Telegram bot end to end: the real Application, model and index against a fake Bot API."""

from __future__ import annotations

import html
import re

import pytest
from fakebotapi import DEFAULT_GROUP_CHAT_ID, DEFAULT_USER_ID, FakeBotAPI
from telegram.ext import Application
from telegrambot import (
    ADMIN,
    BOT,
    ENGLISH_QUESTION,
    GERMAN_QUESTION,
    WAIT,
    ask,
    blockquotes,
    bot_settings,
    buttons,
    nothing_more,
    polling_bot,
    runtime_of,
)

from bot.answering.i18n import text
from bot.app.services import Services
from bot.retrieval.corpus import Sentence
from bot.settings import Settings
from bot.telegram.keyboards import CONTEXT, EXAMPLE, MORE, VOTE, decode

# RetryAfter.retry_after warns about its coming switch from int to timedelta.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

USER_EN = 1002


# ---------------------------------------------------------------------------- reading replies


def sentence(services: Services, fragment: str) -> Sentence:
    """The one corpus sentence that contains `fragment`."""
    found = [s for s in services.searcher.corpus.sentences if fragment in s.text]
    assert len(found) == 1, (fragment, found)
    return found[0]


def place(gold: Sentence, lang: str) -> str:
    return text("place", lang, paragraph=gold.paragraph, sentence=gold.number)


def cites(message_text: str, gold: Sentence, lang: str) -> bool:
    """True if the text names the place of `gold`, alone or within a range of sentences."""
    if place(gold, lang) in message_text:
        return True
    template = text("place_range", lang, paragraph=gold.paragraph, sentence="@", last="@")
    pattern = re.escape(template).replace("@", r"(\d+)")
    ranges = re.findall(pattern, message_text)
    return any(int(first) <= gold.number <= int(last) for first, last in ranges)


# ---------------------------------------------------------------------------- /start, /help


async def test_start_greets_in_the_users_language_with_example_buttons(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    doc = services.searcher.corpus.documents[0]
    german = await ask(api, "/start", language_code="de")
    assert german["text"].startswith("Hallo!")
    assert doc.title in german["text"] and "Sprache: Deutsch" in german["text"]
    labels = [row[0]["text"] for row in german["reply_markup"]["inline_keyboard"]]
    assert labels == services.examples("de") and 3 <= len(labels) <= 4

    english = await ask(api, "/start", user_id=USER_EN, language_code="en")
    assert english["text"].startswith("Hello!") and "language: German" in english["text"]
    labels = [row[0]["text"] for row in english["reply_markup"]["inline_keyboard"]]
    assert labels == services.examples("en")

    example = buttons(english)["q0"]
    api.press_button(english, example, user_id=USER_EN, language_code="en")
    answer = await api.next_message(chat_id=USER_EN, timeout=WAIT)
    assert blockquotes(answer) and "Quoted from the German original" in answer["text"]
    assert api.callback_answers and api.chat_actions[-1]["chat_id"] == USER_EN


async def test_help_explains_inline_mode_and_groups(api: FakeBotAPI, app: Application) -> None:
    reply = await ask(api, "/help", language_code="en")
    assert f"@{BOT} question" in reply["text"] and "/ask" in reply["text"]
    assert buttons(reply)


async def test_command_menus_are_registered_per_scope_and_language(
    api: FakeBotAPI, app: Application
) -> None:
    names = {key: [c["command"] for c in cmds] for key, cmds in api.commands.items()}
    for language in ("de", ""):
        assert names[("all_private_chats", language)] == ["start", "help"]
        assert names[("all_group_chats", language)] == ["ask", "help"]
        assert {"status", "reindex", "docs"} <= set(names[(f"chat:{ADMIN}", language)])
    assert not any("status" in cmds for key, cmds in names.items() if key[0] != f"chat:{ADMIN}")
    german = api.commands[("all_private_chats", "de")][0]["description"]
    assert (
        german
        == text("cmd_start", "de")
        != api.commands[("all_private_chats", "")][0]["description"]
    )


async def test_commands_for_another_bot_are_ignored(api: FakeBotAPI, app: Application) -> None:
    api.send_text("/help@otherbot")
    await nothing_more(api, app, DEFAULT_USER_ID)
    reply = await ask(api, f"/help@{BOT}")
    assert reply["text"].startswith("So funktioniert es")


async def test_unknown_command_points_to_help(api: FakeBotAPI, app: Application) -> None:
    reply = await ask(api, "/frobnicate")
    assert reply["text"] == text("unknown_command", "de")


# ---------------------------------------------------------------------------- questions


async def test_german_question_is_answered_with_the_exact_quote(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    gold = sentence(services, "Besuchs des russischen Präsidenten")
    reply = await ask(api, GERMAN_QUESTION, language_code="en")  # the question decides
    assert any(gold.text in quote for quote in blockquotes(reply)), reply["text"]
    assert cites(reply["text"], gold, "de")
    assert api.chat_actions and api.chat_actions[0]["action"] == "typing"
    send = api.calls_to("sendMessage")[-1]
    assert send["parse_mode"] == "HTML" and send["link_preview_options"]["is_disabled"]
    assert set(buttons(reply)) == {CONTEXT, MORE, "v+1", "v-1"}
    assert all(len(data.encode()) <= 64 for data in buttons(reply).values())
    assert runtime_of(app).state.counters()["questions_answered"] == 1


async def test_english_question_is_answered_in_english(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    gold = sentence(services, "Professor Lim Eul-chul")
    reply = await ask(api, ENGLISH_QUESTION)
    assert any(gold.text in quote for quote in blockquotes(reply)), reply["text"]
    assert cites(reply["text"], gold, "en")
    assert text("translated_note", "en", language="German") in reply["text"]


async def test_the_count_asked_for_is_bold_in_the_quote(api: FakeBotAPI, app: Application) -> None:
    reply = await ask(api, "Wie viele nordkoreanische Offiziere starben?")
    bold = [e for e in reply.get("entities", []) if e["type"] == "bold"]
    shown = [reply["text"][e["offset"] : e["offset"] + e["length"]] for e in bold]
    assert shown == ["sechs"], reply["raw_text"]


async def test_context_button_shows_the_paragraph_with_the_cited_sentence_in_bold(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    gold = sentence(services, "Besuchs des russischen Präsidenten")
    reply = await ask(api, GERMAN_QUESTION)
    api.press_button(reply, buttons(reply)[CONTEXT])
    context = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    assert f"<b>{html.escape(gold.text, quote=False)}</b>" in context["raw_text"]
    paragraph = services.searcher.corpus.paragraph(gold.doc_id, gold.paragraph)
    assert all(s.text in context["text"] for s in paragraph)
    title = services.searcher.corpus.document(gold.doc_id).title
    heading = text("context_title", "de", title=title, paragraph=gold.paragraph)
    assert context["text"].startswith(heading)
    bold = [e for e in context["entities"] if e["type"] == "bold"]
    assert len(bold) == 2  # the heading and the one cited sentence
    assert api.callback_answers[-1].get("text") is None  # the spinner stops, no toast


async def test_more_button_sends_further_quotes(api: FakeBotAPI, app: Application) -> None:
    reply = await ask(api, GERMAN_QUESTION)
    api.press_button(reply, buttons(reply)[MORE])
    more = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    assert more["text"].startswith(text("more_title", "de"))
    shown = set(blockquotes(reply))
    assert blockquotes(more) and not shown & set(blockquotes(more))


async def test_feedback_is_stored_and_acknowledged(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    gold = sentence(services, "Besuchs des russischen Präsidenten")
    reply = await ask(api, GERMAN_QUESTION)
    api.press_button(reply, buttons(reply)["v+1"])
    await api.wait_for(lambda: api.callback_answers, timeout=WAIT)
    assert api.callback_answers[-1]["text"] == text("feedback_thanks", "de")
    [row] = runtime_of(app).state.feedback()
    assert (row.user_id, row.question, row.vote) == (DEFAULT_USER_ID, GERMAN_QUESTION, 1)
    assert gold.id in row.sentence_ids
    api.press_button(reply, buttons(reply)["v-1"], user_id=DEFAULT_USER_ID)
    await api.wait_for(lambda: len(api.callback_answers) == 2, timeout=WAIT)
    assert [f.vote for f in runtime_of(app).state.feedback()] == [1, -1]


async def test_abstention_says_so_and_offers_examples(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    reply = await ask(api, "Wie hoch ist der Eiffelturm?")
    assert reply["text"].startswith(text("abstain", "de"))
    assert "<blockquote>" not in reply["raw_text"]
    assert services.examples("de")[0] in reply["text"]
    assert set(buttons(reply)) == {f"q{n}" for n in range(len(services.examples("de")))}
    state = runtime_of(app).state
    assert state.counters()["abstentions"] == 1
    assert [q for _, q in state.abstained_questions()] == ["Wie hoch ist der Eiffelturm?"]


async def test_follow_up_question_continues_the_previous_one(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    gold = sentence(services, "Besuchs des russischen Präsidenten")
    await ask(api, GERMAN_QUESTION)
    follow_up = await ask(api, "und wann?")
    assert any(gold.text in quote for quote in blockquotes(follow_up)), follow_up["text"]
    alone = await ask(api, "und wann?", user_id=3003)  # no earlier question in that chat
    assert not any(gold.text in quote for quote in blockquotes(alone))


async def test_html_in_questions_is_never_echoed_unescaped(
    api: FakeBotAPI, app: Application
) -> None:
    hostile = [
        "<b>Wer</b> besuchte & <script>alert(1)</script> Pjöngjang?",
        "<i>&amp; <script>",
        "</blockquote><b>",
    ]
    for question in hostile:
        reply = await ask(api, question)
        assert reply["text"]
    group = await ask(api, "/ask <b>Wer & wann?</b>", chat_type="group")
    assert group["text"]
    assert api.stats["4xx"] == 0


async def test_too_long_question_is_refused_without_searching(
    api: FakeBotAPI, app: Application
) -> None:
    reply = await ask(api, "Wer " * 1250)
    assert reply["text"] == text("too_long", "de", length=len(("Wer " * 1250).strip()), limit=500)
    assert not api.chat_actions
    assert runtime_of(app).state.counters() == {"questions_answered": 0, "abstentions": 0}


@pytest.mark.parametrize("question", ["   .  ", "🤔🤔", "?!?", "…"])
async def test_empty_question_gets_an_example(
    api: FakeBotAPI, app: Application, services: Services, question: str
) -> None:
    reply = await ask(api, question)
    example = services.examples("de")[0]
    assert reply["text"] == text("empty_question", "de", example=example)


async def test_flood_control_429_is_waited_out(api: FakeBotAPI, app: Application) -> None:
    api.force_429(times=1, retry_after=1, methods=["sendMessage"])
    reply = await ask(api, GERMAN_QUESTION)
    assert blockquotes(reply)
    assert api.stats["429"] == 1


async def test_stale_buttons_answer_expired(api: FakeBotAPI, app: Application) -> None:
    reply = await ask(api, GERMAN_QUESTION)
    current = decode(buttons(reply)[CONTEXT])
    stale = [
        f"{CONTEXT}|00000000|{current.key}",  # made for another index version
        f"{MORE}|{current.version}|zzzz9",  # key unknown (before a restart)
        f"{VOTE}|{current.version}|zzzz9|1",
        f"{EXAMPLE}|00000000|de|0",
        f"{EXAMPLE}|{current.version}|de|99",
        "garbage from an older bot",
    ]
    for data in stale:
        api.press_button(reply, data, check=False)
    await api.wait_for(lambda: len(api.callback_answers) == len(stale), timeout=WAIT)
    assert {a.get("text") for a in api.callback_answers} == {text("expired", "de")}
    await nothing_more(api, app, DEFAULT_USER_ID)
    assert not runtime_of(app).state.feedback()


async def test_rate_limit_answers_politely(
    api: FakeBotAPI, settings: Settings, services: Services
) -> None:
    async with polling_bot(bot_settings(settings, api, rate_limit="2/minute"), services):
        first = await ask(api, GERMAN_QUESTION)
        second = await ask(api, ENGLISH_QUESTION)
        third = await ask(api, GERMAN_QUESTION)
        other_user = await ask(api, GERMAN_QUESTION, user_id=USER_EN)
    assert blockquotes(first) and blockquotes(second) and blockquotes(other_user)
    assert third["text"] == text("rate_limited", "de")


# ---------------------------------------------------------------------------- other messages


async def test_non_text_messages_get_a_hint(api: FakeBotAPI, app: Application) -> None:
    api.send_sticker()
    sticker = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    assert sticker["text"] == text("not_text", "de")
    api.send_photo(language_code="en")
    photo = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    assert photo["text"] == text("not_text", "en")
    api.send_message_update({"location": {"latitude": 52.5, "longitude": 13.4}})
    location = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    assert location["text"] == text("not_text", "de")


async def test_edited_message_gets_a_hint(api: FakeBotAPI, app: Application) -> None:
    update = api.send_text(GERMAN_QUESTION)
    await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    api.send_edited_text(update, "Wer besuchte im Juli Pjöngjang?")
    hint = await api.next_message(chat_id=DEFAULT_USER_ID, timeout=WAIT)
    assert hint["text"] == text("edited", "de")
    await nothing_more(api, app, DEFAULT_USER_ID)


# ---------------------------------------------------------------------------- inline mode


async def test_inline_query_offers_quote_cards(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    gold = sentence(services, "Besuchs des russischen Präsidenten")
    api.inline_query(GERMAN_QUESTION)
    await api.wait_for(lambda: api.inline_answers, timeout=WAIT)
    answer = api.inline_answers[-1]
    results = answer["results"]
    assert 1 <= len(results) <= 5
    assert answer["cache_time"] <= 30 and not answer.get("is_personal")
    messages = [r["input_message_content"]["message_text"] for r in results]
    assert any(html.escape(gold.text, quote=False) in m for m in messages)
    card = next(r for r, m in zip(results, messages, strict=True) if gold.text[:40] in m)
    assert card["title"] and cites(card["description"], gold, "de")
    title = services.searcher.corpus.document(gold.doc_id).title
    assert all(f"<i>{html.escape(title, quote=False)}</i>" in m for m in messages)
    assert all(m.startswith("<blockquote>") for m in messages)


async def test_empty_and_overlong_inline_queries(
    api: FakeBotAPI, app: Application, services: Services
) -> None:
    api.inline_query("", language_code="en")
    await api.wait_for(lambda: api.inline_answers, timeout=WAIT)
    titles = [r["title"] for r in api.inline_answers[-1]["results"]]
    assert titles == services.examples("en")
    api.inline_query("Pjöngjang Juni Besuch " * 40)
    await api.wait_for(lambda: len(api.inline_answers) == 2, timeout=WAIT)
    assert api.inline_answers[-1]["results"]


# ---------------------------------------------------------------------------- groups


async def test_group_rules(api: FakeBotAPI, app: Application, services: Services) -> None:
    gold = sentence(services, "Besuchs des russischen Präsidenten")
    group = {"chat_type": "group", "chat_id": DEFAULT_GROUP_CHAT_ID}

    # What the bot leaves unanswered in groups: tests/test_handlers.py, without timeouts.
    asked = api.send_text(f"/ask {GERMAN_QUESTION}", **group)
    reply = await api.next_message(chat_id=DEFAULT_GROUP_CHAT_ID, timeout=WAIT)
    assert any(gold.text in q for q in blockquotes(reply))
    assert reply["message"]["reply_to_message"]["message_id"] == asked["message"]["message_id"]

    addressed = await ask(api, f"/ask@{BOT} {GERMAN_QUESTION}", **group)
    assert any(gold.text in q for q in blockquotes(addressed))
    mention = await ask(api, f"@{BOT} {GERMAN_QUESTION}", **group)
    assert any(gold.text in q for q in blockquotes(mention))
    follow_up = await ask(api, "und wann?", reply_to=mention, **group)
    assert blockquotes(follow_up)
    usage = await ask(api, "/ask", **group)
    assert usage["text"] == text("ask_usage", "de")


async def test_start_and_help_work_in_groups(api: FakeBotAPI, app: Application) -> None:
    start = await ask(api, f"/start@{BOT}", chat_type="group")
    assert start["text"].startswith("Hallo!")
    help_reply = await ask(api, "/help", chat_type="group", language_code="en")
    assert help_reply["text"].startswith("How it works")
