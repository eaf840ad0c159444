"""Documents split into numbered paragraphs and sentences: what the index points into.

The sentences are held by column, one row of integers each (`Corpus.rows`): a corpus of a
million sentences loads as one array, and a `Sentence` is made when one is asked for.
"""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import overload

import numpy as np

from bot.retrieval.documents import Document
from bot.retrieval.splitting import RULES, split_document

# The columns of `Corpus.rows`; PAGE is 0 in an unpaginated document.
DOC, PARAGRAPH, NUMBER, START, END, PAGE = range(6)
_FILES = ("corpus.json", "sentences.npy")
_PAGE_STEP = 1 << 32  # a page's paragraphs number far below this
_BLOCK = 10_000  # rows turned into Sentences at a time when iterating


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence; `paragraph` and `number` are 1-based as shown to users.

    `start`/`end` are character offsets into the document's text. In a paginated document
    (PDF) `page` is the 1-based page and `paragraph` counts within that page; else None.
    """

    id: int
    doc_id: str
    paragraph: int
    number: int
    start: int
    end: int
    text: str
    page: int | None = None


class Corpus:
    """All indexed documents and their sentences, in a stable order (row i = sentence id i).

    A document's sentences are consecutive rows, and so are a paragraph's.
    """

    def __init__(self, documents: list[Document], rows: np.ndarray, *, rules: int = RULES) -> None:
        """`rows`: int64 (sentences, 6), the columns DOC (index into `documents`),
        PARAGRAPH, NUMBER, START, END, PAGE. `rules`: the splitting rules the sentences
        were found with (splitting.RULES)."""
        self.documents = documents
        self.rows = rows
        self.rules = rules
        self.sentences = Sentences(self)
        self._by_doc = {d.doc_id: d for d in documents}
        self._doc_number = {d.doc_id: i for i, d in enumerate(documents)}
        numbers = rows[:, DOC]
        self._counts = np.bincount(numbers, minlength=len(documents))
        self._firsts = np.zeros(len(documents), dtype=np.int64)
        present, firsts = np.unique(numbers, return_index=True)
        self._firsts[present] = firsts
        # Where a sentence stands within its document, ascending there: (page, paragraph).
        self._places = rows[:, PAGE] * _PAGE_STEP + rows[:, PARAGRAPH]

    @classmethod
    def from_sentences(
        cls, documents: list[Document], sentences: Iterable[Sentence], *, rules: int = RULES
    ) -> Corpus:
        """A corpus of these sentences, which are grouped by document and numbered as
        `from_documents` numbers them; their text is taken from their documents."""
        number = {d.doc_id: i for i, d in enumerate(documents)}
        rows = [
            (number[s.doc_id], s.paragraph, s.number, s.start, s.end, s.page or 0)
            for s in sentences
        ]
        return cls(documents, _array(rows), rules=rules)

    @classmethod
    def from_documents(
        cls, documents: Iterable[Document], *, previous: Corpus | None = None
    ) -> Corpus:
        """Split each document into paragraphs and sentences and number them.

        A document that `previous` holds unchanged (same text, language and pages) keeps its
        sentences from there, renumbered: a reindex splits only what changed.
        """
        docs, blocks = list(documents), []
        if previous is not None and previous.rules != RULES:
            previous = None  # split under other rules: nothing of it is reused
        for number, doc in enumerate(docs):
            kept = previous._unchanged(doc) if previous is not None else None
            if kept is not None:
                kept = kept.copy()
                kept[:, DOC] = number  # its place in this corpus
            else:
                split = split_document(doc.text, language=doc.language, page_starts=doc.page_starts)
                kept = _array(
                    (number, para.number, n, span.start, span.end, para.page or 0)
                    for para in split
                    for n, span in enumerate(para.sentences, start=1)
                )
            blocks.append(kept)
        return cls(docs, np.concatenate(blocks) if blocks else _array([]))

    def _unchanged(self, doc: Document) -> np.ndarray | None:
        """The rows of `doc` if this corpus split the very same document, else None."""
        mine = self._by_doc.get(doc.doc_id)
        same = mine is not None and (mine.text, mine.language, mine.page_starts) == (
            doc.text, doc.language, doc.page_starts
        )  # fmt: skip
        return self.rows[self._rows_of(doc.doc_id)] if same else None

    def _rows_of(self, doc_id: str) -> slice:
        number = self._doc_number[doc_id]
        first = int(self._firsts[number])
        return slice(first, first + int(self._counts[number]))

    def sentence(self, row: int) -> Sentence:
        row = operator.index(row)
        return self._sentence(row, self.rows[row].tolist())

    def _sentence(self, row: int, values: list[int]) -> Sentence:
        """Sentence `row` from its row's `values`, its text cut from its document."""
        doc, paragraph, number, start, end, page = values
        document = self.documents[doc]
        text = " ".join(document.text[start:end].split())
        return Sentence(row, document.doc_id, paragraph, number, start, end, text, page or None)

    def document(self, doc_id: str) -> Document:
        return self._by_doc[doc_id]

    def paragraph(self, doc_id: str, number: int, page: int | None = None) -> list[Sentence]:
        """The sentences of one paragraph (of `page`, in a paginated document), in order."""
        if doc_id not in self._doc_number:
            return []
        span = self._rows_of(doc_id)
        place = (page or 0) * _PAGE_STEP + number
        lo, hi = np.searchsorted(self._places[span], [place, place + 1])
        return [self.sentence(row) for row in range(span.start + int(lo), span.start + int(hi))]

    def neighbours(self, sentence: Sentence, width: int = 1) -> list[Sentence]:
        """`sentence` with up to `width` sentences before and after it in its paragraph."""
        para = self.paragraph(sentence.doc_id, sentence.paragraph, sentence.page)
        i = sentence.number - 1
        return para[max(0, i - width) : i + width + 1]

    def paragraph_spans(self) -> np.ndarray:
        """Per sentence, [first, end) of the rows of its paragraph: int64 (sentences, 2)."""
        starts = np.flatnonzero(self.rows[:, NUMBER] == 1)
        ends = np.append(starts[1:], len(self.rows))
        which = np.cumsum(self.rows[:, NUMBER] == 1) - 1
        return np.stack([starts[which], ends[which]], axis=1).astype(np.int64)

    def counts(self) -> dict[str, int]:
        return {
            "documents": len(self.documents),
            "paragraphs": int(np.count_nonzero(self.rows[:, NUMBER] == 1)),
            "sentences": len(self.rows),
        }

    def sentences_of(self, doc_id: str) -> int:
        number = self._doc_number.get(doc_id)
        return 0 if number is None else int(self._counts[number])

    def languages(self) -> np.ndarray:
        """Per sentence, its document's language."""
        by_number = np.array([d.language for d in self.documents], dtype="<U8")
        return by_number[self.rows[:, DOC]]

    def main_language(self) -> str:
        """The language most sentences are in (German for an empty corpus)."""
        counts: dict[str, int] = defaultdict(int)
        for doc, n in zip(self.documents, self._counts.tolist(), strict=True):
            counts[doc.language] += n
        return max(counts, key=counts.get) if counts else "de"

    def save(self, folder: Path) -> tuple[str, ...]:
        """Write the documents (corpus.json) and the sentence rows (sentences.npy) to
        `folder`; returns the names of the files written."""
        data = {"rules": self.rules, "documents": [asdict(d) for d in self.documents]}
        (folder / "corpus.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
        np.save(folder / "sentences.npy", self.rows)
        return _FILES

    @classmethod
    def load(cls, folder: Path) -> Corpus:
        """The corpus `save` wrote to `folder`, or one stored whole in corpus.json
        (`to_json`, as index format 3 and before kept it)."""
        data = json.loads((folder / "corpus.json").read_text("utf-8"))
        if "sentences" in data:
            return cls.from_json(data)
        documents = [_document(d, {}) for d in data["documents"]]
        rows = np.load(folder / "sentences.npy")
        _check(rows, documents)
        return cls(documents, rows, rules=data["rules"])

    def to_json(self) -> dict:
        return {
            "rules": self.rules,
            "documents": [asdict(d) for d in self.documents],
            "sentences": [
                [self.documents[doc].doc_id, para, num, start, end, page or None]
                for doc, para, num, start, end, page in self.rows.tolist()
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Corpus:
        """The corpus `to_json` wrote; rows without a page (format 1) are unpaginated."""
        format_2 = any("page_starts" not in d for d in data["documents"])
        firsts = _page_firsts(data["sentences"]) if format_2 else {}
        documents = [_document(d, firsts) for d in data["documents"]]
        number = {d.doc_id: i for i, d in enumerate(documents)}
        rows = _array(
            (number[doc_id], para, num, start, end, (page[0] if page else None) or 0)
            for doc_id, para, num, start, end, *page in data["sentences"]
        )
        _check(rows, documents)
        return cls(documents, rows, rules=data.get("rules", 0))


class Sentences(Sequence[Sentence]):
    """A corpus's sentences by id, each made from its row when it is asked for."""

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus

    def __len__(self) -> int:
        return len(self._corpus.rows)

    @overload
    def __getitem__(self, key: int) -> Sentence: ...
    @overload
    def __getitem__(self, key: slice) -> list[Sentence]: ...
    def __getitem__(self, key: int | slice) -> Sentence | list[Sentence]:
        if isinstance(key, slice):
            return [self._corpus.sentence(i) for i in range(*key.indices(len(self)))]
        key = operator.index(key)
        row = key + len(self) if key < 0 else key
        if not 0 <= row < len(self):
            raise IndexError(f"sentence {key} of {len(self)}")
        return self._corpus.sentence(row)

    def __iter__(self) -> Iterator[Sentence]:
        rows = self._corpus.rows
        for lo in range(0, len(rows), _BLOCK):  # a block's rows as Python ints at once
            for row, values in enumerate(rows[lo : lo + _BLOCK].tolist(), start=lo):
                yield self._corpus._sentence(row, values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list


def _check(rows: np.ndarray, documents: list[Document]) -> None:
    """Raise ValueError unless `rows` are as `from_documents` makes them: each document's
    rows consecutive, each paragraph's sentences numbered 1, 2, … in consecutive rows, and
    every sentence within its document's text."""
    if rows.ndim != 2 or rows.shape[1] != 6 or rows.dtype != np.int64:
        raise ValueError(f"sentence rows of shape {rows.shape} and type {rows.dtype}")
    if not len(rows):
        return
    doc, number = rows[:, DOC], rows[:, NUMBER]
    if doc.min() < 0 or doc.max() >= len(documents):
        raise ValueError(f"sentence rows name documents beyond the {len(documents)} stored")
    if np.count_nonzero(doc[1:] != doc[:-1]) != len(np.unique(doc)) - 1:
        raise ValueError("a document's sentence rows are not consecutive")
    where = rows[:, [DOC, PAGE, PARAGRAPH]]
    same = (where[1:] == where[:-1]).all(axis=1)
    follows = np.where(same, number[1:] == number[:-1] + 1, number[1:] == 1)
    if number[0] != 1 or not follows.all():
        raise ValueError("a paragraph's sentences are not numbered 1, 2, … in a row")
    lengths = np.array([len(d.text) for d in documents], dtype=np.int64)[doc]
    start, end = rows[:, START], rows[:, END]
    if not ((start >= 0) & (start <= end) & (end <= lengths)).all():
        raise ValueError("a sentence lies outside its document's text")


def _array(rows: Iterable[tuple[int, ...]]) -> np.ndarray:
    return np.array(list(rows), dtype=np.int64).reshape(-1, 6)


def _page_firsts(rows: list[list]) -> dict[tuple[str, int], int]:
    """Where the first sentence of each (document, page) starts, from stored sentence rows."""
    firsts: dict[tuple[str, int], int] = {}
    for doc_id, _, _, start, _, *page in rows:
        if page and page[0] is not None:
            firsts.setdefault((doc_id, page[0]), start)
    return firsts


def _document(data: dict, firsts: dict[tuple[str, int], int]) -> Document:
    """A stored document. Format 2 stored a page count instead of where each page starts:
    the starts are then taken from the first sentence of each page (`_page_firsts`)."""
    data = dict(data)
    pages = data.pop("pages", 0)
    starts = data.pop("page_starts", None)
    if starts is None and pages:
        starts, at = [], 0
        for page in range(1, pages + 1):
            at = firsts.get((data["doc_id"], page), at)
            starts.append(at)
    return Document(**data, page_starts=tuple(starts or ()))
