"""Which part of a quote answers a "when?" or "how many?" question, so it can be shown in bold.

Two kinds of answer are recognised, in German and English:
- a date ("am 3. Oktober", "im Juni", "1991", "8 October 2024") for wann / when questions,
- a count ("sechs", "Tausende", "12.000") for wie viele / how many questions.
The part is marked only when the quote holds exactly one expression of the kind asked
for; with none or several (which one would it be?) the quote is shown as it is. Other
questions (who, why, what) get no mark: their answer is rarely one phrase that a pattern
could find reliably.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

# Question cues; questions arrive with or without umlauts and in any case.
_WHEN = re.compile(
    r"\b(?:wann|when|what date|which date|an welchem tag|in welchem (?:monat|jahr)"
    r"|welche[mns]? (?:tag|datum|monat|jahr)|(?:in )?(?:what|which) (?:day|month|year))\b",
    re.IGNORECASE,
)
_HOW_MANY = re.compile(
    r"\b(?:wie ?viele?|how many|how much|what number|welche anzahl)\b", re.IGNORECASE
)

# Month and weekday names are capitalised in both languages ("may" the verb is not a month).
_MONTHS = (
    "Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|"
    "Dezember|January|February|March|May|June|July|October|December"
)
_WEEKDAYS = (
    "Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag|"
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
)
_DATE = re.compile(
    rf"(?:\b(?:{_WEEKDAYS}),?\s+(?:den\s+)?)?"
    rf"(?:\b\d{{1,2}}\.?\s*)?\b(?:{_MONTHS})\b(?:\s+\d{{1,2}}(?:st|nd|rd|th)?\b,?)?(?:\s+\d{{4}}\b)?"
    r"|\b(?:1[5-9]|20)\d{2}\b"
)
_COUNT_WORDS = (
    "zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|zwanzig|dreißig|vierzig|"
    "fünfzig|hundert|hunderte|tausend|tausende|zehntausende|hunderttausende|dutzend|dutzende|"
    "millionen?|milliarden?|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    "twenty|thirty|forty|fifty|hundreds?|thousands?|dozens?|millions?|billions?"
)
_COUNT = re.compile(
    rf"\b(?:{_COUNT_WORDS})\b|(?<![\w.,])\d+(?:[.,]\d+)*(?:\s*(?:%|Prozent|percent))?",
    re.IGNORECASE,
)


def answer_span(question: str, text: str) -> Span | None:
    """The (start, end) of the one date or count in `text` that `question` asks for, if any."""
    when, how_many = _WHEN.search(question), _HOW_MANY.search(question)
    if not (when or how_many):
        return None
    dates = [m.span() for m in _DATE.finditer(text)]
    if when:
        return dates[0] if len(dates) == 1 else None
    # A date's day and year are part of the date, not counts.
    counts = [m.span() for m in _COUNT.finditer(text) if not _inside(m.span(), dates)]
    return counts[0] if len(counts) == 1 else None


def _inside(span: Span, others: list[Span]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in others)
