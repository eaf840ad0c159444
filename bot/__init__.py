"""Answer questions about documents by quoting them: retrieval core, console and Telegram bot.

The public retrieval API, used by the console and the Telegram layer alike:

    from bot import Searcher, Answer, Quote, Context, open_services

Names are imported on first use, so `python -m bot --help` stays fast.
"""

import os

from bot.lazy import lazy_exports

# Idle OpenMP threads (torch's, and the e5 reranker's own runtime) wait passively instead of
# spinning on the cores another model needs next; read once, when a runtime loads. The same
# for OpenBLAS (numpy, under USE), whose threads otherwise spin for about 2^28 cycles after
# each call: on two cores that made the reranker's question embedding ~40 % slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__getattr__, __all__ = lazy_exports(
    "bot",
    {
        **dict.fromkeys(("Answer", "Quote", "Context", "Hit", "Searcher"), "bot.retrieval"),
        "Conversation": "bot.answering.conversation",
        "Services": "bot.app.services",
        "open_services": "bot.app.services",
    },
)
