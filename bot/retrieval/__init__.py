"""Retrieval: documents → sentences → vectors and BM25 → ranked quotes, or an abstention.

Documents are read (`formats`, `documents`), split (`splitting`, `corpus`), embedded
(`embedding`) and stored as index versions (`store`, or Milvus: `stores`, `milvus_*`) by
`indexing`; `keys` holds what searching a version needs besides its vectors. `search`
ranks candidates with `lexical`, `bridging`, `fusion` and the second model (`rerank`).

The public API, imported on first use so that the CLI stays quick:

    from bot.retrieval import Searcher, Answer, Quote, Context, Hit
"""

from bot.lazy import lazy_exports

__getattr__, __all__ = lazy_exports(
    "bot.retrieval",
    {
        **dict.fromkeys(("Answer", "Quote", "Context", "Hit"), "bot.retrieval.answers"),
        "Searcher": "bot.retrieval.search",
    },
)
