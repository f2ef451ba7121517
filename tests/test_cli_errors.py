"""The `druginfo` command on a database it cannot use and on files that are not bundles: one line
on stderr and a documented exit code, never a traceback (unless it is a bug)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from app.cli import DEFAULT_SEED, EXIT_CONFIG, EXIT_DATABASE, EXIT_REFUSED
from app.core.config import normalize_database_url
from app.core.db import make_null_pool_engine
from app.ops.service import MIGRATIONS, expected_heads
from tests.test_cli import run

PASSWORD = "s3cret-pw"

# Every command that opens the database (serve leaves database trouble to the app's 503s).
DATABASE_COMMANDS = [
    ["migrate"],
    ["seed"],
    ["reindex"],
    ["import", str(DEFAULT_SEED)],
    ["export"],
    ["keys", "list"],
    ["keys", "create", "--name", "ci", "--role", "admin"],
    ["keys", "revoke", "abcd1234"],
]
# All but migrate need the schema first.
MIGRATED_COMMANDS = [command for command in DATABASE_COMMANDS if command != ["migrate"]]


def command_id(command: list[str]) -> str:
    return " ".join(command[:2]) if command[0] == "keys" else command[0]


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.fixture
def unreachable_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """A URL nothing answers at: a directory (SQLite), a closed port with a password (PostgreSQL)."""
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path}"
    admin = sa.make_url(request.getfixturevalue("postgres_server").admin_url)
    closed = admin.set(drivername="postgresql", username="nobody", password=PASSWORD, port=1, database="x")
    return closed.render_as_string(hide_password=False)


@pytest.fixture
def unmigrated_url(request: pytest.FixtureRequest, engine_name: str, tmp_path: Path) -> str:
    """An empty database: an empty SQLite file, a new PostgreSQL database."""
    if engine_name == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_server").create("cli"))


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=command_id)
def test_unreachable_database_is_one_line_without_the_password(
    unreachable_url: str, engine_name: str, command: list[str]
) -> None:
    result = run(unreachable_url, *command)

    reason = "(Connection refused)" if engine_name == "postgresql" else "(unable to open database file)"
    assert_one_line_error(result, EXIT_DATABASE, "cannot use the database at", reason)
    assert PASSWORD not in result.stderr


def test_missing_postgres_database_is_one_line(postgres_server) -> None:  # type: ignore[no-untyped-def]
    url = sa.make_url(postgres_server.admin_url).set(database="druginfo_never_created")

    result = run(url.render_as_string(hide_password=False), "keys", "list")

    assert_one_line_error(result, EXIT_DATABASE, 'database "druginfo_never_created" does not exist')


@pytest.mark.parametrize("command", MIGRATED_COMMANDS, ids=command_id)
def test_unmigrated_database_says_to_migrate_first(unmigrated_url: str, command: list[str]) -> None:
    result = run(unmigrated_url, *command)

    assert_one_line_error(result, EXIT_DATABASE, "is not migrated: run `druginfo migrate` first")
    engine = make_null_pool_engine(normalize_database_url(unmigrated_url))
    assert sa.inspect(engine).get_table_names() == []  # nothing was made on the way
    engine.dispose()


def test_database_behind_this_release_says_to_migrate(unmigrated_url: str) -> None:
    (head,) = expected_heads()
    previous = ScriptDirectory(str(MIGRATIONS)).get_revision(head).down_revision
    assert isinstance(previous, str)
    assert run(unmigrated_url, "migrate", previous).returncode == 0

    result = run(unmigrated_url, "keys", "list")

    assert_one_line_error(
        result, EXIT_DATABASE, f"is at revision {previous}, this release needs {head}", "druginfo migrate"
    )


def test_a_database_error_that_is_a_bug_keeps_its_traceback(unmigrated_url: str) -> None:
    assert run(unmigrated_url, "migrate").returncode == 0
    engine = make_null_pool_engine(normalize_database_url(unmigrated_url))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE api_key DROP COLUMN name"))
    engine.dispose()

    result = run(unmigrated_url, "keys", "list")

    # A schema the migrations did not make is not the operator's "unavailable": it stays a bug.
    assert result.returncode == 1
    assert "Traceback" in result.stderr


NOT_BUNDLES = {
    "malformed": (
        b"{not json",
        "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
    ),
    "trailing": (b'{"drugs": []}\n]', "not valid JSON: Extra data at line 2, column 1"),
    "empty": (b"", "not valid JSON: Expecting value at line 1, column 1"),
    "array": (b"[]", "the top level must be a JSON object (a bundle), not an array"),
    "number": (b"42", "the top level must be a JSON object (a bundle), not a number"),
    "not-utf8": (b"\xff\xfe{}", "not UTF-8 text"),
}


@pytest.mark.parametrize(
    "verb, case",
    [("import", case) for case in NOT_BUNDLES] + [("seed", "malformed"), ("seed", "array")],
)
def test_a_file_that_is_not_a_bundle_is_refused_in_one_line(
    database_url: str, tmp_path: Path, verb: str, case: str
) -> None:
    content, phrase = NOT_BUNDLES[case]
    path = tmp_path / "bundle.json"
    path.write_bytes(content)
    arguments = ["import", str(path)] if verb == "import" else ["seed", "--file", str(path)]

    result = run(database_url, *arguments)

    assert_one_line_error(result, EXIT_REFUSED, f"{path}: {phrase}")
    engine = make_null_pool_engine(normalize_database_url(database_url))
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM drug")) == 0
    engine.dispose()


def test_seed_refuses_an_invalid_bundle_as_import_does(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text('{"drugs": 3}', encoding="utf-8")

    seeded = run(database_url, "seed", "--file", str(path))
    imported = run(database_url, "import", str(path))

    assert (seeded.returncode, imported.returncode) == (EXIT_REFUSED, EXIT_REFUSED)
    assert seeded.stderr.splitlines() == [
        "seed refused: 1 problem(s) in the bundle.",
        "  /drugs: Input should be a valid list",
    ]
    assert imported.stderr.splitlines()[1:] == seeded.stderr.splitlines()[1:]
    assert "Traceback" not in seeded.stderr


@pytest.mark.parametrize(
    ("url", "environment", "phrase"),
    [
        ("garbage", {}, "DATABASE_URL: must be sqlite:"),
        ("mysql://user@host/db", {}, "DATABASE_URL: must be sqlite:"),
        (
            "sqlite:///{tmp}/ok.db",
            {"DRUGINFO_WORKERS": "many"},
            "DRUGINFO_WORKERS: Input should be a valid integer",
        ),
    ],
)
def test_an_invalid_setting_is_one_line_naming_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, environment: dict[str, str], phrase: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    result = run(url.format(tmp=tmp_path), "keys", "list")

    assert_one_line_error(result, EXIT_CONFIG, phrase)
    assert list(tmp_path.iterdir()) == []  # nothing was created
