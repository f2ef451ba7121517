"""Lists: drugs (filters, sort, fields, cursor pagination), conditions, FAQs, support resources."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.factories import import_into
from tests.helpers import assert_problem


@pytest.fixture
def many(catalog_client: TestClient) -> TestClient:
    return catalog_client


def _all_pages(client: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get("/api/v1/drugs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            return items
        assert 'rel="next"' in response.headers["link"]


def test_list_defaults(many: TestClient) -> None:
    body = many.get("/api/v1/drugs").json()

    assert body["total"] == 25
    assert len(body["items"]) == 20
    assert body["next_cursor"]
    assert body["items"][0]["slug"] == "pomalidomide"
    assert "zz-draft" not in many.get("/api/v1/drugs", params={"limit": 100}).text


@pytest.mark.parametrize("limit", [1, 7, 25, 100])
def test_pages_cover_everything_once_in_stable_order(many: TestClient, limit: int) -> None:
    items = _all_pages(many, {"limit": limit})

    slugs = [i["slug"] for i in items]
    assert len(slugs) == 25 == len(set(slugs))
    assert slugs == sorted(
        slugs, key=lambda s: "pomalidomide" if s == "pomalidomide" else s.replace("-", " ")
    )


@pytest.mark.parametrize("sort", ["-name", "updated_at", "-updated_at", "last_reviewed", "-last_reviewed"])
def test_every_sort_paginates_completely(many: TestClient, sort: str) -> None:
    items = _all_pages(many, {"limit": 6, "sort": sort})

    assert len({i["slug"] for i in items}) == 25


def test_last_page_link_and_cursor(many: TestClient) -> None:
    response = many.get("/api/v1/drugs", params={"limit": 20})
    cursor = response.json()["next_cursor"]
    assert f"cursor={cursor}" in response.headers["link"]
    assert "limit=20" in response.headers["link"]

    last = many.get("/api/v1/drugs", params={"limit": 20, "cursor": cursor}).json()

    assert len(last["items"]) == 5
    assert last["next_cursor"] is None


@pytest.mark.parametrize(
    ("cursor", "status"),
    [
        ("garbage", 404),
        ("eyJrIjoiZmFxcyIsIm8iOjF9", 404),  # a FAQ list's cursor
        ("e30", 404),
        ("eyJrIjoiZHJ1Z3MiLCJzIjoibmFtZSJ9", 404),
        ("!!!", 422),  # not even of the cursor alphabet: malformed
        ("a" * 501, 422),
    ],
)
def test_bad_cursor_is_a_problem(many: TestClient, cursor: str, status: int) -> None:
    body = assert_problem(many.get("/api/v1/drugs", params={"cursor": cursor}), status)

    assert body["errors"][0]["pointer"] == "#/query/cursor"


def test_cursor_from_another_sort_is_rejected(many: TestClient) -> None:
    cursor = many.get("/api/v1/drugs", params={"limit": 5}).json()["next_cursor"]

    assert_problem(
        many.get("/api/v1/drugs", params={"limit": 5, "cursor": cursor, "sort": "-name"}),
        404,
        "cursor_not_found",
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"condition": "test-condition"}, 24),
        ({"condition": "multiple-myeloma"}, 1),
        ({"condition": "no-such-condition"}, 0),
        ({"drug_class": "synthetic class EVEN"}, 12),
        ({"drug_class": "Immunomodulatory drug (IMiD)"}, 1),
        ({"code": "testcode|T007"}, 1),
        ({"code": "TESTCODE|T007"}, 1),
        ({"code": "testcode|t007"}, 0),
        ({"code": "unknown-system|T007"}, 0),
        ({"letter": "p"}, 1),
        ({"letter": "T"}, 24),
        ({"letter": "q"}, 0),
        ({"condition": "test-condition", "drug_class": "Synthetic class odd"}, 12),
    ],
)
def test_filters(many: TestClient, params: dict[str, str], expected: int) -> None:
    body = many.get("/api/v1/drugs", params={**params, "limit": 100}).json()

    assert body["total"] == expected == len(body["items"])


def test_code_filter_finds_the_right_drug(many: TestClient) -> None:
    items = many.get("/api/v1/drugs", params={"code": "testcode|T007"}).json()["items"]

    assert [i["slug"] for i in items] == ["testdrug-07"]


def test_fields_selects_summary_fields(many: TestClient) -> None:
    items = many.get("/api/v1/drugs", params={"fields": "name,codes"}).json()["items"]

    assert set(items[0]) == {"slug", "name", "codes"}


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"limit": "0"}, "#/query/limit"),
        ({"limit": "101"}, "#/query/limit"),
        ({"limit": "ten"}, "#/query/limit"),
        ({"sort": "password"}, "#/query/sort"),
        ({"fields": "name,hash"}, "#/query/fields"),
        ({"code": "no-separator"}, "#/query/code"),
        ({"letter": "ab"}, "#/query/letter"),
        ({"condition": "Not A Slug"}, "#/query/condition"),
    ],
)
def test_bad_parameters_are_named(many: TestClient, params: dict[str, str], pointer: str) -> None:
    body = assert_problem(many.get("/api/v1/drugs", params=params), 422)

    assert pointer in [e["pointer"] for e in body["errors"]]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/drugs", "/api/v1/drugs/pomalidomide", "/api/v1/drugs/pomalidomide/faqs", "/api/v1/conditions",
     "/api/v1/faqs", "/api/v1/support-resources", "/healthz"],
)  # fmt: skip
@pytest.mark.parametrize("param", ["api_key", "unknown", "status", "token"])
def test_unknown_query_parameters_are_400(public_client: TestClient, path: str, param: str) -> None:
    body = assert_problem(public_client.get(path, params={param: "x"}), 400, "unknown_parameters")

    assert body["errors"] == [
        {"pointer": f"#/query/{param}", "detail": "unknown parameter", "code": "unknown"}
    ]


def test_conditions_list_and_detail(public_client: TestClient) -> None:
    seeded_client = public_client
    conditions = seeded_client.get("/api/v1/conditions").json()
    by_slug = {c["slug"]: c for c in conditions["items"]}

    assert conditions["total"] == 3
    assert by_slug["multiple-myeloma"]["approved_drugs"] == 1
    assert by_slug["lymphoma"]["investigational_drugs"] == 1

    myeloma = seeded_client.get("/api/v1/conditions/multiple-myeloma").json()
    assert [d["slug"] for d in myeloma["drugs"]["approved"]] == ["pomalidomide"]
    assert "60 days" in myeloma["drugs"]["approved"][0]["notes"]
    assert myeloma["drugs"]["investigational"] == []
    kaposi = seeded_client.get("/api/v1/conditions/kaposi-sarcoma").json()
    assert [d["slug"] for d in kaposi["drugs"]["investigational"]] == ["pomalidomide"]
    assert_problem(seeded_client.get("/api/v1/conditions/no-such-condition"), 404)


def test_faqs_across_drugs(many: TestClient) -> None:
    first = many.get("/api/v1/faqs", params={"limit": 10}).json()
    only_pom = many.get("/api/v1/faqs", params={"drug": "pomalidomide"}).json()

    assert first["total"] == 6 + 24
    assert len(first["items"]) == 10
    second = many.get("/api/v1/faqs", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert {f["id"] for f in first["items"]}.isdisjoint({f["id"] for f in second["items"]})
    assert only_pom["items"][0]["question"] == "What is Pomalidomide?"
    assert only_pom["items"][0]["drug"]["slug"] == "pomalidomide"
    assert "medical advice" in only_pom["items"][0]["disclaimer"]
    assert many.get("/api/v1/faqs", params={"drug": "zz-draft"}).json()["total"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 4),
        ({"category": "educational"}, 1),
        ({"drug": "pomalidomide"}, 4),
        ({"drug": "pomalidomide", "category": "support-group"}, 1),
    ],
)
def test_support_resources(public_client: TestClient, params: dict[str, str], expected: int) -> None:
    body = public_client.get("/api/v1/support-resources", params=params).json()

    assert body["total"] == expected == len(body["items"])


def test_global_resources_join_every_drug(seeded: Settings, seeded_client: TestClient) -> None:
    import_into(seeded_client,
        {"support_resources": [{"slug": "test-helpline", "category": "other", "title": "Test helpline",
                                "url": "https://example.org/help", "is_global": True}]},
    )  # fmt: skip

    items = seeded_client.get("/api/v1/drugs/pomalidomide/support-resources").json()["items"]

    assert [r["slug"] for r in items][-1] == "test-helpline"
    assert_problem(seeded_client.get("/api/v1/support-resources", params={"drug": "no-such-drug"}), 404)
