"""Search keys are built once per version, saved beside the index and loaded, not rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.retrieval.documents import ensure_documents_dir
from bot.retrieval.indexing import Indexer
from bot.retrieval.keys import build_keys, load_keys, open_keys
from bot.retrieval.search import Searcher
from bot.retrieval.store import IndexStore
from bot.settings import DEFAULT_MODEL

QUESTIONS = (
    "Wer besuchte im Juni Pjöngjang?",
    "How many North Korean soldiers were killed?",
    "Was ist die Hauptstadt von Frankreich?",
)


def _indexer(root: Path, model) -> Indexer:
    return Indexer(
        documents_dir=root / "documents",
        index_dir=root / "index",
        model=model,
        model_name=DEFAULT_MODEL,
    )


def test_a_build_saves_the_keys_of_its_version(tmp_path: Path, model) -> None:
    indexer = _indexer(tmp_path, model)
    report = indexer.build()
    assert [p.name for p in indexer.keys_dir.iterdir()] == [report.version]
    keys = load_keys(indexer.keys_dir / report.version)
    assert isinstance(keys.clause_vectors, np.memmap)  # read from disk as needed
    assert len(keys.windows) == len(keys.languages) == report.sentences


def test_loaded_keys_answer_as_built_ones(built_seed: Path, model, tmp_path: Path) -> None:
    version = IndexStore(built_seed / "index").load()
    in_memory = Searcher(model, version)
    from_disk = Searcher(model, version, keys_dir=tmp_path / "keys")  # builds, saves
    again = Searcher(model, version, keys_dir=tmp_path / "keys")  # loads
    assert (tmp_path / "keys" / version.manifest.version).is_dir()
    for question in QUESTIONS:
        expected = in_memory.search(question, language="de")
        for searcher in (from_disk, again):
            found = searcher.search(question, language="de")
            assert [h.sentence_id for h in found] == [h.sentence_id for h in expected]
            assert [h.score for h in found] == pytest.approx([h.score for h in expected])


def test_unreadable_keys_are_built_again(built_seed: Path, model, tmp_path: Path) -> None:
    version = IndexStore(built_seed / "index").load()
    root = tmp_path / "keys"
    vectors = version.vectors.shape[1]
    open_keys(root, version.manifest.version, version.corpus, model.encode, vectors)
    (root / version.manifest.version / "windows.npy").write_bytes(b"not an array")
    keys = open_keys(root, version.manifest.version, version.corpus, model.encode, vectors)
    assert len(keys.windows) == len(version.corpus.sentences)
    assert len(load_keys(root / version.manifest.version).windows) == len(keys.windows)


def test_the_saved_vocabulary_loads_as_it_was_built(
    built_seed: Path, model, tmp_path: Path
) -> None:
    """The term bridge's words, terms and spelling order are saved; keys saved before they
    were (no bridge.json) sort the vocabulary again and get the same bridge."""
    version = IndexStore(built_seed / "index").load()
    root, name = tmp_path / "keys", version.manifest.version
    built = open_keys(root, name, version.corpus, model.encode, version.vectors.shape[1])
    saved = load_keys(root / name)
    shuffled = built.bridge.to_json()
    shuffled["spelling_order"] = shuffled["spelling_order"][::-1]  # as other spelling keys gave
    (root / name / "bridge.json").write_text(json.dumps(shuffled), "utf-8")
    resorted = load_keys(root / name)
    (root / name / "bridge.json").unlink()
    sorted_again = load_keys(root / name)
    assert built.bridge.words and built.bridge.to_json()["spelling_order"] != sorted(
        range(len(built.bridge.words))
    )  # the spelling order is not the words' own
    for keys in (saved, resorted, sorted_again):
        assert keys.bridge.to_json() == built.bridge.to_json()


def test_windows_stay_inside_the_paragraph(built_seed: Path, model) -> None:
    corpus = IndexStore(built_seed / "index").load().corpus
    keys = build_keys(corpus, lambda texts: np.zeros((len(texts), 4), np.float32), 4)
    for sentence in corpus.sentences:
        first, end = keys.windows[sentence.id]
        inside = [s.id for s in corpus.neighbours(sentence)]
        assert list(range(first, end)) == inside


def test_open_reads_the_documents_only_when_a_file_changed(
    tmp_path: Path, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.retrieval.indexing

    _indexer(tmp_path, model).build()
    reads = []
    real = bot.retrieval.indexing.read_documents
    monkeypatch.setattr(
        bot.retrieval.indexing, "read_documents", lambda *a, **k: reads.append(1) or real(*a, **k)
    )
    first = _indexer(tmp_path, model).open()
    assert reads == []  # the files' bytes matched what the last read found
    (tmp_path / "documents" / "neu.txt").write_text("Ein neuer Satz über Kiel.", "utf-8")
    second = _indexer(tmp_path, model).open()
    assert reads == [1]
    assert len(second.corpus.sentences) == len(first.corpus.sentences) + 1


def test_a_document_read_again_keeps_the_language_found_for_it(
    tmp_path: Path, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.retrieval.indexing

    indexer = _indexer(tmp_path, model)
    ensure_documents_dir(tmp_path / "documents")  # the seed article
    (tmp_path / "documents" / "neu.txt").write_text("A new sentence about Kiel.", "utf-8")
    indexer.build()  # the seed's metadata names its language; neu.txt's is detected
    detected = []
    real = bot.retrieval.indexing.detect_language
    monkeypatch.setattr(
        bot.retrieval.indexing, "detect_language", lambda t: detected.append(t) or real(t)
    )
    (tmp_path / "documents" / "zwei.txt").write_text("Ein zweiter Satz über Kiel.", "utf-8")
    languages = {d.doc_id: d.language for d in indexer.documents()}
    assert detected == ["Ein zweiter Satz über Kiel."]
    assert languages == {"nordkorea-soldaten-ukraine": "de", "neu": "en", "zwei": "de"}


def test_reading_unchanged_documents_writes_nothing(tmp_path: Path, model) -> None:
    indexer = _indexer(tmp_path, model)
    indexer.build()
    record = tmp_path / "index" / "documents.json"
    before = record.stat().st_mtime_ns, record.stat().st_ino
    indexer.read()  # as /docs does
    assert (record.stat().st_mtime_ns, record.stat().st_ino) == before
    (tmp_path / "documents" / "neu.txt").write_text("Ein neuer Satz über Kiel.", "utf-8")
    indexer.read()
    assert record.stat().st_ino != before[1]  # replaced with what this read found
