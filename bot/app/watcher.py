"""Follow CURRENT when another process switches it (several bots on one Milvus).

A daemon thread asks the store every few seconds which version is CURRENT (on Milvus one
alias lookup or one small query, about 1-2 ms) and, when that changed, loads the version
and swaps it into the Searcher, which finishes questions in flight on the old one. Polling
keeps the question path free of store round trips; a new version serves within one
interval everywhere.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from bot.errors import IndexCorrupt

if TYPE_CHECKING:
    from bot.retrieval.search import Searcher
    from bot.retrieval.stores import VectorStore

logger = logging.getLogger(__name__)


class VersionWatcher:
    """Swaps the version CURRENT points to into `searcher` whenever it changes."""

    def __init__(self, store: VectorStore, searcher: Searcher, *, interval: float = 5.0) -> None:
        self.store = store
        self.searcher = searcher
        self.interval = interval
        self._seen = searcher.version.manifest.version
        self._failed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-watcher", daemon=True)

    def start(self) -> VersionWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def check(self) -> bool:
        """Serve CURRENT if it changed since the last check; True if a version was swapped in.

        A version this process already serves (its own reindex or rollback) is not loaded
        again, and one built with another model is refused: its vectors would not match.
        """
        current = self.store.current_id()
        if current is None or current == self._seen:
            return False
        served = self.searcher.version.manifest
        if current == served.version:
            self._seen = current
            return False
        try:
            version = self.store.load(current)
        except IndexCorrupt as exc:
            self._warn_once(current, "cannot serve index %s: %s", current, exc)
            return False
        if version.manifest.model != served.model:
            self._warn_once(
                current,
                "not serving index %s: built with %s, this bot embeds with %s",
                current,
                version.manifest.model,
                served.model,
            )
            return False
        self.searcher.swap(version)
        self._seen, self._failed = current, None
        logger.info("serving index %s, made current by another process", current)
        return True

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # Milvus unreachable for a while: keep serving, retry
                if not failing:
                    logger.warning("cannot check the current index version (retrying): %s", exc)
                failing = True
            else:
                if failing:
                    logger.info("the index store answers again")
                failing = False

    def _warn_once(self, version: str, message: str, *args: object) -> None:
        if self._failed != version:
            logger.warning(message, *args)
        self._failed = version
