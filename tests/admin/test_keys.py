"""API keys over HTTP and the CLI; the raw token is never stored or logged."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings, get_settings
from app.core.db import make_null_pool_engine
from tests.admin.conftest import ADMIN, Admin
from tests.helpers import assert_problem

TOKEN = re.compile(r"^dik_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


def test_create_list_show_and_revoke_a_key(admin: Admin) -> None:
    response = admin.post("/keys", {"name": "Reviewer One", "role": "publisher"}, role="admin")

    assert response.status_code == 201, response.text
    created = response.json()
    match = TOKEN.match(created["token"])
    assert match and match.group(1) == created["prefix"]
    assert response.headers["Location"] == f"{ADMIN}/keys/{created['prefix']}"
    assert created["scopes"] == ["content:read", "content:write", "content:publish", "audit:read"]
    assert created["active"] and created["revoked_at"] is None
    assert created["created_by"] == admin.tokens["admin"].split("_")[1]

    listed = admin.get("/keys", role="admin").json()
    assert created["prefix"] in [k["prefix"] for k in listed["items"]]
    assert all("token" not in k for k in listed["items"])
    assert created["token"] not in str(listed)

    shown = admin.get(f"/keys/{created['prefix']}", role="admin")
    assert shown.status_code == 200 and "token" not in shown.json()

    revoked = admin.post(f"/keys/{created['prefix']}/revoke", role="admin")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    again = admin.post(f"/keys/{created['prefix']}/revoke", role="admin")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # idempotent
    assert_problem(admin.post("/keys/ffffffff/revoke", role="admin"), 404, "key_not_found")


def test_key_list_is_paginated_and_records_last_use(admin: Admin) -> None:
    admin.get("/drugs", role="viewer")

    first = admin.get("/keys", role="admin", params={"limit": 3}).json()
    second = admin.get("/keys", role="admin", params={"limit": 3, "cursor": first["next_cursor"]}).json()

    assert len(first["items"]) == 3 and first["next_cursor"]
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    by_role = {k["role"]: k for k in first["items"] + second["items"]}
    assert by_role["viewer"]["last_used_at"] is not None
    assert by_role["editor"]["last_used_at"] is None
    assert_problem(admin.get("/keys", role="admin", params={"cursor": "garbage"}), 404, "cursor_not_found")
    assert_problem(admin.get("/keys", role="admin", params={"cursor": "not a cursor!"}), 422)


INVALID_KEY_BODIES = [
    ({"name": "x", "role": "superuser"}, "/role"),
    ({"name": "", "role": "viewer"}, "/name"),
    ({"name": "x" * 101, "role": "viewer"}, "/name"),
    ({"role": "viewer"}, "/name"),
    # Mass assignment: what the server decides cannot be sent.
    ({"name": "x", "role": "viewer", "scopes": ["keys:manage"]}, "/scopes"),
    ({"name": "x", "role": "viewer", "prefix": "aaaaaaaa"}, "/prefix"),
    ({"name": "x", "role": "viewer", "token": "dik_x"}, "/token"),
    ({"name": "x", "role": "viewer", "revoked_at": None}, "/revoked_at"),
]


def test_key_creation_is_validated(admin: Admin) -> None:
    for body, pointer in INVALID_KEY_BODIES:
        response = admin.post("/keys", body, role="admin")

        problem = assert_problem(response, 422, "validation_failed")
        assert pointer in [e["pointer"] for e in problem["errors"]], (body, problem)
    assert len(admin.get("/keys", role="admin").json()["items"]) == 4


def test_raw_token_is_stored_nowhere_and_logged_nowhere(
    admin: Admin, settings: Settings, engine_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = admin.post("/keys", {"name": "secret holder", "role": "editor"}, role="admin").json()
    token = created["token"]
    secret = token.rsplit("_", 1)[1]
    headers = {"Authorization": f"Bearer {token}"}
    assert admin.client.get(f"{ADMIN}/drugs", headers=headers).status_code == 200
    assert (
        admin.client.post(f"{ADMIN}/drugs", headers=headers, json={"slug": "a", "name": "A"}).status_code
        == 201
    )
    admin.client.get(f"{ADMIN}/keys", headers=headers)  # 403
    admin.client.get(f"{ADMIN}/drugs", headers={"Authorization": f"Bearer {token}x"})  # 401
    # A key put in a URL is refused (400), and the server's access log line does not keep it.
    assert admin.client.get(f"{ADMIN}/drugs", params={"api_key": token}).status_code == 400
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/v1/admin/drugs?api_key={token}", "1.1", 400
    )

    # (The test's own HTTP client logs the URLs it requests; that is the client's log, not the server's.)
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert f"api_key=dik_{created['prefix']}_<redacted>" in server_log
    assert secret not in server_log
    if engine_name == "sqlite":
        database = Path(sa.make_url(settings.database_url).database or "")
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        assert any(p.name.endswith("-wal") for p in files)
        for path in files:
            content = path.read_bytes()
            assert secret.encode() not in content, path
            assert token.encode() not in content, path
    else:
        engine = make_null_pool_engine(settings.database_url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT row_to_json(api_key)::text FROM api_key")).scalars().all()
        engine.dispose()
        assert len(rows) == 5
        assert all(secret not in row for row in rows)


def test_cli_creates_lists_and_revokes_keys(
    admin: Admin, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        created = runner.invoke(cli, ["keys", "create", "--name", "Bootstrap admin", "--role", "admin"])
        assert created.exit_code == 0, created.output
        token = created.stdout.strip()
        assert TOKEN.match(token), created.stdout
        assert "shown only once" in created.stderr
        prefix = token.split("_")[1]

        # The token works over HTTP at once, with its role's scopes.
        assert (
            admin.client.get(f"{ADMIN}/keys", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )

        listed = runner.invoke(cli, ["keys", "list"])
        assert listed.exit_code == 0 and prefix in listed.stdout and "Bootstrap admin" in listed.stdout
        assert token not in listed.stdout

        bad_role = runner.invoke(cli, ["keys", "create", "--name", "x", "--role", "root"])
        assert bad_role.exit_code == 2 and "--role" in bad_role.stderr

        revoked = runner.invoke(cli, ["keys", "revoke", prefix])
        assert revoked.exit_code == 0, revoked.output
        assert "revoked" in runner.invoke(cli, ["keys", "list"]).stdout
        response = admin.client.get(f"{ADMIN}/keys", headers={"Authorization": f"Bearer {token}"})
        assert_problem(response, 401, "invalid_key")

        unknown = runner.invoke(cli, ["keys", "revoke", "ffffffff"])
        assert unknown.exit_code == 1
    finally:
        get_settings.cache_clear()
