"""Fixtures for the cache tests: clearly synthetic drugs (testdrug-a, ...) imported by the import path."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bundle.service import import_bundle, parse_bundle
from app.cli import migrate_database
from app.core.config import Settings
from app.core.db import Database, session_scope
from app.main import create_app
from bench.synthetic import synthetic_bundle
from tests.conftest import ENGINES

TEST_DRUGS = [("testdrug-a", "Testdrug A"), ("testdrug-b", "Testdrug B"), ("testdrug-c", "Testdrug C")]


def import_with(db: Database, bundle: dict[str, Any]) -> None:
    """Import a bundle in one transaction of `db`'s writer (the app's own, or a separate one)."""
    for session in session_scope(db.write_sessions):
        import_bundle(session, parse_bundle(bundle), author="test", message="test import")


def import_elsewhere(settings: Settings, bundle: dict[str, Any]) -> None:
    """Import as another process would: its own engine, unknown to any app under test."""
    db = Database(settings)
    try:
        import_with(db, bundle)
    finally:
        db.dispose()


def edited(bundle: dict[str, Any], answer: str, *, drug: int = 0) -> dict[str, Any]:
    """The bundle with the first FAQ answer of one drug replaced."""
    changed = copy.deepcopy(bundle)
    changed["drugs"][drug]["faqs"][0]["answer"] = answer
    return changed


@pytest.fixture
def bundle() -> dict[str, Any]:
    return synthetic_bundle(TEST_DRUGS)


@pytest.fixture
def synthetic(settings: Settings, bundle: dict[str, Any]) -> Settings:
    import_elsewhere(settings, bundle)
    return settings


@pytest.fixture
def synthetic_client(synthetic: Settings) -> Iterator[TestClient]:
    """An app of its own on a database of its own holding the synthetic drugs (tests that write)."""
    with TestClient(create_app(synthetic), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module", params=ENGINES)
def shared_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A database with the synthetic drugs shared by one module's read-only tests (much faster)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("cache") / "shared.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_server").create("cache")
        migrate_database(Settings(database_url=url))
    settings = Settings(database_url=url)
    import_elsewhere(settings, synthetic_bundle(TEST_DRUGS))
    return settings


@pytest.fixture(scope="module")
def app_client(shared_settings: Settings) -> Iterator[TestClient]:
    """One app per module and engine, for tests that only read."""
    with TestClient(create_app(shared_settings), raise_server_exceptions=False) as client:
        yield client
