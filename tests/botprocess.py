"""The real bot as a process of its own (`python -m bot run`), for tests and scripts that
stop it with a signal: SIGTERM as systemd does, SIGKILL as a crash does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

try:  # imported as part of a package or with tests/ on sys.path (pytest's default)
    from .fakebotapi import FakeBotAPI
except ImportError:
    from fakebotapi import FakeBotAPI

PROJECT = Path(__file__).resolve().parents[1]
START_WAIT = 90.0  # seconds for a subprocess to load the model and start polling


@contextlib.asynccontextmanager
async def bot_process(
    api: FakeBotAPI, *, token: str, env: dict[str, str] | None = None, log: int | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot run` against the fake server; INDEX_DIR and the other settings come
    from the environment (and `env`). Its stderr is a pipe, or the file descriptor `log`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env={
            **os.environ,
            "PYTHONPATH": str(PROJECT),
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_URL": f"http://127.0.0.1:{api.port}",
            **(env or {}),
        },
        stdout=asyncio.subprocess.DEVNULL if log is not None else asyncio.subprocess.PIPE,
        stderr=log if log is not None else asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def stopped(process: asyncio.subprocess.Process, timeout: float) -> str:
    """SIGTERM, then the process's log once it has exited."""
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    return stderr.decode() if stderr else ""


async def killed(process: asyncio.subprocess.Process) -> str:
    """SIGKILL, as a crash or the OOM killer would; the log up to then."""
    process.kill()
    _, stderr = await process.communicate()
    return stderr.decode() if stderr else ""
