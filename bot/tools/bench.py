"""Speed and memory: `python -m bot.tools.bench [--sentences N] [--quick]` (`python -m bot bench`).

Prints figures, asserts nothing:

* the machine, the date and the model;
* cold start: a fresh `python -m bot ask` process over a pre-built index, timed from its start
  to its first answer, and the same steps in this process (imports, model, index, first answer);
* answer latency percentiles of `Searcher.answer` over the development questions, after warm-up;
* peak resident memory;
* growth (bot/tools/scale.py): build, open, answer latency and memory for the seed alone and the
  seed plus `--sentences` generated sentences, each in fresh processes, as ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.lazy import exit_quickly

ROOT = Path(__file__).resolve().parents[2]
DEV_QUESTIONS = (
    "../shared/eval/dev_questions.jsonl",
    str(ROOT.parent / "shared/eval/dev_questions.jsonl"),
)
COLD_QUESTION = "Wer besuchte im Juni Pjöngjang?"
LABEL = 44


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the figures; returns the exit code."""
    entered = process_age()
    args = _parser().parse_args(argv)
    sentences = args.sentences or (300 if args.quick else 10_000)
    repeats = args.repeats or (3 if args.quick else 20)
    cold_runs = 1 if args.quick else 2

    from bot.settings import Settings

    model_name = Settings().embedding_model
    _machine(model_name)
    with tempfile.TemporaryDirectory(prefix="bot-bench-") as tmp:
        root = Path(tmp)
        searcher = _cold_start(root, model_name, entered, cold_runs)
        _latency(searcher, _questions(args.questions, searcher), repeats)
        if args.corpus:
            _corpus_latency(root / "corpus", args.corpus, searcher.model, model_name, 1)
    _memory()
    from bot.tools.scale import compare

    asked = _questions(args.questions, searcher)
    compare(sentences, asked, repeats=repeats, index_type=args.index, in_process=args.quick)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.tools.bench", description=__doc__.split("\n")[0]
    )
    add = parser.add_argument
    add("--sentences", type=_positive, help="generated sentences (10000; 300 with --quick)")
    add("--repeats", type=_positive, help="timed passes over the questions (20; 3 with --quick)")
    add("--questions", type=Path, help="JSONL of {'question': ...} (default: dev questions)")
    add("--corpus", type=Path, help="also time answers over a set folder (documents/, questions)")
    add("--index", default="flat", help="index type of the generated corpus (flat, hnsw)")
    add("--quick", action="store_true", help="small sizes and no fresh processes: a smoke run")
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def _machine(model_name: str) -> None:
    print("machine")
    row("cpus available", len(os.sched_getaffinity(0)))
    row("cpus online", os.cpu_count())
    row("cpu model", _cpu_model())
    row("ram", _ram())
    row("python", f"{platform.python_version()} on {platform.system()} {platform.machine()}")
    row("date", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    row("model", model_name)


def _cold_start(root: Path, model_name: str, entered: float | None, runs: int):
    """Time the steps of a start in this process, then whole `ask` processes; returns a Searcher."""
    print("\ncold start")
    started = time.perf_counter()
    for name in (
        "bot.retrieval.embedding",
        "bot.retrieval.indexing",
        "bot.retrieval.search",
        "bot.retrieval.language",
        "bot.app.services",
    ):
        importlib.import_module(name)
    imports = time.perf_counter() - started

    from bot.app.services import reranker_for
    from bot.retrieval.embedding import embed_queries, load_model
    from bot.retrieval.language import detect_language
    from bot.retrieval.search import Searcher
    from bot.settings import Settings

    started = time.perf_counter()
    model = load_model(model_name)
    embed_queries(model, ["warm-up"])  # the weights load lazily, on the first encode
    model_load = time.perf_counter() - started

    seed = root / "seed"
    report = _indexer(seed, model, model_name).build()
    shutil.copytree(seed, root / "cold")  # as `python -m bot index` leaves it

    started = time.perf_counter()
    indexer = _indexer(seed, model, model_name)
    version = indexer.open()
    index_load = time.perf_counter() - started
    started = time.perf_counter()
    reranker = reranker_for(Settings(), indexer, background=False)
    searcher = Searcher(model, version, embed=indexer.embed_cached, reranker=reranker)
    searcher_setup = time.perf_counter() - started
    started = time.perf_counter()
    language = detect_language(COLD_QUESTION)
    detector_load = time.perf_counter() - started
    started = time.perf_counter()
    searcher.answer(COLD_QUESTION, language=language)
    first_answer = time.perf_counter() - started

    for run in range(runs):
        first_line, total, rss = _ask_process(root / "cold")
        label = "first start after index" if run == 0 else "next start"
        figure = f"{first_line:.2f} s  (exit {total:.2f} s, peak RSS {rss:.0f} MiB)"
        row(
            f"process to first answer ({label})",
            figure if first_line else f"failed ({total:.2f} s)",
        )
    row("in-process: interpreter start", _seconds(entered))
    row("in-process: imports", _seconds(imports))
    row("in-process: model load (first encode)", _seconds(model_load))
    row("in-process: index load", f"{_seconds(index_load)}  ({report.sentences} sentences)")
    row("in-process: searcher setup (+ second model)", _seconds(searcher_setup))
    row("in-process: language detector load", _seconds(detector_load))
    row("in-process: first answer", _seconds(first_answer))
    return searcher


def _ask_process(folder: Path) -> tuple[float | None, float, float]:
    """(seconds to the first answer line, seconds to exit, peak RSS MiB) of one `ask` process."""
    env = dict(os.environ, LOG_LEVEL="WARNING", INDEX_DIR=str(folder / "index"))
    env["DOCUMENTS_DIR"] = str(folder / "documents")
    command = [sys.executable, "-m", "bot", "ask", "--json", COLD_QUESTION]
    pipes = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
    started = time.perf_counter()
    with subprocess.Popen(command, cwd=folder, env=env, text=True, **pipes) as process:
        line = process.stdout.readline()
        first_line = time.perf_counter() - started if line.startswith("{") else None
        process.stdout.read()
    total = time.perf_counter() - started
    # Children's peak RSS is the largest of all waited-for children: here, `ask` processes.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return (first_line if process.returncode == 0 else None), total, rss


def _questions(path: Path | None, searcher) -> list[str]:
    """The development questions if present, else the documents' example questions."""
    candidates = [path] if path else [Path(p) for p in DEV_QUESTIONS]
    for candidate in candidates:
        if candidate.is_file():
            lines = candidate.read_text("utf-8").splitlines()
            return [json.loads(line)["question"] for line in lines if line.strip()]
    return [q for doc in searcher.corpus.documents for qs in doc.examples.values() for q in qs]


def _latency(searcher, questions: list[str], repeats: int, corpus: str = "seed") -> None:
    """Percentiles as configured, and for the hybrid alone when a second model is configured."""
    from bot.retrieval.language import detect_language

    asked = [(q, detect_language(q)) for q in questions]
    for question, lang in asked:  # warm-up: every question once
        searcher.answer(question, language=lang)
    second = searcher.reranker
    label = f"{corpus}, second model {'off' if second is None else 'on'}"
    _percentiles(searcher, asked, repeats, f"Searcher.answer, {label}")
    if second is not None:
        searcher.reranker = None
        _percentiles(searcher, asked, repeats, f"Searcher.answer, {corpus}, hybrid alone")
        searcher.reranker = second


def _corpus_latency(root: Path, corpus: Path, model, model_name: str, repeats: int) -> None:
    """Latency over another corpus: `corpus`/documents and `corpus`/questions.jsonl."""
    from bot.app.services import reranker_for
    from bot.retrieval.search import Searcher
    from bot.settings import Settings

    shutil.copytree(corpus / "documents", root / "documents")
    indexer = _indexer(root, model, model_name)
    version = indexer.open()
    reranker = reranker_for(Settings(), indexer, background=False)
    searcher = Searcher(model, version, embed=indexer.embed_cached, reranker=reranker)
    questions = _questions(corpus / "questions.jsonl", searcher)
    label = f"{corpus.name}, {len(searcher.corpus.sentences)} sentences"
    _latency(searcher, questions, repeats, label)


def answer_times(searcher, asked: list[tuple[str, str]], repeats: int) -> list[float]:
    """Milliseconds of each `searcher.answer` over the (question, language) pairs, `repeats`
    times."""
    times = []
    for _ in range(repeats):
        for question, lang in asked:
            started = time.perf_counter()
            searcher.answer(question, language=lang)
            times.append((time.perf_counter() - started) * 1000)
    return times


def _percentiles(searcher, asked: list[tuple[str, str]], repeats: int, label: str) -> None:
    import numpy as np

    times = answer_times(searcher, asked, repeats)
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    print(f"\nanswer latency ({label}; {len(asked)} questions x {repeats}, warm)")
    row("p50", f"{p50:.1f} ms")
    row("p95", f"{p95:.1f} ms")
    row("p99", f"{p99:.1f} ms")
    row("mean / max", f"{np.mean(times):.1f} ms / {max(times):.1f} ms")


def _indexer(folder: Path, model, model_name: str):
    from bot.retrieval.indexing import Indexer

    docs, index = folder / "documents", folder / "index"
    return Indexer(documents_dir=docs, index_dir=index, model=model, model_name=model_name)


def _memory() -> None:
    print("\nmemory")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    row("peak RSS (this process)", f"{peak:.0f} MiB")


def process_age() -> float | None:
    """Seconds since this process started (Linux), or None."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    return uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    except (OSError, ValueError):
        return "unknown"
    total, available = (int(info[k].split()[0]) / 1024**2 for k in ("MemTotal", "MemAvailable"))
    return f"{total:.1f} GiB ({available:.1f} GiB available)"


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


def row(label: str, value: object) -> None:
    print(f"  {label + ':':<{LABEL}} {value}")


if __name__ == "__main__":
    exit_quickly(main())
