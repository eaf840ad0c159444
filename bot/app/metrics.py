"""Prometheus metrics of the running bot and the one log line written per question.

The metrics live in prometheus_client's default registry, so the process and platform
collectors come along; they are served at /metrics in webhook mode, and on METRICS_PORT in
polling mode when it is set.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from bot.retrieval.answers import Answer

if TYPE_CHECKING:
    from bot.retrieval.search import Searcher

logger = logging.getLogger(__name__)

QUESTIONS = Counter(
    "quote_bot_questions", "Questions answered or abstained on", ["language", "outcome"]
)
ABSTENTIONS = Counter("quote_bot_abstentions", "Questions the documents do not answer")
INLINE_QUERIES = Counter(
    "quote_bot_inline_queries", "Inline queries by what they got (sent while typing)", ["outcome"]
)
ANSWER_SECONDS = Histogram(
    "quote_bot_answer_seconds", "From taking up a question's update to its answer being sent"
)
ERRORS = Counter("quote_bot_errors", "Failures that reached the error handler")
UPDATES = Counter("quote_bot_updates", "Telegram updates handled, whatever their outcome")
REPLY_JOURNALED_SECONDS = Histogram(
    "quote_bot_reply_journaled_seconds",
    "From Telegram accepting a reply to its note in the update journal (a crash in between "
    "sends the reply again)",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0),
)
JOURNAL_DEGRADED = Gauge(
    "quote_bot_journal_degraded", "1 while the update journal fails and answers are not durable"
)
INDEX_LOADED = Gauge("quote_bot_index_loaded", "1 while an index is loaded and serving")
INDEX_DOCUMENTS = Gauge("quote_bot_index_documents", "Documents in the serving index")
INDEX_SENTENCES = Gauge("quote_bot_index_sentences", "Sentences in the serving index")
INDEX_BUILD_SECONDS = Gauge(
    "quote_bot_index_build_seconds", "How long the (re)index that built the serving version took"
)

# Set when an update is taken up; read when its answer is sent. A ContextVar because the
# Application handles each update in its own task, so concurrent questions keep their own.
_taken_up: ContextVar[float | None] = ContextVar("taken_up", default=None)


@dataclass
class Activity:
    """Since when the bot runs and when it last finished handling an update (for /healthz)."""

    started: float = field(default_factory=time.monotonic)
    last_update_at: float | None = None  # Unix time

    def update_handled(self) -> None:
        """Count a handled update and remember when."""
        UPDATES.inc()
        self.last_update_at = time.time()

    def uptime(self) -> float:
        return time.monotonic() - self.started


def update_taken_up() -> None:
    """Start the answer-latency clock for the update being handled now."""
    _taken_up.set(time.perf_counter())


def record_question(answer: Answer) -> None:
    """Count an answered or abstained question and log one line about it.

    The question's text is logged only at DEBUG: at INFO the log says how the bot did,
    never what a user asked.
    """
    taken_up = _taken_up.get()
    seconds = time.perf_counter() - taken_up if taken_up is not None else _search_seconds(answer)
    outcome = "abstained" if answer.abstained else "answered"
    QUESTIONS.labels(language=answer.language, outcome=outcome).inc()
    if answer.abstained:
        ABSTENTIONS.inc()
    ANSWER_SECONDS.observe(seconds)
    logger.info(
        "question language=%s abstained=%s latency_ms=%.0f top_score=%.3f quotes=%d",
        answer.language,
        answer.abstained,
        seconds * 1000,
        answer.top_score,
        len(answer.quotes),
    )
    logger.debug("question text: %r", answer.question)


def _search_seconds(answer: Answer) -> float:
    """The search time the searcher measured (when no update started the clock)."""
    return float(answer.debug.get("ms", 0.0)) / 1000


def watch_index(searcher: Searcher | None) -> None:
    """Report the index `searcher` serves at every scrape (None: no index is loaded).

    The searcher is read at scrape time, so a reindex or rollback shows up without a call.
    """
    if searcher is None:
        for gauge in (INDEX_LOADED, INDEX_DOCUMENTS, INDEX_SENTENCES, INDEX_BUILD_SECONDS):
            gauge.set_function(lambda: 0.0)
        return
    INDEX_LOADED.set_function(lambda: 1.0)
    INDEX_DOCUMENTS.set_function(lambda: len(searcher.corpus.documents))
    INDEX_SENTENCES.set_function(lambda: len(searcher.corpus.sentences))
    INDEX_BUILD_SECONDS.set_function(lambda: searcher.version.manifest.build_seconds)
