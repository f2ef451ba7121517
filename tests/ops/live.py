"""A real server in a subprocess (uvicorn through `druginfo serve` or the Docker entrypoint), on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
DRUGINFO = str(BIN / "druginfo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A server process with its output in a file; stopped with SIGTERM (or killed) by the test."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.database_url = env.get("DATABASE_URL", "")
        # O_APPEND: the workers share this file, and each of their line writes must land whole.
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(self, timeout: float = 60.0, path: str = "/healthz") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not up after {timeout} s:\n{self.output()}")

    def lines(self) -> list[str]:
        """Complete lines of output so far (a line still being written is left out)."""
        text = self.output()
        return text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self._log.close()
        return self.process.returncode


def serve(database_url: str, log_path: Path, *, workers: int = 1, **settings: str) -> LiveServer:
    port = free_port()
    env = {"DATABASE_URL": database_url, "PORT": str(port), **settings}
    return LiveServer([DRUGINFO, "serve", "--workers", str(workers)], env, log_path, port)
