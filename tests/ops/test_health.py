"""`/healthz` says the process is up; `/readyz` says the database answers and is migrated to head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.config import Settings, normalize_database_url
from app.core.db import make_null_pool_engine
from app.main import create_app
from app.ops.service import expected_heads
from tests.helpers import assert_problem


def test_healthz_answers_without_caching(public_client: TestClient) -> None:
    response = public_client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_when_migrated_to_head(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


def test_the_expected_head_is_what_migrate_leaves(database_url: str) -> None:
    engine = make_null_pool_engine(normalize_database_url(database_url))
    with engine.connect() as conn:
        versions = set(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))
    engine.dispose()

    assert versions == expected_heads()


@pytest.fixture
def unmigrated_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """An existing but empty database: reachable, never migrated."""
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return str(request.getfixturevalue("postgres_server").create("unmigrated"))


def _app(url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False) as test_client:
        yield test_client


def test_readyz_refuses_an_unmigrated_database(unmigrated_url: str) -> None:
    for client in _app(unmigrated_url):
        ready = client.get("/readyz")
        request = client.get("/api/v1/drugs")

        body = assert_problem(ready, 503, "database_not_migrated")
        assert ready.headers["retry-after"] == "5"
        assert "druginfo migrate" in body["detail"]
        # A request that needs the missing tables is a 503 too, not a 500 with SQL in it.
        assert_problem(request, 503, "database_unavailable")
        assert "SELECT" not in request.text and "published_drug" not in request.text


def test_readyz_refuses_a_database_behind_the_head(database_url: str) -> None:
    engine = make_null_pool_engine(normalize_database_url(database_url))
    with engine.begin() as conn:
        head = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000_older'"))
    try:
        for client in _app(database_url):
            body = assert_problem(client.get("/readyz"), 503, "database_not_migrated")

            assert "0000_older" in body["detail"]
    finally:
        # The PostgreSQL test database is shared by the whole run (emptied, not remade, per test).
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        engine.dispose()


def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder-not-a-file.db"
    folder.mkdir()

    for client in _app(f"sqlite:///{folder}"):
        response = client.get("/readyz")
        drugs = client.get("/api/v1/drugs")

        assert_problem(response, 503, "database_unavailable")
        assert response.headers["retry-after"] == "5"
        assert_problem(drugs, 503, "database_unavailable")
