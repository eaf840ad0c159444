"""How costs grow with the corpus: `python -m bot.tools.bench --sentences N`.

The seed article alone and the seed plus N generated sentences (bot/tools/generate.py) are each
measured in fresh processes, one after the other, so that growth reads as a ratio of two
figures taken in the same run:

* build: `python -m bot index`'s work from scratch (split, embed, write, search keys);
* open: a new process loads the version from disk and is ready to answer;
* answer p50 / p99 of `Searcher.answer` over the development questions, warm;
* peak RSS of the building and of the serving process;
* an incremental reindex after one generated document changed.

Answers are timed with the hybrid (USE + BM25): the second model's vectors of N
sentences take hours on two cores (they fill in after a build, see bot/retrieval/rerank.py);
its cost per question is one question embedding plus a nearest-neighbour search over them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.lazy import exit_quickly
from bot.retrieval.documents import ensure_documents_dir
from bot.tools.bench import answer_times, process_age, row
from bot.tools.generate import heaps_exponent, write_documents


def compare(
    sentences: int,
    questions: list[str],
    *,
    repeats: int,
    index_type: str,
    in_process: bool = False,
) -> None:
    """Measure the seed alone and the seed plus `sentences` generated ones; print both.

    `in_process` runs the steps in this process instead of fresh ones (a smoke run: the
    figures then include what earlier steps loaded).
    """
    with tempfile.TemporaryDirectory(prefix="bot-scale-") as tmp:
        results = []
        for count in (0, sentences):
            root = Path(tmp) / f"n{count}"
            ensure_documents_dir(root / "documents")  # the seed article
            files = write_documents(root / "documents", count) if count else []
            results.append(_measure(root, questions, repeats, index_type, files, in_process))
        print(f"\ngrowth: seed vs seed + {sentences} generated sentences (index type {index_type})")
        beta, words, distinct = heaps_exponent([f.read_text("utf-8") for f in files])
        row("generated words / distinct (Heaps' β)", f"{words} / {distinct} (β = {beta:.2f})")
        for label, key, unit in (
            ("sentences", "sentences", ""),
            ("build", "build_seconds", " s"),
            ("build throughput", "build_rate", " sentences/s"),
            ("open from disk: index and keys, ready", "open_seconds", " s"),
            ("new process to ready (imports, models)", "ready_seconds", " s"),
            ("answer p50", "p50", " ms"),
            ("answer p99", "p99", " ms"),
            ("peak RSS while building", "build_rss", " MiB"),
            ("peak RSS serving", "serve_rss", " MiB"),
            ("reindex after one document changed", "reindex_seconds", " s"),
        ):
            seed, big = results[0].get(key), results[1].get(key)
            if big is None:
                continue
            if seed is None:
                row(label, f"{_fmt(big)}{unit} (seed + {sentences})")
                continue
            ratio = f"  ({big / seed:.1f}x)" if seed and key not in ("sentences",) else ""
            row(label, f"{_fmt(seed)}{unit}  ->  {_fmt(big)}{unit}{ratio}")


def _measure(
    root: Path,
    questions: list[str],
    repeats: int,
    index_type: str,
    files: list[Path],
    in_process: bool,
) -> dict:
    values = {
        "index_dir": str(root / "index"),
        "documents_dir": str(root / "documents"),
        "index_type": index_type,
        "rerank_model": "off",
    }
    env = dict(os.environ, LOG_LEVEL="WARNING", **{k.upper(): v for k, v in values.items()})
    (root / "questions.json").write_text(json.dumps(questions), "utf-8")

    def step(name: str, *args: int) -> dict:
        if not in_process:
            return _child([name, str(root), *map(str, args)], env)
        from bot.settings import Settings

        return _step(name, root, *args, settings=Settings(**values)) | {"ready_seconds": None}

    result = step("build")
    result.update(step("serve", repeats))
    if files:
        text = files[0].read_text("utf-8")
        files[0].write_text(text.replace(".", ". Ein neuer Satz steht hier.", 1), "utf-8")
        result.update(step("reindex"))
    return result


def _child(args: list[str], env: dict[str, str]) -> dict:
    """Run one step in a fresh process; its last stdout line is a JSON object of figures."""
    command = [sys.executable, "-m", "bot.tools.scale", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _step(step: str, root: Path, repeats: int = 1, *, settings=None) -> dict:
    """One measured step in this process (see `_child`), with `settings` or the environment's."""
    from bot.app.services import indexer_for, open_services
    from bot.retrieval.embedding import embed_queries, load_model
    from bot.retrieval.language import detect_language
    from bot.settings import Settings

    settings = settings or Settings()
    if step in ("build", "reindex"):
        indexer = indexer_for(settings, load_model(settings.embedding_model))
        started = time.perf_counter()
        report = indexer.build()
        seconds = time.perf_counter() - started
        if step == "reindex":
            return {"reindex_seconds": seconds}
        return {
            "sentences": report.sentences,
            "build_seconds": seconds,
            "build_rate": report.sentences / seconds,
            "build_rss": _peak_rss(),
        }
    model = load_model(settings.embedding_model)
    embed_queries(model, ["warm-up"])  # the weights load on the first encode
    started = time.perf_counter()
    services = open_services(settings, model=model)
    opened = time.perf_counter() - started
    ready = process_age()
    questions = json.loads((root / "questions.json").read_text("utf-8"))
    asked = [(q, detect_language(q)) for q in questions]
    searcher = services.searcher
    answer_times(searcher, asked, 1)  # warm
    p50, p99 = np.percentile(answer_times(searcher, asked, repeats), [50, 99])
    return {
        "open_seconds": opened,
        "ready_seconds": ready or 0.0,
        "p50": p50,
        "p99": p99,
        "serve_rss": _peak_rss(),
    }


def _peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


if __name__ == "__main__":
    step, folder, *rest = sys.argv[1:]
    print(json.dumps(_step(step, Path(folder), *(int(r) for r in rest))))
    exit_quickly(0)
