"""What the handlers share, typed: `BotData` behind `context.bot_data` (PTB ContextTypes).

`build_application` passes `CONTEXT_TYPES`, so every handler gets a `Context` whose
`bot_data` is one `BotData` object: the journal and the activity clock from the start, the
`Runtime` (model, index, state database) once post_init has opened it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.app.metrics import Activity
from bot.telegram.keyboards import AnswerCache, version_tag
from bot.telegram.limits import QuestionLimiter

if TYPE_CHECKING:
    from bot.app.services import Services
    from bot.app.state import StateStore
    from bot.settings import Settings
    from bot.telegram.durable import Durable
    from bot.telegram.handlers.reindexing import AdminState
    from bot.telegram.outbox import Outbox

# Searches at once. They hold the GIL most of the time: more of them only make the event
# loop wait for it, and every reply's way from Telegram into the journal with it.
SEARCHES = 2


@dataclass
class Runtime:
    """The resources opened in post_init: settings, services, state, answers, the limiter."""

    settings: Settings
    services: Services
    state: StateStore
    answers: AnswerCache
    limiter: QuestionLimiter
    searching: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(SEARCHES))

    def version(self) -> str:
        """The tag of what the serving index holds (buttons carry it): model and documents.

        A reindex that changes no document keeps the tag, so the buttons under earlier
        answers keep working; one that changes a document makes them stale.
        """
        from bot.retrieval.store import numbering  # loads faiss: a serving bot has it loaded

        manifest = self.services.searcher.version.manifest
        documents = ",".join(f"{d}:{c}" for d, c in sorted(manifest.documents.items()))
        numbered = numbering(manifest.format_version)
        return version_tag(f"{numbered}|{manifest.model}|{documents}")


@dataclass
class BotData:
    """`application.bot_data`: set in build_application, post_init and on first use."""

    activity: Activity = field(default_factory=Activity)
    durable: Durable | None = None  # the update journal
    outbox: Outbox | None = None  # the bot's rate limiter: paces every Bot API call
    runtime: Runtime | None = None  # None until post_init has opened the services
    admin: AdminState | None = None  # created on the first admin command
    example_cards: dict[tuple[str, str], list[Any]] = field(default_factory=dict)


class Context(CallbackContext[ExtBot, dict, dict, BotData]):
    """The CallbackContext of this bot: `bot_data` is a `BotData`."""

    @property
    def runtime(self) -> Runtime:
        """The bot's opened resources (handlers run only after post_init set them)."""
        found = self.bot_data.runtime
        if found is None:
            raise RuntimeError("the bot's services are not open yet")
        return found


CONTEXT_TYPES = ContextTypes(context=Context, bot_data=BotData)
