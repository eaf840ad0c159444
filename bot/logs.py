"""Logging setup: one format, quiet libraries, and secrets never written to a log line."""

from __future__ import annotations

import logging
import re

# Bot API URLs carry the token: https://api.telegram.org/bot<token>/getUpdates
_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
_PLAIN_RECORDS = logging.getLogRecordFactory()


class RedactingFilter(logging.Filter):
    """Replace configured secrets (and anything shaped like a bot token) with "***"."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _TOKEN_IN_URL.sub("bot***", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._redacted_traceback(record)
        return True

    def _redacted_traceback(self, record: logging.LogRecord) -> str:
        text = logging.Formatter().formatException(record.exc_info)
        text = _TOKEN_IN_URL.sub("bot***", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def setup_logging(level: str = "INFO", *, secrets: list[str] | None = None) -> None:
    """Configure the root logger once; `secrets` are redacted from every record.

    Redaction happens when a record is created, so every handler (ours, pytest's, an error
    tracker's) only ever sees the redacted text.
    """
    redact = RedactingFilter(secrets or [])

    def redacted_record(*args, **kwargs) -> logging.LogRecord:
        record = _PLAIN_RECORDS(*args, **kwargs)
        redact.filter(record)
        return record

    logging.setLogRecordFactory(redacted_record)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for noisy in (
        "httpx",
        "httpcore",
        "faiss.loader",
        "bm25s",
        "sentence_transformers",
        "apscheduler",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Their warnings are about quirks they read past; a file that cannot be used gets one
    # line of ours with the reason.
    for chatty in ("pypdf", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(chatty).setLevel(logging.ERROR)
