"""The second model, which scores every candidate the hybrid (bot/retrieval/fusion.py) brings up.

The hybrid (USE + BM25) is quick to build for any corpus and good at finding the region of
an answer; which of a few related sentences answers is where a retrieval-trained model such
as multilingual-e5-small is much better. `RERANK_MODEL` chooses it:

- A bi-encoder (`e5`, the default, or any sentence-transformers model): every sentence gets
  a second vector of "<document title>: <sentence>" (the title says what a sentence with
  "he" or "the city" is about). The vectors are filled in the background once a version
  serves, a few sentences at a time, and kept on disk by checksum, so a reindex embeds only
  new sentences. Each question is embedded once more; its cosine to each candidate joins
  the score, the second model's nearest sentences join the candidates once every vector
  exists, and its best cosine decides whether the documents answer at all. Until every
  vector exists, only the hybrid's best few are scored (embedded on the spot if need be)
  and the hybrid decides whether to answer.
- A cross-encoder (any sentence-transformers `CrossEncoder`, e.g. `BAAI/bge-reranker-v2-m3`):
  it reads (question, sentence) pairs, so it scores the hybrid's best `head` candidates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import faiss
import numpy as np

from bot.retrieval.embedding import embed_queries, embedding_dimension

logger = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]
FILL_CHUNK = 256  # sentences looked up in the cache (and embedded if missing) per step
FILL_STEP = 8  # sentences embedded at a time: a question waits at most that long for the encoder


class PassageVectors:
    """The second model's vectors of one version's sentences, filled in the background."""

    def __init__(self, keys: Sequence[str], dimension: int, embed: Embed) -> None:
        self.keys = list(keys)
        self.matrix = np.zeros((len(self.keys), dimension), dtype=np.float32)
        self.filled = np.zeros(len(self.keys), dtype=bool)
        self.index: faiss.Index | None = None  # over `matrix`, once every row is filled
        self._embed = embed
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def done(self) -> int:
        return int(self.filled.sum())

    @property
    def complete(self) -> bool:
        return self.index is not None

    def fill(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Embed every row not yet filled (cache first), then index them; stops if asked."""
        total = len(self.keys)
        for lo in range(0, total, FILL_CHUNK):
            if self._stop.is_set():
                return
            missing = [i for i in range(lo, min(lo + FILL_CHUNK, total)) if not self.filled[i]]
            if missing:
                self._store(missing, self._embed([self.keys[i] for i in missing]))
            if progress:
                progress(min(lo + FILL_CHUNK, total), total)
        index = faiss.IndexFlatIP(self.matrix.shape[1])
        index.add(self.matrix)
        self.index = index

    def start(self) -> threading.Thread:
        """Fill in a daemon thread (a crash loses nothing: vectors are cached as they come)."""
        thread = threading.Thread(target=self._fill_logged, name="second-vectors", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def of(self, ids: Sequence[int]) -> np.ndarray:
        """Rows `ids`, embedding on the spot those the background has not reached yet."""
        ids = list(ids)
        missing = [i for i in dict.fromkeys(ids) if not self.filled[i]]
        if missing:
            self._store(missing, self._embed([self.keys[i] for i in missing]))
        return self.matrix[ids]

    def nearest(self, query: np.ndarray, k: int) -> np.ndarray:
        """Ids of the `k` rows nearest to `query`; none until every row is filled."""
        if self.index is None or not len(self.keys):
            return np.zeros(0, dtype=np.int64)
        _, ids = self.index.search(query.reshape(1, -1), min(k, len(self.keys)))
        return ids[0][ids[0] >= 0]

    def _store(self, ids: list[int], vectors: np.ndarray) -> None:
        with self._lock:
            self.matrix[ids] = vectors
            self.filled[ids] = True

    def _fill_logged(self) -> None:
        try:
            self.fill()
        except Exception:  # the hybrid keeps answering; the log says why quality is lower
            logger.exception("second-model vectors could not be computed")
        else:
            if not self._stop.is_set():
                logger.info("second-model vectors ready for %d sentences", len(self.keys))


class BiEncoder:
    """A second embedding model: a vector per sentence, one more per question."""

    kind = "bi-encoder"

    def __init__(self, model, embed_passages: Embed, *, background: bool = True) -> None:
        self.model = model
        self.embed_passages = embed_passages  # texts -> normalized vectors (cached on disk)
        self.background = background
        self.dimension = embedding_dimension(model)
        self.vectors: PassageVectors | None = None

    def serve(self, keys: Sequence[str], dimension: int) -> PassageVectors:
        """Vectors for a new version's `keys`; the previous version's fill stops."""
        if self.vectors is not None:
            self.vectors.stop()
        self.vectors = PassageVectors(keys, dimension, self.embed_passages)
        if self.background:
            self.vectors.start()
        else:
            self.vectors.fill()
        return self.vectors

    def query(self, question: str) -> np.ndarray:
        return embed_queries(self.model, [question])[0]


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder scoring (question, sentence) pairs of the head."""

    kind = "cross-encoder"

    def __init__(self, model, *, head: int = 8) -> None:
        self.model = model
        self.head = head

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance of each text to `question`, higher is better (the model's own activation:
        a sigmoid for one label; with several labels, the last one's probability)."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        found = self.model.predict([(question, t) for t in texts], show_progress_bar=False)
        return np.asarray(found, dtype=np.float64).reshape(len(texts), -1)[:, -1]


Reranker = BiEncoder | CrossEncoderReranker
