"""Alembic environment: one code path for SQLite and PostgreSQL, batch mode on SQLite."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from app.core.config import get_settings, normalize_database_url
from app.core.db import make_null_pool_engine
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or get_settings().database_url
    return normalize_database_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_null_pool_engine(_url())
    with engine.connect() as connection:
        is_sqlite = connection.dialect.name == "sqlite"
        if is_sqlite:
            # Batch mode rebuilds tables; with foreign keys on, dropping the old copy would cascade.
            # The check after the run proves nothing dangling was left behind.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if is_sqlite:
            violations = connection.execute(sa.text("PRAGMA foreign_key_check")).fetchall()
            connection.commit()
            if violations:
                raise RuntimeError(f"foreign key violations after migration: {violations[:5]}")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
