"""Bodies: size limit (declared and chunked), malformed JSON; 405 answers name what is allowed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from app.core.config import Settings
from tests.admin.conftest import ADMIN, Admin
from tests.admin.test_drugs import count_rows
from tests.helpers import assert_problem

MIB = 1024 * 1024


def faq_body(size: int) -> bytes:
    """A JSON FAQ whose encoding is exactly `size` bytes."""
    empty = json.dumps({"question": "Q?", "answer": ""}).encode()
    return json.dumps({"question": "Q?", "answer": "a" * (size - len(empty))}).encode()


def chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_default_limit_is_one_mebibyte() -> None:
    assert Settings.model_fields["max_body_bytes"].default == MIB


def test_bodies_over_the_limit_are_413_declared_or_chunked(
    admin: Admin, drug: dict[str, Any], settings: Settings
) -> None:
    url = f"{ADMIN}/drugs/testdrug-a/faqs"
    headers = {**admin.headers("editor"), "Content-Type": "application/json"}
    too_big = faq_body(MIB + 1)

    declared = admin.client.post(url, content=too_big, headers=headers)
    chunked = admin.client.post(url, content=chunks(too_big), headers=headers)  # no Content-Length
    lying = admin.client.post(url, content=chunks(too_big), headers={**headers, "Content-Length": "10"})

    for response in (declared, chunked):
        problem = assert_problem(response, 413, "payload_too_large")
        assert str(MIB) in problem["detail"]
    assert "content-length" not in {k.lower() for k in chunked.request.headers}
    assert lying.status_code in (400, 413, 422)
    assert count_rows(settings, "faq") == 0


def test_bodies_at_the_limit_pass_the_size_check(admin: Admin, drug: dict[str, Any]) -> None:
    url = f"{ADMIN}/drugs/testdrug-a/faqs"
    headers = {**admin.headers("editor"), "Content-Type": "application/json"}

    # One MiB exactly gets through the size limit and is then refused by the field's own bound.
    response = admin.client.post(url, content=chunks(faq_body(MIB)), headers=headers)
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["pointer"] == "/answer"

    small = admin.client.post(url, content=chunks(faq_body(2000), size=100), headers=headers)
    assert small.status_code == 201, small.text


def test_limit_is_configurable(request, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.admin.conftest import create_tokens
    from tests.conftest import new_database

    settings = Settings(database_url=new_database(request, "sqlite", tmp_path), max_body_bytes=2048)
    tokens = create_tokens(settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = Admin(client, tokens)
        admin.created("/drugs", {"slug": "testdrug-a", "name": "Testdrug A"})
        headers = {**admin.headers("editor"), "Content-Type": "application/json"}

        over = client.post(
            f"{ADMIN}/drugs/testdrug-a/faqs", content=chunks(faq_body(2049), 500), headers=headers
        )
        under = client.post(f"{ADMIN}/drugs/testdrug-a/faqs", content=faq_body(2048), headers=headers)

        assert_problem(over, 413, "payload_too_large")
        assert under.status_code == 201, under.text


def test_malformed_bodies_are_problems_and_change_nothing(
    admin: Admin, drug: dict[str, Any], settings: Settings
) -> None:
    url = f"{ADMIN}/drugs/testdrug-a/faqs"
    auth = admin.headers("editor")
    json_type = {**auth, "Content-Type": "application/json"}
    cases = [
        (b'{"question": "Q?", "answer": ', json_type),
        (b"{'question': 'Q?'}", json_type),
        (b'["question", "answer"]', json_type),
        (b'"just a string"', json_type),
        (b"null", json_type),
        (b"", json_type),
        (b'{"question": "Q?", "answer": "A."}', {**auth, "Content-Type": "text/plain"}),
        (b'{"question": "Q?", "answer": "A."}', auth),  # no Content-Type at all
        (b"\xff\xfe\x00", json_type),
        (b'{"question": "Q?", "answer": "A.", "answer": 5}', json_type),
    ]
    for body, headers in cases:
        response = admin.client.post(url, content=body, headers=headers)

        assert response.status_code in (400, 415, 422), (body, response.status_code, response.text)
        assert_problem(response, response.status_code)
    patch = admin.client.patch(
        f"{ADMIN}/drugs/testdrug-a", content=b"{", headers={**json_type, "If-Match": drug["etag"]}
    )
    assert_problem(patch, 422, "validation_failed")
    assert count_rows(settings, "faq") == 0
    assert admin.get("/drugs/testdrug-a").json()["version"] == 1


def test_head_answers_like_get_with_the_same_checks(admin: Admin) -> None:
    url = f"{ADMIN}/drugs/testdrug-a"
    admin.post("/drugs", {"slug": "testdrug-a", "name": "Testdrug A"})
    get = admin.client.get(url, headers=admin.headers("admin"))

    head = admin.client.head(url, headers=admin.headers("admin"))

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["cache-control"] == "no-store"
    unauthenticated = admin.client.head(url)  # the key is checked as for a GET
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    assert unauthenticated.content == b""
    post_only = admin.client.head(f"{ADMIN}/keys/0123abcd/revoke", headers=admin.headers("admin"))
    assert post_only.status_code == 405
    assert post_only.headers["allow"] == "POST"


def test_405_answers_list_the_allowed_methods(admin: Admin) -> None:
    cases = {
        f"{ADMIN}/drugs": "GET, HEAD, POST",
        f"{ADMIN}/drugs/testdrug-a": "GET, HEAD, PATCH, DELETE",
        f"{ADMIN}/drugs/testdrug-a/faqs": "GET, HEAD, POST",
        f"{ADMIN}/drugs/testdrug-a/faqs/1": "GET, HEAD, PATCH, DELETE",
        # An item's id is a number: `order` is the order's URL only (PATCH is a 405, not a 428 or 422).
        f"{ADMIN}/drugs/testdrug-a/faqs/order": "GET, HEAD, PUT",
        f"{ADMIN}/keys/0123abcd/revoke": "POST",
        "/api/v1/drugs": "GET, HEAD",
        "/healthz": "GET, HEAD",
    }
    for path, allowed in cases.items():
        method = "PUT" if "PUT" not in allowed else "POST"
        response = admin.client.request(method, path, headers=admin.headers("admin"))

        assert_problem(response, 405, "method_not_allowed")
        assert response.headers["Allow"] == allowed, path
