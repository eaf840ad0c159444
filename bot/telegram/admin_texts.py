"""What the admin commands reply: status, change reports, document and feedback lists (HTML).

Pure functions of the runtime's data, so the command handlers in `bot.telegram.handlers.admin` stay
short and the texts can be read in one place.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.answering.formatting import escape
from bot.answering.i18n import text
from bot.app.admin import ReindexResult, ReindexRunning
from bot.telegram.context import Runtime

if TYPE_CHECKING:
    from bot.retrieval.indexing import BuildReport  # loads torch; a reindexing bot has it loaded
    from bot.telegram.durable import Durability

LIST_LIMIT = 10


def progress_text(latest: tuple[str, int, int] | None, lang: str) -> str:
    """The progress line for the latest (stage, done, total) (HTML)."""
    if latest is None:
        return escape(text("admin_reindex_started", lang))
    stage, done, total = latest
    if stage == "embed":
        return escape(text("admin_progress_embed", lang, done=done, total=total))
    return escape(text("admin_progress", lang, stage=stage, done=done, total=total))


def outcome_text(work: asyncio.Future[BuildReport], lang: str) -> str:
    """The change report of a finished reindex, or why it did not happen (HTML)."""
    error = work.exception()
    if isinstance(error, ReindexRunning):
        return escape(text("admin_already_running", lang))
    if error is not None:
        reason = f"{type(error).__name__}: {error}"
        return escape(text("admin_reindex_failed", lang, reason=reason))
    return escape(report_text(work.result(), lang))


def report_text(report: BuildReport, lang: str) -> str:
    """What a reindex changed, and which files it skipped and why (plain text)."""
    skipped = [f"• {reason_text(s.reason, s.values, s.message, lang)}" for s in report.skipped]
    heading = [text("admin_skipped", lang, count=len(skipped))] if skipped else []
    return "\n".join([_changes_text(report, lang), *heading, *skipped])


def reason_text(
    reason: str, values: dict[str, object], message: str, lang: str, *, prefix: str = "upload_"
) -> str:
    """A refusal's reason in `lang` (the text `<prefix><reason>`), or its English `message`
    if it has no text of its own."""
    try:
        return text(f"{prefix}{reason}", lang, **values)
    except (KeyError, ValueError, IndexError):  # no such text, or it needs other values
        return message


def _changes_text(report: BuildReport, lang: str) -> str:
    return text(
        "admin_report",
        lang,
        documents=report.documents,
        docs_added=len(report.documents_added),
        docs_removed=len(report.documents_removed),
        docs_changed=len(report.documents_changed),
        docs_unchanged=report.documents_unchanged,
        sentences=report.sentences,
        sent_added=report.sentences_added,
        sent_removed=report.sentences_removed,
        sent_unchanged=report.sentences_unchanged,
        embedded=report.sentences_embedded,
        model=report.model,
        seconds=report.seconds,
        digest=report.index_sha256[:12],
    )


def docs_text(rt: Runtime, lang: str) -> str:
    """The indexed documents, one line each: id – title (format, pages, sentences) (HTML)."""
    corpus = rt.services.searcher.corpus
    if not corpus.documents:
        return escape(text("admin_docs_empty", lang))
    lines = []
    for d in corpus.documents:
        key = "admin_docs_details_pages" if d.pages else "admin_docs_details"
        details = text(
            key,
            lang,
            format=d.format.upper(),
            pages=d.pages,
            sentences=corpus.sentences_of(d.doc_id),
        )
        lines.append(f"<code>{escape(d.doc_id)}</code> – {escape(d.title)} ({escape(details)})")
    return "\n".join([escape(text("admin_docs", lang)), *lines])


def status_text(
    rt: Runtime, last: ReindexResult | None, lang: str, durability: Durability | None = None
) -> str:
    """Documents, index, uptime, counters, votes, the last reindex and the journal (HTML)."""
    version = rt.services.searcher.version
    manifest, corpus = version.manifest, version.corpus
    documents = [
        text(
            "admin_status_doc",
            lang,
            title=d.title,
            sentences=corpus.sentences_of(d.doc_id),
            checksum=d.checksum[:8],
        )
        for d in corpus.documents
    ]
    counters = rt.state.counters()
    answered, abstained = counters["questions_answered"], counters["abstentions"]
    votes = Counter(f.vote for f in rt.state.feedback())
    rate = abstained / (answered + abstained) if answered + abstained else 0.0
    body = text(
        "admin_status",
        lang,
        count=len(documents),
        documents="\n".join(documents) or "–",
        sentences=len(corpus.sentences),
        model=manifest.model,
        reranker=rt.services.settings.rerank_model,
        second=second_progress(rt.services.searcher.second_progress),
        index_type=manifest.index_type,
        digest=manifest.index_sha256[:12],
        built_at=when(manifest.built_at),
        uptime=duration(time.time() - rt.services.started_at),
        answered=answered,
        abstention_rate=f"{rate:.0%}",
        up=votes[1],
        down=votes[-1],
        last=last_text(last, lang),
        durability=durability_text(durability, lang),
    )
    return escape(body)


def second_progress(progress: tuple[int, int] | None) -> str:
    """ "(1,009/1,009 sentences)" while the second model's vectors fill; "" without one."""
    if progress is None:
        return ""
    done, total = progress
    return f"({done:,}/{total:,})"


def durability_text(state: Durability | None, lang: str) -> str:
    """Whether the update journal works (plain text)."""
    if state is None or not state.degraded:
        return text("admin_durability_ok", lang)
    return text(
        "admin_durability_degraded", lang, when=when(state.since or 0), reason=state.problem
    )


def last_text(last: ReindexResult | None, lang: str) -> str:
    """How the last reindex ended (plain text)."""
    if last is None:
        return text("admin_last_none", lang)
    if last.report is not None:
        digest = last.report.index_sha256[:12]
        return text("admin_last_ok", lang, when=when(last.finished_at), digest=digest)
    return text("admin_last_failed", lang, when=when(last.finished_at), reason=last.error)


def feedback_text(rt: Runtime, lang: str) -> str:
    """The latest 👎 questions, each with the sentences it was answered with (HTML)."""
    votes = rt.state.latest_feedback(-1, LIST_LIMIT)
    if not votes:
        return escape(text("admin_feedback_empty", lang))
    parts = [escape(text("admin_feedback_title", lang))]
    for vote in votes:
        quoted = (
            f"\n<blockquote>{escape(' '.join(vote.quotes))}</blockquote>" if vote.quotes else ""
        )
        parts.append(f"• <b>{escape(vote.question)}</b>{quoted}")
    return "\n".join(parts)


def unanswered_text(rt: Runtime, lang: str) -> str:
    """The recent questions the bot abstained on, newest first (HTML)."""
    questions = rt.state.abstained_questions(LIST_LIMIT)
    if not questions:
        return escape(text("admin_unanswered_empty", lang))
    lines = [f"• {escape(question)} ({when(at)})" for at, question in questions]
    return "\n".join([escape(text("admin_unanswered_title", lang)), *lines])


def when(timestamp: float) -> str:
    """A timestamp as UTC date and time."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    """A duration like 2d 3h 4m 5s."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (f"{days}d " if days else "") + f"{hours}h {minutes}m {secs}s"
