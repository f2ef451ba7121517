"""The content generation: how every process learns, within a bound, that public content changed.

Every write bumps `content_state.generation` in its own transaction (`bump_generation`). Each
process keeps the last generation it saw in a `GenerationClock`, which request handlers read as a
plain attribute: no database round-trip per request. A `GenerationWatcher` thread re-reads the row
every `cache_poll_interval` seconds; on PostgreSQL it also LISTENs for the NOTIFY that the bumping
transaction sends, so other processes usually learn of a commit at once. A writer's own process
re-reads right after its commit, so its next request already sees its own write.

Dialect differences (NOTIFY/LISTEN on PostgreSQL, plain polling on SQLite) live in this module only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.core.db import Database
from app.publishing.models import ContentState

log = logging.getLogger("druginfo.generation")

CHANNEL = "druginfo_content"
_BUMPED = "druginfo.generation_bumped"
_COMMITTED = "druginfo.generation_committed"


@dataclass(frozen=True, slots=True)
class Generation:
    """One committed state of the content: its number and when it was reached."""

    number: int
    changed_at: dt.datetime


class GenerationClock:
    """The generation this process last saw (None: unknown, so nothing may be served from cache)."""

    def __init__(self) -> None:
        self.current: Generation | None = None
        self.changes = 0

    def observe(self, seen: Generation | None) -> None:
        # Replace the object only on a real change: caches compare identity, which is the cheapest check.
        if seen != self.current:
            self.current = seen
            self.changes += 1


def read_generation(conn: sa.Connection) -> Generation:
    row = conn.execute(
        sa.select(ContentState.generation, ContentState.updated_at).where(ContentState.id == 1)
    ).one()
    return Generation(number=int(row.generation), changed_at=row.updated_at)


def announce(session: Session, generation: Generation) -> None:
    """Tell other processes about a new generation; delivered at commit, dropped on rollback."""
    session.info[_BUMPED] = generation
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_notify(CHANNEL, str(generation.number))))


class GenerationWatcher:
    """Keeps a process's clock in step with the database: polling, LISTEN/NOTIFY, and after own commits."""

    def __init__(self, db: Database, *, interval: float) -> None:
        self.db = db
        self.interval = interval
        self.clock = GenerationClock()
        self.polls = 0
        self.notifications = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for sessions in (db.write_sessions, db.read_sessions):
            event.listen(sessions, "after_commit", self._after_commit)
            event.listen(sessions, "after_transaction_end", self._after_transaction_end)
            event.listen(sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        bumped: Generation | None = session.info.pop(_BUMPED, None)
        if bumped is None:
            return
        current = self.clock.current
        if current is not None and bumped.number > current.number:
            # This commit made the newest generation this process knows of: no need to read it back.
            self.clock.observe(bumped)
            return
        # Otherwise read it, but not here: the session still holds its pooled connection. Taking a
        # second one from the same pool (PostgreSQL: reads and writes share it) is hold-and-wait;
        # under load every connection ends up held by a committed writer waiting for another, and
        # requests get 503 after `db_pool_timeout` (found by 50 editors over HTTP,
        # tests/ops/test_faults.py).
        session.info[_COMMITTED] = True

    @staticmethod
    def _after_rollback(session: Session) -> None:
        # A generation bumped in a transaction that was rolled back never existed.
        session.info.pop(_BUMPED, None)

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        # The end of the outermost transaction comes after its connection went back to the pool,
        # and still inside `commit()`: the writer's next request sees its own write.
        if transaction.parent is None and session.info.pop(_COMMITTED, False):
            self.refresh()

    def refresh(self) -> None:
        """Read the generation now; an unreadable database makes it unknown (caches step aside)."""
        try:
            with self.db.engine.connect() as conn:
                self.clock.observe(read_generation(conn))
        except sa.exc.SQLAlchemyError:
            log.warning("could not read the content generation; caching paused", exc_info=True)
            self.clock.observe(None)

    def start(self) -> None:
        self.refresh()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="druginfo-generation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 2)
            self._thread = None

    def _run(self) -> None:
        listen = self.db.dialect == "postgresql"
        while not self._stop.is_set():
            try:
                if listen:
                    self._listen()
                else:
                    self._poll()
            except Exception:
                log.warning("content generation watcher failed; retrying", exc_info=True)
                self.clock.observe(None)
                self._stop.wait(self.interval)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self.polls += 1
            self.refresh()

    def _listen(self) -> None:
        """PostgreSQL: wait for NOTIFY, but never longer than the poll interval before re-reading."""
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # Read after LISTEN: a commit between the two is then seen by one or the other.
            self._observe_via(conn)
            last_read = time.monotonic()
            while not self._stop.is_set():
                # Short waits so that stop() is prompt even with a long poll interval.
                woken = False
                for _ in conn.notifies(timeout=min(self.interval, 0.25), stop_after=1):
                    woken = True
                    self.notifications += 1
                if woken or time.monotonic() - last_read >= self.interval:
                    self.polls += 1
                    self._observe_via(conn)
                    last_read = time.monotonic()

    def _observe_via(self, conn: Any) -> None:
        row = conn.execute("SELECT generation, updated_at FROM content_state WHERE id = 1").fetchone()
        self.clock.observe(Generation(number=int(row[0]), changed_at=row[1]))
