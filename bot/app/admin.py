"""What admins can do, independent of Telegram: reindex, roll back, add and remove documents.

A reindex runs in a worker thread while the searcher keeps answering from the version it
serves; only a complete, verified version is swapped in, and only then does it become
CURRENT on disk. One reindex at a time.

A removed document is set aside (renamed to a hidden `.<name>.removed`, which no build
reads) rather than deleted: the next reindex deletes it once the index without it serves,
or puts it back if that reindex fails, so the files on disk never lose a document the
serving index still quotes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import DocumentError
from bot.retrieval.documents import META_SUFFIX, SUFFIXES, Document, document_id, parse_document

if TYPE_CHECKING:  # both load the models' libraries; a running bot has loaded them already
    from bot.app.services import Services
    from bot.retrieval.indexing import BuildReport

logger = logging.getLogger(__name__)

REMOVED_SUFFIX = ".removed"

Progress = Callable[[str, int, int], None]


class ReindexRunning(RuntimeError):
    """A reindex was asked for while another one runs."""


@dataclass(frozen=True, slots=True)
class ReindexResult:
    """How the last reindex ended: a report, or the reason it failed."""

    finished_at: float
    report: BuildReport | None = None
    error: str | None = None


class Admin:
    """Admin operations on one running bot's services."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self.last: ReindexResult | None = None

    @property
    def running(self) -> bool:
        return self._lock.locked()

    def reindex(self, progress: Progress | None = None) -> BuildReport:
        """Rebuild from the documents on disk and swap the new version in (blocking).

        Raises:
            ReindexRunning: another reindex is in progress.
            Exception: whatever made the build fail; the old version keeps serving.
        """
        if not self._lock.acquire(blocking=False):
            raise ReindexRunning("a reindex is already running")
        removed: list[Path] = []
        try:
            removed = self._pending_removals()  # listed before the build reads the folder
            report = self._build_and_serve(progress)
        except Exception as exc:
            logger.exception("reindex failed; the previous index keeps serving")
            _put_back(removed)
            self.last = ReindexResult(time.time(), error=f"{type(exc).__name__}: {exc}")
            raise
        else:
            for aside in removed:
                aside.unlink(missing_ok=True)
            self.last = ReindexResult(time.time(), report=report)
            return report
        finally:
            self._lock.release()

    def _build_and_serve(self, progress: Progress | None) -> BuildReport:
        """Build a version, serve it, then make it CURRENT (the old one serves on failure)."""
        indexer, searcher = self.services.indexer, self.services.searcher
        serving = searcher.version
        report = indexer.build(progress=progress, activate=False)
        searcher.swap(indexer.store.load(report.version))
        try:
            indexer.store.activate(report.version)
        except Exception:
            searcher.swap(serving)
            raise
        return report

    def rollback(self) -> str:
        """Serve the previous index version again; returns its id."""
        with self._lock:
            store = self.services.indexer.store
            version = store.rollback()
            self.services.searcher.swap(store.load(version))
            return version

    def check_upload(self, name: str, data: bytes) -> Document:
        """Validate an uploaded file without writing anything (raises DocumentError)."""
        return parse_document(name, data, max_bytes=self.services.settings.max_upload_bytes)

    def exists(self, name: str) -> bool:
        """True if a document with this file name's id is stored already."""
        return self._path_of(document_id(name)) is not None

    def save_document(self, name: str, data: bytes, *, meta: dict | None = None) -> Path:
        """Validate and store an uploaded document atomically (replacing one of the same name).

        `meta` (such as the address a page came from) is merged into its `.meta.json`.
        """
        self.check_upload(name, data)
        folder = self.services.settings.documents_dir
        folder.mkdir(parents=True, exist_ok=True)
        doc_id = document_id(name)
        existing = self._path_of(doc_id)
        target = folder / name
        if meta:
            sidecar = folder / f"{doc_id}{META_SUFFIX}"
            _write_atomically(sidecar, json.dumps(_read_meta(sidecar) | meta, indent=2).encode())
        _write_atomically(target, data)
        if existing is not None and existing != target:
            existing.unlink()  # same id with another suffix (.txt vs .pdf)
        return target

    def remove_document(self, doc_id: str) -> bool:
        """Take a stored document (and its metadata) out of the index's sources.

        The files are set aside until the next reindex settles them (see the module
        docstring). Returns False if there is no such document.
        """
        path = self._path_of(doc_id)
        if path is None:
            return False
        for source in (path, path.with_name(f"{doc_id}.meta.json")):
            if source.exists():
                os.replace(source, source.with_name(f".{source.name}{REMOVED_SUFFIX}"))
        return True

    def _pending_removals(self) -> list[Path]:
        """The set-aside files of removed documents, waiting for a reindex."""
        folder = self.services.settings.documents_dir
        if not folder.is_dir():
            return []
        return sorted(folder.glob(f".*{REMOVED_SUFFIX}"))

    def _path_of(self, doc_id: str) -> Path | None:
        folder = self.services.settings.documents_dir
        for suffix in SUFFIXES:
            path = folder / f"{doc_id}{suffix}"
            if path.is_file():
                return path
        return None


def _write_atomically(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.upload")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def _read_meta(path: Path) -> dict:
    """The metadata already stored for a document (none if missing or unreadable)."""
    try:
        found = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _put_back(removed: list[Path]) -> None:
    """Restore set-aside files, unless a document of that name was stored meanwhile."""
    for aside in removed:
        original = aside.with_name(aside.name[1 : -len(REMOVED_SUFFIX)])
        if original.exists():  # uploaded again since; the newer file stays
            aside.unlink(missing_ok=True)
            continue
        os.replace(aside, original)
        logger.warning("put back %s: the reindex that would remove it failed", original.name)


__all__ = ["Admin", "DocumentError", "ReindexResult", "ReindexRunning"]
