"""The `druginfo` command, run as a user would (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DRUGINFO = str(Path(sys.executable).parent / "druginfo")


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [DRUGINFO, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("engine", ["sqlite"])
def test_migrate_and_seed_from_the_command_line(tmp_path: Path, engine: str) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    migrated = run(url, "migrate")
    first = run(url, "seed")
    again = run(url, "seed")
    skipped = run(url, "seed", "--if-empty")

    assert migrated.returncode == 0, migrated.stderr
    assert first.returncode == 0 and "published: pomalidomide" in first.stdout, first.stderr
    assert again.stdout.strip() == "seed: nothing to change"
    assert "skipped" in skipped.stdout


def test_plain_postgres_url_is_accepted(postgres_server) -> None:  # type: ignore[no-untyped-def]
    url = postgres_server.create("cli")
    assert url.startswith("postgresql+psycopg://")
    plain = url.replace("postgresql+psycopg://", "postgresql://")

    assert run(plain, "migrate").returncode == 0
    result = run(plain, "seed")

    assert "published: pomalidomide" in result.stdout, result.stderr


def test_help_lists_the_commands() -> None:
    result = subprocess.run([DRUGINFO, "--help"], capture_output=True, text=True, check=True)

    for name in ("serve", "migrate", "seed"):
        assert name in result.stdout
