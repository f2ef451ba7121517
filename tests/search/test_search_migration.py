"""Migration 0003 on both engines: no drift (the engines' own FTS structures excluded), round trip,
and drugs published before the index existed are indexed by `migrate`."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from app.cli import alembic_config, migrate_database, reindex_search
from app.core.config import Settings
from app.core.db import make_null_pool_engine
from tests.conftest import PostgresServer
from tests.helpers import see_other_writes


def _fresh_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create("migration")


def _search_objects(url: str) -> set[str]:
    engine = make_null_pool_engine(Settings(database_url=url).database_url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            names = conn.scalars(sa.text("SELECT name FROM sqlite_master WHERE name LIKE 'search%'"))
        else:
            names = conn.scalars(
                sa.text(
                    "SELECT relname FROM pg_class WHERE relname LIKE 'search%' OR relname LIKE 'ix_search%'"
                )
            )
        found = set(names)
    engine.dispose()
    return found


def test_upgrade_check_downgrade_upgrade(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = _fresh_url(engine_name, request, tmp_path)
    config = alembic_config(Settings(database_url=url).database_url)

    migrate_database(Settings(database_url=url))
    command.check(config)  # raises on drift
    created = _search_objects(url)
    command.downgrade(config, "0001")
    after_downgrade = _search_objects(url)
    command.upgrade(config, "head")
    command.check(config)

    if engine_name == "sqlite":
        assert {"search_entry", "search_fts_porter", "search_fts_plain"} <= created
    else:
        assert {"search_entry", "ix_search_entry_document"} <= created
    assert after_downgrade == set()
    assert _search_objects(url) == created


def test_migrate_indexes_drugs_published_without_entries(seeded_client: TestClient, seeded: Settings) -> None:
    engine = make_null_pool_engine(seeded.database_url)
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(sa.text("DELETE FROM search_fts_porter"))
        conn.execute(sa.text("DELETE FROM search_entry"))
        conn.execute(sa.text("UPDATE content_state SET generation = generation + 1"))
    engine.dispose()
    see_other_writes(seeded_client)
    assert seeded_client.get("/api/v1/search", params={"q": "neutropenia"}).json()["total"] == 0

    migrate_database(seeded)
    see_other_writes(seeded_client)

    assert seeded_client.get("/api/v1/search", params={"q": "neutropenia"}).json()["total"] > 0
    assert reindex_search(seeded, only_missing=True) == 0
    assert reindex_search(seeded) == 1
    assert seeded_client.get("/api/v1/search", params={"q": "neutropenia"}).json()["total"] > 0
