"""Fault injection, loopback only and bounded: the database going away and coming back, a full disk,
`kill -9` of the server in the middle of a stream of admin writes, and 50 editors racing over HTTP.

The HTTP tests run the real server (`druginfo serve`) in a subprocess on each engine and write
through the management API (`/api/v1/admin`), so what they check is what a client was told: a
write answered with 2xx is committed whole (the draft, its revision and its audit entry). The
import-path kill test is the lower-level variant (the same unit of work, without HTTP).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.auth import service as auth_service
from app.bundle.service import import_bundle, parse_bundle
from app.cli import DEFAULT_SEED, migrate_database, seed_database, unit_of_work
from app.core.config import Settings, normalize_database_url
from app.core.db import Database, make_null_pool_engine
from app.core.deps import WriteSession
from app.drugs.models import Drug, Faq
from app.main import create_app
from app.publishing.generation import GenerationWatcher
from app.publishing.models import PublishedDrug
from app.publishing.service import bump_generation
from app.revisions.models import DrugRevision
from tests.admin.conftest import ADMIN, Admin, create_tokens
from tests.admin.test_concurrency import race
from tests.conftest import new_database
from tests.factories import synthetic_drug
from tests.helpers import assert_problem
from tests.ops.live import LiveServer, free_port, serve

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


# (a)(b), lower level: kill -9 of a process writing through the import path, then restart -------


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


# (a)(b) kill -9 of the server in the middle of a stream of admin writes over HTTP, then restart ---

LIVE_SETTINGS = {"DRUGINFO_RATE_LIMIT_PER_MINUTE": "0", "DRUGINFO_ADMIN_RATE_LIMIT_PER_MINUTE": "0"}
REQUEST_TIMEOUT = 30.0
# The audit action of each step of a write stream: create a drug, add a FAQ, edit that FAQ.
STEPS = ("drug.create_drug", "drug.create_faqs", "drug.update_faqs_item")
FIRST_ANSWER = "First answer."


@pytest.fixture
def live_database(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """A migrated, empty database of the engine, private to the test (servers get killed on it)."""
    if engine_name == "sqlite":
        return new_database(request, "sqlite", tmp_path)
    url: str = request.getfixturevalue("postgres_server").create("faults")
    migrate_database(Settings(database_url=url))
    return url


class StartServer(Protocol):
    def __call__(self, database_url: str, *, workers: int = 1) -> LiveServer: ...


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """`druginfo serve` on a database, once up; whatever still runs at the end of the test is stopped."""
    started: list[LiveServer] = []

    def start(database_url: str, *, workers: int = 1) -> LiveServer:
        log = tmp_path / f"server-{len(started)}.log"
        server = serve(database_url, log, workers=workers, **LIVE_SETTINGS)
        started.append(server)
        server.wait_until_up(timeout=60)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGTERM, timeout=10)


def wait_for(check: Callable[[], bool], what: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.01)


def all_items(admin: Admin, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a paginated admin list, following `next_cursor`."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = admin.get(
            path, role="admin", params={**params, "limit": "100", **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


@dataclass
class WriteStream:
    """One client writing drug after drug, one request at a time, each drug in the three STEPS.

    Step `n` of the stream is step `n % 3` of its drug `n // 3`; `acked` counts the steps answered
    with 2xx, so the step in flight when the server died is step `acked`.
    """

    admin: Admin
    name: str
    acked: int = 0
    failures: list[str] = field(default_factory=list)  # non-2xx answers before the kill (none expected)
    cut: bool = False  # the stream ended on a transport error (the kill)

    def slug(self, drug: int) -> str:
        return f"testdrug-{self.name}-{drug:04d}"

    def acked_steps(self, drug: int) -> int:
        return min(3, max(0, self.acked - 3 * drug))

    def run(self) -> None:
        faq: dict[str, Any] = {}
        while True:
            drug, step = divmod(self.acked, 3)
            slug = self.slug(drug)
            try:
                if step == 0:
                    response = self.admin.post(
                        "/drugs", {"slug": slug, "name": f"Testdrug {self.name} {drug}"}
                    )
                elif step == 1:
                    response = self.admin.post(
                        f"/drugs/{slug}/faqs", {"question": "Synthetic question?", "answer": FIRST_ANSWER}
                    )
                else:
                    url = f"/drugs/{slug}/faqs/{faq['id']}"
                    response = self.admin.patch(url, {"answer": f"Edit of {slug}."}, etag=faq["etag"])
            except httpx.TransportError:
                self.cut = True
                return
            if not response.is_success:
                request = response.request
                self.failures.append(
                    f"{request.method} {request.url.path}: {response.status_code} {response.text}"
                )
                return
            if step == 1:
                faq = response.json()
            self.acked += 1


def assert_database_opens_clean(database_url: str, engine_name: str) -> None:
    if engine_name != "sqlite":
        return  # PostgreSQL has no file to corrupt; its crash recovery is its own
    engine = make_null_pool_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    finally:
        engine.dispose()


def test_kill_9_mid_stream_of_admin_writes_loses_no_acknowledged_write(
    live_database: str, engine_name: str, start_server: StartServer
) -> None:
    tokens = create_tokens(Settings(database_url=live_database))
    server = start_server(live_database)
    clients = [httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) for _ in range(3)]
    streams = [WriteStream(Admin(client, tokens), f"k{n}") for n, client in enumerate(clients)]
    threads = [threading.Thread(target=stream.run, daemon=True) for stream in streams]
    for thread in threads:
        thread.start()

    wait_for(
        lambda: sum(s.acked for s in streams) >= 30 or any(s.failures for s in streams),
        "30 writes acknowledged",
        timeout=60,
    )
    time.sleep(random.uniform(0.0, 0.05))  # land somewhere inside the next requests
    server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 5)
    for client in clients:
        client.close()

    assert [s.failures for s in streams] == [[]] * len(streams)
    assert all(s.cut for s in streams), "every stream runs until the kill cuts it"
    assert_database_opens_clean(live_database, engine_name)

    # Restart on the same database: everything acknowledged is there, whole; nothing is half-written.
    server = start_server(live_database)
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        admin = Admin(client, tokens)
        found = {d["slug"] for d in all_items(admin, "/drugs")}
        actions: dict[str, list[str]] = {}
        for entry in all_items(admin, "/audit-log", entity="drug"):
            actions.setdefault(entry["entity_id"], []).append(entry["action"])
        expected: dict[str, tuple[int, int]] = {}  # slug → the fewest and most steps it may hold
        for stream in streams:
            in_flight = stream.acked // 3
            for number in range(in_flight + 1):
                acked = stream.acked_steps(number)
                expected[stream.slug(number)] = (acked, acked + 1 if number == in_flight else acked)
        assert found <= set(expected), found - set(expected)

        for slug, (fewest, most) in expected.items():
            if slug not in found:
                assert fewest == 0, f"{slug}: acknowledged, missing after the restart"
                continue
            drug = admin.get(f"/drugs/{slug}").json()
            faqs = drug["faqs"]
            edited = bool(faqs) and faqs[0]["answer"] != FIRST_ANSWER
            steps = 1 + len(faqs) + edited
            assert fewest <= steps <= most, (slug, steps, fewest, most)
            if faqs:
                assert faqs[0]["version"] == 1 + edited
                assert faqs[0]["answer"] == (f"Edit of {slug}." if edited else FIRST_ANSWER)
            # One revision and one audit entry per step, and the newest revision is the draft.
            assert drug["version"] == drug["latest_revision"] == steps
            numbers = [r["number"] for r in all_items(admin, f"/drugs/{slug}/revisions")]
            assert numbers == list(range(steps, 0, -1))
            latest = admin.get(f"/drugs/{slug}/revisions/{steps}").json()["document"]["drug"]
            assert [(f["question"], f["answer"]) for f in latest["faqs"]] == [
                (f["question"], f["answer"]) for f in faqs
            ]
            assert actions.get(slug) == list(STEPS[:steps]), (slug, actions.get(slug))
        assert set(actions) <= found

        # The restarted server takes writes again.
        again = admin.post("/drugs", {"slug": "testdrug-after", "name": "Testdrug After"})
        assert again.status_code == 201, again.text


# (c) 50 editors on 5 FAQs for a few seconds, over HTTP ------------------------------------------

EDITORS = 50
LOAD_SECONDS = 4.0
# Five FAQs on two drugs: editors of one FAQ race on its version, editors of sibling FAQs on the
# drug's row (every FAQ edit advances the drug's version and records a revision of the whole drug).
FAQ_DRUGS = ("testdrug-race-a", "testdrug-race-a", "testdrug-race-a", "testdrug-race-b", "testdrug-race-b")


@dataclass(frozen=True)
class Edit:
    """A PATCH answered with 200: what it wrote, the version it made, and whose key wrote it."""

    faq: int
    answer: str
    version: int
    prefix: str


def editor_keys(database_url: str, count: int) -> list[tuple[str, str]]:
    """(prefix, token) of `count` fresh editor keys, so every audit entry names its editor."""
    db = Database(Settings(database_url=database_url))
    try:
        with unit_of_work(db) as session:
            keys = [
                auth_service.create_key(session, name=f"editor {n}", role="editor", created_by="tests")
                for n in range(count)
            ]
            return [(new.key.prefix, new.token) for new in keys]
    finally:
        db.dispose()


@dataclass
class Editor:
    """One editor of one FAQ: read it for its ETag, PATCH it with If-Match; again until the load ends.

    412 is a lost race, a correct answer. Anything else but 200 is unexpected, and so is a transport
    error (the outcome of that write would be unknown).
    """

    client: httpx.Client  # shared by the editors (its pool holds a connection for each)
    prefix: str
    token: str
    faq: int
    url: str
    acked: list[Edit] = field(default_factory=list)
    refused: int = 0  # 412: another editor changed the FAQ since this one read it
    unexpected: list[str] = field(default_factory=list)

    def run(self, until: float) -> None:
        auth = {"Authorization": f"Bearer {self.token}"}
        n = 0
        while time.monotonic() < until:
            try:
                current = self.client.get(self.url, headers=auth)
                if current.status_code != 200:
                    self.unexpected.append(f"GET {current.status_code} {current.headers} {current.text}")
                    continue
                answer = f"Answer {n} by {self.prefix}."
                n += 1
                etag = current.headers["ETag"]
                response = self.client.patch(
                    self.url, json={"answer": answer}, headers={**auth, "If-Match": etag}
                )
            except httpx.TransportError as exc:
                self.unexpected.append(f"{type(exc).__name__}: {exc}")
                return
            if response.status_code == 200:
                self.acked.append(Edit(self.faq, answer, response.json()["version"], self.prefix))
            elif response.status_code == 412:
                self.refused += 1
            else:
                self.unexpected.append(f"PATCH {response.status_code} {response.headers} {response.text}")


def revision_answers(database_url: str, drug_id: int, first: int) -> dict[int, dict[str, str]]:
    """The FAQ answers (by question) in each of the drug's revisions from number `first` on."""
    engine = make_null_pool_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(DrugRevision.number, DrugRevision.drug_version, DrugRevision.document)
                .where(DrugRevision.drug_id == drug_id, DrugRevision.number >= first)
                .order_by(DrugRevision.number)
            ).all()
    finally:
        engine.dispose()
    # Numbered without gaps, each the document of the drug version its write made.
    assert [(r.number, r.drug_version) for r in rows] == [(n, n) for n in range(first, first + len(rows))]
    return {r.number: {f["question"]: f["answer"] for f in r.document["drug"]["faqs"]} for r in rows}


def changes_of(answers: dict[int, dict[str, str]], question: str) -> list[str]:
    """The successive new answers to `question`, revision after revision."""
    values = [faqs[question] for _, faqs in sorted(answers.items())]
    return [after for before, after in itertools.pairwise(values) if after != before]


@pytest.mark.parametrize("engine_name", ["postgresql"])  # SQLite's writer has a pool of its own
def test_a_commit_with_the_pool_almost_exhausted_needs_no_second_connection(database_url: str) -> None:
    """A writer's own process re-reads the generation after its commit, with the connection it gave back.

    Taking a second one while still holding the first made committing writers wait for each other
    once they held every pooled connection: 503s after `db_pool_timeout` under the 50 editors below.
    """
    db = Database(Settings(database_url=database_url, db_pool_timeout=1))
    watcher = GenerationWatcher(db, interval=60)
    held: list[sa.Connection] = []
    try:
        with pytest.raises(sa.exc.TimeoutError):
            while True:
                held.append(db.engine.connect())
        held.pop().close()  # exactly one left for the writer

        with db.write_sessions() as session:
            generation = bump_generation(session)
            started = time.monotonic()
            session.commit()

        assert time.monotonic() - started < 0.9  # no wait for the pool timeout
        assert watcher.clock.current is not None and watcher.clock.current.number == generation
    finally:
        for conn in held:
            conn.close()
        db.dispose()


async def _two_worker_threads() -> None:
    anyio.to_thread.current_default_thread_limiter().total_tokens = 2


def test_racing_writers_never_wait_for_a_thread_taken_by_each_other(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The write that holds the lock gets a worker thread to answer, however many wait for that lock.

    Its answer is validated in a worker thread while its write session still holds SQLite's write
    lock; with the threads all taken by writers waiting for that lock, nobody moved until they gave
    up after the busy timeout (503s under the 50 editors below). Two threads make it certain here.
    SQLite only: on PostgreSQL the waiters block on the row lock with no timeout, so without the
    fix this would hang rather than fail (the 50 editors cover PostgreSQL).
    """
    settings = Settings(database_url=new_database(request, "sqlite", tmp_path), sqlite_busy_timeout_ms=3000)
    tokens = create_tokens(settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.portal.call(_two_worker_threads)  # type: ignore[union-attr]
        admin = Admin(client, tokens)
        admin.created("/drugs", {"slug": "testdrug-a", "name": "Testdrug A"})
        faq = admin.created("/drugs/testdrug-a/faqs", {"question": "Q?", "answer": "Original."})
        url = f"/drugs/testdrug-a/faqs/{faq['id']}"
        started = time.monotonic()

        responses = race(6, lambda i: admin.patch(url, {"answer": f"Answer {i}."}, etag=faq["etag"]))

        assert Counter(r.status_code for r in responses) == {200: 1, 412: 5}, [r.text for r in responses]
        assert time.monotonic() - started < 3  # nobody waited out the busy timeout


def test_fifty_editors_on_five_faqs_lose_no_acknowledged_update(
    live_database: str, start_server: StartServer
) -> None:
    tokens = create_tokens(Settings(database_url=live_database))
    keys = editor_keys(live_database, EDITORS)
    server = start_server(live_database, workers=2)  # two processes (and pools) writing at once
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
        admin = Admin(client, tokens)
        for slug in sorted(set(FAQ_DRUGS)):
            admin.created("/drugs", {"slug": slug, "name": slug.replace("-", " ").title()})
        faqs = [
            admin.created(f"/drugs/{slug}/faqs", {"question": f"Question {n}?", "answer": "Original."})
            for n, slug in enumerate(FAQ_DRUGS)
        ]
        urls = [f"{ADMIN}/drugs/{slug}/faqs/{faq['id']}" for slug, faq in zip(FAQ_DRUGS, faqs, strict=True)]
        revisions_before = {slug: admin.get(f"/drugs/{slug}").json()["latest_revision"] for slug in FAQ_DRUGS}

        limits = httpx.Limits(max_connections=EDITORS, max_keepalive_connections=EDITORS)
        with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, limits=limits) as shared:
            editors = [
                Editor(shared, prefix, token, e % len(faqs), urls[e % len(faqs)])
                for e, (prefix, token) in enumerate(keys)
            ]
            until = time.monotonic() + LOAD_SECONDS
            threads = [threading.Thread(target=editor.run, args=(until,)) for editor in editors]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=LOAD_SECONDS + REQUEST_TIMEOUT + 5)
            assert not any(thread.is_alive() for thread in threads)

        unexpected = [answer for editor in editors for answer in editor.unexpected]
        acked = [edit for editor in editors for edit in editor.acked]
        # 412 is the only refusal: a 503 (busy, pool exhausted) is documented, but under this load
        # on either engine it is a finding, as is any 500.
        assert unexpected == [], f"{len(unexpected)} unexpected answers, e.g. {unexpected[:3]}"
        assert sum(editor.refused for editor in editors) > 0, "the editors never raced"
        edits = [sorted((a for a in acked if a.faq == n), key=lambda a: a.version) for n in range(len(faqs))]
        for n, faq_edits in enumerate(edits):
            # Each acknowledged write made exactly the next version; the last one is what is kept.
            assert faq_edits, f"no edit of FAQ {n} succeeded in {LOAD_SECONDS} s"
            assert [e.version for e in faq_edits] == list(range(2, len(faq_edits) + 2))
            final = admin.get(urls[n]).json()
            assert (final["version"], final["answer"]) == (len(faq_edits) + 1, faq_edits[-1].answer)

        # Revisions: one per acknowledged write, in order, each holding exactly that write's answer.
        entries = all_items(admin, "/audit-log", entity="drug", action="drug.update_faqs_item")
        for slug in sorted(set(FAQ_DRUGS)):
            mine = [n for n, s in enumerate(FAQ_DRUGS) if s == slug]
            writes = sum(len(edits[n]) for n in mine)
            drug = admin.get(f"/drugs/{slug}").json()
            assert drug["latest_revision"] == drug["version"] == revisions_before[slug] + writes
            answers = revision_answers(live_database, drug["id"], revisions_before[slug])
            for n in mine:
                question = f"Question {n}?"
                assert changes_of(answers, question) == [e.answer for e in edits[n]], question
            # Audit: one entry per acknowledged write, by the editor's key, naming the revision it made.
            audited = [e for e in entries if e["entity_id"] == slug]
            assert len(audited) == writes
            by_answer = {e.answer: e for n in mine for e in edits[n]}
            for entry in audited:
                (change,) = entry["changes"]["diff"]
                edit = by_answer.pop(change["after"])
                assert change["path"] == f"/drug/faqs[question=Question {edit.faq}?]/answer"
                assert entry["actor_prefix"] == edit.prefix
                assert answers[entry["changes"]["revision"]][f"Question {edit.faq}?"] == edit.answer
            assert by_answer == {}
