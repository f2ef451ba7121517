"""Cursors when content changes between two pages: keyset lists skip nothing, ranked lists expire."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.admin.conftest import Admin, create_tokens
from tests.factories import import_into, synthetic_drug
from tests.helpers import assert_problem
from tests.workflow.conftest import publish

ITEM_LISTS = ["/api/v1/faqs", "/api/v1/side-effects", "/api/v1/combinations"]


def _drug(letter: str) -> dict[str, Any]:
    """A synthetic drug with three items in each part the cross-drug lists show."""
    name = f"Testdrug {letter.upper()}"
    return synthetic_drug(
        f"testdrug-{letter}",
        name,
        faqs=[{"question": f"{name} question {i}?", "answer": "Synthetic.", "tags": []} for i in range(3)],
        side_effects=[
            {"name": f"Test effect {i}", "seriousness": "common", "management_tips": []} for i in range(3)
        ],
        combinations=[
            {"name": f"{name} regimen {i}", "components": [{"name": name}, {"name": "Testcomponent X"}]}
            for i in range(3)
        ],
    )


@pytest.fixture
def admin(client: TestClient, settings: Settings) -> Admin:
    """Three published synthetic drugs (A, B, C: nine items in each list), and the management API.

    The keys first: they are another process's write, which the app would learn of only at its next
    poll, between two requests of a test (a ranked cursor then expires); the import, in the app's
    own process, brings it up to date at once."""
    tokens = create_tokens(settings)
    import_into(client, {"drugs": [_drug(letter) for letter in "abc"]})
    return Admin(client, tokens)


def _key(item: dict[str, Any]) -> tuple[str, int]:
    return item["drug"]["slug"], item["id"]


def _rest(client: TestClient, url: str, cursor: str | None) -> list[tuple[str, int]]:
    """Every item from the page `cursor` names to the end."""
    seen: list[tuple[str, int]] = []
    while cursor is not None:
        response = client.get(url, params={"limit": 4, "cursor": cursor})
        assert response.status_code == 200, response.text
        seen += [_key(item) for item in response.json()["items"]]
        cursor = response.json()["next_cursor"]
    return seen


@pytest.mark.parametrize("url", ITEM_LISTS)
@pytest.mark.parametrize(
    "unpublished",
    ["testdrug-a", "testdrug-b"],  # a drug of the first page; the drug of its last item
)
def test_an_unpublish_between_pages_skips_nothing(admin: Admin, url: str, unpublished: str) -> None:
    client = admin.client
    before = [_key(item) for item in client.get(url, params={"limit": 100}).json()["items"]]
    first = client.get(url, params={"limit": 4}).json()
    assert [slug for slug, _ in map(_key, first["items"])] == ["testdrug-a"] * 3 + ["testdrug-b"]

    assert admin.post(f"/drugs/{unpublished}/unpublish", role="publisher").status_code == 200
    rest = _rest(client, url, first["next_cursor"])

    on_first_page = {_key(item) for item in first["items"]}
    still_there = [key for key in before if key[0] != unpublished]
    assert rest == [key for key in still_there if key not in on_first_page], "each remaining item, once"


@pytest.mark.parametrize("url", ITEM_LISTS)
def test_pages_cover_every_item_once_when_nothing_changes(admin: Admin, url: str) -> None:
    everything = [_key(item) for item in admin.client.get(url, params={"limit": 100}).json()["items"]]
    first = admin.client.get(url, params={"limit": 4}).json()

    paged = [_key(item) for item in first["items"]] + _rest(admin.client, url, first["next_cursor"])

    assert paged == everything and len(everything) == 9


def test_removing_the_last_item_delivered_skips_nothing(admin: Admin) -> None:
    first = admin.client.get("/api/v1/faqs", params={"limit": 4}).json()
    last = first["items"][-1]  # Testdrug B's first FAQ
    editable = admin.get("/drugs/testdrug-b/faqs").json()["items"]
    etag = next(item["etag"] for item in editable if item["id"] == last["id"])
    assert admin.delete(f"/drugs/testdrug-b/faqs/{last['id']}", etag=etag).status_code == 204
    publish(admin, "testdrug-b")

    rest = _rest(admin.client, "/api/v1/faqs", first["next_cursor"])

    b_and_c = [(f"testdrug-{letter}", item["id"]) for letter in "bc" for item in _faqs(admin, letter)]
    assert rest[: len(b_and_c)] == b_and_c, "resumes at the drug's first item: repeats, never skips"


def _faqs(admin: Admin, letter: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = admin.client.get(f"/api/v1/drugs/testdrug-{letter}/faqs").json()["items"]
    return items


@pytest.mark.parametrize(
    "cursor",
    [
        "eyJrIjoiZmFxcyIsIm8iOjV9",  # {"k":"faqs","o":5}: an offset cursor of the old kind
        "eyJrIjoiZmFxcyIsIm4iOjEsImQiOjEsImkiOjF9",  # "n" not text
        "eyJrIjoiZmFxcyIsIm4iOiJ4IiwiZCI6LTEsImkiOjF9",  # a negative drug id
        "eyJrIjoiZmFxcyIsIm4iOiJ4IiwiZCI6MSwiaSI6dHJ1ZX0",  # the item id a boolean
        "eyJrIjoiZmFxcyIsIm4iOiJ4XHUwMDAwIiwiZCI6MSwiaSI6MX0",  # a NUL in the name
    ],
)
def test_a_malformed_keyset_cursor_names_no_page(admin: Admin, cursor: str) -> None:
    body = assert_problem(
        admin.client.get("/api/v1/faqs", params={"cursor": cursor}), 404, "cursor_not_found"
    )

    assert body["errors"][0]["pointer"] == "#/query/cursor"


RANKED = [
    ("/api/v1/search", {"q": "testdrug"}),
    ("/api/v1/drugs", {"q": "testdrug"}),
    ("/api/v1/faqs", {"q": "testdrug"}),
    ("/api/v1/side-effects", {"q": "test effect"}),
]


@pytest.mark.parametrize(("url", "params"), RANKED)
def test_a_ranked_cursor_expires_when_content_changes(admin: Admin, url: str, params: dict[str, str]) -> None:
    client = admin.client
    first = client.get(url, params={**params, "limit": 2}).json()
    assert first["next_cursor"]
    same = client.get(url, params={**params, "limit": 2, "cursor": first["next_cursor"]})
    assert same.status_code == 200, "valid while the content is unchanged"

    assert admin.post("/drugs/testdrug-a/unpublish", role="publisher").status_code == 200
    response = client.get(url, params={**params, "limit": 2, "cursor": first["next_cursor"]})

    body = assert_problem(response, 410, "cursor_expired")
    assert body["errors"][0]["pointer"] == "#/query/cursor"
    assert response.headers["cache-control"] == "no-store"
    restarted = client.get(url, params={**params, "limit": 2}).json()
    assert (
        client.get(url, params={**params, "cursor": restarted["next_cursor"], "limit": 2}).status_code == 200
    )


@pytest.mark.parametrize(("url", "params"), RANKED)
def test_a_ranked_cursor_is_tied_to_its_query(admin: Admin, url: str, params: dict[str, str]) -> None:
    cursor = admin.client.get(url, params={**params, "limit": 2}).json()["next_cursor"]

    response = admin.client.get(url, params={"q": "synthetic", "limit": 2, "cursor": cursor})

    assert_problem(response, 404, "cursor_not_found")


def test_a_ranked_cursor_is_tied_to_its_filters(admin: Admin) -> None:
    params = {"q": "test effect", "limit": 2}
    cursor = admin.client.get("/api/v1/side-effects", params=params).json()["next_cursor"]

    response = admin.client.get(
        "/api/v1/side-effects", params={**params, "seriousness": "common", "cursor": cursor}
    )

    assert_problem(response, 404, "cursor_not_found")
