"""What every connection of the app is set up with, on each engine (`app.core.db`)."""

from __future__ import annotations

from app.core.config import Settings
from app.core.db import Database


def test_each_engine_sets_up_its_connections(settings: Settings) -> None:
    db = Database(settings)
    try:
        for engine in {db.engine, db.write_engine}:
            with engine.connect() as conn:
                if db.dialect == "sqlite":
                    # WAL (readers never wait for the writer), enforced foreign keys, and an
                    # acknowledged write that survives power loss.
                    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
                    assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
                    assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
                else:
                    # No parallel plans: a request's queries are small, and starting workers is not.
                    shown = conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar_one()
                    assert shown == "0"
                    conn.rollback()
                    # It holds after a transaction that rolled back, too (set and committed on connect).
                    shown = conn.exec_driver_sql("SHOW max_parallel_workers_per_gather").scalar_one()
                    assert shown == "0"
    finally:
        db.dispose()
