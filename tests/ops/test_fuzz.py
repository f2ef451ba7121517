"""Schemathesis against the app's own OpenAPI, on a real server per engine, with every check.

Phases: coverage (boundary and negative values of every parameter, unsupported methods with
`Allow`, missing headers), fuzzing (positive and negative data), stateful (links, inferred from the
response schemas and Location headers). Checks: all of them (`not_a_server_error`, status code,
content type, headers and response schema conformance, negative data rejected, positive data
accepted, missing/ignored auth, ...). A finding is fixed in the app, never excluded here.

`fuzz_auth_headers` lists the credentials to fuzz with: anonymous only for now. When the admin API
lands, add one entry per role (a key created for the test), and every operation is fuzzed as each.
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
# Enough to matter, small enough for CI (about 20 s per engine here); raise it locally to dig deeper.
EXAMPLES = os.environ.get("DRUGINFO_FUZZ_EXAMPLES", "15")
SEED = os.environ.get("DRUGINFO_FUZZ_SEED", "8")


@pytest.fixture(params=[{}], ids=["anonymous"])
def fuzz_auth_headers(request: pytest.FixtureRequest) -> dict[str, str]:
    return dict(request.param)


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


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz_target(request: pytest.FixtureRequest) -> LiveServer:
    name = "live_server" if request.param == "sqlite" else "postgres_live_server"
    server: LiveServer = request.getfixturevalue(name)
    return server


@pytest.mark.timeout(240)
def test_the_api_survives_schemathesis(
    fuzz_target: LiveServer, fuzz_auth_headers: dict[str, str], tmp_path: Path
) -> None:
    command = [
        SCHEMATHESIS,
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
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--no-color",
    ]
    for name, value in fuzz_auth_headers.items():
        command += ["--header", f"{name}: {value}"]

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
    assert selected.group(1) == selected.group(2) == tested.group(1), "every operation is fuzzed"
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", result.stdout), f"{phase} phase did not pass:\n{report}"
