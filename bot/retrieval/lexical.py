"""BM25 over the sentences, with German/English normalization.

Tokens are lower-cased and stripped of diacritics, and the umlaut spellings ae/oe/ue are
read as a/o/u (so "pjoengjang", "Pjongjang" and "Pjöngjang" meet); stop words of both
languages are dropped, and the rest is stemmed with the Snowball stemmer of the corpus
language (PyStemmer). Scoring is bm25s.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s import stopwords

# bm25s sets its own logger to DEBUG when imported, which would print a line per index build.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_WORD = re.compile(r"\w+", re.UNICODE)
_UMLAUT_SPELLING = re.compile(r"([aou])e")
_STEMMERS = {"de": "german", "en": "english"}
_STOPWORDS = (
    frozenset(stopwords.STOPWORDS_EN)
    | frozenset(stopwords.STOPWORDS_GERMAN)
    | {
        "wer",
        "wie",
        "was",
        "wann",
        "wo",
        "warum",
        "wieso",
        "welche",
        "welcher",
        "welches",
        "wofur",
        "wodurch",
        "woher",
        "wohin",
        "wozu",
        "who",
        "what",
        "when",
        "where",
        "why",
        "which",
        "how",
        "does",
        "did",
        "do",
        "gibt",
        "hat",
        "haben",
        "ist",
        "sind",
        "wurde",
        "wurden",
    }
)


def fold(text: str) -> str:
    """Lower-case `text`, remove diacritics (ä→a, é→e), read ae/oe/ue as a/o/u; ß becomes ss.

    Both the document and the question go through this, so "koennte", "konnte" and
    "könnte" meet; an English word that loses an e ("does" → "dos") loses it on both sides.
    """
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("ß", "ss"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _UMLAUT_SPELLING.sub(r"\1", plain)


STOPWORDS = frozenset(fold(w) for w in _STOPWORDS)


def words(text: str) -> list[str]:
    """Folded word tokens of `text`, stop words removed."""
    return [folded for _, folded in tokens(text)]


def tokens(text: str) -> list[tuple[str, str]]:
    """(lower-case word as written, folded word) for each word of `text` but stop words.

    The written form is what the embedding model should see ("könnte", not "konnte").
    """
    pairs = ((w, _folded_word(w)) for w in _WORD.findall(text.lower()))
    return [(w, f) for w, f in pairs if f not in STOPWORDS]


@lru_cache(maxsize=1 << 18)
def _folded_word(word: str) -> str:
    """`fold` of one word, remembered: a corpus repeats its words (Zipf), and folding them
    one by one was most of the time an index build spent on BM25."""
    return fold(word)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEMMERS.get(language, "english"))


def terms(text: str, language: str = "de") -> list[str]:
    """The BM25 terms of `text`: folded, stop words removed, stemmed."""
    return _stemmer(language).stemWords(words(text))


class LexicalIndex:
    """BM25 scores of a question against every sentence; saved and memory-mapped as bm25s files."""

    def __init__(
        self, texts: list[str], *, language: str = "de", k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.language = language
        self._size = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        found = [tokens(t) for t in texts]
        stem = _stemmer(language).stemWords
        corpus = [stem([f for _, f in pairs]) or ["\u2205"] for pairs in found]  # a token a row
        self._words = {f: w for pairs in found for w, f in pairs if len(f) > 2 and not f.isdigit()}
        self._vocab: dict[str, int] = {}
        if corpus:
            self._bm25.index(corpus, show_progress=False)
            self._vocab = self._bm25.vocab_dict

    def save(self, folder: Path) -> None:
        """Write the index to `folder` (bm25s's arrays, its vocabulary and the written words)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._size:
            self._bm25.save(str(folder / "bm25"))
        meta = {"language": self.language, "size": self._size, "words": self._words}
        (folder / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """The index `save` wrote; its score arrays are memory-mapped, not read into memory."""
        meta = json.loads((folder / "lexical.json").read_text("utf-8"))
        index = cls([], language=meta["language"])
        index._size, index._words = meta["size"], meta["words"]
        if index._size:
            index._bm25 = bm25s.BM25.load(str(folder / "bm25"), mmap=True)
            index._vocab = index._bm25.vocab_dict
        return index

    def vocabulary(self) -> tuple[list[str], list[str], list[str]]:
        """The words of the indexed sentences: as written, folded, and as BM25 terms."""
        folded = sorted(self._words)
        written = [self._words[f] for f in folded]
        return written, folded, _stemmer(self.language).stemWords(folded)

    def matches(self, term_weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """The sentences holding any of the terms, and per sentence the sum over its terms of
        weight x BM25 score of that term alone: (sorted sentence ids, scores).

        Reads only the terms' postings, so the cost grows with how often they occur, not
        with the size of the corpus.
        """
        postings = self._bm25.scores if self._size else {}
        ids, scores = [], []
        for term, weight in term_weights.items():
            row = self._vocab.get(term)
            if row is None:
                continue
            lo, hi = int(postings["indptr"][row]), int(postings["indptr"][row + 1])
            ids.append(np.asarray(postings["indices"][lo:hi]))
            scores.append(weight * np.asarray(postings["data"][lo:hi], dtype=np.float64))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        found, where = np.unique(np.concatenate(ids), return_inverse=True)
        summed = np.bincount(where, weights=np.concatenate(scores))
        return found.astype(np.int64), summed.astype(np.float32)

    def known_terms(self, question: str) -> int:
        """How many terms `question` has when the document contains all of them, else 0."""
        query = self.query_terms(question)
        return len(query) if all(t in self._vocab for t in query) else 0

    def query_terms(self, question: str) -> list[str]:
        """The terms of `question` in this index's language."""
        return terms(question, self.language)

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of each sentence (0 where no term matches)."""
        total = np.zeros(self._size, dtype=np.float32)
        ids, scores = self.matches(dict.fromkeys(self.query_terms(question), 1.0))
        total[ids] = scores
        return total
