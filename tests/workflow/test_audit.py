"""The audit log: one entry per write, in order, with the actor; append-only in the database."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_null_pool_engine
from app.core.pagination import encode_cursor
from tests.admin.conftest import Admin
from tests.helpers import assert_problem
from tests.workflow.conftest import publish


def audit(admin: Admin, query: str = "") -> list[dict[str, Any]]:
    response = admin.get(f"/audit-log{query}", role="publisher")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def prefix(admin: Admin, role: str) -> str:
    return admin.tokens[role].split("_")[1]


def test_every_kind_of_write_is_audited_in_order_with_its_actor(admin: Admin, drug: dict[str, Any]) -> None:
    before = len(audit(admin, "?limit=100"))
    current = admin.get("/drugs/testdrug-a").json()
    admin.patch("/drugs/testdrug-a", {"summary": "Audited summary."}, etag=current["etag"])
    publish(admin)
    admin.created("/conditions", {"slug": "testcondition-x", "name": "Testcondition X"})
    created = admin.request("POST", "/keys", role="admin", json={"name": "temp", "role": "viewer"})
    assert created.status_code == 201, created.text
    new_prefix = created.json()["prefix"]
    admin.request("POST", f"/keys/{new_prefix}/revoke", role="admin")
    admin.post("/drugs/testdrug-a/unpublish", role="publisher")

    entries = audit(admin, "?limit=100")[before:]
    assert [(e["action"], e["entity"], e["entity_id"], e["actor_prefix"]) for e in entries] == [
        ("drug.update_drug", "drug", "testdrug-a", prefix(admin, "editor")),
        ("drug.publish", "drug", "testdrug-a", prefix(admin, "publisher")),
        ("condition.create_condition", "condition", "testcondition-x", prefix(admin, "editor")),
        ("key.create_key", "key", new_prefix, prefix(admin, "admin")),
        ("key.revoke_key", "key", new_prefix, prefix(admin, "admin")),
        ("drug.unpublish", "drug", "testdrug-a", prefix(admin, "publisher")),
    ]
    assert all(e["request_id"] and e["occurred_at"] for e in entries)
    edit = entries[0]["changes"]
    assert {"path": "/drug/summary", "op": "changed", "before": "Synthetic summary one.",
            "after": "Audited summary."} in edit["diff"]  # fmt: skip
    condition = entries[2]["changes"]
    assert (
        condition[0]["table"] == "condition" and condition[0]["fields"]["slug"]["after"] == "testcondition-x"
    )
    assert "hash" not in str(entries[3]["changes"])  # never the key's secret material
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids)
    # A record's history is found by its key from its creation on.
    history = audit(admin, "?entity=condition&entity_id=testcondition-x")
    assert [e["action"] for e in history] == ["condition.create_condition"]


def test_the_first_writes_are_audited_too(admin: Admin, drug: dict[str, Any]) -> None:
    entries = audit(admin, "?entity=drug&entity_id=testdrug-a")
    assert [e["action"] for e in entries] == ["drug.create_drug", "drug.create_sections"]
    assert entries[0]["changes"]["revision"] == 1


def test_filters_and_pagination(admin: Admin, drug: dict[str, Any]) -> None:
    publish(admin)
    mine = audit(admin, f"?actor={prefix(admin, 'publisher')}")
    assert [e["action"] for e in mine] == ["drug.publish"]
    assert [e["action"] for e in audit(admin, "?action=drug.publish")] == ["drug.publish"]
    first = audit(admin)[0]
    assert audit(admin, f"?until={first['occurred_at'].replace('+', '%2B')}") == []
    assert len(audit(admin, f"?since={first['occurred_at'].replace('+', '%2B')}")) == 3
    page = admin.get("/audit-log?limit=2", role="publisher").json()
    rest = admin.get(f"/audit-log?limit=2&cursor={page['next_cursor']}", role="publisher").json()
    assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in audit(admin)]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?until=0.5", 422),  # a number is not a timestamp
        ("?since=2026-01-31", 422),
        ("?since=2026-01-31T12:00:00", 422),
        ("?since=0001-01-01T00:00:00%2B01:00", 200),
        ("?actor=%C2%B2", 200),  # `²`: a digit to str.isdigit(), not a key id
        ("?actor=99999999999999999999", 200),
        ("?cursor=" + encode_cursor({"k": "audit", "after": "x"}), 404),
        ("?cursor=" + encode_cursor({"k": "audit", "after": 2**63}), 404),
        ("?cursor=" + encode_cursor({"k": "audit"}), 404),
    ],
)
def test_audit_filters_take_what_the_openapi_says(admin: Admin, query: str, status: int) -> None:
    response = admin.get(f"/audit-log{query}", role="publisher")

    assert response.status_code == status, response.text


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_audit_log_needs_its_scope(admin: Admin, role: str) -> None:
    assert_problem(admin.get("/audit-log", role=role), 403, None)


def test_a_refused_write_leaves_no_audit_entry_or_revision(admin: Admin, drug: dict[str, Any]) -> None:
    before = audit(admin)
    stale = admin.patch("/drugs/testdrug-a", {"summary": "Never."}, etag='"drug-1-1"')
    assert stale.status_code == 412
    assert admin.post("/drugs/testdrug-a/publish", {"reason": "x"}, role="publisher").status_code == 422
    assert audit(admin) == before
    assert len(admin.get("/drugs/testdrug-a/revisions").json()["items"]) == 2


@pytest.mark.parametrize("table", ["audit_entry", "drug_revision"])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_the_database_refuses_to_rewrite_history(
    admin: Admin, drug: dict[str, Any], settings: Settings, table: str, statement: str
) -> None:
    engine = make_null_pool_engine(settings.database_url)
    try:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement.format(table=table)))
        with engine.connect() as conn:
            assert conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) >= 2
    finally:
        engine.dispose()


def test_no_endpoint_edits_or_deletes_history(admin: Admin) -> None:
    paths = admin.client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if "audit-log" in path or "/revisions" in path:
            assert set(operations) - {"get", "post"} == set(), path
            assert "post" not in operations or path.endswith("/restore"), path


def test_keys_made_and_revoked_from_the_cli_are_audited(admin: Admin, settings: Settings) -> None:
    from tests.test_cli import run

    created = run(settings.database_url, "keys", "create", "--name", "cli key", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    new_prefix = created.stdout.strip().split("_")[1]
    assert run(settings.database_url, "keys", "revoke", new_prefix).returncode == 0
    entries = audit(admin, "?entity=key")
    assert [(e["action"], e["entity_id"], e["actor_prefix"]) for e in entries] == [
        ("key.create_key", new_prefix, "cli"),
        ("key.revoke_key", new_prefix, "cli"),
    ]
    assert "dik_" not in str(entries)
