"""BM25 over the sentences, with German/English normalization.

Tokens are lower-cased and stripped of diacritics, and the umlaut spellings ae/oe/ue are
read as a/o/u (so "pjoengjang", "Pjongjang" and "Pjöngjang" meet); stop words of both
languages are dropped, and the rest is stemmed with the Snowball stemmer of the corpus
language (PyStemmer). Scoring is bm25s.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

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
    pairs = ((w, fold(w)) for w in _WORD.findall(text.lower()))
    return [(w, f) for w, f in pairs if f not in STOPWORDS]


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(_STEMMERS.get(language, "english"))


def terms(text: str, language: str = "de") -> list[str]:
    """The BM25 terms of `text`: folded, stop words removed, stemmed."""
    return _stemmer(language).stemWords(words(text))


class LexicalIndex:
    """BM25 scores of a question against every sentence."""

    def __init__(
        self, texts: list[str], *, language: str = "de", k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.language = language
        self._size = len(texts)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        corpus = [terms(t, language) or ["\u2205"] for t in texts]  # bm25s needs a token per row
        self._words = {f: w for t in texts for w, f in tokens(t) if len(f) > 2 and not f.isdigit()}
        self._vocab: dict[str, int] = {}
        if corpus:
            self._bm25.index(corpus, show_progress=False)
            self._vocab = self._bm25.vocab_dict

    def vocabulary(self) -> tuple[list[str], list[str], list[str]]:
        """The words of the indexed sentences: as written, folded, and as BM25 terms."""
        folded = sorted(self._words)
        written = [self._words[f] for f in folded]
        return written, folded, _stemmer(self.language).stemWords(folded)

    def weighted_scores(self, term_weights: dict[str, float]) -> np.ndarray:
        """Sum over terms of weight x BM25 score of that term alone."""
        total = np.zeros(self._size, dtype=np.float32)
        for term, weight in term_weights.items():
            if term in self._vocab:
                total += weight * np.asarray(self._bm25.get_scores([term]), dtype=np.float32)
        return total

    def known_terms(self, question: str) -> int:
        """How many terms `question` has when the document contains all of them, else 0."""
        query = self.query_terms(question)
        return len(query) if all(t in self._vocab for t in query) else 0

    def query_terms(self, question: str) -> list[str]:
        """The terms of `question` in this index's language."""
        return terms(question, self.language)

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of each sentence (0 where no term matches)."""
        query = terms(question, self.language)
        if not self._size or not query:
            return np.zeros(self._size, dtype=np.float32)
        known = [t for t in query if t in self._vocab]
        if not known:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
