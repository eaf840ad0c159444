"""Figures for the Milvus store, beside FAISS: `python -m bot.tools.milvus_bench [options]`.

Builds one index of DOCUMENTS with FAISS and one with Milvus (same model, same embedding
cache), then per question: whether both give the same first quote, each one's answer time,
what fetching the candidates' vectors from Milvus costs against indexing the matrix in
memory, and how Milvus's BM25 (German/English analyzer) agrees with bot/retrieval/lexical.py.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.app.services import open_services
from bot.lazy import exit_quickly
from bot.retrieval.embedding import embed_queries
from bot.retrieval.lexical import LexicalIndex
from bot.settings import Settings

CANDIDATES = 100  # as bot/retrieval/search.py: dense and lexical candidates per question


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.tools.milvus_bench", description=__doc__)
    parser.add_argument("--documents", type=Path, help="documents folder (default: the seed)")
    parser.add_argument("--questions", type=Path, help='JSON lines with "question", "lang"')
    parser.add_argument("--limit", type=int, default=200, help="questions to ask at most")
    parser.add_argument("--uri", help="Milvus URL (default: Milvus Lite in a temporary file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        documents = args.documents or root / "documents"
        common = {"index_dir": root / "index", "documents_dir": documents, "_env_file": None}
        started = time.perf_counter()
        faiss = open_services(Settings(**common))
        print(f"FAISS: built and ready in {time.perf_counter() - started:.1f} s")
        milvus_settings = Settings(**common, vector_store="milvus", index_poll_seconds=0)
        if args.uri:
            milvus_settings = milvus_settings.model_copy(update={"milvus_uri": args.uri})
        started = time.perf_counter()
        milvus = open_services(milvus_settings, model=faiss.searcher.model)
        print(f"Milvus: built and ready in {time.perf_counter() - started:.1f} s")
        try:
            _figures(faiss, milvus, _questions(args.questions, faiss)[: args.limit])
        finally:
            milvus.close()
    return 0


def _questions(path: Path | None, services) -> list[tuple[str, str]]:
    if path is None:
        return [(q, lang) for lang in ("de", "en") for q in services.examples(lang, limit=20)]
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [(r["question"], r.get("lang") or r.get("language") or "de") for r in rows]


def _figures(faiss, milvus, questions: list[tuple[str, str]]) -> None:
    store = milvus.indexer.store
    version = milvus.searcher.version
    index, vectors = version.index, version.vectors
    n, dim = vectors.shape
    print(f"corpus: {n} sentences, vectors {dim}-d: {vectors.nbytes / 1e6:.1f} MB in memory")
    print(f"questions: {len(questions)}")
    _time("load a version from Milvus (all rows, verified)", lambda: store.load(), repeat=3)
    _time("CURRENT lookup (what the watcher polls)", store.current_id, repeat=50)

    same, timings = 0, {"faiss": [], "milvus": []}
    fetch_ms, memory_ms, sizes = [], [], []
    ours = LexicalIndex([s.text for s in version.corpus.sentences], language="de")
    top1, overlap, german = 0, [], 0
    for question, lang in questions:
        answers = {}
        for name, services in (("faiss", faiss), ("milvus", milvus)):
            started = time.perf_counter()
            answers[name] = services.searcher.answer(question, language=lang)
            timings[name].append((time.perf_counter() - started) * 1000)
        first = [a.quotes[0].text if a.quotes else None for a in answers.values()]
        same += first[0] == first[1]

        query = embed_queries(milvus.searcher.model, [question])[0]
        _, dense = index.search(query.reshape(1, -1), CANDIDATES)
        lexical = ours.scores(question)
        best = np.argsort(-lexical)[:CANDIDATES]
        ids = np.union1d(dense[0][dense[0] >= 0], best[lexical[best] > 0]).tolist()
        sizes.append(len(ids))
        started = time.perf_counter()
        index.vectors(ids)
        fetch_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        _ = vectors[ids] @ query
        memory_ms.append((time.perf_counter() - started) * 1000)

        if lang == "de":
            german += 1
            hits = index.bm25(question, 5)
            theirs = [h.sentence_id for h in hits]
            if lexical.any():
                top1 += bool(theirs) and lexical[theirs[0]] == lexical.max()
                mine = [int(i) for i in np.argsort(-lexical)[:5] if lexical[i] > 0]
                overlap.append(len(set(mine) & set(theirs)) / max(len(mine), 1))
            else:
                top1 += not theirs

    print(f"same first quote on FAISS and Milvus: {same} of {len(questions)}")
    for name, values in timings.items():
        print(f"answer time {name}: {_percentiles(values)}")
    print(f"candidates per question: median {statistics.median(sizes):.0f}, max {max(sizes)}")
    print(f"fetch candidates' vectors from Milvus: {_percentiles(fetch_ms)}")
    print(f"index candidates' vectors in memory:   {_percentiles(memory_ms)}")
    if german:
        print(
            f"Milvus BM25 vs bot/retrieval/lexical.py, {german} German questions: same first hit"
            f" {top1 / german:.0%}; top-5 overlap {statistics.mean(overlap or [0]):.0%}"
        )


def _time(label: str, call, *, repeat: int) -> None:
    values = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        values.append((time.perf_counter() - started) * 1000)
    print(f"{label}: {_percentiles(values)}")


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms"


if __name__ == "__main__":
    exit_quickly(main())
