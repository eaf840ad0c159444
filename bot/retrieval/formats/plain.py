"""Plain text and Markdown: UTF-8 files, Markdown reduced to its text."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from bot.errors import DocumentError
from bot.retrieval.formats import Extracted


def extract_plain(name: str, data: bytes, *, markdown: bool = False) -> Extracted:
    """The text of a UTF-8 `.txt` file, or of a `.md` file without its markup.

    Raises:
        DocumentError: the content is binary or not UTF-8.
    """
    if b"\x00" in data:
        raise DocumentError(f"{name} is a binary file, not text", "binary", name=name)
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{name} is not UTF-8 text (byte {exc.start})", "not_utf8", name=name, byte=exc.start
        ) from exc
    if not markdown:
        return Extracted("txt", (raw,))
    heading = re.search(r"^#\s+(.+)$", raw, re.MULTILINE)
    title = heading.group(1).strip() if heading else None
    return Extracted("md", (markdown_to_text(raw),), title=title)


def markdown_to_text(source: str) -> str:
    """Plain text of Markdown: one paragraph per block, markup and code fences dropped."""
    blocks: list[str] = []
    for token in MarkdownIt("commonmark").parse(source):
        if token.type == "inline" and token.children is not None:
            blocks.append("".join(_inline_text(child) for child in token.children))
    return "\n\n".join(block.strip() for block in blocks if block.strip())


def _inline_text(token) -> str:
    if token.type in ("text", "code_inline"):
        return token.content
    if token.type in ("softbreak", "hardbreak"):
        return " "
    return ""
