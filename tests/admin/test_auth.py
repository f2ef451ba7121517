"""Authentication and scopes: 401 without a valid key, 403 without the scope, nothing in the URL.

The matrix tests walk every admin operation in the OpenAPI document, so a new endpoint is covered
(and caught if it is public or scope-less) without anyone remembering to add it here.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter

from app.admin.router import require_a_scope_on_every_route
from app.auth import service as auth_service
from app.auth.dependencies import ContentReader
from app.auth.scopes import ROLE_SCOPES
from app.cli import unit_of_work
from app.core.concurrency import IF_MATCH_PATTERN
from app.core.config import Settings
from app.core.db import Database
from app.core.deps import ReadSession
from app.main import create_app
from tests.admin.conftest import ADMIN, Admin
from tests.helpers import assert_problem

ROLES_BY_POWER = ["viewer", "editor", "publisher", "admin"]
PATH_VALUES = {
    "slug": "testdrug-a",
    "part_id": "1",
    "prefix": "0123abcd",
    "resource_slug": "testresource-a",
    "webhook_id": "1",
    "number": "1",
}


def admin_operations(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, concrete path, required scope) for every admin operation."""
    operations = []
    for path, methods in schema["paths"].items():
        if not path.startswith(ADMIN):
            continue
        concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        for method, operation in methods.items():
            (scope,) = operation["security"][0]["ApiKey"]
            operations.append((method.upper(), concrete, scope))
    return operations


def test_openapi_declares_a_key_and_a_scope_on_every_admin_operation(tmp_path: Path) -> None:
    schema = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db")).openapi()

    scheme = schema["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    admin_ops = [
        (path, method, op)
        for path, methods in schema["paths"].items()
        if path.startswith(ADMIN)
        for method, op in methods.items()
    ]
    assert len(admin_ops) > 60
    for path, method, op in admin_ops:
        assert len(op.get("security", [])) == 1, (method, path)
        assert len(op["security"][0]["ApiKey"]) == 1, f"{method} {path}: exactly one scope expected"
        assert {"401", "403"} <= op["responses"].keys(), (method, path)
        # Every change names the version it was made from: If-Match is required (428 without it,
        # 412 when stale), and only changes answer 428. (schemathesis.toml selects them this way.)
        if_match = [p for p in op.get("parameters", []) if (p["in"], p["name"]) == ("header", "If-Match")]
        changes = method in {"patch", "put", "delete"}
        assert ("428" in op["responses"]) == changes == bool(if_match), (method, path)
        if changes:
            assert "412" in op["responses"], (method, path)
            assert if_match[0]["required"] is True, (method, path)
            assert if_match[0]["schema"]["pattern"] == IF_MATCH_PATTERN, (method, path)
        # Workflow actions and imports change state without creating a resource: 200.
        actions = ("/revoke", "/submit", "/publish", "/unpublish", "/archive", "/restore", "/import")
        if method == "post" and not path.endswith(actions):
            assert "201" in op["responses"], (method, path)
    public_ops = [
        op for path, ops in schema["paths"].items() if not path.startswith(ADMIN) for op in ops.values()
    ]
    assert public_ops and all("security" not in op for op in public_ops)
    # Admin schema names never collide with public ones (FastAPI would then qualify both with modules).
    assert [name for name in schema["components"]["schemas"] if "__" in name] == []


def test_every_admin_operation_needs_a_key_and_its_scope(admin: Admin) -> None:
    operations = admin_operations(admin.client.app.openapi())  # type: ignore[attr-defined]

    for method, path, scope in operations:
        anonymous = admin.request(method, path, role=None, json={})
        assert_problem(anonymous, 401, "unauthenticated")
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)

        # The presets are nested (checked below), so the strongest role without the scope standing
        # for all weaker ones, and the weakest role with it for all stronger ones, covers the matrix.
        lacking = [role for role in ROLES_BY_POWER if scope not in ROLE_SCOPES[role]]
        holding = [role for role in ROLES_BY_POWER if scope in ROLE_SCOPES[role]]
        if lacking:
            refused = admin.request(method, path, role=lacking[-1], json={})
            problem = assert_problem(refused, 403, "insufficient_scope")
            assert lacking[-1] in problem["detail"] and scope in problem["detail"]
            assert f'scope="{scope}"' in refused.headers["WWW-Authenticate"]
        allowed = admin.request(method, path, role=holding[0], json={})
        assert allowed.status_code not in (401, 403), (method, path, holding[0], allowed.text)


def test_an_admin_route_without_a_scope_check_first_stops_the_app_from_starting() -> None:
    public = APIRouter()

    @public.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match=r"GET '/forgotten' must depend first on a scope check"):
        require_a_scope_on_every_route(public)

    # A scope check after another dependency: an anonymous request would open the session first.
    late = APIRouter()

    @late.get("/late")
    def late_check(session: ReadSession, _: ContentReader) -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="/late"):
        require_a_scope_on_every_route(late)

    guarded = APIRouter()

    @guarded.get("/guarded")
    def guarded_route(_: ContentReader, session: ReadSession) -> dict[str, str]:
        return {}

    require_a_scope_on_every_route(guarded)


def test_role_presets_hold_the_documented_scopes() -> None:
    for weaker, stronger in itertools.pairwise(ROLES_BY_POWER):
        assert set(ROLE_SCOPES[weaker]) < set(ROLE_SCOPES[stronger])
    assert ROLE_SCOPES == {
        "viewer": ("content:read",),
        "editor": ("content:read", "content:write"),
        "publisher": ("content:read", "content:write", "content:publish", "audit:read"),
        "admin": ("content:read", "content:write", "content:publish", "audit:read", "keys:manage"),
    }


def test_bad_keys_are_401(admin: Admin) -> None:
    real = admin.tokens["admin"]
    bad = {
        "Bearer nonsense": "invalid_key",
        "Bearer dik_00000000_" + "A" * 43: "invalid_key",  # well-formed, unknown prefix
        "Bearer "
        + real[:-1]
        + ("A" if real[-1] != "A" else "B"): "invalid_key",  # right prefix, wrong secret
        "Bearer " + real + "x": "invalid_key",
        "Basic dXNlcjpwYXNz": "unauthenticated",
        "Bearer": "unauthenticated",
        real: "unauthenticated",  # no scheme
    }
    for authorization, code in bad.items():
        response = admin.client.get(f"{ADMIN}/drugs", headers={"Authorization": authorization})

        assert_problem(response, 401, code)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        if code == "invalid_key":
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert real not in response.text


def test_revoked_key_stops_working_at_once(admin: Admin) -> None:
    created = admin.post("/keys", {"name": "temp", "role": "editor"}, role="admin").json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert admin.client.get(f"{ADMIN}/drugs", headers=headers).status_code == 200

    assert admin.post(f"/keys/{created['prefix']}/revoke", role="admin").status_code == 200

    assert_problem(admin.client.get(f"{ADMIN}/drugs", headers=headers), 401, "invalid_key")
    created_drug = admin.client.post(f"{ADMIN}/drugs", headers=headers, json={"slug": "x", "name": "X"})
    assert_problem(created_drug, 401, "invalid_key")


def test_a_key_revoked_by_another_process_is_refused_at_once(admin: Admin, settings: Settings) -> None:
    """On SQLite the key is read on the event loop's own connection (`LoopReader`): it must see a
    commit made elsewhere (here: the CLI's way, its own engine) on the very next request."""
    token = admin.tokens["editor"]
    headers = {"Authorization": f"Bearer {token}"}
    assert admin.client.get(f"{ADMIN}/drugs", headers=headers).status_code == 200

    db = Database(settings)
    try:
        with unit_of_work(db) as session:
            key = auth_service.find_key(session, auth_service.token_prefix(token) or "")
            assert key is not None
            auth_service.revoke_key(session, key)
    finally:
        db.dispose()

    assert_problem(admin.client.get(f"{ADMIN}/drugs", headers=headers), 401, "invalid_key")


def test_keys_are_read_in_a_worker_thread_when_the_loop_cannot_read_them(
    admin: Admin, settings: Settings, tmp_path: Path
) -> None:
    """A loop connection that cannot answer at once (SQLite busy, or here: its file unopenable)
    hands the lookup to a worker thread: the caller sees no difference, and no file is created."""
    db = admin.client.app.state.db  # type: ignore[attr-defined]
    if db.loop_reader is None:
        pytest.skip("PostgreSQL reads keys in a worker thread always")
    missing = tmp_path / "missing.db"
    db.loop_reader.close()
    db.loop_reader.path = str(missing)

    assert admin.get("/drugs", role="viewer").status_code == 200
    assert_problem(
        admin.client.get(f"{ADMIN}/drugs", headers={"Authorization": "Bearer dik_00000000_" + "A" * 43}),
        401,
        "invalid_key",
    )
    assert not missing.exists()


def test_keys_in_the_url_are_never_accepted(admin: Admin) -> None:
    token = admin.tokens["admin"]
    for param in ("api_key", "token", "access_token", "key"):
        for headers in ({}, admin.headers("admin")):
            response = admin.client.get(f"{ADMIN}/drugs", params={param: token}, headers=headers)

            problem = assert_problem(response, 400, "unknown_parameters")
            assert problem["errors"][0]["pointer"] == f"#/query/{param}"
            assert token not in response.text


def test_admin_responses_are_never_cached(admin: Admin, drug: dict[str, Any]) -> None:
    responses = {
        "401": admin.get("/drugs", role=None),
        "200": admin.get("/drugs/testdrug-a"),
        "201": admin.post("/drugs/testdrug-a/faqs", {"question": "Q?", "answer": "A."}),
        "403": admin.get("/keys"),
        "404": admin.get("/drugs/no-such-drug"),
        "428": admin.patch("/drugs/testdrug-a", {"name": "x"}, etag=None),
        "412": admin.patch("/drugs/testdrug-a", {"name": "x"}, etag='"stale"'),
        "422": admin.post("/drugs", {"slug": "Not A Slug"}),
    }
    for status, response in responses.items():
        assert response.status_code == int(status), response.text
        assert response.headers["Cache-Control"] == "no-store", status
