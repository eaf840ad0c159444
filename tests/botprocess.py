"""The real bot as a process of its own (`python -m bot run`), for tests and scripts that
stop it with a signal: SIGTERM as systemd does, SIGKILL as a crash does; and one-off runs
of the command line.

Bot processes are forked from a server that has imported the bot once (tests/forkserver.py),
unless `fresh=True` asks for a new interpreter, as a user's `python -m bot run` is."""

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
    from .forkserver import Forked, spawn
except ImportError:
    from fakebotapi import FakeBotAPI
    from forkserver import Forked, spawn

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


class ForkedProcess:
    """A forked child with the interface of `asyncio.subprocess.Process`."""

    def __init__(
        self,
        forked: Forked,
        stdout: asyncio.StreamReader | None,
        stderr: asyncio.StreamReader | None,
    ) -> None:
        self._forked, self.stdout, self.stderr = forked, stdout, stderr
        self.pid = forked.pid

    @property
    def returncode(self) -> int | None:
        return self._forked.poll()

    def send_signal(self, number: int) -> None:
        self._forked.send_signal(number)

    def terminate(self) -> None:
        self._forked.terminate()

    def kill(self) -> None:
        self._forked.kill()

    async def wait(self) -> int:
        return await asyncio.to_thread(self._forked.wait)

    async def communicate(self) -> tuple[bytes | None, bytes | None]:
        out = await self.stdout.read() if self.stdout else None
        err = await self.stderr.read() if self.stderr else None
        await self.wait()
        return out, err


async def _pipe_reader() -> tuple[asyncio.StreamReader, int]:
    """A reader for this process and the write end of its pipe, for a child."""
    read, write = os.pipe()
    reader = asyncio.StreamReader(limit=1 << 20)
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read, "rb", 0)
    )
    return reader, write


async def forked(*argv: str, env: dict[str, str], log: int | None = None) -> ForkedProcess:
    """`python -m argv…` forked from the fork server, stdin empty; stderr is a pipe, or the
    file descriptor `log` (stdout then goes nowhere)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    stdout = stderr = None
    try:
        if log is None:
            stdout, out = await _pipe_reader()
            stderr, err = await _pipe_reader()
        else:
            out, err = devnull, log
        child = await asyncio.to_thread(
            spawn, list(argv), env=env, cwd=os.getcwd(), fds=(devnull, out, err)
        )
    finally:
        os.close(devnull)
        if log is None:
            os.close(out)
            os.close(err)
    return ForkedProcess(child, stdout, stderr)


@contextlib.asynccontextmanager
async def bot_process(
    api: FakeBotAPI | None,
    *,
    token: str,
    env: dict[str, str] | None = None,
    log: int | None = None,
    fresh: bool = False,
) -> AsyncIterator[asyncio.subprocess.Process | ForkedProcess]:
    """`python -m bot run` against the fake server (with None: TELEGRAM_API_URL in `env`);
    INDEX_DIR and the other settings come from the environment (and `env`). Its stderr is a
    pipe, or the file descriptor `log`. `fresh`: a new interpreter, not a forked one."""
    url = {"TELEGRAM_API_URL": f"http://127.0.0.1:{api.port}"} if api is not None else {}
    full = environment(**{"TELEGRAM_BOT_TOKEN": token, **url, **(env or {})})
    if not fresh:
        process = await forked("bot", "run", env=full, log=log)
    else:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=full,
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
