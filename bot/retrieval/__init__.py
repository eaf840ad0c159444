"""Retrieval: documents → sentences → vectors and BM25 → ranked quotes, or an abstention.

Documents are read (`formats`, `documents`), split (`splitting`, `corpus`), embedded
(`embedding`) and stored as index versions (`store`, or Milvus: `stores`, `milvus_*`) by
`indexing`; `keys` holds what searching a version needs besides its vectors. `search`
ranks candidates with `lexical`, `bridging`, `fusion` and the second model (`rerank`).

The public API, imported on first use so that the CLI stays quick:

    from bot.retrieval import Searcher, Answer, Quote, Context, Hit
"""

from importlib import import_module

_EXPORTS = {
    "Answer": "bot.retrieval.answers",
    "Quote": "bot.retrieval.answers",
    "Context": "bot.retrieval.answers",
    "Hit": "bot.retrieval.answers",
    "Searcher": "bot.retrieval.search",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bot.retrieval' has no attribute {name!r}")
