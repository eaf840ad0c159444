"""Index versions in Milvus: one collection per version; CURRENT and PREVIOUS switch by alias.

Layout (every name starts with the prefix, `quotebot` unless MILVUS_COLLECTION says else):

    <prefix>_v<version>    one row per sentence (see bot/retrieval/milvus_index.py)
    <prefix>_meta          each version's manifest and corpus JSON; on Milvus Lite also the
                           CURRENT/PREVIOUS pointer rows (see bot/retrieval/milvus_meta.py)
    <prefix>_current, <prefix>_previous    the aliases, on a Milvus server or cluster

A build writes its collection, then the corpus, then the manifest row: a version exists
once its manifest does, so a crash leaves at most an unfinished collection, which `prune`
removes (not `prepare`: on a shared Milvus another process may be building it right now).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient
from pymilvus.client.types import LoadState
from pymilvus.exceptions import MilvusException, MilvusUnavailableException

from bot.errors import IndexCorrupt
from bot.retrieval.corpus import Corpus
from bot.retrieval.milvus_index import (
    MilvusIndex,
    create_collection,
    insert_rows,
    read_vectors,
)
from bot.retrieval.milvus_meta import AliasPointers, Meta, RowPointers, has_aliases
from bot.retrieval.store import INDEX_TYPES, Build, IndexVersion, Manifest

logger = logging.getLogger(__name__)

PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class MilvusStore:
    """The versions of one bot in one Milvus (a `VectorStore`, see bot/retrieval/stores.py)."""

    shared = True  # other bot processes on the same Milvus may switch CURRENT

    def __init__(self, uri: str, *, token: str | None = None, prefix: str = "quotebot") -> None:
        if not PREFIX.match(prefix):
            raise ValueError(
                f"Milvus collection prefix {prefix!r} must be a letter or _ followed by up to"
                " 63 letters, digits or _"
            )
        self.uri, self.prefix = uri, prefix
        self.local = "://" not in uri  # a file path: Milvus Lite, started by pymilvus
        self.client = _connect(uri, token, local=self.local)
        self._closed = False
        self.meta = Meta(self.client, f"{prefix}_meta")
        self.meta.ensure()
        if not self.local and has_aliases(self.client):
            self.pointers = AliasPointers(self.client, prefix, self.collection_of, self.version_of)
        else:
            self.pointers = RowPointers(self.meta)
        logger.info(
            "index versions in Milvus at %s (CURRENT by %s)",
            uri,
            "alias" if isinstance(self.pointers, AliasPointers) else "pointer row",
        )

    def collection_of(self, version: str) -> str:
        """The collection of `version` (version ids have no `_`, collection names no `-`)."""
        return f"{self.prefix}_v{version.replace('-', '_')}"

    def version_of(self, collection: str) -> str | None:
        head = f"{self.prefix}_v"
        return collection[len(head) :].replace("_", "-") if collection.startswith(head) else None

    def prepare(self) -> None:
        self.meta.ensure()

    def current_id(self) -> str | None:
        return self.pointers.get()[0]

    def previous_id(self) -> str | None:
        return self.pointers.get()[1]

    def write(self, build: Build) -> str:
        """Write a complete new version (collection, corpus, manifest); returns its id."""
        corpus, index_type = build.corpus, build.index_type
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index_type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
        vectors = np.ascontiguousarray(build.vectors, dtype=np.float32)
        corpus_text = json.dumps(corpus.to_json(), ensure_ascii=False)
        digest = _digest(vectors, corpus_text)
        version = self._new_id(time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + digest[:8])
        name, dim = self.collection_of(version), int(vectors.shape[1])
        try:
            create_collection(
                self.client,
                name,
                dim=dim,
                index_type=index_type,
                language=corpus.main_language(),  # one analyzer per field
            )
            insert_rows(self.client, name, corpus, vectors)
            chunks = self.meta.put_text(version, corpus_text)
            manifest = build.manifest(version, digest)
            envelope = {"manifest": asdict(manifest), "chunks": chunks, "collection": name}
            self.meta.put(f"manifest:{version}", "manifest", version, json.dumps(envelope))
        except Exception:
            try:
                self._drop(version)
            except MilvusException:
                logger.warning("could not remove the unfinished index %s", version, exc_info=True)
            raise
        return version

    def load(self, version: str | None = None) -> IndexVersion:
        """Load and verify a version (default: CURRENT).

        Raises:
            IndexCorrupt: missing, unreadable, or inconsistent with its manifest. An
                unreachable Milvus is not that: its error goes through unchanged.
        """
        version = version or self.current_id()
        if not version:
            raise IndexCorrupt("no index has been built yet")
        try:
            return self._load(version)
        except (IndexCorrupt, MilvusUnavailableException):
            raise
        except MilvusException as exc:
            raise IndexCorrupt(f"index {version} is unreadable in Milvus: {exc.message}") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexCorrupt(f"index {version} is unreadable: {exc}") from exc

    def activate(self, version: str) -> None:
        current, previous = self.pointers.get()
        self.pointers.set(version, current if current and current != version else previous)
        self.prune()

    def rollback(self) -> str:
        current, previous = self.pointers.get()
        if not previous or previous not in self.meta.versions():
            raise IndexCorrupt("there is no previous index version to roll back to")
        self.load(previous)  # verify before switching
        self.pointers.set(previous, current)
        return previous

    def prune(self, keep: int = 3) -> None:
        """Delete old versions and unfinished builds, never CURRENT or PREVIOUS."""
        protected = set(self.pointers.get())
        found = {self.version_of(name) for name in self.client.list_collections()}
        ordered = sorted((found - {None}) | self.meta.versions())
        for old in ordered[:-keep]:
            if old not in protected:
                self._drop(old)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.client.close()
        if self.local:  # pymilvus keeps the Milvus Lite process until the interpreter ends
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)

    def _load(self, version: str) -> IndexVersion:
        raw = self.meta.get(f"manifest:{version}")
        if raw is None:
            raise IndexCorrupt(f"index {version}: no such version in Milvus")
        envelope = json.loads(raw)
        manifest = Manifest(**envelope["manifest"])
        corpus_text = self.meta.text(version, envelope["chunks"])
        corpus = Corpus.from_json(json.loads(corpus_text))
        name = envelope["collection"]
        if not self.client.has_collection(name):
            raise IndexCorrupt(f"index {version}: collection {name} is missing")
        if self.client.get_load_state(name)["state"] != LoadState.Loaded:
            self.client.load_collection(name)
        vectors = read_vectors(self.client, name, len(corpus.sentences), manifest.dimension)
        if _digest(vectors, corpus_text) != manifest.index_sha256:
            raise IndexCorrupt(f"index {version}: its rows do not match its manifest hash")
        index = MilvusIndex(self.client, name, len(vectors), manifest.dimension)
        return IndexVersion(manifest=manifest, index=index, corpus=corpus, vectors=vectors)

    def _new_id(self, base: str) -> str:
        """`base`, or `base-2`, … if a version or collection of that id exists already."""
        taken = self.meta.versions() | {self.version_of(n) for n in self.client.list_collections()}
        version, number = base, 1
        while version in taken:
            number += 1
            version = f"{base}-{number}"
        return version

    def _drop(self, version: str) -> None:
        """Remove a version's collection and rows (the manifest first: it says it exists)."""
        self.meta.forget(version)
        name = self.collection_of(version)
        if self.client.has_collection(name):
            self.client.drop_collection(name)


def _connect(uri: str, token: str | None, *, local: bool) -> MilvusClient:
    if local:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # milvus-lite 2.5 imports pkg_resources, which warns that it is deprecated.
            warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
            return MilvusClient(uri=uri, token=token or "")
    except MilvusException as exc:
        if local:
            raise RuntimeError(
                f"Milvus Lite cannot open {uri}{_reason(exc)}. Is another process using it?"
                " Milvus Lite serves one process at a time; for several bot processes run a"
                " Milvus server and set MILVUS_URI to its URL"
            ) from exc
        raise RuntimeError(f"cannot reach Milvus at {uri}{_reason(exc)}") from exc


def _reason(exc: MilvusException) -> str:
    return f": {exc.message}" if exc.message else ""


def _digest(vectors: np.ndarray, corpus_text: str) -> str:
    """What a version's manifest promises: its vectors (float32, by id) and its corpus."""
    digest = hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    digest.update(corpus_text.encode())
    return digest.hexdigest()


def _route_pymilvus_logs() -> None:
    """pymilvus gives its loggers handlers of their own; send them through the bot's."""
    for name in ("pymilvus", "pymilvus.milvus_client", "pymilvus.bulk_writer"):
        log = logging.getLogger(name)
        log.handlers.clear()
        log.propagate = True
        log.setLevel(logging.WARNING)


_route_pymilvus_logs()
