"""Load and validate documents (.txt, .md, .pdf, .docx, .html) and their metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from bot.errors import DocumentError
from bot.retrieval.formats import SUFFIXES, extract, format_of

logger = logging.getLogger(__name__)

META_SUFFIX = ".meta.json"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Document:
    """A document as the index sees it: `text` is what sentences are quoted from.

    `format` is how the file was read ("txt", "md", "pdf", "docx", "html"). For a
    paginated format, `page_starts` holds the offset in `text` where each page begins
    (page 1 first); it is empty for the others.
    """

    doc_id: str
    title: str
    language: str
    date: str | None
    text: str
    checksum: str
    examples: dict[str, list[str]] = field(default_factory=dict)
    format: str = "txt"
    page_starts: tuple[int, ...] = ()

    @property
    def pages(self) -> int:
        """How many pages the document has (0 for an unpaginated format)."""
        return len(self.page_starts)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file in the documents folder that is not indexed: its name and why.

    `reason` and `values` are those of the DocumentError (worded in the admin's language
    as the i18n text `upload_<reason>`); `message` is the English sentence.
    """

    name: str
    reason: str
    message: str
    values: dict[str, object] = field(default_factory=dict)


def parse_document(name: str, data: bytes, *, max_bytes: int | None = None) -> Document:
    """Validate the raw bytes of a document file named `name` and return the document.

    The suffix says how the content is read (bot/formats): UTF-8 text, Markdown, a PDF's
    text layer page by page, a Word file's paragraphs, or an HTML page's main text.

    Raises:
        DocumentError: the name is unsafe or has another suffix, the content is too large,
            or it cannot be read as its format (empty, binary, not UTF-8, a scan, encrypted,
            damaged, a zip bomb, a page without main text); `reason` says which.
    """
    doc_id = document_id(name)
    if max_bytes is not None and len(data) > max_bytes:
        raise DocumentError(
            f"{name} is {len(data):,} bytes; the limit is {max_bytes:,} bytes",
            "too_large", size=len(data), limit=max_bytes,
        )  # fmt: skip
    extracted = extract(name, data)
    if extracted.paginated:
        text, page_starts = join_pages(extracted.pages)
    else:
        text, page_starts = normalize_text("\n\n".join(extracted.pages)), ()
    if len(text) < 2 or not any(ch.isalpha() for ch in text):
        raise DocumentError(f"{name} contains no text", "no_text", name=name)
    if _control_ratio(text) > 0.01:
        raise DocumentError(
            f"{name} looks binary: it is full of control characters",
            "control_characters", name=name,
        )  # fmt: skip
    doc = Document(
        doc_id=doc_id,
        title=extracted.title or _title_from(name),
        language="de",
        date=None,
        text=text,
        checksum="",
        format=extracted.format,
        page_starts=page_starts,
    )
    return replace(doc, checksum=_checksum(_cited(doc)))


def join_pages(pages: Sequence[str]) -> tuple[str, tuple[int, ...]]:
    """The normalized text of `pages` separated by blank lines, and where each page starts.

    A page without text starts where the next text begins, so each page number still
    matches the document's own.
    """
    text, starts = "", []
    for page in pages:
        body = normalize_text(page)
        if body and text:
            text += "\n\n"
        starts.append(len(text))
        text += body
    return text, tuple(starts)


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


def load_document(path: Path, *, language_of: Callable[[str], str] | None = None) -> Document:
    """Read one document file and its optional `<stem>.meta.json` sidecar.

    Raises:
        DocumentError: the file cannot be used (see parse_document), or its metadata is
            not a JSON object.
        OSError: the file cannot be read.
    """
    doc = parse_document(path.name, path.read_bytes())
    meta_path = path.with_name(path.stem + META_SUFFIX)
    meta = _metadata(path.name, meta_path) if meta_path.exists() else {}
    language = meta.get("language") or (language_of(doc.text) if language_of else None) or "de"
    # Metadata edits (a new title) must reach the index too.
    checksum = _checksum(_cited(doc) + json.dumps(meta, sort_keys=True)) if meta else doc.checksum
    return replace(
        doc,
        title=meta.get("title") or doc.title,
        language=language,
        date=meta.get("date"),
        checksum=checksum,
        examples=meta.get("examples") or {},
    )


def read_documents(
    directory: Path, *, language_of: Callable[[str], str] | None = None
) -> tuple[list[Document], list[Skipped]]:
    """All documents in `directory` sorted by file name, and the files that were skipped.

    Files with other suffixes are not documents and are passed over without a word; a
    document that cannot be used is logged and listed with its reason.
    """
    docs: list[Document] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if format_of(path.name) is None or path.name.endswith(META_SUFFIX):
            continue
        try:
            doc = load_document(path, language_of=language_of)
            if doc.doc_id in seen:
                raise DocumentError(
                    f"{path.name} has the same name as {seen[doc.doc_id]}",
                    "duplicate", name=path.name, other=seen[doc.doc_id],
                )  # fmt: skip
        except DocumentError as exc:
            skipped.append(Skipped(path.name, exc.reason, str(exc), exc.values))
        except OSError as exc:
            reason = {"name": path.name, "detail": f"{type(exc).__name__}: {exc}"}
            skipped.append(Skipped(path.name, "unreadable", f"{path.name}: {exc}", reason))
        else:
            seen[doc.doc_id] = path.name
            docs.append(doc)
            continue
        logger.warning("skipping document %s: %s", path.name, skipped[-1].message)
    return docs, skipped


def load_documents(
    directory: Path, *, language_of: Callable[[str], str] | None = None
) -> list[Document]:
    """All usable documents in `directory` (see read_documents), sorted by file name."""
    return read_documents(directory, language_of=language_of)[0]


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


def _metadata(name: str, meta_path: Path) -> dict:
    """The JSON object in a `.meta.json` sidecar (raises DocumentError if it is none)."""
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        meta = f"{type(exc).__name__}: {exc}"
    if not isinstance(meta, dict):
        raise DocumentError(
            f"{name}: its metadata {meta_path.name} is not a JSON object ({meta})",
            "bad_metadata", name=name, meta=meta_path.name,
        )  # fmt: skip
    return meta


def _cited(doc: Document) -> str:
    """What quotes and their places come from: the text and, for pages, where they start."""
    return doc.text + (json.dumps(doc.page_starts) if doc.page_starts else "")


def _checksum(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _title_from(name: str) -> str:
    return Path(name).stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _control_ratio(text: str) -> float:
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\t")
    return controls / len(text)
