"""Per-candidate evidence: the cosines and BM25 scores that bot/retrieval/fusion.py combines.

Each function looks at the candidates of one question only, never at the whole corpus.
"""

from __future__ import annotations

import numpy as np


def best_clauses(
    clause_vectors: np.ndarray, clause_ranges: np.ndarray, ids: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """Per candidate, the cosine of its best clause (-1 for a sentence without clauses).

    `clause_ranges[i]` is the (start, end) of sentence i's rows in `clause_vectors`.
    """
    best = np.full(len(ids), -1.0, dtype=np.float32)
    for n, (lo, hi) in enumerate(clause_ranges[ids]):
        if hi > lo:
            best[n] = float((clause_vectors[lo:hi] @ query).max())
    return best


def window_cosines(
    vectors: np.ndarray, windows: np.ndarray, ids: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """Per candidate, the cosine of the normalized mean of its window's sentence vectors.

    `windows[i]` is the (start, end) of the sentences around sentence i.
    """
    spans = np.asarray(windows[ids])
    width = int((spans[:, 1] - spans[:, 0]).max()) if len(ids) else 0
    rows = spans[:, :1] + np.arange(width)
    inside = rows < spans[:, 1:]
    rows = np.where(inside, rows, spans[:, :1])
    means = (vectors[rows.ravel()].reshape(len(ids), width, -1) * inside[..., None]).sum(axis=1)
    norms = np.linalg.norm(means, axis=1)
    return (means @ query) / np.where(norms > 0, norms, 1.0)


def lexical_of(ids: np.ndarray, matched: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The BM25 evidence of each of `ids` (0 for a sentence that matched no term);
    `matched` holds the sorted ids of the sentences that matched, `scores` their scores."""
    out = np.zeros(len(ids), dtype=np.float32)
    if len(matched):
        at = np.minimum(np.searchsorted(matched, ids), len(matched) - 1)
        hit = matched[at] == ids
        out[hit] = scores[at[hit]]
    return out


def head_first(scores: np.ndarray, head: np.ndarray, head_scores: np.ndarray) -> np.ndarray:
    """`scores` with the `head` positions re-scored by `head_scores`, lifted above the rest.

    In float64, so that small differences between head scores survive the lift.
    """
    out = scores.astype(np.float64)
    out[head] = np.asarray(head_scores, dtype=np.float64)
    rest = np.delete(out, head)
    if len(rest):
        out[head] += max(0.0, float(rest.max()) - float(out[head].min()) + 1e-9)
    return out
