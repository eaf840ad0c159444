"""Load and validate documents (UTF-8 `.txt` and `.md`) and their metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from markdown_it import MarkdownIt

from bot.errors import DocumentError

logger = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
META_SUFFIX = ".meta.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Document:
    """A document as the index sees it: `text` is what sentences are quoted from."""

    doc_id: str
    title: str
    language: str
    date: str | None
    text: str
    checksum: str
    examples: dict[str, list[str]] = field(default_factory=dict)


def parse_document(name: str, data: bytes, *, max_bytes: int | None = None) -> Document:
    """Validate raw bytes of a `.txt`/`.md` file named `name` and return the document.

    Raises:
        DocumentError: the name is unsafe or has another suffix, or the content is too
            large, empty, binary or not UTF-8.
    """
    doc_id = document_id(name)
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentError(
            f"{name} is {len(data):,} bytes; the limit is {max_bytes:,} bytes",
            "too_large", size=len(data), limit=max_bytes,
        )  # fmt: skip
    if b"\x00" in data:
        raise DocumentError(f"{name} is a binary file, not text", "binary", name=name)
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{name} is not UTF-8 text (byte {exc.start})", "not_utf8", name=name, byte=exc.start
        ) from exc
    text = normalize_text(_markdown_to_text(raw) if name.lower().endswith(".md") else raw)
    if len(text) < 2 or not any(ch.isalpha() for ch in text):
        raise DocumentError(f"{name} contains no text", "no_text", name=name)
    if _control_ratio(text) > 0.01:
        raise DocumentError(
            f"{name} looks binary: it is full of control characters",
            "control_characters", name=name,
        )  # fmt: skip
    return Document(
        doc_id=doc_id,
        title=_title_from(name, raw),
        language="de",
        date=None,
        text=text,
        checksum=_checksum(text),
    )


def document_id(name: str) -> str:
    """The id of a document file name, after checking that the name is safe to store.

    Raises:
        DocumentError: path separators, a leading dot, odd characters or another suffix.
    """
    if not _SAFE_NAME.match(name) or ".." in name:
        raise DocumentError(
            f"{name!r} is not a safe file name: use letters, digits, '.', '-' and '_' only",
            "unsafe_name", name=name,
        )  # fmt: skip
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        accepted = ", ".join(SUFFIXES)
        raise DocumentError(
            f"{name!r} has suffix {suffix!r}; accepted: {accepted}",
            "suffix", name=name, suffix=suffix, accepted=accepted,
        )  # fmt: skip
    return Path(name).stem


def load_document(path: Path, *, language_of=None) -> Document:
    """Read one document file and its optional `<stem>.meta.json` sidecar."""
    doc = parse_document(path.name, path.read_bytes())
    meta_path = path.with_name(path.stem + META_SUFFIX)
    meta = json.loads(meta_path.read_text("utf-8")) if meta_path.exists() else {}
    language = meta.get("language") or (language_of(doc.text) if language_of else None) or "de"
    return Document(
        doc_id=doc.doc_id,
        title=meta.get("title") or doc.title,
        language=language,
        date=meta.get("date"),
        text=doc.text,
        # Metadata edits (a new title) must reach the index too.
        checksum=_checksum(doc.text + json.dumps(meta, sort_keys=True)) if meta else doc.checksum,
        examples=meta.get("examples") or {},
    )


def load_documents(directory: Path, *, language_of=None) -> list[Document]:
    """All documents in `directory`, sorted by id; unreadable ones are logged and skipped."""
    docs = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in SUFFIXES or path.name.endswith(META_SUFFIX):
            continue
        try:
            docs.append(load_document(path, language_of=language_of))
        except (DocumentError, OSError, json.JSONDecodeError) as exc:
            logger.warning("skipping document %s: %s", path.name, exc)
    return docs


def ensure_documents_dir(directory: Path) -> None:
    """Create `directory` with the shipped default document if it does not exist yet."""
    if directory.exists():
        return
    directory.mkdir(parents=True)
    seed = resources.files("bot") / "seed"
    for item in seed.iterdir():
        if item.is_file():
            with resources.as_file(item) as src:
                shutil.copyfile(src, directory / item.name)
    logger.info("created %s with the default document", directory)


def normalize_text(text: str) -> str:
    """Unify line ends, drop a BOM and trailing spaces, and trim blank edges."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _markdown_to_text(source: str) -> str:
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


def _title_from(name: str, raw: str) -> str:
    heading = re.search(r"^#\s+(.+)$", raw, re.MULTILINE) if name.lower().endswith(".md") else None
    if heading:
        return heading.group(1).strip()
    return Path(name).stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _control_ratio(text: str) -> float:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\t")
    return controls / len(text)
