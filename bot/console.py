"""The console conversation: the answers and formatting of the Telegram bot, no token needed."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.answering.formatting import answer_text, context_html, html_to_text
from bot.answering.i18n import text
from bot.answering.pipeline import Refusal
from bot.app.services import Services

PROMPT = "? "


def chat(services: Services, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Read questions line by line and print answers; ":context" shows the last quote's context."""
    doc = services.searcher.corpus.documents[0] if services.searcher.corpus.documents else None
    print(text("start", "en"), file=stdout)
    if doc:
        print(f"Document: {doc.title} ({doc.language}, {doc.date or 'no date'})", file=stdout)
    print(
        "Type a question in German or English; :context for the paragraph, :quit to leave.",
        file=stdout,
    )
    last = None
    while True:
        print(PROMPT, end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line or line.strip() in (":quit", ":q", "exit"):
            break
        question = line.strip()
        if not question:
            continue
        if question == ":context":
            if last and last.quotes:
                context = services.searcher.context(last.quotes[0])
                print(html_to_text(context_html(context, last.language)), file=stdout)
            continue
        found = services.pipeline.ask("console", question)
        if isinstance(found, Refusal):  # e.g. only emoji, or longer than MAX_QUESTION_CHARS
            print(found.message, file=stdout)
            continue
        last = found
        print(
            answer_text(last, last.language, examples=services.examples(last.language)), file=stdout
        )
