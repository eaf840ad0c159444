"""Combine dense and lexical evidence into one ranking, and decide when to abstain.

Pure functions over arrays, so the rules can be read and tested on literal numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """How much each signal counts; chosen on the development questions (see README)."""

    lexical: float = 0.25
    abstain_below: float = 0.2
    related_ratio: float = 0.8


def fuse(dense: np.ndarray, lexical: np.ndarray, weights: FusionWeights, *,
         lexical_top: float | None = None) -> np.ndarray:
    """Cosine similarity plus the weighted BM25 score scaled by the best BM25 score."""
    top = float(lexical.max(initial=0.0)) if lexical_top is None else lexical_top
    return dense + weights.lexical * (lexical / top if top > 0 else np.zeros_like(lexical))


def rank(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` highest scores, best first (ties keep document order)."""
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:k]]


def confident(top_score: float, weights: FusionWeights) -> bool:
    """True when the best fused score is strong enough to answer rather than abstain."""
    return top_score >= weights.abstain_below
