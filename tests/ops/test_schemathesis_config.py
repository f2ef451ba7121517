"""schemathesis.toml selects exactly the operations its reasons are about (the OpenAPI can drift)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Settings
from app.main import create_app

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every operation of the OpenAPI by its schemathesis name (`METHOD /path`)."""
    path = tmp_path_factory.mktemp("openapi") / "x.db"
    spec = create_app(Settings(database_url=f"sqlite:///{path}")).openapi()
    return {
        f"{method.upper()} {route}": operation
        for route, methods in spec["paths"].items()
        for method, operation in methods.items()
    }


def entries() -> list[dict[str, Any]]:
    config: dict[str, Any] = tomllib.loads(CONFIG.read_text())
    return list(config["operations"])


def chosen(operations: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Operation name → index of the entry that applies to it (the first that selects it)."""
    result: dict[str, int] = {}
    for index, entry in enumerate(entries()):
        assert set(entry) == {"include-name-regex", "checks"}, "one selector per entry (filters are ORed)"
        for name in operations:
            if name not in result and re.search(entry["include-name-regex"], name):
                result[name] = index
    return result


def _headers(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def test_every_entry_applies_to_some_operation(operations: dict[str, dict[str, Any]]) -> None:
    applied = set(chosen(operations).values())

    assert applied == set(range(len(entries())))


def test_every_change_that_needs_if_match_expects_412_and_428(operations: dict[str, dict[str, Any]]) -> None:
    applied = chosen(operations)
    for name, operation in operations.items():
        if_match = _headers(operation).get("If-Match")
        if if_match is None:
            continue
        assert if_match["required"], name
        checks = entries()[applied[name]]["checks"]
        assert "412" in checks["positive_data_acceptance"]["expected-statuses"], name
        assert "428" in checks["missing_required_header"]["expected-statuses"], name


def test_422_is_expected_only_where_a_reason_is_given(operations: dict[str, dict[str, Any]]) -> None:
    """Operations taking an Idempotency-Key may answer a reused key with 422; every operation whose
    entry expects a 422 is named in a regex (a broad method or prefix match never adds one)."""
    applied = chosen(operations)
    for name, operation in operations.items():
        if "Idempotency-Key" in _headers(operation):
            checks = entries()[applied[name]]["checks"]
            assert "422" in checks["positive_data_acceptance"]["expected-statuses"], name
    for entry in entries():
        if "422" in entry["checks"].get("positive_data_acceptance", {}).get("expected-statuses", []):
            assert entry["include-name-regex"].endswith("$"), entry["include-name-regex"]
