"""What the load and crash scripts share: the simulated users' questions and how the bot's
messages to them are told apart and summed up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:  # imported as part of a package or with tests/ on sys.path (the scripts' way)
    from .fakebotapi import FakeBotAPI
except ImportError:
    from fakebotapi import FakeBotAPI

from bot.answering.i18n import text

TOKEN = "123456789:AAF-load_test_token_for_the_fake_0123"
BOT = "quote_bot"
ADMIN = 4242
FIRST_USER = 100_000

QUESTIONS = {
    "de": [
        "Wer besuchte im Juni Pjöngjang?",
        "Wo starben sechs nordkoreanische Offiziere?",
        "Was hat Nordkorea an Russland geliefert?",
        "Wann legte Moskau sein Veto ein?",
        "Was sagte Professor Lim über Munition?",
        "Welches Abkommen könnte Nordkorea aufheben?",
        "Wer ist der südkoreanische Verteidigungsminister?",
        "Schickt Nordkorea Soldaten in die Ukraine?",
    ],
    "en": [
        "Who visited Pyongyang in June?",
        "Where did six North Korean officers die?",
        "What has North Korea supplied to Russia?",
        "When did Moscow use its veto?",
        "What did professor Lim say about ammunition supplies?",
        "Which agreement might North Korea scrap?",
        "Who is South Korea's defence minister?",
        "Is North Korea sending troops to Ukraine?",
    ],
}
OFF_TOPIC = {
    "de": ["Wie hoch ist der Eiffelturm?", "Wie backe ich einen Apfelkuchen?", "Wer gewann 2014?"],
    "en": ["How tall is the Eiffel Tower?", "What is the capital of Peru?", "Best pizza in Rome?"],
}

LANGS = ("de", "en")
CONTEXT_STARTS = tuple(text("context_title", x, title="", paragraph="")[:9] for x in LANGS)
MORE_STARTS = tuple(text(key, x) for key in ("more_title", "no_more") for x in LANGS)
APOLOGIES = {text("error", x) for x in LANGS}


def kind_of(message: dict[str, Any]) -> str:
    """What a bot message to a user is: reply (to a question), context, more or error."""
    body = message["text"]
    if body.startswith(CONTEXT_STARTS):
        return "context"
    if body.startswith(MORE_STARTS):
        return "more"
    return "error" if body in APOLOGIES else "reply"


def percentiles(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return f"p50 {at(0.50):.2f} s, p95 {at(0.95):.2f} s, p99 {at(0.99):.2f} s"


def reindex_outcome(api: FakeBotAPI) -> str | None:
    """The first line of the admin's reindex message once it is final, else None."""
    for message in api.messages(ADMIN):
        first = message["text"].split("\n", 1)[0]
        if first.startswith(("Index rebuilt", "Reindex failed", "A reindex is already")):
            return first
    return None
