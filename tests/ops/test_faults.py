"""Fault injection, loopback only and bounded: the database going away and coming back, a full disk,
and `kill -9` in the middle of a stream of writes.

The admin API (and its HTTP writes) is not here yet; the write path under test is the import path,
which runs the same unit of work an admin write will (draft tables, revision, published projection,
content generation, one transaction), and, for the HTTP mapping of write failures, a test-only route
that imports through the same `WriteSession` dependency the admin routes use.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.bundle.service import import_bundle, parse_bundle
from app.cli import DEFAULT_SEED, migrate_database, seed_database
from app.core.config import Settings, normalize_database_url
from app.core.db import make_null_pool_engine
from app.core.deps import WriteSession
from app.drugs.models import Drug, Faq
from app.main import create_app
from app.publishing.models import PublishedDrug
from app.revisions.models import DrugRevision
from tests.factories import synthetic_drug
from tests.helpers import assert_problem
from tests.ops.live import free_port

pytestmark = pytest.mark.fault
ROOT = Path(__file__).resolve().parents[2]


def eventually(check: Callable[[], bool], *, timeout: float = 15.0) -> float:
    """Poll until `check()` holds; the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not recovered within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - started


# (d) The database unavailable at startup and mid-run (PostgreSQL) -------------------------------


class TcpProxy:
    """A loopback TCP forwarder that can be cut (listener closed, live connections dropped) and restored."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would leave it listening.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()


@pytest.fixture
def postgres_admin(postgres_server: Any) -> Iterator[sa.Engine]:
    engine = make_null_pool_engine(postgres_server.admin_url)
    yield engine
    engine.dispose()


def _autocommit(engine: sa.Engine, *statements: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def test_postgres_missing_at_startup_then_created(postgres_server: Any, postgres_admin: sa.Engine) -> None:
    name = f"druginfo_later_{random.randrange(10**9)}"
    url = str(sa.make_url(postgres_server.admin_url).set(database=name).render_as_string(hide_password=False))
    postgres_server.created.append(name)  # dropped with the others at the end of the run

    with TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False) as client:
        ready = client.get("/readyz")
        drugs = client.get("/api/v1/drugs")
        assert_problem(ready, 503, "database_unavailable")
        body = assert_problem(drugs, 503, "database_unavailable")
        assert drugs.headers["retry-after"] == "5"
        assert name not in drugs.text and "psycopg" not in drugs.text and body["request_id"]

        _autocommit(postgres_admin, f'CREATE DATABASE "{name}"')
        assert_problem(client.get("/readyz"), 503, "database_not_migrated")
        migrate_database(Settings(database_url=url))
        seed_database(Settings(database_url=url), DEFAULT_SEED)

        # Same process, no restart: it serves as soon as the database is there.
        eventually(lambda: client.get("/readyz").status_code == 200)
        assert client.get("/api/v1/drugs/pomalidomide").status_code == 200


def test_postgres_connection_lost_mid_run_then_back(postgres_server: Any) -> None:
    url = postgres_server.create("proxied")
    settings = Settings(database_url=url)
    migrate_database(settings)
    seed_database(settings, DEFAULT_SEED)
    proxy = TcpProxy(sa.make_url(url).port or 5432)
    proxied = str(
        sa.make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )

    with TestClient(create_app(Settings(database_url=proxied)), raise_server_exceptions=False) as client:
        # Not even reachable at startup.
        assert_problem(client.get("/readyz"), 503, "database_unavailable")
        proxy.start()
        eventually(lambda: client.get("/readyz").status_code == 200)
        assert client.get("/api/v1/drugs").status_code == 200  # the pool now holds live connections

        proxy.cut()  # the network path goes away under pooled connections
        down = [client.get("/api/v1/drugs") for _ in range(3)]
        for response in down:
            assert_problem(response, 503, "database_unavailable")
        assert_problem(client.get("/readyz"), 503, "database_unavailable")

        proxy.start()
        took = eventually(lambda: client.get("/api/v1/drugs").status_code == 200)
        assert client.get("/readyz").status_code == 200
        assert took < 10
    proxy.cut()


def test_postgres_backends_terminated_and_refused_then_allowed(
    postgres_server: Any, postgres_admin: sa.Engine
) -> None:
    url = postgres_server.create("terminated")
    name = sa.make_url(url).database
    migrate_database(Settings(database_url=url))
    seed_database(Settings(database_url=url), DEFAULT_SEED)
    terminate = f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"

    with TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False) as client:
        assert client.get("/api/v1/drugs").status_code == 200

        _autocommit(postgres_admin, terminate)
        # Killed pooled connections are noticed (pre-ping) and replaced: no error at all.
        assert client.get("/api/v1/drugs").status_code == 200

        _autocommit(postgres_admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false', terminate)
        assert_problem(client.get("/api/v1/drugs"), 503, "database_unavailable")
        assert_problem(client.get("/readyz"), 503, "database_unavailable")

        _autocommit(postgres_admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        eventually(lambda: client.get("/api/v1/drugs").status_code == 200)
        assert client.get("/readyz").status_code == 200


# (e) Disk full (SQLite, PRAGMA max_page_count just above the current size) ----------------------


def _big_drug(slug: str) -> dict[str, Any]:
    text = "Synthetic filler text for a storage test. " * 700  # ~30 kB per section
    sections = [{"key": f"part-{n}", "title": f"Part {n}", "body": text} for n in range(3)]
    return synthetic_drug(slug, "Testdrug Full", sections=sections)


def test_a_full_disk_refuses_writes_keeps_data_and_recovers(sqlite_settings: Settings) -> None:
    seed_database(sqlite_settings, DEFAULT_SEED)
    app = create_app(sqlite_settings)
    router = APIRouter()

    @router.post("/test-only/import")
    def import_route(payload: dict[str, Any], session: WriteSession) -> dict[str, Any]:
        report = import_bundle(session, parse_bundle(payload), author="test")
        return {"created": report.created}

    app.include_router(router)
    limit: dict[str, int | None] = {"pages": None}

    @event.listens_for(app.state.db.write_engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        if limit["pages"] is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    with TestClient(app, raise_server_exceptions=False) as client:
        before = client.get("/api/v1/drugs/pomalidomide")
        with app.state.db.engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        limit["pages"] = pages + 2
        app.state.db.write_engine.dispose()  # new connections get the cap

        refused = client.post("/test-only/import", json={"drugs": [_big_drug("testdrug-full")]})

        body = assert_problem(refused, 507, "insufficient_storage")
        assert "nothing was written" in body["detail"]
        assert "disk is full" not in refused.text and "INSERT" not in refused.text
        # Reads go on, and nothing of the refused write is visible anywhere.
        after = client.get("/api/v1/drugs/pomalidomide")
        assert after.status_code == 200 and after.headers["etag"] == before.headers["etag"]
        assert client.get("/api/v1/drugs/testdrug-full").status_code == 404
        with app.state.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            assert conn.execute(sa.select(sa.func.count()).select_from(Drug)).scalar_one() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(DrugRevision)).scalar_one() == 1

        limit["pages"] = None  # space is back
        app.state.db.write_engine.dispose()
        accepted = client.post("/test-only/import", json={"drugs": [_big_drug("testdrug-full")]})

        assert accepted.status_code == 200, accepted.text
        assert client.get("/api/v1/drugs/testdrug-full").status_code == 200


# (a)(b) kill -9 in the middle of a stream of writes, then restart ------------------------------


def _writer(url: str, start: int = 0, count: int = 10_000) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ops.import_writer", url, str(start), str(count)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _acks_until_killed(writer: subprocess.Popen[str], *, at_least: int, timeout: float = 60) -> list[int]:
    acked: list[int] = []
    deadline = time.monotonic() + timeout
    assert writer.stdout is not None
    while len(acked) < at_least:
        assert time.monotonic() < deadline, f"only {len(acked)} writes acknowledged in {timeout} s"
        line = writer.stdout.readline()
        assert line, "the writer died on its own"
        acked.append(int(line.split()[1]))
    time.sleep(random.uniform(0.0, 0.05))  # land somewhere inside the next transaction
    writer.send_signal(signal.SIGKILL)
    writer.wait(10)
    # An ack printed just before the kill still counts: the commit had returned.
    acked += [int(line.split()[1]) for line in writer.stdout.read().splitlines() if line.startswith("ack")]
    return acked


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql"])
def test_kill_9_mid_stream_loses_no_acknowledged_write(database_url: str, engine_name: str) -> None:
    acked = _acks_until_killed(_writer(database_url), at_least=8)
    last = acked[-1]
    assert acked == list(range(last + 1))

    engine = make_null_pool_engine(normalize_database_url(database_url))
    with engine.connect() as conn:
        if engine_name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        drugs = {row.slug: row for row in conn.execute(sa.select(Drug.id, Drug.slug, Drug.summary))}
        faqs = dict(conn.execute(sa.select(Faq.drug_id, sa.func.count()).group_by(Faq.drug_id)).all())
        published = {
            row.slug: row.document["drug"]
            for row in conn.execute(
                sa.select(PublishedDrug.slug, DrugRevision.document).join(
                    DrugRevision, DrugRevision.id == PublishedDrug.revision_id
                )
            )
        }
    engine.dispose()

    for i in acked:  # every acknowledged write is there, whole, and published
        slug = f"testdrug-w{i:05d}"
        assert drugs[slug].summary == f"Written by write {i}"
        assert faqs[drugs[slug].id] == 3
        assert published[slug]["summary"] == f"Written by write {i}"
    base_version = int(drugs["testdrug-base"].summary.split()[1])
    in_flight_committed = f"testdrug-w{last + 1:05d}" in drugs
    # The write in flight at the kill is all there or not at all.
    assert base_version == (last + 1 if in_flight_committed else last)
    assert published["testdrug-base"]["summary"] == f"Version {base_version}"
    assert set(drugs) <= {"testdrug-base"} | {f"testdrug-w{i:05d}" for i in range(last + 2)}
    assert all(faqs[row.id] == 3 for row in drugs.values())  # nothing half-written

    # Restart: the database opens, takes writes again and serves what was acknowledged.
    again = _writer(database_url, start=last + 2, count=2)
    assert again.wait(60) == 0
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/readyz").status_code == 200
        document = client.get(f"/api/v1/drugs/testdrug-w{last:05d}").json()
        assert document["summary"] == f"Written by write {last}"
        assert client.get("/api/v1/drugs/testdrug-base").json()["summary"] == f"Version {last + 3}"
