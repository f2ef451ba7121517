"""Assertions shared by the tests."""

from __future__ import annotations

from typing import Any

import httpx


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and code)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    assert "Traceback" not in response.text
    return body


def see_other_writes(client: Any) -> None:
    """Let the app notice writes made by another process now, instead of at its next poll."""
    client.app.state.generation_watcher.refresh()


def assert_documented(client: Any, template: str, response: httpx.Response) -> None:
    """The response's body matches the schema the app's OpenAPI gives for its status and media type."""
    import jsonschema_rs  # the validator schemathesis uses

    spec = client.get("/openapi.json").json()
    method = response.request.method.lower()
    documented = spec["paths"][template][method]["responses"][str(response.status_code)]["content"]
    media_type = response.headers["content-type"].split(";")[0]
    schema = documented[media_type]["schema"]
    jsonschema_rs.Draft202012Validator({**schema, "components": spec["components"]}).validate(response.json())
