"""The `druginfo` command, run as a user would (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from app.ops.service import MIGRATIONS, expected_heads

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


def test_migrate_only_upgrades_and_says_where_the_database_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    (head,) = expected_heads()
    previous = ScriptDirectory(str(MIGRATIONS)).get_revision(head).down_revision
    assert isinstance(previous, str)

    first = run(url, "migrate", previous)
    upgraded = run(url, "migrate")
    back = run(url, "migrate", previous)
    again = run(url, "migrate")

    assert (first.returncode, first.stdout.strip()) == (0, f"migrated to {previous}"), first.stderr
    assert (upgraded.returncode, upgraded.stdout.strip()) == (0, f"migrated to head ({head})")
    # An older target is refused with the reason, and nothing changes.
    assert back.returncode == 1
    assert f"the database is at {head}, past {previous}" in back.stderr
    assert "only upgrades" in back.stderr
    assert again.stdout.strip() == f"migrated to head ({head})"


def test_plain_postgres_url_is_accepted(postgres_server) -> None:  # type: ignore[no-untyped-def]
    url = postgres_server.create("cli")
    assert url.startswith("postgresql+psycopg://")
    plain = url.replace("postgresql+psycopg://", "postgresql://")

    assert run(plain, "migrate").returncode == 0
    result = run(plain, "seed")

    assert "published: pomalidomide" in result.stdout, result.stderr


def test_help_lists_the_commands_and_the_exit_codes() -> None:
    result = subprocess.run([DRUGINFO, "--help"], capture_output=True, text=True, check=True)

    for name in ("serve", "migrate", "seed", "import", "export", "keys"):
        assert name in result.stdout
    assert "69 the database" in " ".join(result.stdout.split())


def test_python_dash_m_knows_every_command() -> None:
    # The container's entrypoint runs `python -m app.cli`, not the installed script.
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, check=True
    )

    for name in ("serve", "migrate", "seed", "import", "export", "keys"):
        assert name in result.stdout
