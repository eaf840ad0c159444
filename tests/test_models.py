"""EMBEDDING_MODEL takes any sentence-transformers model, not only the built-in one.

Hugging Face Hub models need a network or a cache, so the model here is made on the spot: a
one-layer BERT with random weights and a vocabulary of its own, saved as a standard
sentence-transformers directory with query and document prompts, then loaded by its path
like any configured model. Its answers mean nothing; what is tested is that the path is
loaded, the prompts are used, and index, manifest and search work with another dimension.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from seedfacts import sentence_id
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
from transformers import BertConfig, BertForSequenceClassification, BertModel, BertTokenizerFast

from bot.app.services import open_services
from bot.retrieval.embedding import (
    embed_documents,
    embed_queries,
    embedding_dimension,
    is_cross_encoder,
    load_model,
)
from bot.retrieval.rerank import CrossEncoderReranker
from bot.settings import RERANK_OFF, Settings

DIMENSION = 32
PROMPTS = {"query": "query: ", "document": "passage: "}
WORDS = "query passage : wer besuchte im juni pjöngjang putin nordkorea soldaten ukraine"


def tiny_bert(**extra) -> tuple[BertConfig, BertTokenizerFast]:
    """A one-layer BERT configuration and a tokenizer with a vocabulary of its own."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {token: i for i, token in enumerate([*specials, *WORDS.split()])}
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=DIMENSION,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * DIMENSION,
        **extra,
    )
    torch.manual_seed(0)
    return config, BertTokenizerFast(vocab=vocab)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformers model directory, as `SentenceTransformer.save` writes it."""
    root = tmp_path_factory.mktemp("model")
    config, tokenizer = tiny_bert()
    BertModel(config).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    modules = [Transformer(str(root / "bert")), Pooling(DIMENSION)]
    SentenceTransformer(modules=modules, prompts=PROMPTS).save(str(root / "model"))
    return root / "model"


def test_a_local_model_directory_is_loaded_with_its_prompts(model_dir: Path) -> None:
    model = load_model(str(model_dir))
    assert embedding_dimension(model) == DIMENSION
    question = "wer besuchte im juni pjöngjang"
    query, document = embed_queries(model, [question]), embed_documents(model, [question])
    assert query.shape == (1, DIMENSION)
    assert np.allclose(np.linalg.norm(query, axis=1), 1.0, atol=1e-5)
    with_prompt = model.encode([PROMPTS["query"] + question], normalize_embeddings=True)
    assert np.allclose(query, with_prompt, atol=1e-5)
    assert not np.allclose(query, document, atol=1e-3)  # the two prompts differ


def test_index_and_search_work_with_another_model(model_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        embedding_model=str(model_dir),
        index_dir=tmp_path / "index",
        documents_dir=tmp_path / "documents",
        _env_file=None,
    )
    services = open_services(settings)  # the shipped article, indexed with this model
    version = services.searcher.version
    assert version.manifest.model == str(model_dir)
    assert version.manifest.dimension == DIMENSION
    assert version.vectors.shape == (11, DIMENSION)
    # The index holds this model's sentence vectors, and FAISS searches them with its query
    # vectors: all sentences, scored by inner product, best first.
    model = services.searcher.model
    texts = [s.text for s in version.corpus.sentences]
    assert np.allclose(version.vectors, embed_documents(model, texts), atol=1e-5)
    question = "Wer besuchte im Juni Pjöngjang?"
    query = embed_queries(model, [question])
    scores, ids = version.index.search(query, 11)
    assert sorted(ids[0].tolist()) == list(range(11))
    assert np.allclose(scores[0], version.vectors[ids[0]] @ query[0], atol=1e-5)
    assert np.all(np.diff(scores[0]) <= 1e-6)
    # This model's vectors mean nothing, but the question's words (and the second model, where
    # it is installed) still find the one sentence about the visit in June.
    answer = services.searcher.answer(question, language="de")
    visit = sentence_id(version.corpus, "Militärkooperationsabkommen")
    assert not answer.abstained
    assert visit in answer.quotes[0].sentence_ids
    assert answer.ranking[0].sentence_id in answer.quotes[0].sentence_ids


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny cross-encoder directory: a one-layer BERT that scores a pair with one logit."""
    root = tmp_path_factory.mktemp("cross") / "model"
    config, tokenizer = tiny_bert(num_labels=1)
    model = BertForSequenceClassification(config)
    with torch.no_grad():  # random weights score all pairs alike: spread them apart
        model.classifier.weight.mul_(100.0)
    model.save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


def test_a_cross_encoder_reorders_the_head_of_the_ranking(
    cross_encoder_dir: Path, settings: Settings, model
) -> None:
    assert is_cross_encoder(str(cross_encoder_dir)) and not is_cross_encoder("e5")
    configured = settings.model_copy(update={"rerank_model": str(cross_encoder_dir)})
    searcher = open_services(configured, model=model).searcher
    assert isinstance(searcher.reranker, CrossEncoderReranker)
    plain = settings.model_copy(update={"rerank_model": RERANK_OFF})
    hybrid = open_services(plain, model=model).searcher
    question = "Wer besuchte im Juni Pjöngjang?"
    head = searcher.reranker.head
    before = [h.sentence_id for h in hybrid.search(question, k=11)]
    after = [h.sentence_id for h in searcher.search(question, k=11)]
    # The hybrid's best `head` sentences, in the order the cross-encoder gives them; the
    # rest as the hybrid ranked them.
    texts = [searcher.corpus.sentences[i].text for i in before[:head]]
    relevance = searcher.reranker.scores(question, texts)
    assert after[:head] == [before[i] for i in np.argsort(-relevance, kind="stable")]
    assert after[head:] == before[head:]
    # The answer ranks as the search does and quotes its best sentence; whether it answers at
    # all is the hybrid's decision (the seed article answers this question).
    answer = searcher.answer(question, language="de")
    assert not answer.abstained
    assert [h.sentence_id for h in answer.ranking] == after[: len(answer.ranking)]
    assert after[0] in answer.quotes[0].sentence_ids
