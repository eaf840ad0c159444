"""A Milvus Lite server on 127.0.0.1, for tests in which several processes share one Milvus.

`MilvusClient(uri="file.db")` starts Milvus Lite for one process only (a second one is
refused the file). The same binary also listens on a TCP address; then any number of
processes connect to `http://127.0.0.1:PORT`, as bots do to a Milvus server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path


class MilvusLiteServer:
    """Start with `with MilvusLiteServer(path) as server:`; `server.uri` is its address."""

    def __init__(self, db_file: Path) -> None:
        import milvus_lite

        self.db_file = db_file
        self.lib = Path(milvus_lite.__file__).parent / "lib"
        self.port = _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> MilvusLiteServer:
        env = {**os.environ, "LD_LIBRARY_PATH": str(self.lib)}
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(self.lib / "milvus"), str(self.db_file), f"127.0.0.1:{self.port}", "ERROR"],
            env=env,
            cwd=self.db_file.parent,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Milvus Lite exited with {self.process.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("Milvus Lite did not listen within 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.terminate()  # by its pid; nothing else is signalled
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
