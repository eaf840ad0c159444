"""Updates python-telegram-bot cannot read are skipped, not fetched again and again.

PTB parses a batch of polled updates at once. One it cannot read (an object a newer or older
Bot API server shapes differently, such as a poll from a self-hosted server before Bot API
9.6) makes the whole batch fail; PTB fetches it again, forever, and every later update waits
behind it. Here each update is read on its own first: one that fails is logged and replaced
by an update that carries only its id, which no handler takes up, so the offset moves past
it. The webhook server uses `readable` the same way.

The same request writes each fetched batch to the update journal (`durable.py`) before PTB
sees it: PTB confirms a batch to Telegram with its next getUpdates, and by then the batch is
on disk.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, Update
from telegram.request import HTTPXRequest

from bot.telegram.durable import Durable

logger = logging.getLogger(__name__)


def readable(raw: dict[str, Any], bot: Bot | None = None) -> dict[str, Any]:
    """`raw` if PTB can read it as an Update, else an update with only its `update_id`.

    Raises:
        KeyError: `raw` has no update_id, so it is no update at all.
    """
    try:
        Update.de_json(raw, bot)
    except Exception as exc:  # whatever the library raises on a shape it does not know
        update_id = raw["update_id"]
        kinds = sorted(key for key in raw if key != "update_id")
        # The exception's text may quote the update, and updates hold what users wrote.
        logger.warning(
            "skipping update %s (%s): the library cannot read it (%s)",
            update_id, ", ".join(kinds), type(exc).__name__,
        )  # fmt: skip
        return {"update_id": update_id}
    return raw


class SkippingUpdatesRequest(HTTPXRequest):
    """The getUpdates connection: hands PTB only updates it can read, and only once they are
    in the journal (see the module doc)."""

    def __init__(self, *, durable: Durable | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.durable = durable

    async def post(self, url: str, request_data: Any = None, **timeouts: Any) -> Any:
        result = await super().post(url, request_data, **timeouts)
        if not isinstance(result, list):
            return result
        batch = [readable(raw) if isinstance(raw, dict) else raw for raw in result]
        if self.durable is None or not all(isinstance(raw, dict) for raw in batch):
            return batch
        return await self.durable.admit(batch)
