"""Bot processes forked from an interpreter that has already imported the bot.

A fresh `python -m bot …` spends about 9 of its first 11 seconds on imports (torch,
transformers, sentence-transformers). Tests that need the bot as a process of its own (to
kill it, to stop it with SIGTERM, to run two at once) start it from this server instead:
one process per test worker imports everything and reads the default model once, then
forks a child per request. The child is a process like any other (its own pid, signals,
exit code, file descriptors), that runs `python -m <module> <args>` exactly as the
interpreter would, minus the imports and the reading of the default model.

    server:  python tests/forkserver.py SOCKET
    client:  spawn(["bot", "run"], env, cwd, stdin, stdout, stderr) -> Forked

Per request the client sends {"argv", "env", "cwd"} and three file descriptors (the child's
stdin, stdout and stderr); the server answers with the child's pid, then, when the child
exits, with its return code (negative: the signal that ended it), as subprocess does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PRELOAD = ("bot.__main__", "bot.app.services", "bot.telegram.app", "bot.telegram.runner")
_server: tuple[subprocess.Popen, str] | None = None
_ready = False  # the server has said "ready"
_shared: str | None = None  # the socket of a server another process started (`share`)


class Forked:
    """A child of the fork server, with the part of `subprocess.Popen` tests use."""

    stdin = stdout = stderr = None  # the parent's ends of pipes to the child (see `popen`)

    def __init__(self, pid: int, control: socket.socket) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._control = control

    def poll(self) -> int | None:
        if self.returncode is None:
            self._control.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                self._read_code()
            self._control.setblocking(True)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._control.settimeout(timeout)
            try:
                self._read_code()
            except TimeoutError:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout) from None
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _read_code(self) -> None:
        data = b""
        while not data.endswith(b"\n"):
            chunk = self._control.recv(64)
            if not chunk:
                raise RuntimeError(f"the fork server lost child {self.pid}")
            data += chunk
        self.returncode = int(data)
        self._control.close()


def spawn(argv: list[str], *, env: dict[str, str], cwd: str, fds: tuple[int, int, int]) -> Forked:
    """Start `python -m argv[0] argv[1:]` as a forked child with stdin/stdout/stderr `fds`."""
    control = _connect(_address())
    request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
    socket.send_fds(control, [request], list(fds))
    data = b""
    while not data.endswith(b"\n"):
        chunk = control.recv(64)
        if not chunk:
            raise RuntimeError("the fork server did not start the process")
        data += chunk
    return Forked(int(data), control)


def popen(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | os.PathLike,
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | None = subprocess.DEVNULL,
    stderr: int | None = subprocess.DEVNULL,
) -> Forked:
    """Like `subprocess.Popen([python, "-m", *argv], text=True, …)` for PIPE, DEVNULL and
    STDOUT (stderr only); the pipes' ends are the child's `stdin`, `stdout`, `stderr`."""
    ours, theirs = {}, []
    for name, how in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
        if how == subprocess.PIPE:
            read, write = os.pipe()
            mine, child = (write, read) if name == "stdin" else (read, write)
            ours[name] = os.fdopen(mine, "w" if name == "stdin" else "r", encoding="utf-8")
            theirs.append(child)
        elif how == subprocess.STDOUT:
            theirs.append(os.dup(theirs[1]))
        else:
            theirs.append(os.open(os.devnull, os.O_RDWR))
    try:
        child = spawn(argv, env=env, cwd=str(cwd), fds=tuple(theirs))
    finally:
        for fd in theirs:
            os.close(fd)
    for name in ("stdin", "stdout", "stderr"):
        setattr(child, name, ours.get(name))
    return child


def run(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | os.PathLike,
    input: str = "",
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Like `subprocess.run([python, "-m", *argv], capture_output=True, text=True, …)`."""
    import threading

    child = popen(
        argv, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(child.stderr.read()), daemon=True)
    reader.start()
    child.stdin.write(input)
    child.stdin.close()
    try:
        stdout = child.stdout.read()
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        raise
    reader.join()
    child.stdout.close()
    child.stderr.close()
    return subprocess.CompletedProcess(argv, child.returncode, stdout, out[0] if out else "")


def start() -> str:
    """Start this process's fork server unless it runs, and return its socket's path. The
    first `spawn` waits until it is ready, so its imports overlap with what runs meanwhile."""
    global _server, _ready
    if _server is not None and _server[0].poll() is None:
        return _server[1]
    path = f"/tmp/forkserver-{os.getpid()}-{time.monotonic_ns()}.sock"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    server = subprocess.Popen(
        [sys.executable, __file__, path], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    import atexit

    atexit.register(_stop, server, path)
    _server, _ready = (server, path), False
    return path


def share(path: str) -> None:
    """Use the fork server another process started (pytest-xdist's controller, for all of
    its workers) instead of one of this process's own."""
    global _shared
    _shared = path


def _address() -> str:
    """The socket of the fork server, started on first use (and stopped at exit)."""
    global _ready
    if _shared is not None:
        return _shared
    start()
    server, path = _server
    if not _ready:
        if server.stdout.readline().strip() != "ready":
            server.kill()
            raise RuntimeError("the fork server did not start")
        _ready = True
    return path


def _connect(path: str, patience: float = 120.0) -> socket.socket:
    """A connection to the server at `path`, waiting for a shared one to be listening."""
    deadline = time.monotonic() + patience
    while True:
        control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            control.connect(path)
            return control
        except (FileNotFoundError, ConnectionRefusedError):
            control.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"no fork server listens at {path}") from None
            time.sleep(0.05)


def _stop(server: subprocess.Popen, path: str) -> None:
    server.kill()
    server.wait()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# ---------------------------------------------------------------------------- the server


def serve(path: str) -> None:
    import importlib
    import threading

    for name in PRELOAD:
        importlib.import_module(name)
    _warm()
    if threading.active_count() != 1:  # a fork copies only the calling thread
        raise RuntimeError(f"imports started threads: {threading.enumerate()}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    listener.settimeout(0.05)
    print("ready", flush=True)
    children: dict[int, socket.socket] = {}
    parent = os.getppid()
    while os.getppid() == parent:  # the test process is gone: so is the server
        with contextlib.suppress(TimeoutError):
            conn, _ = listener.accept()
            conn.settimeout(None)
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
            request = json.loads(message)
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in children.values():
                    other.close()
                _child(request, fds, conn)
            for fd in fds:
                os.close(fd)
            conn.sendall(f"{pid}\n".encode())
            children[pid] = conn
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
                conn.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _warm() -> None:
    """Read what every bot child would read first: the default model's weights and the
    language detector's models. Not the second model's: its OpenMP runtime, once it has
    run in this process, hangs in a forked child."""
    from bot.retrieval.embedding import load_model
    from bot.retrieval.language import detect_language

    load_model()  # reads the weights; not an encode, whose progress bar starts a thread
    detect_language("Wer besuchte im Juni Pjöngjang?")
    detect_language("Who visited Pyongyang in June?")


def _child(request: dict, fds: list[int], conn: socket.socket) -> None:
    """Become `python -m argv…` with the request's environment, folder and descriptors."""
    import runpy
    import traceback

    conn.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    module, *args = request["argv"]
    sys.argv = [module, *args]
    # Executed afresh as __main__, as `python -m` does (a package's children stay imported).
    sys.modules.pop(f"{module}.__main__", None)
    if not hasattr(sys.modules.get(module), "__path__"):
        sys.modules.pop(module, None)
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


if __name__ == "__main__":
    serve(sys.argv[1])
