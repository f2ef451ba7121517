"""One real server for the tests that need real sockets: the Docker entrypoint, run outside a container.

`scripts/docker-entrypoint.sh` migrates and seeds an empty SQLite file, then serves with two uvicorn
workers, exactly as the image does. The header timeout is shortened so the slow-client tests are quick.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.middleware import frameable
from app.main import create_app
from tests.ops.live import LiveServer, free_port

ENTRYPOINT = Path(__file__).resolve().parents[2] / "scripts" / "docker-entrypoint.sh"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("live")
    port = free_port()
    env = {
        "DATABASE_URL": f"sqlite:///{folder / 'live.db'}",
        "PORT": str(port),
        "DRUGINFO_HOST": "127.0.0.1",  # the image listens on 0.0.0.0; tests stay on loopback
        "DRUGINFO_WORKERS": "2",
        "DRUGINFO_HEADER_TIMEOUT": "2",
    }
    server = LiveServer(["sh", str(ENTRYPOINT)], env, folder / "server.log", port)
    server.wait_until_up(timeout=90)
    yield server
    returncode = server.stop(signal.SIGTERM)
    assert returncode == 0, f"the server did not stop cleanly on SIGTERM ({returncode}):\n{server.output()}"


def access_lines(server: LiveServer) -> list[str]:
    return [line for line in server.lines() if '"logger":"druginfo.access"' in line]


@pytest.fixture
def sqlite_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    """Settings on a private migrated SQLite file, for tests about HTTP behaviour rather than the database."""
    path = tmp_path / "ops.db"
    shutil.copyfile(sqlite_template, path)
    return Settings(database_url=f"sqlite:///{path}")


def probe_router() -> APIRouter:
    """Test-only routes: one that fails, one that plays the admin auth (sets `request.state.key_prefix`)."""
    router = APIRouter()

    @router.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("SELECT secret FROM api_key -- must never reach a client")

    @router.get("/api/v1/admin/test-only/whoami")
    def whoami(request: Request) -> dict[str, str]:
        request.state.key_prefix = "dik_test1234"
        return {"key_prefix": request.state.key_prefix}

    @router.get("/test-only/embed", response_class=HTMLResponse)
    @frameable
    def embed() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>embed</title>",
            headers={"Content-Security-Policy": "default-src 'none'; frame-ancestors https://portal.example"},
        )

    return router


def app_with_probes(settings: Settings) -> TestClient:
    app = create_app(settings)
    app.include_router(probe_router())
    return TestClient(app, raise_server_exceptions=False)
