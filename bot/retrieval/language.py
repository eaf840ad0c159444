"""Which language a text is in: German or English (lingua, restricted to the two)."""

from __future__ import annotations

from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED = ("de", "en")
_CODES = {Language.GERMAN: "de", Language.ENGLISH: "en"}


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return (
        LanguageDetectorBuilder.from_languages(*_CODES).with_minimum_relative_distance(0.05).build()
    )


def detect_language(text: str, *, fallback: str | None = None) -> str:
    """ "de" or "en" for `text`; `fallback` (e.g. the Telegram client language) when unsure.

    Args:
        text: the question or document text.
        fallback: a language code such as "de-AT"; only its first part is used.

    Returns:
        "de" or "en": the detected language, else the fallback if supported, else "en".
    """
    found = _detector().detect_language_of(text) if any(ch.isalpha() for ch in text) else None
    if found is not None:
        return _CODES[found]
    short = (fallback or "").split("-")[0].lower()
    return short if short in SUPPORTED else "en"
