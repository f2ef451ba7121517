"""Alembic is the only way the schema is made: round-trips and no drift, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from app.cli import alembic_config
from app.core.config import normalize_database_url
from app.core.db import make_null_pool_engine
from app.models import Base


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server = request.getfixturevalue("postgres_server")
    return str(server.create("migrations"))


def _tables(url: str) -> set[str]:
    engine = make_null_pool_engine(normalize_database_url(url))
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(empty_url: str) -> None:
    config = alembic_config(empty_url)

    command.upgrade(config, "head")
    after_first = _tables(empty_url)
    command.downgrade(config, "base")
    after_downgrade = _tables(empty_url)
    command.upgrade(config, "head")

    assert {t.name for t in Base.metadata.sorted_tables} <= after_first
    assert after_downgrade == set()
    assert _tables(empty_url) == after_first


def test_each_migration_steps_down_and_up(empty_url: str) -> None:
    config = alembic_config(empty_url)
    revisions = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))

    for revision in revisions:
        command.upgrade(config, revision.revision)
        command.downgrade(config, revision.down_revision or "base")
        command.upgrade(config, revision.revision)


def test_models_and_migrations_do_not_drift(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "head")

    # Autogenerate through migrations/env.py (the same filters `alembic check` uses); raises on drift.
    command.check(config)


def test_database_enforces_integrity(database_url: str) -> None:
    engine = make_null_pool_engine(normalize_database_url(database_url))
    bad_statements = [
        "INSERT INTO drug (slug, name, brand_names, status, translations, created_at, updated_at, version) "
        "VALUES ('x', 'X', '[]', 'bogus', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        "INSERT INTO faq (drug_id, position, question, answer, tags, translations, version) "
        "VALUES (999, 0, 'q', 'a', '[]', '{}', 1)",
        "INSERT INTO condition (slug, name, translations, created_at, updated_at, version) "
        "VALUES ('c', 'C', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1), "
        "('c', 'C2', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
    ]
    try:
        for statement in bad_statements:
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
