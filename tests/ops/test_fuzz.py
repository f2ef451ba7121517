"""Schemathesis against the app's own OpenAPI, on a real server per engine, with every check.

Phases: coverage (boundary and negative values of every parameter, unsupported methods with
`Allow`, missing headers), fuzzing (positive and negative data), stateful (links, inferred from the
response schemas and Location headers). Checks: all of them (`not_a_server_error`, status code,
content type, headers and response schema conformance, negative data rejected, positive data
accepted, missing/ignored auth, ...). A finding is fixed in the app, never excluded here; the only
configuration (`schemathesis.toml`) adds, per operation, the statuses that depend on what no schema
can express (the database's state, the network, rules between parameters), each with its reason.

`fuzz_run` pairs a server with who fuzzes it: anonymously the public API (every operation outside
`/api/v1/admin`), and with an admin key (created in the server's database) the admin API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import DEFAULT_SEED, migrate_database, seed_database
from app.core.config import Settings
from tests.ops.live import LiveServer, serve

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
# Expected statuses of the checks where a status depends on what no schema can express (each says why).
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
# Enough to matter, small enough for CI (about 20 s per engine here); raise it locally to dig deeper.
EXAMPLES = os.environ.get("DRUGINFO_FUZZ_EXAMPLES", "15")
SEED = os.environ.get("DRUGINFO_FUZZ_SEED", "8")


ADMIN_PATHS = "^/api/v1/admin"
# The admin API in two runs of about equal size, each within CI time (one run of all 92 operations
# takes ~100 s here: schemathesis alone spends ~75 s of CPU on it). The drugs' parts (7 kinds × 7
# operations) with the drug list and create (their links' source); the rest of the admin API.
DRUG_PARTS = (
    r"^/api/v1/admin/drugs/\{slug\}/(sections|faqs|side-effects|monitoring|indications|combinations|stories)"
)
ADMIN_RUNS = {
    "admin-parts": ["--include-path-regex", f"{DRUG_PARTS}|^/api/v1/admin/drugs$"],
    "admin-rest": ["--include-path-regex", ADMIN_PATHS, "--exclude-path-regex", DRUG_PARTS],
}


@pytest.fixture(scope="module")
def sqlite_admin_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Its own server: the admin run writes (creates, edits, deletes), the shared live server stays seeded.
    folder = tmp_path_factory.mktemp("fuzz-admin")
    url = f"sqlite:///{folder / 'admin.db'}"
    settings = Settings(database_url=url)
    migrate_database(settings)
    seed_database(settings, DEFAULT_SEED)
    server = serve(
        url,
        folder / "server.log",
        DRUGINFO_ADMIN_RATE_LIMIT_PER_MINUTE="0",
        DRUGINFO_RATE_LIMIT_PER_MINUTE="0",
    )
    server.wait_until_up()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgresql_admin_live_server(
    postgres_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    url = postgres_server.create("fuzzadmin")
    settings = Settings(database_url=url)
    migrate_database(settings)
    seed_database(settings, DEFAULT_SEED)
    server = serve(
        url,
        tmp_path_factory.mktemp("fuzz-admin") / "server.log",
        DRUGINFO_ADMIN_RATE_LIMIT_PER_MINUTE="0",
        DRUGINFO_RATE_LIMIT_PER_MINUTE="0",
    )
    server.wait_until_up()
    yield server
    server.stop()


def admin_token(database_url: str) -> str:
    """A fresh admin key in the server's database, made the way `druginfo keys create` makes one."""
    from app.auth import service as auth_service
    from app.cli import unit_of_work
    from app.core.db import Database

    db = Database(Settings(database_url=database_url))
    try:
        with unit_of_work(db) as session:
            return auth_service.create_key(session, name="fuzz", role="admin", created_by="tests").token
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def postgres_live_server(postgres_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    url = postgres_server.create("fuzz")
    settings = Settings(database_url=url)
    migrate_database(settings)
    seed_database(settings, DEFAULT_SEED)
    server = serve(url, tmp_path_factory.mktemp("fuzz") / "server.log")
    server.wait_until_up()
    yield server
    server.stop()


# Anonymous: the public API (the admin API answers 401 to everyone without a key, by design).
# Admin: the admin API only (in two runs), with an admin key (every scope), on a server of its own.
@pytest.fixture(
    params=[
        pytest.param(("sqlite", "anonymous"), id="sqlite-anonymous"),
        pytest.param(("postgresql", "anonymous"), id="postgresql-anonymous"),
        pytest.param(("sqlite", "admin-parts"), id="sqlite-admin-parts"),
        pytest.param(("sqlite", "admin-rest"), id="sqlite-admin-rest"),
        pytest.param(("postgresql", "admin-parts"), id="postgresql-admin-parts"),
        pytest.param(("postgresql", "admin-rest"), id="postgresql-admin-rest"),
    ]
)
def fuzz_run(request: pytest.FixtureRequest) -> tuple[LiveServer, list[str]]:
    engine, who = request.param
    if who == "anonymous":
        name = "live_server" if engine == "sqlite" else "postgres_live_server"
        return request.getfixturevalue(name), ["--exclude-path-regex", ADMIN_PATHS]
    server: LiveServer = request.getfixturevalue(f"{engine}_admin_live_server")
    token = admin_token(server.database_url)
    return server, [*ADMIN_RUNS[who], "--header", f"Authorization: Bearer {token}"]


@pytest.mark.timeout(240)
def test_the_api_survives_schemathesis(fuzz_run: tuple[LiveServer, list[str]], tmp_path: Path) -> None:
    fuzz_target, options = fuzz_run
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{fuzz_target.url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        # One worker: the runs are spread over pytest-xdist's processes already, and schemathesis'
        # threads trip a CPython 3.11.7 bug ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        *options,
    ]

    result = subprocess.run(
        command,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )

    report = result.stdout[-12000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, report
    assert int(selected.group(1)) > 0, report
    assert selected.group(1) == tested.group(1), "every selected operation is fuzzed"
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", result.stdout), f"{phase} phase did not pass:\n{report}"
