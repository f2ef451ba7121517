"""Writes run past SQLAlchemy's execution (`prepare_write`: the driver's cursor on SQLite) store what
SQLAlchemy itself would, on both engines, and a statement they cannot run as SQLAlchemy would is
refused when it is built."""

from __future__ import annotations

from typing import Any, cast

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEntry
from app.core.config import Settings
from app.core.db import CoreWrite, Database, DriverWrite, prepare_write, utcnow
from app.publishing.models import ContentState

AUDIT = cast(sa.Table, AuditEntry.__table__)
COLUMNS = (
    "occurred_at",
    "actor_key_id",
    "actor_prefix",
    "action",
    "entity",
    "entity_id",
    "request_id",
    "changes",
)


def entry(action: str, changes: Any) -> dict[str, Any]:
    return {
        "occurred_at": utcnow(),
        "actor_key_id": None,
        "actor_prefix": "cli",
        "action": action,
        "entity": "drug",
        "entity_id": "testdrug-a",
        "request_id": None,
        "changes": changes,
    }


@pytest.mark.parametrize(
    "changes", [None, {"diff": [{"op": "replace", "path": "/faqs/0/answer", "value": "Ünïcode ✓"}]}, [1, 2.5]]
)
def test_an_insert_stores_and_reads_back_as_through_sqlalchemy(settings: Settings, changes: Any) -> None:
    db = Database(settings)
    try:
        with db.write_sessions() as session:
            conn = session.connection()
            prepared = prepare_write(sa.insert(AUDIT), conn.dialect.name, COLUMNS)
            assert isinstance(prepared, DriverWrite if conn.dialect.name == "sqlite" else CoreWrite)
            ours, theirs = entry("prepared", changes), entry("core", changes)
            prepared.run(conn, ours)
            conn.execute(sa.insert(AUDIT), theirs)
            stored = {
                row.action: row
                for row in conn.execute(sa.select(AUDIT).where(AUDIT.c.action.in_(["prepared", "core"])))
            }
            raw = {  # as stored, before any type's conversion
                action: row
                for action, *row in conn.execute(
                    sa.text(
                        "SELECT action, CAST(occurred_at AS TEXT), CAST(changes AS TEXT) FROM audit_entry "
                        "WHERE action IN ('prepared', 'core')"
                    )
                )
            }
            session.commit()
    finally:
        db.dispose()

    assert stored["prepared"].occurred_at == ours["occurred_at"]
    assert stored["prepared"].changes == changes
    assert stored["prepared"].occurred_at.tzinfo is not None
    if settings.database_url.startswith("sqlite"):
        # The same text as SQLAlchemy's: timestamps in its format, JSON as the engine's serializer.
        assert raw["prepared"][1] == raw["core"][1]
        assert len(raw["prepared"][0]) == len(raw["core"][0])
        assert raw["prepared"][0][:19] == ours["occurred_at"].strftime("%Y-%m-%d %H:%M:%S")


def test_an_update_returns_its_rows_typed(settings: Settings) -> None:
    state = cast(sa.Table, ContentState.__table__)
    touch = (
        sa.update(state)
        .where(state.c.id == sa.bindparam("row"))
        .values(updated_at=sa.bindparam("at"))
        .returning(state.c.updated_at, state.c.id)
    )
    db = Database(settings)
    try:
        with db.write_sessions() as session:
            conn = session.connection()
            now = utcnow()
            written = prepare_write(touch, conn.dialect.name).run(conn, {"row": 1, "at": now})
            missed = prepare_write(touch, conn.dialect.name).run(conn, {"row": 2, "at": now})
            session.rollback()
    finally:
        db.dispose()

    assert written.rowcount == 1
    (row,) = written.rows
    assert (row.id, row.updated_at) == (1, now)
    assert row.updated_at.tzinfo is not None
    assert (missed.rowcount, list(missed.rows)) == (0, [])


def test_a_statement_that_needs_sqlalchemy_at_execution_is_refused() -> None:
    # `occurred_at` has a Python-side default, which only SQLAlchemy's execution would fill in.
    with pytest.raises(ValueError, match="defaults of occurred_at"):
        DriverWrite(sa.insert(AUDIT), ["actor_prefix", "action", "entity"])
    with pytest.raises(ValueError, match="expanding"):
        DriverWrite(
            sa.update(AUDIT).where(AUDIT.c.id.in_(sa.bindparam("ids", expanding=True))).values(action="x")
        )
