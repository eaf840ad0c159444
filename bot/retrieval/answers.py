"""What a search returns: quotes with their place, and the answer that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.retrieval.corpus import Corpus, Sentence


@dataclass(frozen=True, slots=True)
class Hit:
    """A sentence and how well it matches the question (higher is better)."""

    sentence_id: int
    score: float


@dataclass(frozen=True, slots=True)
class Quote:
    """One or more adjacent sentences of one paragraph, quoted exactly.

    `sentence` is the 1-based number of the first quoted sentence in its paragraph and
    `last_sentence` of the last one (equal for a single sentence). `highlight` is the
    (start, end) of the part of `text` that answers the question, when one was found
    (bot/retrieval/highlight.py). `page` is the 1-based page of a paginated document (PDF), where
    `paragraph` counts within the page; None for the others.
    """

    text: str
    doc_id: str
    document: str
    language: str
    paragraph: int
    sentence: int
    last_sentence: int
    score: float
    sentence_ids: tuple[int, ...]
    highlight: tuple[int, int] | None = None
    page: int | None = None

    def to_json(self) -> dict:
        found = {"answer": self.text[slice(*self.highlight)]} if self.highlight else {}
        page = {"page": self.page} if self.page is not None else {}
        return {
            "text": self.text,
            "document": self.document,
            **page,
            "paragraph": self.paragraph,
            "sentence": self.sentence,
            "score": round(self.score, 4),
            **found,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """The quotes that answer `question`, best first; `abstained` when the document has no answer.

    `more` holds the next-best quotes, shown on request ("More"); `ranking` the best
    sentences found, also when the answer abstains (for evaluation and logs).
    """

    question: str
    language: str
    abstained: bool
    quotes: tuple[Quote, ...] = ()
    more: tuple[Quote, ...] = ()
    top_score: float = 0.0
    ranking: tuple[Hit, ...] = ()
    debug: dict = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "language": self.language,
            "abstained": self.abstained,
            "quotes": [q.to_json() for q in self.quotes],
        }


@dataclass(frozen=True, slots=True)
class Context:
    """A quote's whole paragraph; `cited` marks the sentences the quote holds."""

    document: str
    paragraph: int
    sentences: tuple[tuple[str, bool], ...]
    page: int | None = None


def quotes_from_hits(hits: list[Hit], corpus: Corpus) -> list[Quote]:
    """Turn ranked hits into quotes, merging hits on adjacent sentences of one paragraph.

    The merged quote takes the rank of its best hit and that hit's score.
    """
    sentences = corpus.sentences
    taken: set[int] = set()
    quotes: list[Quote] = []
    chosen = {h.sentence_id for h in hits}
    for hit in hits:
        if hit.sentence_id in taken:
            continue
        run = _adjacent_run(sentences[hit.sentence_id], chosen, corpus)
        taken.update(s.id for s in run)
        quotes.append(_quote(run, hit.score, corpus))
    return quotes


def _adjacent_run(seed: Sentence, chosen: set[int], corpus: Corpus) -> list[Sentence]:
    """The unbroken run of chosen sentences around `seed` in its paragraph."""
    para = corpus.paragraph(seed.doc_id, seed.paragraph, seed.page)
    lo = hi = seed.number - 1
    while lo > 0 and para[lo - 1].id in chosen:
        lo -= 1
    while hi + 1 < len(para) and para[hi + 1].id in chosen:
        hi += 1
    return para[lo : hi + 1]


def _quote(run: list[Sentence], score: float, corpus: Corpus) -> Quote:
    doc = corpus.document(run[0].doc_id)
    return Quote(
        text=" ".join(doc.text[run[0].start : run[-1].end].split()),
        doc_id=doc.doc_id,
        document=doc.title,
        language=doc.language,
        paragraph=run[0].paragraph,
        sentence=run[0].number,
        last_sentence=run[-1].number,
        score=score,
        sentence_ids=tuple(s.id for s in run),
        page=run[0].page,
    )


def context_of(quote: Quote, corpus: Corpus) -> Context:
    """The paragraph around `quote`, with its cited sentences marked."""
    para = corpus.paragraph(quote.doc_id, quote.paragraph, quote.page)
    cited = set(quote.sentence_ids)
    return Context(
        document=quote.document,
        paragraph=quote.paragraph,
        sentences=tuple((s.text, s.id in cited) for s in para),
        page=quote.page,
    )
