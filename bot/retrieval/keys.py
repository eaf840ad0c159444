"""What searching one index version needs besides its vectors, built once and kept on disk.

Per version: the BM25 index (bot/retrieval/lexical.py), the embedded vocabulary of the term bridge
(bot/retrieval/bridging.py), the embedded clauses of long sentences, and per sentence the sentences
of its window (its paragraph neighbours) and its document's language. `open_keys` loads
them from `<keys dir>/<version id>/`, with the arrays memory-mapped, or builds them once
and saves them there: right after an index build, or for a version another process made
(a shared Milvus). Without a keys dir they are built in memory.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from bot.retrieval.bridging import TermBridge, word_index
from bot.retrieval.corpus import Corpus
from bot.retrieval.lexical import LexicalIndex
from bot.retrieval.splitting import clauses

logger = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]
_ARRAYS = ("clause_vectors", "clause_ranges", "windows", "languages")


@dataclass(frozen=True, slots=True)
class SearchKeys:
    """The derived data of one version; row i of every per-sentence array is sentence i."""

    lexical: LexicalIndex
    bridge: TermBridge
    clause_vectors: np.ndarray  # one row per clause, grouped by sentence
    clause_ranges: np.ndarray  # per sentence: [start, end) of its rows in clause_vectors
    windows: np.ndarray  # per sentence: [first, end) ids of the sentences of its window
    languages: np.ndarray  # per sentence: its document's language


def open_keys(
    root: Path | None, version_id: str, corpus: Corpus, embed: Embed, dimension: int
) -> SearchKeys:
    """The keys of version `version_id`: loaded from `root` if saved there, else built
    (and saved there, when `root` is given)."""
    if root is not None and (root / version_id).is_dir():
        try:
            return load_keys(root / version_id)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            logger.warning("search keys of %s unreadable, building them again: %s", version_id, exc)
            shutil.rmtree(root / version_id, ignore_errors=True)
    keys = build_keys(corpus, embed, dimension)
    if root is not None:
        save_keys(keys, root, version_id)
    return keys


def build_keys(corpus: Corpus, embed: Embed, dimension: int) -> SearchKeys:
    """Index the sentences for BM25 and embed their vocabulary and clauses."""
    texts = [s.text for s in corpus.sentences]
    lexical = LexicalIndex(texts, language=corpus.main_language())
    written, folded, terms = lexical.vocabulary()
    pieces = [(s.id, c) for s in corpus.sentences for c in clauses(s.text)]
    keys = (
        embed(written + [c for _, c in pieces])
        if written or pieces
        else np.zeros((0, dimension), dtype=np.float32)
    )
    counts = np.bincount([sid for sid, _ in pieces], minlength=len(texts))
    ends = np.cumsum(counts)
    return SearchKeys(
        lexical=lexical,
        bridge=TermBridge(folded, terms, word_index(keys[: len(written)].reshape(-1, dimension))),
        clause_vectors=keys[len(written) :].reshape(len(pieces), dimension),
        clause_ranges=np.stack([ends - counts, ends], axis=1).astype(np.int64),
        windows=_windows(corpus),
        languages=corpus.languages(),
    )


def save_keys(keys: SearchKeys, root: Path, version_id: str) -> None:
    """Write `keys` to `root/version_id` atomically (a half-written folder is never read)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"tmp-{version_id}-", dir=root))
    try:
        keys.lexical.save(tmp)
        faiss.write_index(keys.bridge.index, str(tmp / "words.faiss"))
        (tmp / "bridge.json").write_text(
            json.dumps(keys.bridge.to_json(), ensure_ascii=False), "utf-8"
        )
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", getattr(keys, name))
        os.rename(tmp, root / version_id)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (root / version_id).is_dir():  # else another process saved the same keys
            raise


def load_keys(folder: Path) -> SearchKeys:
    """The keys `save_keys` wrote, their arrays memory-mapped."""
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    lexical = LexicalIndex.load(folder)
    words = faiss.read_index(str(folder / "words.faiss"))
    try:
        bridge = TermBridge.from_json(
            json.loads((folder / "bridge.json").read_text("utf-8")), words
        )
    except FileNotFoundError:  # saved before bridge.json was: the vocabulary is sorted again
        _, folded, terms = lexical.vocabulary()
        bridge = TermBridge(folded, terms, words)
    return SearchKeys(
        lexical=lexical,
        bridge=bridge,
        clause_vectors=arrays["clause_vectors"],
        clause_ranges=arrays["clause_ranges"],
        windows=arrays["windows"],
        languages=np.asarray(arrays["languages"]),
    )


def prune_keys(root: Path, keep: set[str]) -> None:
    """Remove the saved keys of versions not in `keep` and unfinished folders."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir() and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def _windows(corpus: Corpus, width: int = 1) -> np.ndarray:
    """Per sentence, [first, end) of itself and up to `width` paragraph neighbours each side."""
    paragraphs = corpus.paragraph_spans()
    ids = np.arange(len(paragraphs), dtype=np.int64)
    return np.stack(
        [np.maximum(paragraphs[:, 0], ids - width), np.minimum(paragraphs[:, 1], ids + width + 1)],
        axis=1,
    )
