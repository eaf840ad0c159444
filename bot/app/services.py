"""Everything a running bot needs, opened once: model, index, searcher, conversation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial

from sentence_transformers import SentenceTransformer

from bot.answering.conversation import Conversation
from bot.answering.pipeline import Pipeline
from bot.app.watcher import VersionWatcher
from bot.retrieval.config import RetrievalConfig
from bot.retrieval.embedding import is_cross_encoder, load_cross_encoder, load_model
from bot.retrieval.indexing import Indexer
from bot.retrieval.language import detect_language
from bot.retrieval.rerank import (
    FILL_STEP,
    BiEncoder,
    CrossEncoderReranker,
    PassageVectors,
    Reranker,
)
from bot.retrieval.search import Searcher, second_keys
from bot.retrieval.stores import VectorStore, open_store
from bot.settings import RERANK_OFF, Settings

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """The long-lived objects shared by the console, the CLI and the Telegram bot."""

    settings: Settings
    indexer: Indexer
    searcher: Searcher
    conversation: Conversation
    started_at: float = field(default_factory=time.time)
    watcher: VersionWatcher | None = None  # follows CURRENT on a shared store (Milvus)

    def examples(self, lang: str, limit: int = 4) -> list[str]:
        """Example questions in `lang` from the documents' metadata (for /start and abstentions)."""
        found: list[str] = []
        for doc in self.searcher.corpus.documents:
            found.extend(doc.examples.get(lang) or doc.examples.get("en") or [])
        return found[:limit]

    @property
    def pipeline(self) -> Pipeline:
        """The way in for questions: clean, refuse, language, conversation, answer."""
        return Pipeline(
            self.conversation, examples=self.examples, max_chars=self.settings.max_question_chars
        )

    def close(self) -> None:
        """Stop following the shared index and let go of the store's connection."""
        if self.watcher is not None:
            self.watcher.stop()
        self.indexer.store.close()


def store_for(settings: Settings) -> VectorStore:
    """The configured store of index versions: FAISS folders or Milvus collections."""
    token = settings.milvus_token.get_secret_value() if settings.milvus_token else None
    return open_store(
        settings.vector_store,
        index_dir=settings.index_dir,
        milvus_uri=settings.milvus_uri,
        milvus_token=token,
        milvus_prefix=settings.milvus_collection,
    )


def indexer_for(settings: Settings, model: SentenceTransformer) -> Indexer:
    """The Indexer of the configured documents, index store, model and index type."""
    return Indexer(
        documents_dir=settings.documents_dir,
        index_dir=settings.index_dir,
        model=model,
        model_name=settings.embedding_model,
        index_type=settings.index_type,
        store=store_for(settings),
    )


def reranker_for(
    settings: Settings, indexer: Indexer, *, background: bool = True
) -> Reranker | None:
    """The configured second model, its sentence vectors cached beside the index's; None if off.

    With `background` False, a bi-encoder's sentence vectors are all computed before the
    searcher serves (evaluation, benchmarks); otherwise they fill in while it serves.
    """
    if settings.rerank_model == RERANK_OFF:
        return None
    if is_cross_encoder(settings.rerank_model):
        return CrossEncoderReranker(load_cross_encoder(settings.rerank_model))
    second = load_model(settings.rerank_model)
    embed = partial(
        indexer.embed_cached, model=second, model_name=settings.rerank_model, batch=FILL_STEP
    )
    return BiEncoder(second, embed, background=background)


def second_vectors(settings: Settings, indexer: Indexer) -> PassageVectors | None:
    """The configured bi-encoder's (not yet filled) vectors of the current version, or None."""
    second = reranker_for(settings, indexer, background=False)
    if not isinstance(second, BiEncoder):
        return None
    corpus = indexer.store.load().corpus
    return PassageVectors(second_keys(corpus), second.dimension, second.embed_passages)


def open_services(
    settings: Settings,
    *,
    model: SentenceTransformer | None = None,
    background: bool = True,
    config: RetrievalConfig | None = None,
) -> Services:
    """Load the model (unless given), then load or build the index that matches the settings.

    `background` as for `reranker_for`; `config` replaces the default retrieval configuration.
    """
    started = time.perf_counter()
    model = model or load_model(settings.embedding_model)
    indexer = indexer_for(settings, model)
    reranker = reranker_for(settings, indexer, background=background)
    searcher = Searcher(
        model,
        indexer.open(),
        embed=indexer.embed_cached,
        reranker=reranker,
        config=config,
        keys_dir=indexer.keys_dir,
    )
    # Load the model weights and the language detector now, not on the first question.
    searcher.answer("warm-up", language=detect_language("warm-up"))
    watcher = None
    if indexer.store.shared and settings.index_poll_seconds > 0:
        watcher = VersionWatcher(indexer.store, searcher, interval=settings.index_poll_seconds)
        watcher.start()
    logger.info("ready in %.2f s", time.perf_counter() - started)
    return Services(
        settings,
        indexer,
        searcher,
        Conversation(searcher, followup_seconds=settings.followup_seconds),
        watcher=watcher,
    )
