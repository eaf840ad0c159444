"""Cross-lingual and misspelt words mapped onto the document's own vocabulary.

BM25 only matches words that occur in the document, so an English question ("officers",
"June", "Moscow") or a typo ("Nordkorae") scores nothing against German sentences. Each
question word is therefore mapped to document words that mean the same (nearest
neighbours in the multilingual embedding space: officers → Offizieren, Moscow → Moskau)
or are spelt almost the same (rapidfuzz ratio: Nordkorae → Nordkorea, Donezk → Donetsk).
The resulting terms carry the similarity as a weight into BM25.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Thresholds chosen on the development questions (see README, "Answer quality")."""

    min_similarity: float = 0.6  # cosine between a question word and a document word
    neighbours: int = 1  # the nearest document word per question word
    min_spelling: float = 85.0  # rapidfuzz ratio (0-100) for near-identical spellings
    min_spelling_length: int = 5  # shorter words are too easily confused


class TermBridge:
    """Maps question words to weighted document terms."""

    def __init__(
        self,
        words: Sequence[str],
        terms: Sequence[str],
        vectors: np.ndarray,
        config: BridgeConfig | None = None,
    ) -> None:
        self.words = list(words)
        self._spellings = [spelling_key(w) for w in self.words]
        self.terms = list(terms)
        self.vectors = vectors
        self.config = config or BridgeConfig()

    def expand(self, question_words: Sequence[str], vectors: np.ndarray) -> dict[str, float]:
        """Document terms for `question_words` (with their `vectors`), each with a weight in (0, 1].

        Args:
            question_words: folded words of the question, stop words removed.
            vectors: normalized embeddings of those words, one row each.

        Returns:
            term -> weight; the strongest reason wins when several words lead to one term.
        """
        weights: dict[str, float] = {}
        if not self.words:
            return weights
        cfg = self.config
        # One product for all question words; the nearest few per word by partial sort.
        similarities = self.vectors @ np.asarray(vectors).T if len(question_words) else None
        k = min(cfg.neighbours, len(self.words))
        for n, word in enumerate(question_words):
            sims = similarities[:, n]
            nearest = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(k)
            for i in nearest[np.argsort(-sims[nearest])]:
                if sims[i] >= cfg.min_similarity:
                    _keep(weights, self.terms[i], float(sims[i]))
            if len(word) >= cfg.min_spelling_length:
                for _, score, i in process.extract(
                    spelling_key(word),
                    self._spellings,
                    scorer=fuzz.ratio,
                    score_cutoff=cfg.min_spelling,
                    limit=2,
                ):
                    _keep(weights, self.terms[i], score / 100)
        return weights


def spelling_key(word: str) -> str:
    """A folded word with English/German transliteration differences evened out.

    English writes y where German writes j (Pyongyang/Pjöngjang, Yemen/Jemen) and ts, c or
    k where German writes z or k (Donetsk/Donezk); compare spellings on this key.
    """
    return word.replace("y", "j").replace("ts", "z").replace("c", "k")


def _keep(weights: dict[str, float], term: str, weight: float) -> None:
    weights[term] = max(weights.get(term, 0.0), weight)
