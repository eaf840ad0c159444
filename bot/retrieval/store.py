"""FAISS index versions on disk: build atomically, load, verify, switch, roll back.

Layout of `INDEX_DIR`:

    versions/<id>/manifest.json   what was built, from what, with which model (+ index hash)
    versions/<id>/index.faiss     one normalized vector per sentence, row i = sentence i
    versions/<id>/vectors.npy     the same vectors, memory-mapped for re-scoring candidates
    versions/<id>/corpus.json     the documents
    versions/<id>/sentences.npy   where each sentence stands: one row of positions each
    CURRENT, PREVIOUS             the id of the serving version and of the one before
    embeddings.sqlite3            cache of sentence vectors (bot/retrieval/embedding_cache.py)

A version is built in a `tmp-*` folder, fsynced and renamed into `versions/` before
`CURRENT` is replaced (write + fsync + rename), so a crash at any point leaves the last
complete version serving. Stale `tmp-*` folders are removed on the next open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from bot.errors import IndexCorrupt
from bot.retrieval.corpus import Corpus

if TYPE_CHECKING:
    from bot.retrieval.stores import NearestNeighbours

logger = logging.getLogger(__name__)

# 2: each sentence row carries its page, each document its format and page count.
# 3: each document carries where its pages start (one document type from file to index).
# 4: the sentences are an array of their positions (sentences.npy), not rows in corpus.json.
# Older versions still load (format 1 as unpaginated), so /rollback works; on start they
# are rebuilt, except format 3, which holds the same corpus and serves as it is.
FORMAT_VERSION = 4
SERVES_AS_IS = (3, FORMAT_VERSION)
INDEX_TYPES = ("flat", "hnsw")


def numbering(format_version: int) -> int:
    """The format whose sentence numbering a version of `format_version` has: the formats
    that serve as they are number the same documents' sentences alike."""
    return FORMAT_VERSION if format_version in SERVES_AS_IS else format_version


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a version was built from; compared with the configuration on every start."""

    format_version: int
    version: str
    model: str
    dimension: int
    index_type: str
    documents: dict[str, str]  # doc_id -> checksum
    counts: dict[str, int]
    built_at: float
    build_seconds: float
    index_sha256: str

    def mismatch(self, *, model: str, index_type: str, documents: dict[str, str]) -> str | None:
        """Why this version cannot serve the given configuration, or None if it can."""
        if self.format_version not in SERVES_AS_IS:
            return f"index format {self.format_version} != {FORMAT_VERSION}"
        if self.model != model:
            return f"model changed: {self.model} -> {model}"
        if self.index_type != index_type:
            return f"index type changed: {self.index_type} -> {index_type}"
        if self.documents != documents:
            changed = sorted(set(self.documents.items()) ^ set(documents.items()))
            return "documents changed: " + ", ".join(sorted({doc for doc, _ in changed}))
        return None


@dataclass(frozen=True, slots=True)
class IndexVersion:
    """A loaded version: its vector index (FAISS or Milvus), corpus, manifest and vectors."""

    manifest: Manifest
    index: NearestNeighbours
    corpus: Corpus
    vectors: np.ndarray


@dataclass(frozen=True, slots=True)
class Build:
    """What a store writes as a new version: the corpus, one vector per sentence, and how."""

    corpus: Corpus
    vectors: np.ndarray  # float32 (sentences, dimension), rows L2-normalized
    model: str
    index_type: str
    seconds: float  # how long the build took

    def manifest(self, version: str, digest: str) -> Manifest:
        """The manifest of this build stored as `version`, with the stored index's hash."""
        return Manifest(
            format_version=FORMAT_VERSION,
            version=version,
            model=self.model,
            dimension=int(self.vectors.shape[1]),
            index_type=self.index_type,
            documents={d.doc_id: d.checksum for d in self.corpus.documents},
            counts=self.corpus.counts(),
            built_at=time.time(),
            build_seconds=round(self.seconds, 3),
            index_sha256=digest,
        )


def new_index(vectors: np.ndarray, index_type: str) -> faiss.Index:
    """An inner-product index over `vectors` (inner product = cosine on normalized vectors).

    Args:
        vectors: float32 array (n, d), rows L2-normalized.
        index_type: "flat" (exact, right for up to ~50k sentences) or "hnsw" (approximate
            graph search over 8-bit codes, for larger corpora).
    """
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type {index_type!r} is not one of {', '.join(INDEX_TYPES)}")
    dim = vectors.shape[1]
    if index_type == "hnsw":
        # Candidates only: they are re-scored with the exact vectors (vectors.npy), so 8-bit
        # codes (a quarter of the memory) lose nothing that shows.
        index = faiss.IndexHNSWSQ(
            dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efSearch = 64
        if len(vectors):
            index.train(vectors)
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


class IndexStore:
    """The versions in one `INDEX_DIR` (a `VectorStore`, see bot/retrieval/stores.py)."""

    shared = False  # one machine's folder: only this process switches CURRENT

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "versions"

    def close(self) -> None:
        """Nothing to release: every call opens and closes its files."""

    def prepare(self) -> None:
        """Create the folders and remove half-written builds left by a crash."""
        self.versions.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob("tmp-*"):
            logger.warning("removing unfinished index build %s", stale.name)
            shutil.rmtree(stale, ignore_errors=True)

    def current_id(self) -> str | None:
        return _read_pointer(self.root / "CURRENT")

    def previous_id(self) -> str | None:
        return _read_pointer(self.root / "PREVIOUS")

    def write(self, build: Build) -> str:
        """Write a complete new version atomically and return its id (not yet activated)."""
        corpus, vectors = build.corpus, build.vectors
        self.prepare()
        tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=self.root))
        index = new_index(vectors, build.index_type)
        faiss.write_index(index, str(tmp / "index.faiss"))
        np.save(tmp / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        written = corpus.save(tmp)
        digest = _sha256(tmp / "index.faiss")
        version = self._new_id(time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + digest[:8])
        manifest = build.manifest(version, digest)
        (tmp / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2), "utf-8")
        for name in ("index.faiss", "vectors.npy", *written, "manifest.json"):
            _fsync(tmp / name)
        os.rename(tmp, self.versions / version)
        _fsync(self.versions)
        return version

    def _new_id(self, base: str) -> str:
        """`base`, or `base-2`, `base-3`, … if a version of that id exists already.

        The same documents rebuilt within one second give the same base; the folder that
        holds it may since have been damaged, so it is never reused.
        """
        version, number = base, 1
        while (self.versions / version).exists():
            number += 1
            version = f"{base}-{number}"
        return version

    def activate(self, version: str) -> None:
        """Make `version` the serving one; the one serving before becomes PREVIOUS."""
        current = self.current_id()
        if current and current != version:
            _write_pointer(self.root / "PREVIOUS", current)
        _write_pointer(self.root / "CURRENT", version)
        self.prune()

    def rollback(self) -> str:
        """Swap CURRENT and PREVIOUS; returns the id now serving.

        Raises:
            IndexCorrupt: there is no previous version to go back to.
        """
        previous, current = self.previous_id(), self.current_id()
        if not previous or not (self.versions / previous).is_dir():
            raise IndexCorrupt("there is no previous index version to roll back to")
        self.load(previous)  # verify before switching
        _write_pointer(self.root / "CURRENT", previous)
        if current:
            _write_pointer(self.root / "PREVIOUS", current)
        return previous

    def load(self, version: str | None = None) -> IndexVersion:
        """Load and verify a version (default: CURRENT).

        Raises:
            IndexCorrupt: missing, unreadable, or inconsistent with its manifest.
        """
        version = version or self.current_id()
        if not version:
            raise IndexCorrupt("no index has been built yet")
        folder = self.versions / version
        try:
            manifest = Manifest(**json.loads((folder / "manifest.json").read_text("utf-8")))
            if _sha256(folder / "index.faiss") != manifest.index_sha256:
                raise IndexCorrupt(f"index {version}: index.faiss does not match its manifest hash")
            index = faiss.read_index(str(folder / "index.faiss"))
            corpus = Corpus.load(folder)
        except IndexCorrupt:
            raise
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise IndexCorrupt(f"index {version} is unreadable: {exc}") from exc
        if index.ntotal != len(corpus.sentences) or index.d != manifest.dimension:
            raise IndexCorrupt(
                f"index {version}: {index.ntotal} vectors of size {index.d} for "
                f"{len(corpus.sentences)} sentences of size {manifest.dimension}"
            )
        try:  # memory-mapped: only the rows a question looks at are read
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        except FileNotFoundError:  # written before vectors.npy existed
            vectors = _reconstruct(index, manifest.dimension)
        except ValueError as exc:
            raise IndexCorrupt(f"index {version}: vectors.npy is unreadable: {exc}") from exc
        if vectors.shape != (index.ntotal, index.d):
            raise IndexCorrupt(f"index {version}: vectors.npy has shape {vectors.shape}")
        return IndexVersion(manifest=manifest, index=index, corpus=corpus, vectors=vectors)

    def prune(self, keep: int = 3) -> None:
        """Delete old versions, never CURRENT or PREVIOUS."""
        protected = {self.current_id(), self.previous_id()}
        ordered = sorted(p for p in self.versions.iterdir() if p.is_dir())
        for old in ordered[:-keep]:
            if old.name not in protected:
                shutil.rmtree(old, ignore_errors=True)


def _reconstruct(index: faiss.Index, dim: int) -> np.ndarray:
    """All vectors of an index (needed for neighbour windows and re-scoring)."""
    if index.ntotal == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal).astype(np.float32)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_pointer(path: Path) -> str | None:
    try:
        value = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    return value or None


def _write_pointer(path: Path, value: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(value + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync(path.parent)
