"""The container's start, outside a container: `scripts/docker-entrypoint.sh` migrates, seeds an empty
database and serves with several workers (the session's `live_server` is started by it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.ops.conftest import ENTRYPOINT
from tests.ops.live import BIN, LiveServer

DOCKERFILE = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()


def test_the_entrypoint_migrates_seeds_and_serves(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        ready = http.get("/readyz")
        document = http.get("/api/v1/drugs/pomalidomide")

    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert document.status_code == 200 and document.json()["name"] == "Pomalidomide"
    assert "migrated to head" in live_server.output()
    assert "published: pomalidomide" in live_server.output()


def test_the_dockerfile_runs_the_entrypoint_as_a_non_root_user_with_a_healthcheck() -> None:
    assert "USER druginfo" in DOCKERFILE
    assert DOCKERFILE.index("USER druginfo") < DOCKERFILE.index("ENTRYPOINT")
    assert "HEALTHCHECK" in DOCKERFILE and "/healthz" in DOCKERFILE
    assert 'ENTRYPOINT ["druginfo-entrypoint"]' in DOCKERFILE
    assert "--require-hashes" in DOCKERFILE
    froms = [line.split()[1] for line in DOCKERFILE.splitlines() if line.startswith("FROM ")]
    assert len(froms) == 2 and all(":" in image and not image.endswith(":latest") for image in froms)


def test_the_image_has_the_druginfo_command(settings: Any) -> None:
    """`docker exec <container> druginfo keys create …` bootstraps the first key (README)."""
    assert "COPY scripts/druginfo /usr/local/bin/druginfo" in DOCKERFILE
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        ["sh", str(root / "scripts" / "druginfo"), "keys", "list"],
        env={
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "PYTHONPATH": str(root),
            "PATH": f"{BIN}:{os.environ['PATH']}",
        },
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("PREFIX")


def _startup_script(folder: Path) -> Path:
    """The entrypoint's start-up work (migrate, seed --if-empty), without the serve step."""
    path = folder / "startup.sh"
    path.write_text(ENTRYPOINT.read_text().replace("exec python -m app.cli serve", "exit 0; #"))
    return path


def _start(url: str, script: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sh", str(script)],
        env={**os.environ, "DATABASE_URL": url, "PATH": f"{BIN}:{os.environ['PATH']}"},
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_instances_starting_at_once_on_postgres_migrate_and_seed_once(
    postgres_server: Any, tmp_path: Path
) -> None:
    url = postgres_server.create("together")
    script = _startup_script(tmp_path)
    starts = [_start(url, script) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in starts]

    assert [process.returncode for process in starts] == [0, 0], outputs
    assert sum("published: pomalidomide" in output for output in outputs) == 1, outputs
    assert sum("seed skipped" in output for output in outputs) == 1, outputs
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM drug_revision")).scalar_one() == 1
    engine.dispose()
