"""Retrieval quality on question files: R@1, R@3, MRR and abstention, per language.

    python -m bot.eval ../shared/eval/dev_questions.jsonl eval/extra_questions.jsonl [--verbose]

Each line of a file is {"lang", "question", "gold": [sentence, ...]}; empty gold marks a
question the document does not answer. A ranked sentence counts as a hit when it is one
of the gold sentences. Uses the configured model over the shipped default document in a
temporary index, so the figures do not depend on what else is in DOCUMENTS_DIR.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bot.app import open_services
from bot.language import detect_language
from bot.search import Searcher
from bot.settings import Settings


def evaluate(
    searcher: Searcher, questions: list[dict], *, verbose: bool = False
) -> dict[str, dict]:
    """Figures per language ("de", "en") and overall ("all")."""
    rows: dict[str, list[dict]] = defaultdict(list)
    texts = [s.text for s in searcher.corpus.sentences]
    # One pass first: one-off costs (lingua loads its models lazily, the reranker embeds a
    # sentence the first time it re-ranks it) are not a user's latency.
    for item in questions:
        searcher.answer(item["question"], language=detect_language(item["question"]))
    for item in questions:
        gold = set(item["gold"])
        started = time.perf_counter()
        answer = searcher.answer(item["question"], language=detect_language(item["question"]))
        ms = (time.perf_counter() - started) * 1000
        ranked = [texts[h.sentence_id] for h in searcher.search(item["question"], k=10)]
        rank = next((i + 1 for i, t in enumerate(ranked) if t in gold), None) if gold else None
        row = {
            "gold": bool(gold),
            "rank": rank,
            "abstained": answer.abstained,
            "ms": ms,
            "top": answer.top_score,
        }
        for key in (item["lang"], "all"):
            rows[key].append(row)
        if verbose and (rank != 1 or answer.abstained == bool(gold)):
            print(
                f"  rank={rank} abstained={answer.abstained} top={answer.top_score:.3f} "
                f"[{item['lang']}] {item['question']}",
                file=sys.stderr,
            )
    return {lang: _figures(items) for lang, items in rows.items()}


def _figures(rows: list[dict]) -> dict:
    on = [r for r in rows if r["gold"]]
    off = [r for r in rows if not r["gold"]]
    ms = sorted(r["ms"] for r in rows)
    return {
        "questions": len(on),
        "R@1": _share(on, lambda r: r["rank"] == 1),
        "R@3": _share(on, lambda r: r["rank"] is not None and r["rank"] <= 3),
        "MRR": round(sum(1 / r["rank"] for r in on if r["rank"]) / len(on), 3) if on else None,
        "off_topic": len(off),
        "off_topic_refused": sum(r["abstained"] for r in off),
        "on_topic_refused": sum(r["abstained"] for r in on),
        # Where the abstention threshold can sit: the weakest answerable question's top score
        # against the strongest unanswerable one's.
        "on_topic_min": round(min(r["top"] for r in on), 3) if on else None,
        "off_topic_max": round(max(r["top"] for r in off), 3) if off else None,
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2) if ms else None,
    }


def _share(rows: list[dict], test) -> float | None:
    return round(sum(1 for r in rows if test(r)) / len(rows), 3) if rows else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.eval", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--verbose", action="store_true", help="list misses on stderr")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", documents_dir=Path(tmp) / "documents")
        searcher = open_services(settings).searcher
        for path in args.files:
            lines = path.read_text("utf-8").splitlines()
            questions = [json.loads(line) for line in lines if line.strip()]
            models = f"model: {settings.embedding_model}, reranker: {settings.rerank_model}"
            print(f"{path.name}  ({models})")
            print(
                f"  {'lang':4} {'n':>3} {'R@1':>6} {'R@3':>6} {'MRR':>6}  off-topic refused  "
                f"on-topic refused  top on-topic min / off-topic max  p50 ms  p99 ms"
            )
            for lang, f in sorted(evaluate(searcher, questions, verbose=args.verbose).items()):
                print(
                    f"  {lang:4} {f['questions']:>3} {f['R@1']!s:>6} {f['R@3']!s:>6} "
                    f"{f['MRR']!s:>6}  {f['off_topic_refused']:>7}/{f['off_topic']:<9} "
                    f"{f['on_topic_refused']:>9}        {f['on_topic_min']!s:>12} / "
                    f"{f['off_topic_max']!s:<17} {f['p50_ms']:>6} {f['p99_ms']:>7}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
