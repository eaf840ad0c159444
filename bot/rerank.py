"""The second model that re-orders the best few sentences when the hybrid hesitates.

The hybrid score (bot/fusion.py) finds the sentences that share meaning and words with the
question, and decides whether to answer at all. Which of a few close candidates answers
best is where a retrieval-trained model such as multilingual-e5-small is much better than
USE. When the hybrid's best two sentences are closer than `margin`, the reranker
re-scores the best `candidates` as
    hybrid score + weight * cosine(question, sentence) under the second model,
and they are shown in that order. With a clear winner the question is not embedded a
second time: on the question sets in eval/ the second model never changed a first quote
that led by more than 0.05, and skipping it keeps most answers at the hybrid's speed.
Abstention still follows the hybrid score, so the calibration in the README holds with
or without it (and when the reranker overrules the hybrid's first choice, the Searcher
shows that quote alone).

A sentence is embedded under the second model the first time it is in a re-ranked head
(then kept in memory, and on disk by `embed_passages`), so indexing and reindexing cost
the same with or without a reranker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sentence_transformers import SentenceTransformer

from bot.embedding import embed_queries

Embed = Callable[[list[str]], np.ndarray]


class Reranker:
    """Re-orders the best `candidates` hits with a second model (see the module doc)."""

    def __init__(
        self,
        model: SentenceTransformer,
        embed_passages: Embed,
        *,
        candidates: int = 5,
        weight: float = 4.0,
        margin: float = 0.06,
    ) -> None:
        self.model = model
        self.embed_passages = embed_passages  # sentence texts -> normalized vectors (cached)
        self.candidates = candidates
        self.weight = weight
        self.margin = margin
        self.consulted = 0  # questions the second model has embedded (for the figures)
        self._vectors: dict[str, np.ndarray] = {}  # sentence text -> its vector

    def hesitates(self, order: list[int], scores: np.ndarray) -> bool:
        """True when the best two hybrid scores are within `margin` of each other."""
        return len(order) >= 2 and scores[order[0]] - scores[order[1]] < self.margin

    def reorder(self, question: str, order: list[int], scores: np.ndarray, texts: Sequence[str]):
        """`order` (sentence ids, best first by `scores`) with its head re-ranked if close.

        `texts` are the sentences' texts, indexed by sentence id.
        """
        if not self.hesitates(order, scores):
            return order
        head, tail = order[: self.candidates], order[self.candidates :]
        self.consulted += 1
        query = embed_queries(self.model, [question])[0]
        combined = scores[head] + self.weight * (self.passages([texts[i] for i in head]) @ query)
        return [head[i] for i in np.argsort(-combined, kind="stable")] + tail

    def keep_only(self, texts: list[str]) -> None:
        """Forget the vectors of sentences no longer in the index (after a reindex)."""
        current = set(texts)
        self._vectors = {t: v for t, v in self._vectors.items() if t in current}

    def passages(self, texts: list[str]) -> np.ndarray:
        """The second model's vectors of `texts`, embedding only those not seen before."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.embed_passages(missing), strict=True))
        return np.stack([self._vectors[t] for t in texts])
