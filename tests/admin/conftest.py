"""Fixtures for the management API: an app per test with one key per role, and a small client helper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.auth import service as auth_service
from app.auth.scopes import ROLES
from app.cli import unit_of_work
from app.core.config import Settings
from app.core.db import Database
from app.main import create_app

ADMIN = "/api/v1/admin"


def create_tokens(settings: Settings) -> dict[str, str]:
    """One fresh key per role, straight through the service (as `druginfo keys create` does)."""
    db = Database(settings)
    try:
        with unit_of_work(db) as session:
            return {
                role: auth_service.create_key(
                    session, name=f"test {role}", role=role, created_by="test"
                ).token
                for role in ROLES
            }
    finally:
        db.dispose()


class Admin:
    """Requests to the management API (in-process or a live server) as a role key; `etag=` is `If-Match`."""

    def __init__(self, client: httpx.Client, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def headers(self, role: str | None, etag: str | None = None, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        if etag is not None:
            headers["If-Match"] = etag
        return headers

    def request(
        self, method: str, path: str, *, role: str | None = "editor", etag: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers(role, etag), **kwargs.pop("headers", {})}
        url = path if path.startswith("/api") else ADMIN + path
        return self.client.request(method, url, headers=headers, **kwargs)

    def get(self, path: str, *, role: str | None = "viewer", **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, role=role, **kwargs)

    def post(
        self, path: str, json: Any = None, *, role: str | None = "editor", **kwargs: Any
    ) -> httpx.Response:
        return self.request("POST", path, role=role, json=json, **kwargs)

    def patch(
        self, path: str, json: Any, *, etag: str | None, role: str | None = "editor", **kwargs: Any
    ) -> httpx.Response:
        return self.request("PATCH", path, role=role, etag=etag, json=json, **kwargs)

    def put(
        self, path: str, json: Any, *, etag: str | None, role: str | None = "editor", **kwargs: Any
    ) -> httpx.Response:
        return self.request("PUT", path, role=role, etag=etag, json=json, **kwargs)

    def delete(
        self, path: str, *, etag: str | None, role: str | None = "editor", **kwargs: Any
    ) -> httpx.Response:
        return self.request("DELETE", path, role=role, etag=etag, **kwargs)

    def created(self, path: str, json: Any) -> dict[str, Any]:
        """POST that must succeed; the created resource's body."""
        response = self.post(path, json)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    return create_tokens(settings)


@pytest.fixture
def admin(settings: Settings, tokens: dict[str, str]) -> Iterator[Admin]:
    """The management API on an empty database."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Admin(client, tokens)


@pytest.fixture
def seeded_admin(seeded: Settings, tokens: dict[str, str]) -> Iterator[Admin]:
    """The management API on the curated seed (pomalidomide, published)."""
    with TestClient(create_app(seeded), raise_server_exceptions=False) as client:
        yield Admin(client, tokens)


TESTDRUG = {"slug": "testdrug-a", "name": "Testdrug A"}


@pytest.fixture
def drug(admin: Admin) -> dict[str, Any]:
    """A synthetic drug in the working draft."""
    return admin.created("/drugs", TESTDRUG)
