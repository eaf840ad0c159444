"""Shared fixtures: every test runs in its own folders; the real model is loaded once.

The model libraries are imported inside the fixtures, so that pytest's controller process,
which only hands tests to the workers, does not spend ten seconds importing them.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import forkserver
import pytest
import pytest_asyncio

from bot.settings import Settings

if TYPE_CHECKING:
    from fakebotapi import FakeBotAPI
    from telegram.ext import Application

    from bot.app.services import Services

SEED = Path(__file__).resolve().parents[1] / "bot" / "seed"
SEED_TEXT = SEED / "nordkorea-soldaten-ukraine.txt"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist's controller: one fork server (tests/forkserver.py) for all workers,
    started before they are, unless the slow tier, which needs it, is left out."""
    if "not slow" not in (node.config.getoption("markexpr") or ""):
        node.workerinput["forkserver"] = forkserver.start()


def pytest_collection_finish(session: pytest.Session) -> None:
    """A worker (or a run without workers) uses the controller's fork server, or starts
    its own now if a test will need it: its imports then overlap with the tests before."""
    shared = getattr(session.config, "workerinput", {}).get("forkserver")
    if shared:
        forkserver.share(shared)
    elif any(item.get_closest_marker("slow") for item in session.items):
        forkserver.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Every process of the run exits without the interpreter's last garbage collections
    (as `bot.lazy.exit_quickly`): with the ML stack imported they take about 1.5 s."""
    gc.freeze()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point all paths at tmp_path and drop settings from the developer's environment."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:  # every setting, including ones added later
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("DOCUMENTS_DIR", str(tmp_path / "documents"))


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    """A fresh local fake Bot API server for the bot under test (BOT, TOKEN of telegrambot)."""
    from fakebotapi import FakeBotAPI
    from telegrambot import BOT, TOKEN

    async with FakeBotAPI(token=TOKEN, bot_username=BOT) as server:
        yield server


@pytest.fixture(scope="session")
def model():
    """The real default embedding model, loaded once per test session."""
    from bot.retrieval.embedding import load_model

    return load_model()


@pytest.fixture(scope="session")
def built_seed(tmp_path_factory: pytest.TempPathFactory, model) -> Path:
    """A folder with documents/ (the shipped article) and index/ built from it, once."""
    from bot.app.services import open_services

    root = tmp_path_factory.mktemp("seed")
    settings = Settings(index_dir=root / "index", documents_dir=root / "documents", _env_file=None)
    open_services(settings, model=model, background=False)  # e5 vectors in the cache too
    return root


@pytest.fixture
def settings(tmp_path: Path, built_seed: Path) -> Settings:
    """Settings over a private copy of the pre-built seed index and documents."""
    shutil.copytree(built_seed / "documents", tmp_path / "documents")
    shutil.copytree(built_seed / "index", tmp_path / "index")
    return Settings(
        index_dir=tmp_path / "index", documents_dir=tmp_path / "documents", _env_file=None
    )


@pytest.fixture
def services(settings: Settings, model) -> Services:
    """Model, index, searcher and conversation over the seed article (real components)."""
    from bot.app.services import open_services

    return open_services(settings, model=model)


@pytest_asyncio.fixture
async def app(
    api: FakeBotAPI, settings: Settings, services: Services
) -> AsyncIterator[Application]:
    """The real Application with long polling against `api`, over the seed (test modules
    that need other settings define their own)."""
    from telegrambot import bot_settings, polling_bot

    async with polling_bot(bot_settings(settings, api), services) as running:
        yield running
