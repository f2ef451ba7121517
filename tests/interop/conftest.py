"""A shared read-only app per engine: the seed plus the synthetic interop drugs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ReadOnlyDatabases
from tests.interop.bundles import coded_bundle, xss_bundle


@pytest.fixture
def interop_client(read_only_databases: ReadOnlyDatabases, engine_name: str) -> TestClient:
    """Seed + XSS drug + coded drugs, shared by read-only tests (never write through it)."""
    return read_only_databases.client(engine_name, "interop", [xss_bundle(), coded_bundle()])
