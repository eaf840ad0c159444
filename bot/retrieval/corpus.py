"""Documents split into numbered paragraphs and sentences: what the index points into."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from bot.retrieval.documents import Document
from bot.retrieval.splitting import RULES, split_document


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
    """All indexed documents and their sentences, in a stable order (row i = sentence id i)."""

    def __init__(
        self, documents: list[Document], sentences: list[Sentence], *, rules: int = RULES
    ) -> None:
        """`rules`: the splitting rules the sentences were found with (splitting.RULES)."""
        self.documents = documents
        self.sentences = sentences
        self.rules = rules
        self._by_doc = {d.doc_id: d for d in documents}
        self._paragraphs: dict[tuple[str, int | None, int], list[Sentence]] = defaultdict(list)
        self._counts: dict[str, int] = defaultdict(int)
        self._firsts: dict[str, int] = {}
        for row, sentence in enumerate(sentences):
            key = (sentence.doc_id, sentence.page, sentence.paragraph)
            self._paragraphs[key].append(sentence)
            self._counts[sentence.doc_id] += 1
            self._firsts.setdefault(sentence.doc_id, row)

    @classmethod
    def from_documents(
        cls, documents: Iterable[Document], *, previous: Corpus | None = None
    ) -> Corpus:
        """Split each document into paragraphs and sentences and number them.

        A document that `previous` holds unchanged (same text, language and pages) keeps its
        sentences from there, renumbered: a reindex splits only what changed.
        """
        docs, sentences = list(documents), []
        if previous is not None and previous.rules != RULES:
            previous = None  # split under other rules: nothing of it is reused
        for doc in docs:
            kept = previous._unchanged(doc) if previous is not None else None
            if kept is not None:
                first = len(sentences)
                sentences += [replace(s, id=first + n) for n, s in enumerate(kept)]
                continue
            split = split_document(doc.text, language=doc.language, page_starts=doc.page_starts)
            for para in split:
                for number, span in enumerate(para.sentences, start=1):
                    sentences.append(
                        Sentence(
                            len(sentences),
                            doc.doc_id,
                            para.number,
                            number,
                            span.start,
                            span.end,
                            span.text,
                            para.page,
                        )
                    )
        return cls(docs, sentences)

    def _unchanged(self, doc: Document) -> list[Sentence] | None:
        """The sentences of `doc` if this corpus split the very same document, else None."""
        mine = self._by_doc.get(doc.doc_id)
        same = mine is not None and (mine.text, mine.language, mine.page_starts) == (
            doc.text, doc.language, doc.page_starts
        )  # fmt: skip
        if not same:
            return None
        first = self._firsts.get(doc.doc_id, 0)  # a document's sentences are consecutive
        return self.sentences[first : first + self._counts.get(doc.doc_id, 0)]

    def document(self, doc_id: str) -> Document:
        return self._by_doc[doc_id]

    def paragraph(self, doc_id: str, number: int, page: int | None = None) -> list[Sentence]:
        """The sentences of one paragraph (of `page`, in a paginated document), in order."""
        return self._paragraphs.get((doc_id, page, number), [])

    def neighbours(self, sentence: Sentence, width: int = 1) -> list[Sentence]:
        """`sentence` with up to `width` sentences before and after it in its paragraph."""
        para = self.paragraph(sentence.doc_id, sentence.paragraph, sentence.page)
        i = sentence.number - 1
        return para[max(0, i - width) : i + width + 1]

    def counts(self) -> dict[str, int]:
        return {
            "documents": len(self.documents),
            "paragraphs": len(self._paragraphs),
            "sentences": len(self.sentences),
        }

    def sentences_of(self, doc_id: str) -> int:
        return self._counts.get(doc_id, 0)

    def main_language(self) -> str:
        """The language most sentences are in (German for an empty corpus)."""
        counts: dict[str, int] = defaultdict(int)
        for doc in self.documents:
            counts[doc.language] += self._counts.get(doc.doc_id, 0)
        return max(counts, key=counts.get) if counts else "de"

    def to_json(self) -> dict:
        return {
            "rules": self.rules,
            "documents": [asdict(d) for d in self.documents],
            "sentences": [
                [s.doc_id, s.paragraph, s.number, s.start, s.end, s.page] for s in self.sentences
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Corpus:
        """The corpus `to_json` wrote; rows without a page (format 1) are unpaginated."""
        format_2 = any("page_starts" not in d for d in data["documents"])
        firsts = _page_firsts(data["sentences"]) if format_2 else {}
        documents = [_document(d, firsts) for d in data["documents"]]
        texts = {d.doc_id: d.text for d in documents}
        sentences = []
        for i, (doc_id, para, num, start, end, *page) in enumerate(data["sentences"]):
            text = " ".join(texts[doc_id][start:end].split())
            sentences.append(Sentence(i, doc_id, para, num, start, end, text, *page[:1]))
        return cls(documents, sentences, rules=data.get("rules", 0))


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
