"""The real bot as a process of its own (`python -m bot run`), for tests and scripts that
stop it with a signal: SIGTERM as systemd does, SIGKILL as a crash does; and one-off runs
of the command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

try:  # imported as part of a package or with tests/ on sys.path (pytest's default)
    from .fakebotapi import FakeBotAPI
except ImportError:
    from fakebotapi import FakeBotAPI

PROJECT = Path(__file__).resolve().parents[1]
START_WAIT = 90.0  # seconds for a subprocess to load the model and start polling


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a process to bind next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**env: str) -> dict[str, str]:
    """This process's environment (the fixtures' settings) with this checkout's `bot` first."""
    return {**os.environ, "PYTHONPATH": str(PROJECT), **env}


@contextlib.asynccontextmanager
async def bot_process(
    api: FakeBotAPI | None,
    *,
    token: str,
    env: dict[str, str] | None = None,
    log: int | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot run` against the fake server (with None: TELEGRAM_API_URL in `env`);
    INDEX_DIR and the other settings come from the environment (and `env`). Its stderr is a
    pipe, or the file descriptor `log`."""
    url = {"TELEGRAM_API_URL": f"http://127.0.0.1:{api.port}"} if api is not None else {}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=environment(**{"TELEGRAM_BOT_TOKEN": token, **url, **(env or {})}),
        stdout=asyncio.subprocess.DEVNULL if log is not None else asyncio.subprocess.PIPE,
        stderr=log if log is not None else asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """`python -m bot ...` to its end (without blocking the event loop); exit code, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=environment(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        raise
    return process.returncode, stderr.decode()


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
