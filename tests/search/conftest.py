"""A read-only corpus database per engine, shared by the search tests (imported once per run)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import migrate_database
from app.core.config import Settings
from app.main import create_app
from tests.conftest import ENGINES, PostgresServer
from tests.search.corpus import import_corpus


@pytest.fixture(scope="session", params=ENGINES)
def corpus_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """An app over the synthetic corpus; tests using it must not write."""
    folder = tmp_path_factory.mktemp("corpus")
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = folder / "corpus.db"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create("corpus")
        migrate_database(Settings(database_url=url))
    settings = Settings(database_url=url)
    import_corpus(settings, folder)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
