"""Readiness: the database answers and its schema is the one this release was written for."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app.core.db import Database
from app.core.errors import DatabaseUnavailable, ServiceUnavailable

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"
RETRY_AFTER = {"Retry-After": "5"}


class DatabaseNotMigrated(ServiceUnavailable):
    code, title = "database_not_migrated", "Database not migrated"


@lru_cache
def expected_heads() -> frozenset[str]:
    """The migration heads shipped with this code (read from the scripts once per process)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def check_ready(db: Database, heads: frozenset[str]) -> None:
    """Raise a 503 problem unless the database is reachable and migrated to `heads`."""
    try:
        with db.engine.connect() as conn:
            versions = frozenset(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except sa.exc.SQLAlchemyError as exc:
        if isinstance(exc, sa.exc.DBAPIError) and "alembic_version" in str(exc.orig):
            versions = frozenset()
        else:
            raise DatabaseUnavailable("The database is not reachable.", headers=RETRY_AFTER) from exc
    if versions != heads:
        raise DatabaseNotMigrated(
            f"The database schema is at {', '.join(sorted(versions)) or 'nothing'}; this release needs "
            f"{', '.join(sorted(heads))}. Run `druginfo migrate`.",
            headers=RETRY_AFTER,
        )
