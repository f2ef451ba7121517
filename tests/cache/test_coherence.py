"""Server processes on one database agree: a publish anywhere is served everywhere within the bound."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.cache.conftest import edited, import_elsewhere

ROOT = Path(__file__).resolve().parents[2]
FAQ_URL = "/api/v1/drugs/testdrug-a/faqs"
# SQLite has only polling; on PostgreSQL the interval is long on purpose, so only NOTIFY can be fast.
POLL_INTERVAL = {"sqlite": 0.25, "postgresql": 30.0}
SLACK = 3.0  # seconds on top of the bound, for a loaded CI machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A real `uvicorn` process serving the app (uvloop + httptools, as `druginfo serve` does)."""

    def __init__(self, settings: Settings, poll_interval: float) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "DRUGINFO_CACHE_POLL_INTERVAL": str(poll_interval),
            "DRUGINFO_LOG_LEVEL": "warning",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--loop", "uvloop", "--http", "httptools", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.client = httpx.Client(base_url=self.url, timeout=5)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("server did not start")

    def first_answer(self) -> str:
        response = self.client.get(FAQ_URL)
        assert response.status_code == 200, response.text
        return str(response.json()["items"][0]["answer"])

    def metric(self, name: str) -> float:
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split(" ")[1])
        raise KeyError(name)

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def servers(synthetic: Settings, engine_name: str) -> Iterator[list[Server]]:
    started = [Server(synthetic, POLL_INTERVAL[engine_name]) for _ in range(2)]
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.stop()


def test_a_publish_is_served_by_every_process_within_the_bound(
    servers: list[Server], synthetic: Settings, bundle: dict[str, Any], engine_name: str
) -> None:
    original = bundle["drugs"][0]["faqs"][0]["answer"]
    etags = {}
    for server in servers:
        assert server.first_answer() == original
        etags[server.port] = server.client.get(FAQ_URL).headers["etag"]
        assert server.metric('druginfo_cache_hits_total{cache="responses"}') >= 1  # served from memory

    import_elsewhere(synthetic, edited(bundle, "Published by another process."))
    published = time.monotonic()

    bound = POLL_INTERVAL["sqlite"] if engine_name == "sqlite" else 0.0
    for server in servers:
        while server.first_answer() != "Published by another process.":
            assert time.monotonic() - published < bound + SLACK, "stale content served past the bound"
            time.sleep(0.01)
    for server in servers:
        assert server.first_answer() == "Published by another process."
        response = server.client.get(FAQ_URL, headers={"If-None-Match": etags[server.port]})
        assert response.status_code == 200
        assert server.metric("druginfo_content_generation") >= 2
