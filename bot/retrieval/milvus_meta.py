"""The small things a Milvus store keeps beside its collections: manifests, corpora, pointers.

`<prefix>_meta` holds, per version, its manifest and its corpus JSON (in chunks: a VARCHAR
holds at most 65,535 bytes), so any process can rebuild the Corpus from Milvus alone.

CURRENT and PREVIOUS are aliases on a Milvus server or cluster (`AliasPointers`). Milvus
Lite 2.5 answers the alias calls with UNIMPLEMENTED, so there they are pointer rows in the
meta collection (`RowPointers`): each switch inserts one row, and the newest row counts.
An upsert would be simpler but is not atomic there: a reader running beside it was seen to
find no row at all in 252 of 582 reads.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pymilvus import CollectionSchema, DataType, MilvusClient
from pymilvus.milvus_client import IndexParams

from bot.errors import IndexCorrupt

CHUNK_CHARS = 16_000  # at most 4 bytes each in UTF-8: a chunk always fits 65,535 bytes
KEEP_POINTERS = 10


def create_loaded(
    client: MilvusClient, name: str, schema: CollectionSchema, index: IndexParams
) -> None:
    """Create collection `name`, empty, with its indexes, and load it for searching.

    Consistency is Strong: a row written by one process is seen by the next read of any
    other. The indexes are created without pymilvus waiting for them to be built: there is
    nothing to build in an empty collection, and its wait sleeps half a second per index
    before it first looks.
    """
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, index, sync=False)
    client.load_collection(name)


class Meta:
    """Rows of (key, kind, version, value) in one collection."""

    def __init__(self, client: MilvusClient, name: str) -> None:
        self.client = client
        self.name = name

    def ensure(self) -> None:
        """Create the collection unless it exists (another process may create it too)."""
        if self.client.has_collection(self.name):
            return
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("version", DataType.VARCHAR, max_length=256)
        schema.add_field("value", DataType.VARCHAR, max_length=65_535)
        schema.add_field("pad", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        index = self.client.prepare_index_params()
        index.add_index("pad", index_type="FLAT", metric_type="L2")
        create_loaded(self.client, self.name, schema, index)

    def put(self, key: str, kind: str, version: str, value: str) -> None:
        row = {"key": key, "kind": kind, "version": version, "value": value, "pad": [0.0, 0.0]}
        self.client.insert(self.name, [row])

    def get(self, key: str) -> str | None:
        rows = self.client.get(self.name, ids=[key], output_fields=["value"])
        return rows[0]["value"] if rows else None

    def rows(self, kind: str) -> list[dict]:
        """Every row of `kind` with its key, version and value."""
        return self.client.query(
            self.name, filter=f'kind == "{kind}"', output_fields=["key", "version", "value"]
        )

    def versions(self) -> set[str]:
        """The versions that have a manifest."""
        return {row["version"] for row in self.rows("manifest")}

    def put_text(self, version: str, text: str) -> int:
        """Store `text` in chunks under `version`; returns how many."""
        chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
        for number in range(0, len(chunks), 8):
            rows = [
                {
                    "key": f"corpus:{version}:{n:06d}",
                    "kind": "corpus",
                    "version": version,
                    "value": chunk,
                    "pad": [0.0, 0.0],
                }
                for n, chunk in enumerate(chunks[number : number + 8], start=number)
            ]
            self.client.insert(self.name, rows)
        return len(chunks)

    def text(self, version: str, chunks: int) -> str:
        """The text `put_text` stored (raises IndexCorrupt if a chunk is missing)."""
        keys = [f"corpus:{version}:{n:06d}" for n in range(chunks)]
        found: dict[str, str] = {}
        for lo in range(0, len(keys), 8):
            for row in self.client.get(self.name, ids=keys[lo : lo + 8], output_fields=["value"]):
                found[row["key"]] = row["value"]
        missing = [k for k in keys if k not in found]
        if missing:
            raise IndexCorrupt(f"index {version}: {len(missing)} of {chunks} corpus chunks missing")
        return "".join(found[k] for k in keys)

    def forget(self, version: str) -> None:
        """Delete the manifest and corpus rows of `version`."""
        self.client.delete(self.name, filter=f'version == "{version}"')


class RowPointers:
    """CURRENT and PREVIOUS as the newest pointer row (where the server has no aliases)."""

    def __init__(self, meta: Meta) -> None:
        self.meta = meta

    def get(self) -> tuple[str | None, str | None]:
        rows = sorted(self.meta.rows("pointer"), key=lambda row: row["key"])
        if not rows:
            return None, None
        value = json.loads(rows[-1]["value"])
        return value.get("current"), value.get("previous")

    def set(self, current: str, previous: str | None) -> None:
        """Both pointers in one insert: a reader sees the old pair or the new one.

        Two processes switching at once may take the same number; the random tail keeps
        their keys apart (Milvus does not refuse a second row of one key), and every reader
        sorts them alike, so all agree which switch came last.
        """
        rows = sorted(row["key"] for row in self.meta.rows("pointer"))
        number = int(rows[-1].split(":")[1]) + 1 if rows else 1
        value = json.dumps({"current": current, "previous": previous})
        self.meta.put(f"pointer:{number:016d}:{uuid.uuid4().hex[:8]}", "pointer", "", value)
        stale = rows[: max(0, len(rows) + 1 - KEEP_POINTERS)]
        if stale:  # older rows never hide the newest, so deleting them is safe at any time
            self.meta.client.delete(self.meta.name, ids=stale)


class AliasPointers:
    """CURRENT and PREVIOUS as aliases `<prefix>_current` and `<prefix>_previous`."""

    def __init__(
        self,
        client: MilvusClient,
        prefix: str,
        collection_of: Callable[[str], str],
        version_of: Callable[[str], str | None],
    ) -> None:
        self.client = client
        self.current_alias, self.previous_alias = f"{prefix}_current", f"{prefix}_previous"
        self.collection_of, self.version_of = collection_of, version_of

    def get(self) -> tuple[str | None, str | None]:
        existing = set(self.client.list_aliases().get("aliases", []))
        return self._target(self.current_alias, existing), self._target(
            self.previous_alias, existing
        )

    def set(self, current: str, previous: str | None) -> None:
        """PREVIOUS first, then CURRENT: `alter_alias` switches what serves atomically."""
        existing = set(self.client.list_aliases().get("aliases", []))
        if previous:
            self._point(self.previous_alias, previous, existing)
        self._point(self.current_alias, current, existing)

    def _target(self, alias: str, existing: set[str]) -> str | None:
        if alias not in existing:
            return None
        return self.version_of(self.client.describe_alias(alias)["collection_name"])

    def _point(self, alias: str, version: str, existing: set[str]) -> None:
        if alias in existing:
            self.client.alter_alias(self.collection_of(version), alias)
        else:
            self.client.create_alias(self.collection_of(version), alias)


def has_aliases(client: MilvusClient) -> bool:
    """True unless the server answers the alias calls with UNIMPLEMENTED (Milvus Lite)."""
    import grpc

    with quiet_pymilvus():
        try:
            client.list_aliases()
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise
    return True


@contextmanager
def quiet_pymilvus() -> Iterator[None]:
    """Hide pymilvus's ERROR line for a call whose failure is expected and handled."""
    log = logging.getLogger("pymilvus.decorators")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)
