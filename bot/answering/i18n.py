"""German and English texts of the bot. `text(key, lang, **values)` picks and fills one.

The texts stand in one catalog per language, `bot/answering/texts/<lang>.toml`, with the
same keys and the same {placeholders} in each (tests/test_formatting.py checks that).
`upload_<reason>` words a DocumentError's reason (bot/retrieval/documents.py, bot/formats),
for uploads and for the files a reindex skips; `url_<reason>` a FetchError's
(bot/app/fetch.py).
"""

from __future__ import annotations

import tomllib
from importlib import resources

LANGUAGES = ("de", "en")


def _catalog(lang: str) -> dict[str, str]:
    return tomllib.loads(
        (resources.files("bot.answering") / "texts" / f"{lang}.toml").read_text("utf-8")
    )


CATALOGS: dict[str, dict[str, str]] = {lang: _catalog(lang) for lang in LANGUAGES}


def text(key: str, lang: str, **values: object) -> str:
    """The text `key` in `lang` ("de" or "en"; anything else gets English), filled with `values`."""
    template = CATALOGS.get(lang, CATALOGS["en"])[key]
    return template.format(**values) if values else template


def language_name(code: str, lang: str) -> str:
    """The name of language `code` in `lang` ("German", "Deutsch"), or the code itself."""
    key = f"language_{code}"
    return text(key, lang) if key in CATALOGS["en"] else code
