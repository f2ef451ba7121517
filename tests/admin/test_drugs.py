"""The drug itself: create, read, edit with If-Match, soft delete; validation and mass assignment."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import make_null_pool_engine
from tests.admin.conftest import ADMIN, Admin
from tests.helpers import assert_problem


def count_rows(settings: Settings, table: str) -> int:
    engine = make_null_pool_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_drug_lifecycle(admin: Admin) -> None:
    response = admin.post(
        "/drugs",
        {
            "slug": "testdrug-a",
            "name": "Testdrug A",
            "brand_names": ["Brandname A"],
            "drug_class": "Test class",
            "codes": {"ATC": "X00XX01"},
            "disclaimer": "For testing only.",
            "sources": [{"title": "Synthetic source", "url": "https://example.org/a"}],
        },
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"{ADMIN}/drugs/testdrug-a"
    assert response.headers["ETag"] == created["etag"] == f'"drug-{created["id"]}-v1"'
    assert created["status"] == "draft" and created["version"] == 1
    assert created["codes"] == {"atc": "X00XX01"}
    assert created["disclaimer_html"] == "<p>For testing only.</p>"
    assert created["faqs"] == [] and created["review"]["reviewed_by"] is None
    assert created["created_at"] == created["updated_at"]

    read = admin.get("/drugs/testdrug-a")
    assert read.status_code == 200 and read.json() == created and read.headers["ETag"] == created["etag"]
    listed = admin.get("/drugs").json()
    assert [d["slug"] for d in listed["items"]] == ["testdrug-a"]
    assert listed["items"][0]["etag"] == created["etag"]

    edited = admin.patch(
        "/drugs/testdrug-a",
        {"name": "Testdrug A2", "codes": {"rxnorm": "0000"}, "sources": [], "summary": None},
        etag=created["etag"],
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["name"], body["codes"], body["sources"], body["version"]) == (
        "Testdrug A2",
        {"rxnorm": "0000"},
        [],
        2,
    )
    assert body["brand_names"] == ["Brandname A"]  # untouched fields stay
    assert edited.headers["ETag"] == body["etag"] != created["etag"]
    assert body["updated_at"] > created["updated_at"]

    unchanged = admin.patch("/drugs/testdrug-a", {"name": "Testdrug A2"}, etag=body["etag"])
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 2

    renamed = admin.patch("/drugs/testdrug-a", {"slug": "testdrug-renamed"}, etag=body["etag"])
    assert renamed.status_code == 200
    assert renamed.headers["Content-Location"] == f"{ADMIN}/drugs/testdrug-renamed"
    assert_problem(admin.get("/drugs/testdrug-a"), 404, "drug_not_found")

    deleted = admin.delete("/drugs/testdrug-renamed", etag=renamed.json()["etag"])
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(admin.get("/drugs/testdrug-renamed"), 404, "drug_not_found")
    assert admin.get("/drugs").json()["items"] == []
    # The soft-deleted drug keeps its slug (so a restore can bring it back).
    assert_problem(admin.post("/drugs", {"slug": "testdrug-renamed", "name": "X"}), 409, "conflict")


def test_changes_need_the_current_etag(admin: Admin, drug: dict[str, Any]) -> None:
    url = "/drugs/testdrug-a"
    fresh = admin.patch(url, {"name": "Second"}, etag=drug["etag"]).json()

    for etag, status in [
        (None, 428),
        ("*", 428),
        ("drug-1-v1", 428),  # not an entity tag (unquoted)
        (f"{drug['etag']}, *", 428),
        (drug["etag"], 412),
        ("W/" + fresh["etag"], 412),
        ('"x"', 412),
    ]:
        for method, body in (("PATCH", {"name": "Lost"}), ("DELETE", None)):
            response = admin.request(method, url, etag=etag, json=body)

            problem = assert_problem(response, status)
            if status == 412:
                assert response.headers["ETag"] == problem["current_etag"] == fresh["etag"]
    after = admin.get(url).json()
    assert (after["name"], after["version"]) == ("Second", 2)
    # Any of several listed ETags may match.
    assert admin.patch(url, {"name": "Third"}, etag=f'"x", {fresh["etag"]}').status_code == 200


READ_ONLY_FIELDS = {
    "id": 99,
    "version": 7,
    "etag": '"drug-1-v1"',
    "status": "published",
    "review": {"reviewed_by": "Somebody"},
    "reviewed_by": "Somebody",
    "last_reviewed": "2026-01-01",
    "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "deleted_at": None,
    "translations": {},
    "faqs": [],
    "support_resources": [],
    "links": {},
}


def test_read_only_fields_cannot_be_set(admin: Admin, drug: dict[str, Any], settings: Settings) -> None:
    for field, value in READ_ONLY_FIELDS.items():
        created = admin.post("/drugs", {"slug": "testdrug-b", "name": "B", field: value})
        edited = admin.patch("/drugs/testdrug-a", {"name": "Changed", field: value}, etag=drug["etag"])

        for response in (created, edited):
            problem = assert_problem(response, 422, "validation_failed")
            assert [e["pointer"] for e in problem["errors"]] == [f"/{field}"], problem
            assert problem["errors"][0]["code"] == "extra_forbidden"
    assert admin.get("/drugs/testdrug-a").json() == drug
    assert count_rows(settings, "drug") == 1


def test_invalid_edits_name_each_field(admin: Admin, drug: dict[str, Any]) -> None:
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"name": None}, {"/name"}),
        ({"slug": None}, {"/slug"}),
        ({"slug": "Not A Slug"}, {"/slug"}),
        ({"name": "x" * 201}, {"/name"}),
        ({"name": "bad\x00name"}, {"/name"}),
        ({"brand_names": ["x"] * 31}, {"/brand_names"}),
        ({"codes": {"ATC": "a", "atc": "b"}}, {"/codes"}),
        ({"codes": {"atc": "bad code!"}}, {"/codes/atc"}),
        ({"sources": [{"title": "t", "url": "javascript:alert(1)"}]}, {"/sources/0/url"}),
        ({"name": None, "slug": "BAD"}, {"/name", "/slug"}),
    ]
    for body, pointers in cases:
        response = admin.patch("/drugs/testdrug-a", body, etag=drug["etag"])

        problem = assert_problem(response, 422, "validation_failed")
        assert {e["pointer"] for e in problem["errors"]} == pointers, (body, problem)
    assert admin.get("/drugs/testdrug-a").json()["version"] == 1


def test_slug_conflicts_write_nothing(admin: Admin, drug: dict[str, Any], settings: Settings) -> None:
    duplicate = admin.post("/drugs", {"slug": "testdrug-a", "name": "Again", "codes": {"atc": "X"}})
    other = admin.created("/drugs", {"slug": "testdrug-b", "name": "Testdrug B"})
    clash = admin.patch("/drugs/testdrug-b", {"slug": "testdrug-a"}, etag=other["etag"])

    for response in (duplicate, clash):
        problem = assert_problem(response, 409, "conflict")
        assert problem["errors"][0]["pointer"] == "/slug"
    assert count_rows(settings, "drug") == 2
    assert count_rows(settings, "drug_code") == 0
    assert admin.get("/drugs/testdrug-b").json()["version"] == 1


def test_drug_list_is_paginated(admin: Admin) -> None:
    for letter in "cab":
        admin.created("/drugs", {"slug": f"testdrug-{letter}", "name": f"Testdrug {letter.upper()}"})

    first = admin.get("/drugs", params={"limit": 2}).json()
    second = admin.get("/drugs", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [d["slug"] for d in first["items"]] == ["testdrug-a", "testdrug-b"]
    assert [d["slug"] for d in second["items"]] == ["testdrug-c"] and second["next_cursor"] is None
    assert_problem(admin.get("/drugs", params={"limit": 0}), 422, "invalid_parameters")
    assert_problem(admin.get("/drugs", params={"sort": "name"}), 400, "unknown_parameters")
