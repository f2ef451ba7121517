"""Alembic environment: one code path for SQLite and PostgreSQL, batch mode on SQLite."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from app.core.config import get_settings, normalize_database_url
from app.core.db import make_null_pool_engine
from app.models import Base

config = context.config
target_metadata = Base.metadata


# The search engines' own structures, made by hand in the migrations (see 0003): SQLite's FTS5
# virtual tables and their shadow tables, PostgreSQL's tsvector column and its GIN index.
_ENGINE_SEARCH_TABLES = ("search_fts_",)
_ENGINE_SEARCH_OBJECTS = {("column", "document"), ("index", "ix_search_entry_document")}


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave the hand-made full-text structures out of autogenerate's comparison."""
    if type_ == "table" and name and name.startswith(_ENGINE_SEARCH_TABLES):
        return False
    if (type_, name) in _ENGINE_SEARCH_OBJECTS:
        table = getattr(obj, "table", None)
        return getattr(table, "name", None) != "search_entry"
    return True


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
            include_object=include_object,
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
