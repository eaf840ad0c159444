"""Combine dense and lexical evidence into one score per sentence, and decide when to abstain.

Pure functions over arrays, so the rules can be read and tested on literal numbers.

The score of a sentence, with cosine similarities to the question:
    dense   = max(sentence, w_window * window + (1 - w_window) * sentence)
    dense   = (1 - w_clause) * dense + w_clause * max(best clause, sentence)
    lexical = bm25 / (bm25 + k)             saturating: 0 for no match, toward 1 for strong ones
    hybrid  = dense + w_lexical * lexical    w_lexical: `lexical`, or `second_lexical` with a
                                             second model; the `_cross` variant when the
                                             question's language is not the document's
    score   = (hybrid + w_second * second) / (1 + w_second)
"window" is the sentence with its neighbours (for answers that span two sentences),
"clause" the best comma-separated part of a long sentence (a question usually targets one
fact of a long news sentence), "second" the cosine under the second model (bot/retrieval/rerank.py),
when there is one.

Abstention: with a second model, the documents answer when its best cosine reaches
    abstain_second_below + abstain_second_per_log * ln(sentences in the index)
(`abstain_second_below_cross` in place of the first term when question and document are in
different languages: cross-lingual cosines run lower), and the hybrid reaches at least
`abstain_second_hybrid_below`. The best of many sentences scores
high by chance more often than the best of a few, as the maximum of N draws grows with
log N; so the bar rises with the size of the index, the one statistic of the corpus it
depends on. Without a second model, the hybrid's best score
must reach `abstain_below`. A keyword query of one or two words carries little meaning for
the dense side, so when every one of its words occurs in the documents ("Veto", "Kyungnam")
the hybrid's lower `abstain_below_keywords` suffices.
"""

from __future__ import annotations

import math

import numpy as np

from bot.retrieval.config import FusionWeights


def fuse(
    sentence: np.ndarray,
    window: np.ndarray,
    clause: np.ndarray,
    lexical: np.ndarray,
    weights: FusionWeights,
    *,
    cross: np.ndarray | None = None,
    second: bool = False,
) -> np.ndarray:
    """The hybrid score of each sentence from its USE cosines and its BM25 score.

    `cross` marks sentences whose document is not in the question's language; `second`
    says the score will be combined with a second model's (other lexical weights).
    """
    dense = np.maximum(sentence, weights.window * window + (1 - weights.window) * sentence)
    dense = (1 - weights.clause) * dense + weights.clause * np.maximum(clause, sentence)
    same, other = (
        (weights.second_lexical, weights.second_lexical_cross)
        if second
        else (weights.lexical, weights.lexical_cross)
    )
    w_lexical = same if cross is None else np.where(cross, other, same)
    return dense + w_lexical * lexical / (lexical + weights.saturation)


def with_second(hybrid: np.ndarray, second: np.ndarray, weights: FusionWeights) -> np.ndarray:
    """The hybrid score and the second model's cosine, on the hybrid's scale."""
    return (hybrid + weights.second * second) / (1 + weights.second)


def rank(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` highest scores, best first (ties keep document order)."""
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:k]]


def confident(
    top_score: float,
    weights: FusionWeights,
    *,
    known_keywords: int = 0,
    second_top: float | None = None,
    cross: bool = False,
    sentences: int = 1,
) -> bool:
    """True when the evidence is strong enough to answer rather than abstain.

    Args:
        top_score: the hybrid's best score.
        weights: the thresholds.
        known_keywords: the number of words of a keyword query that all occur in the
            documents (0 when the question is longer or has a word they lack).
        second_top: the second model's best cosine (None without a second model).
        cross: True when that best sentence's document is not in the question's language.
        sentences: how many sentences the index holds.
    """
    if 0 < known_keywords <= weights.keyword_query_words:
        if top_score >= weights.abstain_below_keywords:
            return True
    if second_top is not None:
        if top_score < weights.abstain_second_hybrid_below:
            return False
        base = weights.abstain_second_below_cross if cross else weights.abstain_second_below
        return second_top >= base + weights.abstain_second_per_log * math.log(max(sentences, 1))
    return top_score >= weights.abstain_below
