"""The vector store protocol both index stores implement, and the one place that picks one.

A store keeps index versions: it writes a complete version, loads and verifies one, makes
one CURRENT (the one before becomes PREVIOUS) and rolls back. `FAISS` (`bot/retrieval/store.py`)
keeps them in folders on this machine; `Milvus` (`bot/retrieval/milvus_store.py`) in collections of
a Milvus server or cluster (or Milvus Lite, embedded, for development and tests), so
several bot processes can serve one index.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.settings import StoreKind

if TYPE_CHECKING:
    import numpy as np

    from bot.retrieval.store import Build, IndexVersion

STORE_KINDS: tuple[StoreKind, ...] = ("faiss", "milvus")


class NearestNeighbours(Protocol):
    """What the Searcher asks of a version's vector index (a FAISS index satisfies it)."""

    @property
    def ntotal(self) -> int:
        """How many vectors the index holds (row i = sentence id i)."""
        ...

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Inner-product scores and ids (n, k) of the `k` nearest rows of each query row.

        Missing neighbours (fewer than `k` rows) have id -1.
        """
        ...


class VectorStore(Protocol):
    """Index versions: write, load, activate, roll back (see bot/retrieval/store.py for FAISS)."""

    shared: bool
    """True if other processes may switch CURRENT (then a running bot follows it)."""

    def prepare(self) -> None:
        """Create what the store needs and clear what a crashed build left behind."""
        ...

    def current_id(self) -> str | None: ...

    def previous_id(self) -> str | None: ...

    def write(self, build: Build) -> str:
        """Write a complete new version and return its id (not yet activated)."""
        ...

    def load(self, version: str | None = None) -> IndexVersion:
        """Load and verify a version (default: CURRENT); raises IndexCorrupt."""
        ...

    def activate(self, version: str) -> None:
        """Make `version` CURRENT; the one serving before becomes PREVIOUS."""
        ...

    def rollback(self) -> str:
        """Swap CURRENT and PREVIOUS; returns the id now serving (raises IndexCorrupt)."""
        ...

    def prune(self, keep: int = 3) -> None:
        """Delete old versions, never CURRENT or PREVIOUS."""
        ...

    def close(self) -> None: ...


def open_store(
    kind: StoreKind = "faiss",
    *,
    index_dir: Path,
    milvus_uri: str | None = None,
    milvus_token: str | None = None,
    milvus_prefix: str = "quotebot",
) -> VectorStore:
    """The configured store of index versions.

    Args:
        kind: "faiss" (folders under `index_dir`) or "milvus".
        index_dir: the FAISS versions' folder (and the default place of a Milvus Lite file).
        milvus_uri: a Milvus server or cluster URL (`http://host:19530`), or a local file
            path for Milvus Lite; default `index_dir/milvus.db`.
        milvus_token: the server's token (`user:password` or an API key), if it needs one.
        milvus_prefix: the name every collection of this bot starts with, so several bots
            can share one Milvus.
    """
    if kind == "faiss":
        from bot.retrieval.store import IndexStore

        return IndexStore(index_dir)
    if kind == "milvus":
        from bot.retrieval.milvus_store import MilvusStore

        uri = milvus_uri or str(index_dir / "milvus.db")
        return MilvusStore(uri, token=milvus_token, prefix=milvus_prefix)
    raise ValueError(f"vector store {kind!r} is not one of {', '.join(STORE_KINDS)}")
