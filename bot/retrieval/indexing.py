"""Build index versions from the documents on disk and open the one that fits the settings."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from bot.errors import IndexCorrupt
from bot.retrieval.corpus import Corpus
from bot.retrieval.documents import (
    META_SUFFIX,
    Document,
    Skipped,
    ensure_documents_dir,
    read_documents,
)
from bot.retrieval.embedding import embed_documents
from bot.retrieval.embedding_cache import EmbeddingCache
from bot.retrieval.formats import format_of
from bot.retrieval.keys import open_keys, prune_keys
from bot.retrieval.language import detect_language
from bot.retrieval.store import Build, IndexStore, IndexVersion
from bot.retrieval.stores import VectorStore

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build changed compared with the version that served before it.

    `skipped` lists the files in the documents folder that could not be used, and why.
    """

    version: str
    model: str
    documents: int
    sentences: int
    documents_added: tuple[str, ...]
    documents_removed: tuple[str, ...]
    documents_changed: tuple[str, ...]
    documents_unchanged: int
    sentences_added: int
    sentences_removed: int
    sentences_unchanged: int
    sentences_embedded: int
    seconds: float
    index_sha256: str
    skipped: tuple[Skipped, ...] = ()


class Indexer:
    """Everything needed to turn `documents_dir` into a serving index version."""

    def __init__(
        self,
        *,
        documents_dir: Path,
        index_dir: Path,
        model: SentenceTransformer,
        model_name: str,
        index_type: str = "flat",
        store: VectorStore | None = None,
    ) -> None:
        self.documents_dir = documents_dir
        self.store: VectorStore = store or IndexStore(index_dir)
        self.model = model
        self.model_name = model_name
        self.index_type = index_type
        self._cache_path = index_dir / "embeddings.sqlite3"
        self.keys_dir = index_dir / "keys"  # each version's search keys (bot/retrieval/keys.py)
        self._read_path = index_dir / "documents.json"  # what the last full read found

    def embed_cached(
        self,
        texts: list[str],
        *,
        model: SentenceTransformer | None = None,
        model_name: str | None = None,
        batch: int = 64,
    ) -> np.ndarray:
        """Document-side vectors of `texts`, from the embedding cache where possible.

        With `model` and `model_name`, under that model (the second model's) instead of the
        index's own; the cache keeps each model's vectors apart by name. `batch` texts are
        encoded at a time (the encoder is held that long).
        """
        model, model_name = model or self.model, model_name or self.model_name
        cache = EmbeddingCache(self._cache_path)
        try:
            vectors, _ = cache.embed(
                texts,
                model=model_name,
                encode=lambda chunk: embed_documents(model, chunk, batch_size=batch),
                batch=batch,
            )
        finally:
            cache.close()
        return vectors

    def documents(self) -> list[Document]:
        """The usable documents in the documents folder (created with the seed if missing)."""
        return self.read()[0]

    def read(self) -> tuple[list[Document], list[Skipped]]:
        """The usable documents, and the files skipped with their reasons (each is logged)."""
        ensure_documents_dir(self.documents_dir)
        files = _fingerprints(self.documents_dir)
        last = self._recalled()
        known, detected = last.get("detected", {}), {}

        def language_of(text: str) -> str:
            # Detecting a long document's language takes tens of ms: an unchanged text
            # keeps the language found for it last time.
            key = hashlib.sha256(text.encode()).hexdigest()
            detected[key] = known.get(key) or detect_language(text)
            return detected[key]

        documents, skipped = read_documents(self.documents_dir, language_of=language_of)
        if files is not None:  # lets `open` skip parsing files that did not change
            checksums = {d.doc_id: d.checksum for d in documents}
            record = {"files": files, "checksums": checksums, "detected": detected}
            if record != last:  # `/docs` reads often
                self._remember(record)
        return documents, skipped

    def _recalled(self) -> dict:
        """What the last full read found (`read`), or {} if nothing readable is stored."""
        try:
            record = json.loads(self._read_path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def _remember(self, record: dict) -> None:
        """Store what a full read found."""
        tmp = self._read_path.with_name(self._read_path.name + ".tmp")
        self._read_path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record), "utf-8")
        os.replace(tmp, self._read_path)

    def _unchanged_checksums(self) -> dict[str, str] | None:
        """The documents' checksums as last read, if no file changed since; else None.

        Parsing every file and detecting its language is most of opening a large corpus;
        hashing the files' bytes tells much sooner whether anything changed.
        """
        if not self.documents_dir.is_dir():
            return None
        record = self._recalled()
        if "files" not in record or "checksums" not in record:
            return None
        files = _fingerprints(self.documents_dir)
        return record["checksums"] if files is not None and files == record["files"] else None

    def open(self) -> IndexVersion:
        """Load the current version if it matches the settings and documents, else rebuild.

        On a shared store (Milvus) the documents of this machine do not overrule the
        version the other bots serve: it is kept when only they differ (a reindex builds
        from them), and rebuilt only if unreadable or made with another model or index type.
        """
        self.store.prepare()
        documents, skipped = None, ()
        checksums = self._unchanged_checksums()
        if checksums is None:
            documents, skipped = self.read()
            checksums = {d.doc_id: d.checksum for d in documents}
        try:
            version = self.store.load()
        except IndexCorrupt as exc:
            logger.warning("rebuilding the index: %s", exc)
        else:
            if self.store.shared and version.manifest.documents != checksums:
                logger.warning(
                    "serving the shared index %s, whose documents differ from %s;"
                    " a reindex builds from these",
                    version.manifest.version,
                    self.documents_dir,
                )
                checksums = version.manifest.documents
            why = version.manifest.mismatch(
                model=self.model_name, index_type=self.index_type, documents=checksums
            )
            if why is None:
                logger.info("loaded index %s", version.manifest.version)
                return version
            logger.info("rebuilding the index: %s", why)
        self.build(documents, skipped=skipped)
        return self.store.load()

    def build(
        self,
        documents: list[Document] | None = None,
        *,
        skipped: Sequence[Skipped] = (),
        progress: Progress | None = None,
        activate: bool = True,
    ) -> BuildReport:
        """Embed (only what the cache lacks), write and verify a new version.

        Without `documents` the documents folder is read (and `skipped` found there). The
        new version becomes CURRENT unless `activate` is False; then the caller activates
        it once it is ready to serve it.
        """
        started = time.perf_counter()
        if documents is None:
            documents, skipped = self.read()
        if progress:
            progress("split", 0, len(documents))
        before = self._serving_corpus()
        corpus = Corpus.from_documents(documents, previous=before)  # splits what changed
        texts = [s.text for s in corpus.sentences]
        cache = EmbeddingCache(self._cache_path)
        try:
            vectors, embedded = cache.embed(
                texts,
                model=self.model_name,
                encode=lambda batch: embed_documents(self.model, batch),
                progress=(lambda done, total: progress("embed", done, total)) if progress else None,
            )
        finally:
            cache.close()
        if progress:
            progress("write", len(texts), len(texts))
        seconds = time.perf_counter() - started
        version = self.store.write(
            Build(corpus, vectors, self.model_name, self.index_type, seconds)
        )
        manifest = self.store.load(version).manifest  # verify before anything points to it
        if progress:
            progress("keys", 0, len(texts))
        open_keys(self.keys_dir, version, corpus, self.embed_cached, int(vectors.shape[1]))
        if activate:
            self.store.activate(version)
        prune_keys(self.keys_dir, {version, self.store.current_id(), self.store.previous_id()})
        logger.info(
            "built index %s: %d documents, %d sentences, %d embedded, %.2f s",
            version,
            len(documents),
            len(texts),
            embedded,
            seconds,
        )
        report = _report(
            before,
            corpus,
            manifest.version,
            self.model_name,
            embedded,
            time.perf_counter() - started,
            manifest.index_sha256,
        )
        return replace(report, skipped=tuple(skipped))

    def _serving_corpus(self) -> Corpus | None:
        try:
            return self.store.load().corpus
        except IndexCorrupt:
            return None


def _fingerprints(directory: Path) -> dict[str, str] | None:
    """File name -> sha256 of each document file's bytes and its metadata sidecar's; None if
    a file cannot be read."""
    found: dict[str, str] = {}
    try:
        for path in sorted(directory.iterdir()):
            if format_of(path.name) is None or path.name.endswith(META_SUFFIX):
                continue
            digest = hashlib.sha256(path.read_bytes())
            meta = path.with_name(path.stem + META_SUFFIX)
            if meta.exists():
                digest.update(b"\0" + meta.read_bytes())
            found[path.name] = digest.hexdigest()
    except OSError:
        return None
    return found


def _report(
    before: Corpus | None,
    after: Corpus,
    version: str,
    model: str,
    embedded: int,
    seconds: float,
    digest: str,
) -> BuildReport:
    old = {d.doc_id: d.checksum for d in before.documents} if before else {}
    new = {d.doc_id: d.checksum for d in after.documents}
    old_sentences = {s.text for s in before.sentences} if before else set()
    new_sentences = {s.text for s in after.sentences}
    return BuildReport(
        version=version,
        model=model,
        documents=len(new),
        sentences=len(after.sentences),
        documents_added=tuple(sorted(new.keys() - old.keys())),
        documents_removed=tuple(sorted(old.keys() - new.keys())),
        documents_changed=tuple(sorted(k for k in new.keys() & old.keys() if new[k] != old[k])),
        documents_unchanged=sum(1 for k in new.keys() & old.keys() if new[k] == old[k]),
        sentences_added=len(new_sentences - old_sentences),
        sentences_removed=len(old_sentences - new_sentences),
        sentences_unchanged=len(new_sentences & old_sentences),
        sentences_embedded=embedded,
        seconds=round(seconds, 2),
        index_sha256=digest,
    )
