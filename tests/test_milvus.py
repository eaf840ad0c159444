"""Index versions in Milvus (real Milvus Lite, no mocks): build, answer, switch, roll back.

Store tests use the seed article with seeded random vectors (plumbing only); every claim
about answers uses the real model. With MILVUS_TEST_URI set (a Milvus server, where
CURRENT is an alias), the store tests run against that server too.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import forkserver
import numpy as np
import pytest

pytest.importorskip("milvus_lite", reason="milvus-lite has no wheel for this platform")

from milvuslite import MilvusLiteServer  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from bot.app.admin import Admin  # noqa: E402
from bot.app.services import Services, open_services  # noqa: E402
from bot.app.watcher import VersionWatcher  # noqa: E402
from bot.console import PROMPT  # noqa: E402
from bot.errors import IndexCorrupt  # noqa: E402
from bot.retrieval.corpus import Corpus  # noqa: E402
from bot.retrieval.documents import ensure_documents_dir, read_documents  # noqa: E402
from bot.retrieval.language import detect_language  # noqa: E402
from bot.retrieval.lexical import LexicalIndex  # noqa: E402
from bot.retrieval.milvus_meta import AliasPointers  # noqa: E402
from bot.retrieval.milvus_store import MilvusStore  # noqa: E402
from bot.retrieval.store import Build  # noqa: E402
from bot.settings import Settings  # noqa: E402

pytestmark = pytest.mark.slow  # Milvus Lite, and bot processes on one Milvus

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "extra_questions.jsonl"
LIGHTHOUSE = (
    "Der Leuchtturm von Westerhever wurde im Jahr 1907 erbaut.\n\n"
    "Er steht auf einer Warft in den Salzwiesen der Nordsee und ist 41 Meter hoch."
)
LIGHTHOUSE_QUESTION = "Wann wurde der Leuchtturm von Westerhever erbaut?"
DIM = 16


@pytest.fixture(params=["lite", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MilvusStore]:
    """A Milvus store on a fresh Milvus Lite file, or on MILVUS_TEST_URI's server."""
    if request.param == "lite":
        opened = MilvusStore(str(tmp_path / "index" / "milvus.db"))
    else:
        uri = os.environ.get("MILVUS_TEST_URI")
        if not uri:
            pytest.skip("set MILVUS_TEST_URI to a Milvus server to test CURRENT as an alias")
        opened = MilvusStore(uri, prefix=f"test_{uuid.uuid4().hex[:12]}")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("seed") / "documents"
    ensure_documents_dir(folder)
    documents, _ = read_documents(folder, language_of=detect_language)
    return Corpus.from_documents(documents)


def vectors_for(corpus: Corpus, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(corpus.sentences), DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write(store: MilvusStore, corpus: Corpus, seed: int = 0) -> str:
    return store.write(Build(corpus, vectors_for(corpus, seed), "m", "flat", 0.1))


def milvus_settings(tmp_path: Path, **overrides: object) -> Settings:
    values = {
        "index_dir": tmp_path / "m-index",
        "documents_dir": tmp_path / "documents",
        "vector_store": "milvus",
        "index_poll_seconds": 0,
        "_env_file": None,
    }
    return Settings(**{**values, **overrides})


# --- the store: versions are collections, CURRENT and PREVIOUS switch ------------------------


def test_a_version_round_trips_through_milvus(store: MilvusStore, seed_corpus: Corpus) -> None:
    version = write(store, seed_corpus)
    store.activate(version)
    loaded = store.load()
    assert loaded.manifest.version == version == store.current_id()
    assert np.array_equal(loaded.vectors, vectors_for(seed_corpus))
    assert loaded.corpus.sentences == seed_corpus.sentences
    assert loaded.corpus.documents == seed_corpus.documents
    assert store.collection_of(version) in store.client.list_collections()
    # Nearest neighbours as the Searcher asks for them: row i is sentence i.
    scores, ids = loaded.index.search(loaded.vectors[[3, 7]], 4)
    assert ids[:, 0].tolist() == [3, 7]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
    assert loaded.index.ntotal == len(seed_corpus.sentences)
    assert np.array_equal(loaded.index.vectors([5, 2]), loaded.vectors[[5, 2]])


def test_reindex_writes_a_new_collection_and_rollback_switches_back(
    store: MilvusStore, seed_corpus: Corpus
) -> None:
    first = write(store, seed_corpus, seed=1)
    store.activate(first)
    second = write(store, seed_corpus, seed=2)
    assert store.current_id() == first  # written, not yet serving
    store.activate(second)
    assert (store.current_id(), store.previous_id()) == (second, first)
    assert {store.collection_of(first), store.collection_of(second)} <= set(
        store.client.list_collections()
    )
    assert store.rollback() == first
    assert (store.current_id(), store.previous_id()) == (first, second)
    assert np.array_equal(store.load().vectors, vectors_for(seed_corpus, seed=1))


def test_old_versions_are_pruned_but_never_current_or_previous(
    store: MilvusStore, seed_corpus: Corpus
) -> None:
    versions = []
    for seed in range(5):
        versions.append(write(store, seed_corpus, seed=seed))
        store.activate(versions[-1])
    store.rollback()  # CURRENT = versions[3], PREVIOUS = versions[4]
    store.prune(keep=1)
    left = {store.version_of(n) for n in store.client.list_collections()} - {None}
    assert left == {versions[3], versions[4]}
    with pytest.raises(IndexCorrupt, match="no such version"):
        store.load(versions[0])


def test_an_unfinished_build_is_removed_by_prune(store: MilvusStore, seed_corpus: Corpus) -> None:
    versions = [write(store, seed_corpus, seed=s) for s in range(3)]
    store.activate(versions[-1])
    store.meta.forget(versions[0])  # as if the build had died before its manifest
    store.prune(keep=1)
    assert store.collection_of(versions[0]) not in store.client.list_collections()


def test_rollback_without_a_previous_version_is_refused(
    store: MilvusStore, seed_corpus: Corpus
) -> None:
    store.activate(write(store, seed_corpus))
    with pytest.raises(IndexCorrupt, match="no previous index version"):
        store.rollback()


@pytest.mark.parametrize("damage", ["drop collection", "delete rows", "pointer to nothing"])
def test_a_damaged_current_version_is_refused(
    store: MilvusStore, seed_corpus: Corpus, damage: str
) -> None:
    version = write(store, seed_corpus)
    store.activate(version)
    name = store.collection_of(version)
    if damage == "pointer to nothing" and isinstance(store.pointers, AliasPointers):
        pytest.skip("Milvus refuses an alias to a collection that does not exist")
    if damage == "drop collection":
        store.client.drop_collection(name)
    elif damage == "delete rows":
        store.client.delete(name, ids=[0, 1])
    else:
        store.pointers.set("20990101T000000-deadbeef", None)
    with pytest.raises(IndexCorrupt):
        store.load()


def test_a_second_store_on_the_same_milvus_sees_the_switch(
    store: MilvusStore, seed_corpus: Corpus
) -> None:
    other = MilvusStore(store.uri, prefix=store.prefix)  # as another process would open it
    first = write(store, seed_corpus, seed=1)
    store.activate(first)
    assert other.current_id() == first
    second = write(other, seed_corpus, seed=2)
    other.activate(second)
    assert (store.current_id(), store.previous_id()) == (second, first)
    assert np.array_equal(store.load().vectors, vectors_for(seed_corpus, seed=2))


def test_settings_name_what_milvus_lite_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Milvus Lite has only exact"):
        milvus_settings(tmp_path, index_type="hnsw")
    with pytest.raises(ValidationError, match="file name"):
        milvus_settings(tmp_path, milvus_uri=str(tmp_path / ("x" * 40 + ".db")))
    with pytest.raises(ValidationError, match="MILVUS_COLLECTION"):
        milvus_settings(tmp_path, milvus_collection="quote-bot")
    # A server URL may use HNSW (the server decides), and FAISS settings are not checked.
    assert milvus_settings(tmp_path, index_type="hnsw", milvus_uri="http://milvus:19530")
    assert Settings(index_type="hnsw", milvus_uri="x" * 50, _env_file=None)


def test_a_milvus_lite_file_in_use_by_another_process_is_named(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "import sys, time; from pymilvus import MilvusClient;"
            f"MilvusClient({str(path)!r}); print('open', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(RuntimeError, match="another process"):
            MilvusStore(str(path))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


# --- the bot on Milvus: the same answers as on FAISS ---------------------------------------


@pytest.fixture
def milvus_services(tmp_path: Path, settings: Settings, model) -> Iterator[Services]:
    """Services over Milvus Lite and the same seed documents as the FAISS `settings`."""
    services = open_services(milvus_settings(tmp_path), model=model)
    yield services
    services.close()


def test_milvus_answers_as_faiss_does(services: Services, milvus_services: Services) -> None:
    questions = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines()]
    assert len(questions) > 40
    for item in questions:
        on_faiss = services.searcher.answer(item["question"], language=item["lang"])
        on_milvus = milvus_services.searcher.answer(item["question"], language=item["lang"])
        assert on_milvus.abstained == on_faiss.abstained, item["question"]
        assert [q.text for q in on_milvus.quotes] == [q.text for q in on_faiss.quotes]
        assert on_milvus.top_score == pytest.approx(on_faiss.top_score, abs=1e-4)


def test_admin_reindex_and_rollback_on_milvus(milvus_services: Services) -> None:
    admin = Admin(milvus_services)
    store = milvus_services.indexer.store
    before = store.current_id()
    assert "1907" not in _first_quote(milvus_services)
    (milvus_services.settings.documents_dir / "leuchtturm.txt").write_text(LIGHTHOUSE, "utf-8")
    report = admin.reindex()
    assert report.documents_added == ("leuchtturm",)
    assert (store.current_id(), store.previous_id()) == (report.version, before)
    assert store.collection_of(report.version) in store.client.list_collections()
    assert "1907" in _first_quote(milvus_services)
    assert admin.rollback() == before
    assert store.current_id() == before
    assert "1907" not in _first_quote(milvus_services)


def test_a_missing_current_version_is_rebuilt_on_start(
    tmp_path: Path, settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    first = open_services(milvus_settings(tmp_path), model=model)
    store = first.indexer.store
    broken = store.current_id()
    store.client.drop_collection(store.collection_of(broken))
    first.close()
    again = open_services(milvus_settings(tmp_path), model=model)
    try:
        assert "rebuilding the index" in caplog.text and "is missing" in caplog.text
        assert again.indexer.store.current_id() not in (None, broken)
        assert again.searcher.answer("Wo starben sechs nordkoreanische Offiziere?").quotes
    finally:
        again.close()


def test_a_shared_version_is_kept_when_only_local_documents_differ(
    tmp_path: Path, milvus_services: Services, model
) -> None:
    """A replica with other documents serves the shared index; it does not rebuild it."""
    serving = milvus_services.indexer.store.current_id()
    uri = str(milvus_services.settings.index_dir / "milvus.db")
    elsewhere = tmp_path / "other-documents"
    elsewhere.mkdir()
    (elsewhere / "leuchtturm.txt").write_text(LIGHTHOUSE, "utf-8")
    replica = open_services(
        milvus_settings(tmp_path, documents_dir=elsewhere, milvus_uri=uri), model=model
    )
    try:
        assert replica.indexer.store.current_id() == serving
        assert replica.searcher.version.manifest.version == serving
    finally:
        replica.close()


def test_the_watcher_serves_a_version_another_store_activated(milvus_services: Services) -> None:
    searcher, store = milvus_services.searcher, milvus_services.indexer.store
    watcher = VersionWatcher(store, searcher, interval=60)  # checked by hand below
    assert not watcher.check()
    (milvus_services.settings.documents_dir / "leuchtturm.txt").write_text(LIGHTHOUSE, "utf-8")
    other = MilvusStore(store.uri, prefix=store.prefix)
    indexer = milvus_services.indexer
    documents = read_documents(indexer.documents_dir, language_of=detect_language)[0]
    corpus = Corpus.from_documents(documents)
    vectors = indexer.embed_cached([s.text for s in corpus.sentences])
    version = other.write(Build(corpus, vectors, "usem3", "flat", 0))
    other.activate(version)
    assert watcher.check()
    assert searcher.version.manifest.version == version
    assert "1907" in _first_quote(milvus_services)
    assert not watcher.check()  # nothing changed since


def _first_quote(services: Services) -> str:
    answer = services.searcher.answer(LIGHTHOUSE_QUESTION, language="de")
    return answer.quotes[0].text if answer.quotes else ""


# --- Milvus's own BM25 with the German analyzer ---------------------------------------------


def test_milvus_bm25_stems_and_folds_german(store: MilvusStore, seed_corpus: Corpus) -> None:
    store.activate(write(store, seed_corpus))
    index = store.load().index
    texts = [s.text for s in seed_corpus.sentences]
    for question, word in [
        ("Offizier", "Offizieren"),  # stemmed
        ("pjongjang Putin", "Pjöngjang"),  # diacritics folded
        ("Container", "Containern"),
    ]:
        hits = index.bm25(question, 3)
        assert hits and word in texts[hits[0].sentence_id], question
    assert index.bm25("der die und", 3) == []  # stop words only


def test_milvus_bm25_agrees_with_the_project_bm25_on_the_first_hit(
    store: MilvusStore, seed_corpus: Corpus
) -> None:
    store.activate(write(store, seed_corpus))
    index = store.load().index
    ours = LexicalIndex([s.text for s in seed_corpus.sentences], language="de")
    questions = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines()]
    german = [q["question"] for q in questions if q["lang"] == "de"]
    agree = 0
    for question in german:
        scores = ours.scores(question)
        hits = index.bm25(question, 1)
        if not scores.any():
            agree += not hits
        else:
            agree += bool(hits) and scores[hits[0].sentence_id] == scores.max()
    assert agree / len(german) >= 0.8, f"{agree} of {len(german)}"


# --- two bot processes on one Milvus ------------------------------------------------------


class Console:
    """`python -m bot chat` as a process: questions in, answer lines out."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = forkserver.popen(
            ["bot", "chat"], cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for(PROMPT, timeout=180)

    def ask(self, question: str, *, timeout: float = 60) -> str:
        """The console's output from `question` up to its next prompt."""
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return self.wait_for(PROMPT, timeout=timeout)

    def wait_for(self, marker: str, *, timeout: float) -> str:
        """The lines up to the first that contains `marker` (the prompt: that is it)."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            if line == marker if marker == PROMPT else marker in line:
                return "".join(seen)
        raise AssertionError(f"no {marker!r} from the console:\n{''.join(seen)[-3000:]}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(":quit\n")
            self.process.stdin.flush()
            self.process.wait(timeout=60)

    def _read(self) -> None:
        buffer = ""
        while chunk := self.process.stdout.read(1):
            buffer += chunk
            if chunk == "\n" or buffer == PROMPT:
                self.lines.put(buffer)
                buffer = ""


def test_two_bot_processes_share_one_milvus(tmp_path: Path) -> None:
    """A reindexes after a document is added; B, started before, serves it without restart."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    with MilvusLiteServer(tmp_path / "milvus" / "shared.db") as server:
        a, b = tmp_path / "a", tmp_path / "b"
        env = {
            **os.environ,
            "PYTHONPATH": path,
            "VECTOR_STORE": "milvus",
            "MILVUS_URI": server.uri,
            "RERANK_MODEL": "off",
        }
        env_a = {**env, "INDEX_DIR": str(a / "index"), "DOCUMENTS_DIR": str(a / "documents")}
        env_b = {
            **env,
            "INDEX_DIR": str(b / "index"),
            "DOCUMENTS_DIR": str(b / "documents"),
            "INDEX_POLL_SECONDS": "0.5",
        }
        for folder in (a, b):
            folder.mkdir()
        built = forkserver.run(["bot", "index"], cwd=a, env=env_a, timeout=300)
        assert built.returncode == 0, built.stderr[-2000:]
        console = Console(b, env_b)
        try:
            assert "1907" not in console.ask(LIGHTHOUSE_QUESTION)
            (a / "documents" / "leuchtturm.txt").write_text(LIGHTHOUSE, "utf-8")
            rebuilt = forkserver.run(["bot", "index"], cwd=a, env=env_a, timeout=300)
            assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
            version = next(
                line.split(": ")[1] for line in rebuilt.stdout.splitlines() if line[:6] == "index:"
            )
            served = console.wait_for(f"serving index {version}", timeout=60)
            assert "made current by another process" in served
            assert "1907" in console.ask(LIGHTHOUSE_QUESTION)
            assert not (b / "documents" / "leuchtturm.txt").exists()  # B never had it
        finally:
            console.close()
