"""HTML pages: the main text only (trafilatura), never navigation, header, footer, scripts,
styles or cookie banners.

trafilatura runs with `favor_precision` and without its fallback extractors: on a page
without an article those fall back to whatever text there is (a menu, a cookie notice),
and quoting that would be worse than refusing the page.
"""

from __future__ import annotations

import json

from bot.errors import DocumentError
from bot.retrieval.formats import Extracted


def extract_html(name: str, data: bytes) -> Extracted:
    """The main text of an HTML page, one paragraph per block (heading, paragraph, list item).

    Raises:
        DocumentError: the page has no main text.
    """
    import trafilatura  # lxml, justext, htmldate …: imported when a page is read

    found = trafilatura.extract(
        data,
        output_format="json",
        with_metadata=True,
        favor_precision=True,
        fast=True,
        include_comments=False,
        include_images=False,
        include_links=False,
    )
    page = json.loads(found) if found else {}
    text = page.get("text") or ""
    if not any(ch.isalpha() for ch in text):
        raise DocumentError(
            f"{name} has no main text (only navigation, notices or nothing at all)",
            "no_main_text", name=name,
        )  # fmt: skip
    # trafilatura puts one block per line; a blank line between blocks makes them paragraphs.
    blocks = [" ".join(line.split()) for line in text.splitlines()]
    title = " ".join((page.get("title") or "").split())
    return Extracted("html", ("\n\n".join(b for b in blocks if b),), title=title or None)
