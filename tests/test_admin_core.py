"""Admin operations on the real model and index: reindex, rollback, uploads, crash safety."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import forkserver
import pytest
from samples import pdf_file

from bot.app.admin import Admin, ReindexRunning
from bot.app.services import Services, open_services
from bot.errors import DocumentError
from bot.retrieval.indexing import Indexer

SEED_ID = "nordkorea-soldaten-ukraine"
NEW_DOC = (
    "Die Stadt Freiburg eröffnete 2023 eine neue Straßenbahnlinie.\n"
    "Die Linie verbindet den Hauptbahnhof mit dem Stadtteil Vauban.\n"
)


def _count_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_upload_then_reindex_answers_from_the_new_document(services: Services) -> None:
    admin = Admin(services)
    admin.save_document("strassenbahn.txt", NEW_DOC.encode())
    stages: list[str] = []
    report = admin.reindex(progress=lambda stage, done, total: stages.append(stage))
    assert report.documents_added == ("strassenbahn",)
    assert report.sentences_added == 2 and report.sentences_embedded == 2
    assert report.sentences_unchanged == 11
    assert {"split", "embed", "write"} <= set(stages)
    question = "Welche Stadt eröffnete eine Straßenbahnlinie?"
    answer = services.searcher.answer(question, language="de")
    assert not answer.abstained
    assert "Freiburg" in answer.quotes[0].text


def test_second_reindex_while_one_runs_is_refused(services: Services) -> None:
    admin = Admin(services)
    gate, release = threading.Event(), threading.Event()

    def slow_progress(stage: str, done: int, total: int) -> None:
        gate.set()
        release.wait(10)

    worker = threading.Thread(target=admin.reindex, kwargs={"progress": slow_progress})
    worker.start()
    assert gate.wait(10)
    with pytest.raises(ReindexRunning):
        admin.reindex()
    release.set()
    worker.join(30)
    assert admin.last is not None and admin.last.report is not None


def test_failed_reindex_keeps_the_old_index_serving(services: Services, monkeypatch) -> None:
    admin = Admin(services)
    before = services.searcher.version.manifest.version
    admin.save_document("strassenbahn.txt", NEW_DOC.encode())

    def broken_write(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(services.indexer.store, "write", broken_write)
    with pytest.raises(OSError):
        admin.reindex()
    assert services.searcher.version.manifest.version == before
    assert services.indexer.store.current_id() == before
    assert "No space left" in (admin.last.error or "")
    assert not services.searcher.answer("Wer besuchte im Juni Pjöngjang?", language="de").abstained


def test_removing_the_last_document_leaves_an_empty_index_that_abstains(
    services: Services,
) -> None:
    admin = Admin(services)
    assert admin.remove_document(SEED_ID)
    report = admin.reindex()
    assert report.documents == 0 and report.documents_removed == (SEED_ID,)
    store = services.indexer.store
    assert store.current_id() == report.version == services.searcher.version.manifest.version
    assert store.load().manifest.dimension == 512
    answer = services.searcher.answer("Wer besuchte im Juni Pjöngjang?", language="de")
    assert answer.abstained and answer.quotes == ()
    assert _count_files(services.settings.documents_dir) == []


def test_failed_reindex_puts_a_removed_document_back(services: Services, monkeypatch) -> None:
    admin = Admin(services)
    folder = services.settings.documents_dir
    before_files = _count_files(folder)
    before = services.searcher.version.manifest.version

    def broken_write(*args, **kwargs):
        raise OSError(28, "No space left on device")

    assert admin.remove_document(SEED_ID)
    assert not admin.exists(f"{SEED_ID}.txt")
    monkeypatch.setattr(services.indexer.store, "write", broken_write)
    with pytest.raises(OSError):
        admin.reindex()
    assert _count_files(folder) == before_files
    assert services.indexer.store.current_id() == before
    assert services.searcher.corpus.counts()["documents"] == 1


def test_version_that_cannot_serve_is_not_made_current(services: Services, monkeypatch) -> None:
    admin = Admin(services)
    before = services.searcher.version.manifest.version
    admin.save_document("strassenbahn.txt", NEW_DOC.encode())

    def broken_swap(version) -> None:
        raise RuntimeError("cannot prepare the new version")

    monkeypatch.setattr(services.searcher, "swap", broken_swap)
    with pytest.raises(RuntimeError):
        admin.reindex()
    assert services.indexer.store.current_id() == before
    assert services.searcher.version.manifest.version == before


def test_failed_activation_keeps_the_old_index_serving(services: Services, monkeypatch) -> None:
    admin = Admin(services)
    before = services.searcher.version.manifest.version
    admin.save_document("strassenbahn.txt", NEW_DOC.encode())

    def broken_activate(version: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(services.indexer.store, "activate", broken_activate)
    with pytest.raises(OSError):
        admin.reindex()
    assert services.searcher.version.manifest.version == before
    assert services.indexer.store.current_id() == before


def test_rollback_serves_the_previous_version(services: Services) -> None:
    admin = Admin(services)
    first = services.searcher.version.manifest.version
    admin.save_document("strassenbahn.txt", NEW_DOC.encode())
    second = admin.reindex().version
    assert admin.rollback() == first
    assert services.searcher.version.manifest.version == first
    assert services.searcher.corpus.counts()["documents"] == 1
    assert services.indexer.store.previous_id() == second


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("binary.txt", bytes(range(256)) * 4, "binary"),
        ("empty.txt", b"", "no text"),
        ("huge.txt", b"a" * (50 * 1024 * 1024), "limit"),
        ("../../etc/passwd.txt", b"root:x:0:0", "not a safe file name"),
        ("latin1.txt", "Grüße aus Köln".encode("latin-1"), "not UTF-8"),
        ("slides.pdf", b"%PDF-1.4", "not a readable PDF"),
        ("slides.pptx", b"PK\x03\x04", "suffix"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(
    services: Services, name, data, reason
) -> None:
    admin = Admin(services)
    folder = services.settings.documents_dir
    before = _count_files(folder)
    with pytest.raises(DocumentError, match=reason):
        admin.save_document(name, data)
    assert _count_files(folder) == before


def test_metadata_is_merged_and_another_suffix_replaced(services: Services) -> None:
    admin, folder = Admin(services), services.settings.documents_dir
    (folder / "strassenbahn.meta.json").write_text('{"title": "Die Linie"}', "utf-8")
    admin.save_document("strassenbahn.txt", NEW_DOC.encode(), meta={"url": "https://x.org/a"})
    meta = json.loads((folder / "strassenbahn.meta.json").read_text("utf-8"))
    assert meta == {"title": "Die Linie", "url": "https://x.org/a"}
    admin.save_document("strassenbahn.pdf", pdf_file([["Die Linie fährt nach Vauban."]]))
    assert sorted(p.name for p in folder.glob("strassenbahn*")) == [
        "strassenbahn.meta.json",
        "strassenbahn.pdf",
    ]
    assert not list(folder.glob(".*.upload"))


@pytest.mark.slow
def test_kill_during_reindex_leaves_the_previous_index_serving(tmp_path: Path, model) -> None:
    """SIGKILL in the middle of a large build; the next start serves the old version."""
    services = open_services(_settings(tmp_path), model=model)
    old = services.indexer.store.current_id()
    big = "\n".join(  # about 2 s of embedding: SIGKILL comes after the first batches
        f"Satz Nummer {i} handelt von Thema {i % 97} und Ort {i * 7}." for i in range(1000)
    )
    (tmp_path / "documents" / "gross.txt").write_text(big, "utf-8")
    env = {
        **os.environ,
        "INDEX_DIR": str(tmp_path / "index"),
        "DOCUMENTS_DIR": str(tmp_path / "documents"),
    }
    proc = forkserver.popen(["bot", "index"], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 120
    cache = tmp_path / "index" / "embeddings.sqlite3"
    start_size = cache.stat().st_size
    while time.monotonic() < deadline and cache.stat().st_size <= start_size + 100_000:
        time.sleep(0.2)  # wait until the build is well into embedding
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    store = Indexer(
        documents_dir=tmp_path / "documents",
        index_dir=tmp_path / "index",
        model=model,
        model_name="usem3",
    ).store
    assert store.current_id() == old
    version = store.load()  # the previous version loads and verifies
    assert version.corpus.counts()["sentences"] == 11
    store.prepare()
    assert not list((tmp_path / "index").glob("tmp-*"))


def _settings(root: Path):
    from bot.settings import Settings

    return Settings(index_dir=root / "index", documents_dir=root / "documents", _env_file=None)
