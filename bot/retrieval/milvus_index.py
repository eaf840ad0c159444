"""One index version's Milvus collection: its schema, its rows, and searching it.

A row per sentence: id (= sentence id, row i = sentence i), vector, doc_id, paragraph,
number, page (0: not paginated), start, end, text, and the BM25 sparse vector that Milvus
derives from the text with the analyzer of the corpus language.
"""

from __future__ import annotations

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient

from bot.errors import IndexCorrupt
from bot.retrieval.answers import Hit
from bot.retrieval.corpus import Corpus
from bot.retrieval.lexical import STOPWORDS
from bot.retrieval.milvus_meta import create_loaded

TEXT_CHARS = 16_000  # the row's text is for BM25; quotes come from the corpus JSON
BATCH_ROWS = 1_000
INDEXES = {"flat": "FLAT", "hnsw": "HNSW"}  # Milvus Lite has FLAT and IVF_FLAT only
STEMMERS = {"de": "german", "en": "english"}


class MilvusIndex:
    """One version's collection as the Searcher's nearest-neighbour index (inner product)."""

    def __init__(self, client: MilvusClient, collection: str, ntotal: int, d: int) -> None:
        self.client = client
        self.collection = collection
        self.ntotal = ntotal
        self.d = d

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and sentence ids (n, k) of the `k` nearest sentences; id -1 where none."""
        queries = np.asarray(x, dtype=np.float32).reshape(-1, self.d)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if k <= 0 or not self.ntotal or not len(queries):
            return scores, ids
        found = self.client.search(
            self.collection,
            data=queries.tolist(),
            anns_field="vector",
            limit=min(k, self.ntotal),
            search_params={"metric_type": "IP"},
        )
        for row, hits in enumerate(found):
            for col, hit in enumerate(hits):
                ids[row, col], scores[row, col] = hit["id"], hit["distance"]
        return scores, ids

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of sentences `ids`, in that order (to re-score candidates)."""
        if not len(ids):
            return np.zeros((0, self.d), dtype=np.float32)
        rows = self.client.get(self.collection, ids=[int(i) for i in ids], output_fields=["vector"])
        by_id = {row["id"]: row["vector"] for row in rows}
        return np.asarray([by_id[int(i)] for i in ids], dtype=np.float32)

    def bm25(self, question: str, k: int) -> list[Hit]:
        """The `k` best sentences for `question` by Milvus's BM25 full-text search, best first.

        The version's analyzer reads the question as it read the sentences: standard
        tokenizer, lower case, diacritics folded, the project's stop words, the Snowball
        stemmer of the corpus language. Scores use k1 = 1.2, b = 0.75, as bot/retrieval/lexical.py.
        """
        if not self.ntotal or not question.strip():
            return []
        found = self.client.search(
            self.collection,
            data=[question],
            anns_field="sparse",
            limit=min(k, self.ntotal),
            search_params={"metric_type": "BM25"},
        )
        return [Hit(int(hit["id"]), float(hit["distance"])) for hit in found[0]]


def create_collection(
    client: MilvusClient, name: str, *, dim: int, index_type: str, language: str
) -> None:
    """An empty version collection with its vector index and BM25 function."""
    analyzer = {
        "tokenizer": "standard",
        "filter": [
            "lowercase",
            "asciifolding",  # ä → a, ß → ss: "Pjongjang" finds "Pjöngjang"
            {"type": "stop", "stop_words": sorted(STOPWORDS)},
            {"type": "stemmer", "language": STEMMERS.get(language, "english")},
        ],
    }
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
    for number in ("paragraph", "number", "page", "start", "end"):
        schema.add_field(number, DataType.INT64)
    schema.add_field(
        "text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, analyzer_params=analyzer
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    # Inner product equals cosine on the normalized vectors, as in the FAISS store.
    index.add_index("vector", index_type=INDEXES[index_type], metric_type="IP")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    create_loaded(client, name, schema, index)


def insert_rows(client: MilvusClient, name: str, corpus: Corpus, vectors: np.ndarray) -> None:
    """One row per sentence, in batches."""
    for lo in range(0, len(corpus.sentences), BATCH_ROWS):
        rows = [
            {
                "id": s.id,
                "vector": vectors[s.id].tolist(),
                "doc_id": s.doc_id,
                "paragraph": s.paragraph,
                "number": s.number,
                "page": s.page or 0,
                "start": s.start,
                "end": s.end,
                "text": s.text[:TEXT_CHARS],
            }
            for s in corpus.sentences[lo : lo + BATCH_ROWS]
        ]
        client.insert(name, rows)


def read_vectors(client: MilvusClient, name: str, count: int, dim: int) -> np.ndarray:
    """All vectors of a collection by sentence id (raises IndexCorrupt if rows are missing)."""
    vectors = np.zeros((count, dim), dtype=np.float32)
    seen = 0
    for lo in range(0, count, BATCH_ROWS):
        rows = client.query(
            name, filter=f"id >= {lo} and id < {lo + BATCH_ROWS}", output_fields=["vector"]
        )
        for row in rows:
            vectors[row["id"]] = row["vector"]
        seen += len(rows)
    total = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
    if seen != count or total != count:
        raise IndexCorrupt(f"collection {name}: {total} rows for {count} sentences")
    return vectors
