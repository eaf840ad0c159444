"""Retrieval quality on question sets: R@1, R@3, MRR, refusals and latency, per language.

    python -m bot.tools.eval SET [SET ...] [--json] [--verbose] [--set name=value ...]

A SET is either
- a `.jsonl` file of {"lang", "question", "gold": [sentence, ...]} over the shipped default
  document (empty gold: the document does not answer), or
- a folder with `documents/` and `questions.jsonl` of {"language", "question", "answer",
  "document", "paragraph", "answer_start", "paragraph_text"} (XQuAD style; "answer": null
  for a question the documents do not answer). A sentence is right when it holds the
  answer's first character.
Every set is indexed on its own with the configured models, in `--cache` (so a second run
embeds nothing). `--set lexical_cross=0.25` (or `--set fusion.lexical_cross=0.25`,
`--set candidates=80`) overrides one value of the retrieval configuration
(bot/retrieval/config.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot.lazy import exit_quickly
from bot.retrieval.config import RetrievalConfig, overridden
from bot.retrieval.corpus import Corpus
from bot.retrieval.language import detect_language
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.retrieval.search import Searcher  # loads torch; _open loads it when there is work


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a set: `gold` holds the ids of the sentences that answer it."""

    text: str
    language: str
    gold: frozenset[int]


def load_set(path: Path, corpus: Corpus) -> list[Question]:
    """The questions of a set, with gold sentence ids in `corpus`."""
    if path.is_dir():
        return [_answer_position(item, corpus) for item in _jsonl(path / "questions.jsonl")]
    by_text: dict[str, set[int]] = defaultdict(set)
    for s in corpus.sentences:
        by_text[s.text].add(s.id)
    return [
        Question(
            item["question"],
            item["lang"],
            frozenset(i for g in item["gold"] for i in by_text.get(" ".join(g.split()), ())),
        )
        for item in _jsonl(path)
    ]


def _answer_position(item: dict, corpus: Corpus) -> Question:
    """An XQuAD question: the sentence of its paragraph that holds the answer's start."""
    if item.get("answer") is None:
        return Question(item["question"], item["language"], frozenset())
    doc_id = Path(item["document"]).stem
    text = corpus.document(doc_id).text
    paragraph = item["paragraph_text"].lstrip("\ufeff").strip()
    offset = text.find(paragraph)
    if offset < 0:
        raise ValueError(f"paragraph {item['paragraph']} of {doc_id} not found in the document")
    # The paragraph as indexed may have lost leading characters (a BOM, blanks): take the
    # occurrence of the answer nearest to the given position.
    shift = len(item["paragraph_text"]) - len(item["paragraph_text"].lstrip("\ufeff").lstrip())
    starts = _occurrences(paragraph, item["answer"])
    start = offset + min(starts, key=lambda s: abs(s - (item["answer_start"] - shift)))
    gold = frozenset(
        s.id for s in corpus.sentences if s.doc_id == doc_id and s.start <= start < s.end
    )
    return Question(item["question"], item["language"], gold)


def _occurrences(text: str, part: str) -> list[int]:
    found, at = [], text.find(part)
    while at >= 0:
        found.append(at)
        at = text.find(part, at + 1)
    if not found:
        raise ValueError(f"answer {part!r} not found in its paragraph")
    return found


def evaluate(searcher: Searcher, questions: list[Question], *, verbose: bool = False) -> dict:
    """Figures per language ("de", "en") and overall ("all")."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for q in questions[:20]:  # one-off costs (lingua's lazy models) are not a user's latency
        searcher.answer(q.text, language=detect_language(q.text))
    for q in questions:
        started = time.perf_counter()
        answer = searcher.answer(q.text, language=detect_language(q.text))
        ms = (time.perf_counter() - started) * 1000
        ranked = [h.sentence_id for h in answer.ranking]
        rank = next((i + 1 for i, s in enumerate(ranked) if s in q.gold), None)
        row = {"gold": bool(q.gold), "rank": rank, "abstained": answer.abstained, "ms": ms}
        row["top"] = answer.top_score
        for key in (q.language, "all"):
            rows[key].append(row)
        if verbose and (rank != 1 or answer.abstained == bool(q.gold)):
            print(
                f"  rank={rank} abstained={answer.abstained} top={answer.top_score:.3f} "
                f"[{q.language}] {q.text}",
                file=sys.stderr,
            )
    return {lang: _figures(items) for lang, items in sorted(rows.items())}


def _figures(rows: list[dict]) -> dict:
    on = [r for r in rows if r["gold"]]
    off = [r for r in rows if not r["gold"]]
    ms = sorted(r["ms"] for r in rows)
    return {
        "questions": len(on),
        "R@1": _share(on, lambda r: r["rank"] == 1),
        "R@3": _share(on, lambda r: r["rank"] is not None and r["rank"] <= 3),
        "MRR": round(sum(1 / r["rank"] for r in on if r["rank"]) / len(on), 3) if on else None,
        "unanswerable": len(off),
        "unanswerable_refused": sum(r["abstained"] for r in off),
        "answerable_refused": sum(r["abstained"] for r in on),
        # Where the abstention threshold can sit: the weakest answerable question's top
        # score against the strongest unanswerable one's.
        "answerable_min": round(min(r["top"] for r in on), 3) if on else None,
        "unanswerable_max": round(max(r["top"] for r in off), 3) if off else None,
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2) if ms else None,
    }


def _share(rows: list[dict], test) -> float | None:
    return round(sum(1 for r in rows if test(r)) / len(rows), 3) if rows else None


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _open(path: Path, cache: Path, config: RetrievalConfig) -> Searcher:
    """A searcher over the set's documents (or the shipped one), indexed in `cache`."""
    from bot.app.services import open_services

    root = cache / (path.stem if path.is_file() else path.name)
    documents = root / "documents"
    shutil.rmtree(documents, ignore_errors=True)
    if path.is_dir():
        shutil.copytree(path / "documents", documents)
    else:
        with resources.as_file(resources.files("bot") / "seed") as seed:
            shutil.copytree(seed, documents)
    settings = Settings(index_dir=root / "index", documents_dir=documents)
    return open_services(settings, background=False, config=config).searcher


def _print_table(name: str, settings: Settings, figures: dict) -> None:
    print(f"{name}  (model: {settings.embedding_model}, second model: {settings.rerank_model})")
    print(
        f"  {'lang':4} {'n':>4} {'R@1':>6} {'R@3':>6} {'MRR':>6}  unanswerable refused  "
        "answerable refused  top answerable min / unanswerable max  p50 ms  p99 ms"
    )
    for lang, f in figures.items():
        print(
            f"  {lang:4} {f['questions']:>4} {f['R@1']!s:>6} {f['R@3']!s:>6} {f['MRR']!s:>6}  "
            f"{f['unanswerable_refused']:>10}/{f['unanswerable']:<9} "
            f"{f['answerable_refused']:>10}/{f['questions']:<7} "
            f"{f['answerable_min']!s:>14} / {f['unanswerable_max']!s:<18} "
            f"{f['p50_ms']:>6} {f['p99_ms']:>7}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.tools.eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("sets", nargs="+", type=Path, help=".jsonl files or set folders")
    parser.add_argument("--json", action="store_true", help="print one JSON object per set")
    parser.add_argument("--verbose", action="store_true", help="list misses on stderr")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--cache", type=Path, default=Path(".eval-cache"))
    args = parser.parse_args(argv)
    try:
        config = overridden(RetrievalConfig(), args.set)
    except ValueError as exc:
        parser.error(f"--set {exc}")
    settings = Settings()
    for path in args.sets:
        searcher = _open(path, args.cache, config)
        figures = evaluate(searcher, load_set(path, searcher.corpus), verbose=args.verbose)
        if args.json:
            print(json.dumps({"set": path.name, "config": dataclasses.asdict(config), **figures}))
        else:
            _print_table(path.name, settings, figures)
    return 0


if __name__ == "__main__":
    exit_quickly(main())
