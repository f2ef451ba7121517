"""Every setting has a default, help text, and a row in the README."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings, normalize_database_url, setting_name
from app.main import create_app

README = (Path(__file__).parent.parent / "README.md").read_text()


def configuration_table() -> str:
    """The rows of the README's configuration table: the lines after its header, up to the first
    line that is not a row (Markdown ends a table there; rows after a break render as text)."""
    section = README.split("## Configuration", 1)[1]
    header = section.index("| Variable |")
    rows = []
    for line in section[header:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return "\n".join(rows)


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    field = Settings.model_fields[name]
    variable = setting_name(name)

    assert field.description, f"{name} has no help text"
    assert f"| `{variable}` |" in configuration_table(), (
        f"{variable} is not in the README's configuration table"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////abs/path.db", "sqlite+pysqlite:////abs/path.db"),
        ("sqlite:///rel.db", "sqlite+pysqlite:///rel.db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_people_write(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_plain_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://me@db:5432/content")
    monkeypatch.setenv("PORT", "9001")

    settings = Settings()

    assert settings.database_url == "postgresql+psycopg://me@db:5432/content"
    assert settings.port == 9001


@pytest.mark.parametrize("threshold", [12_345, 0])
def test_the_serving_process_collects_garbage_less_often(threshold: int, tmp_path: Path) -> None:
    before = gc.get_threshold()
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'gc.db'}", gc_young_threshold=threshold))
    try:
        with TestClient(app):
            expected = (threshold, 20, 20) if threshold else before
            assert gc.get_threshold() == expected
    finally:
        gc.set_threshold(*before)
