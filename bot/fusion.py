"""Combine dense and lexical evidence into one score per sentence, and decide when to abstain.

Pure functions over arrays, so the rules can be read and tested on literal numbers.

The score of a sentence, with cosine similarities to the question:
    dense   = max(sentence, w_window * window + (1 - w_window) * sentence)
    dense   = (1 - w_clause) * dense + w_clause * max(best clause, sentence)
    lexical = bm25 / (bm25 + k)             saturating: 0 for no match, toward 1 for strong ones
    score   = dense + w_lexical * lexical
"window" is the sentence with its neighbours (for answers that span two sentences),
"clause" the best comma-separated part of a long sentence (a question usually targets one
fact of a long news sentence). The answer is given when the best score reaches
`abstain_below`, otherwise the bot says the document does not answer. A keyword query of one
or two words carries little meaning for the dense side, so when every one of its words occurs
in the document ("Veto", "Kyungnam") the lower `abstain_below_keywords` applies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """Weights and thresholds, chosen on the development questions (see README)."""

    window: float = 0.6
    clause: float = 0.3
    lexical: float = 0.5
    saturation: float = 2.0
    abstain_below: float = 0.25
    abstain_below_keywords: float = 0.15
    keyword_query_words: int = 2
    related_ratio: float = 0.9


def fuse(
    sentence: np.ndarray,
    window: np.ndarray,
    clause: np.ndarray,
    lexical: np.ndarray,
    weights: FusionWeights,
) -> np.ndarray:
    """The score of each sentence from its cosine similarities and its BM25 score."""
    dense = np.maximum(sentence, weights.window * window + (1 - weights.window) * sentence)
    dense = (1 - weights.clause) * dense + weights.clause * np.maximum(clause, sentence)
    return dense + weights.lexical * lexical / (lexical + weights.saturation)


def rank(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` highest scores, best first (ties keep document order)."""
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:k]]


def confident(top_score: float, weights: FusionWeights, *, known_keywords: int = 0) -> bool:
    """True when the best score is strong enough to answer rather than abstain.

    `known_keywords` is the number of words of a keyword query that all occur in the
    document (0 when the question is longer or has a word the document lacks).
    """
    if 0 < known_keywords <= weights.keyword_query_words:
        return top_score >= weights.abstain_below_keywords
    return top_score >= weights.abstain_below
