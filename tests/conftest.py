"""Test databases on both engines, and an app per test.

Every database test runs on SQLite and on PostgreSQL. On PostgreSQL each test run creates its own
throwaway database (and drops it after), so runs never collide. Without a reachable server the
PostgreSQL variants are skipped with the reason, unless DRUGINFO_REQUIRE_POSTGRES=1 (CI), where
they fail loudly.
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

warnings.filterwarnings("ignore", message=".*httpx2.*")

# Tests measure behaviour, not throttling: the shared apps answer far more than 600 requests a minute
# from their one test "client". tests/ops turns the limits on where it tests them.
os.environ.setdefault("DRUGINFO_RATE_LIMIT_PER_MINUTE", "0")
os.environ.setdefault("DRUGINFO_ADMIN_RATE_LIMIT_PER_MINUTE", "0")

from fastapi.testclient import TestClient  # noqa: E402

from app.cli import DEFAULT_SEED, migrate_database, seed_database  # noqa: E402
from app.core.config import Settings, normalize_database_url  # noqa: E402
from app.core.db import make_null_pool_engine  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Base  # noqa: E402
from tests.factories import import_into, synthetic_drug  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("DRUGINFO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("DRUGINFO_REQUIRE_POSTGRES") == "1"
ENGINES = ["sqlite", "postgresql"]


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = make_null_pool_engine(normalize_database_url(POSTGRES_ADMIN_URL))
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}"
    return None


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalize_database_url(admin_url)
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"druginfo_{label}_{uuid.uuid4().hex[:10]}"
        engine = make_null_pool_engine(self.admin_url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        return str(sa.make_url(self.admin_url).set(database=name).render_as_string(hide_password=False))

    def drop_all(self) -> None:
        engine = make_null_pool_engine(self.admin_url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    reason = _postgres_unavailable_reason()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (DRUGINFO_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    server = PostgresServer(POSTGRES_ADMIN_URL)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (much faster than migrating every time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate_database(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_migrated(postgres_server: PostgresServer) -> str:
    url = postgres_server.create("tests")
    migrate_database(Settings(database_url=url))
    return url


def new_database(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """An empty, migrated database of the given engine, private to the calling test."""
    if engine_name == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "druginfo.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    _truncate_all(url)
    return url


def _truncate_all(url: str) -> None:
    """Empty every table and restart the ids.

    DELETE is about six times faster than TRUNCATE on tables this small (TRUNCATE makes and syncs
    new files for every table), and this runs before every PostgreSQL test. Triggers and foreign-key
    checks are off for this transaction only (`session_replication_role`), so order does not matter
    and append-only triggers do not stop the reset.
    """
    engine = make_null_pool_engine(normalize_database_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        sequences = conn.execute(
            sa.text(
                "SELECT quote_ident(sequence_schema) || '.' || quote_ident(sequence_name)"
                " FROM information_schema.sequences"
            )
        ).scalars()
        for sequence in list(sequences):
            conn.execute(sa.text(f"ALTER SEQUENCE {sequence} RESTART"))
        conn.execute(sa.text("INSERT INTO content_state (id, generation, updated_at) VALUES (1, 0, now())"))
    engine.dispose()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    return new_database(request, engine_name, tmp_path)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """An app on an empty, migrated database."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def seeded(settings: Settings) -> Settings:
    seed_database(settings, DEFAULT_SEED)
    return settings


@pytest.fixture
def seeded_client(seeded: Settings) -> Iterator[TestClient]:
    """An app on a database holding the curated seed."""
    with TestClient(create_app(seeded), raise_server_exceptions=False) as test_client:
        yield test_client


class ReadOnlyDatabases:
    """Databases built once per session for tests that only read (faster than one per test)."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        self.clients: dict[tuple[str, str], TestClient] = {}

    def client(self, engine_name: str, name: str, extra_bundles: list[dict[str, Any]]) -> TestClient:
        key = (engine_name, name)
        if key not in self.clients:
            if engine_name == "sqlite":
                url = f"sqlite:///{self.tmp_path / f'{name}.db'}"
            else:
                url = self.request.getfixturevalue("postgres_server").create(name)
            settings = Settings(database_url=url)
            migrate_database(settings)
            seed_database(settings, DEFAULT_SEED)
            for bundle in extra_bundles:
                import_into(settings, bundle)
            client = TestClient(create_app(settings), raise_server_exceptions=False)
            client.__enter__()
            self.clients[key] = client
        return self.clients[key]

    def close(self) -> None:
        for client in self.clients.values():
            client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def read_only_databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReadOnlyDatabases]:
    databases = ReadOnlyDatabases(request, tmp_path_factory.mktemp("readonly"))
    yield databases
    databases.close()


@pytest.fixture
def public_client(read_only_databases: ReadOnlyDatabases, engine_name: str) -> TestClient:
    """The seeded app, shared by read-only tests (never write through it)."""
    return read_only_databases.client(engine_name, "public", [])


def catalog_bundle() -> dict[str, Any]:
    """24 synthetic drugs with codes, two classes and a synthetic condition, plus a draft."""
    drugs = [
        synthetic_drug(
            f"testdrug-{i:02d}",
            f"Testdrug {i:02d}",
            drug_class="Synthetic class even" if i % 2 == 0 else "Synthetic class odd",
            codes={"testcode": f"T{i:03d}"},
            indications=[
                {"condition": "test-condition", "status": "approved" if i < 5 else "investigational"}
            ],
        )
        for i in range(24)
    ]
    drugs.append(synthetic_drug("zz-draft", "Zz Draft", status="draft"))
    return {"conditions": [{"slug": "test-condition", "name": "Test condition"}], "drugs": drugs}


@pytest.fixture
def catalog_client(read_only_databases: ReadOnlyDatabases, engine_name: str) -> TestClient:
    """The seed plus the synthetic catalog, shared by read-only tests."""
    return read_only_databases.client(engine_name, "catalog", [catalog_bundle()])
