"""Command line: `python -m bot [index | ask | chat | run | eval | bench]`.

Without a command it starts the Telegram bot when TELEGRAM_BOT_TOKEN is set, and the
console conversation otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from bot.lazy import exit_quickly
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, set up logging and run one command; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in TOOLS:  # the tools parse their own options, --help included
        return TOOLS[argv[0]](argv[1:])
    args = _parser().parse_args(argv)  # --help and usage errors answer before pydantic loads
    from pydantic import ValidationError

    from bot.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        print(
            f"Configuration error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}",
            file=sys.stderr,
        )
        return 2
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    milvus = settings.milvus_token.get_secret_value() if settings.milvus_token else ""
    setup_logging(settings.log_level, secrets=[token, secret, milvus])
    command = args.command or ("run" if token else "chat")
    return COMMANDS[command](settings, args)


def _index(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.services import indexer_for, second_vectors
    from bot.retrieval.embedding import load_model

    started = time.perf_counter()
    indexer = indexer_for(settings, load_model(settings.embedding_model))
    report = indexer.build()
    for skipped in report.skipped:  # the documents folder holds them, the index does not
        print(f"skipped: {skipped.message}")
    print(
        f"documents: {report.documents}\nsentences: {report.sentences}\nmodel: {report.model}\n"
        f"embedded: {report.sentences_embedded}\nindex: {report.version}\n"
        f"seconds: {time.perf_counter() - started:.2f}",
        flush=True,
    )
    # The second model's vectors, so that the bot starts with all of them (it would fill
    # them in the background otherwise).
    vectors = second_vectors(settings, indexer)
    if vectors is not None:
        started = time.perf_counter()
        shown = [-1]  # the last twentieth printed

        def progress(done: int, total: int) -> None:
            if done * 20 // total > shown[0]:
                shown[0] = done * 20 // total
                print(f"second model ({settings.rerank_model}): {done}/{total}", flush=True)

        vectors.fill(progress)
        print(f"second model seconds: {time.perf_counter() - started:.2f}")
    return 0


def _ask(settings: Settings, args: argparse.Namespace) -> int:
    questions = args.questions
    if questions == ["-"]:
        questions = [line.strip() for line in sys.stdin if line.strip()]
    if not questions:
        print(
            "Nothing to ask: give a question, or - to read one per line from stdin.",
            file=sys.stderr,
        )
        return 2
    from bot.answering.formatting import answer_text
    from bot.answering.pipeline import Refusal
    from bot.app.services import (
        open_services,  # the models' libraries: only once there is a question
    )

    services = open_services(settings)
    for question in questions:
        answer = services.pipeline.ask(None, question)  # each question on its own
        if isinstance(answer, Refusal) and args.json:
            refused = {"question": question, "refused": answer.reason, "message": answer.message}
            print(json.dumps(refused, ensure_ascii=False), flush=True)
        elif isinstance(answer, Refusal):  # too long, or nothing to search for in it
            print(f"? {question}\n{answer.message}\n", flush=True)
        elif args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            examples = services.examples(answer.language)
            body = answer_text(answer, answer.language, examples=examples)
            print(f"? {question}\n{body}\n", flush=True)
    return 0


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app.services import open_services
    from bot.console import chat

    chat(open_services(settings))
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.telegram.runner import run

    return run(settings)


def _eval(argv: list[str]) -> int:
    from bot.tools.eval import main as eval_main

    return eval_main(argv)


def _bench(argv: list[str]) -> int:
    from bot.tools.bench import main as bench_main

    return bench_main(argv)


TOOLS = {"eval": _eval, "bench": _bench}
COMMANDS = {
    "index": _index,
    "ask": _ask,
    "chat": _chat,
    "run": _run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("index", help="build the index from DOCUMENTS_DIR and report")
    ask = sub.add_parser("ask", help="answer questions (arguments, or - for stdin lines)")
    ask.add_argument("questions", nargs="*")
    ask.add_argument("--json", action="store_true", help="one JSON object per answer")
    sub.add_parser("chat", help="console conversation (no Telegram token needed)")
    sub.add_parser("run", help="run the Telegram bot (polling, or webhook if WEBHOOK_URL is set)")
    for name, help_text in (
        ("eval", "retrieval quality on a question file"),
        ("bench", "speed and memory"),
    ):
        sub.add_parser(name, help=help_text)  # listed here, parsed by the tool itself
    return parser


if __name__ == "__main__":
    exit_quickly(main())
