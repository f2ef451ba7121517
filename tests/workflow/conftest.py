"""Fixtures for the editorial workflow tests: the admin fixtures, and a publishable synthetic drug."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import Admin

# The management API fixtures, shared with tests/admin.
tokens = admin_fixtures.tokens
admin = admin_fixtures.admin
seeded_admin = admin_fixtures.seeded_admin

SOURCE = {"title": "Synthetic test source", "publisher": "Test publisher", "url": "https://example.org/test"}
PUBLISHABLE = {
    "slug": "testdrug-a",
    "name": "Testdrug A",
    "summary": "Synthetic summary one.",
    "disclaimer": "Synthetic disclaimer: not medical advice.",
    "sources": [SOURCE],
}


def future(days: int = 180) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def publish_body(reason: str = "Synthetic review") -> dict[str, Any]:
    return {"reviewed_by": "Test Reviewer", "next_review_due": future(), "reason": reason}


def publish(admin: Admin, slug: str = "testdrug-a", *, role: str = "publisher", **kwargs: Any) -> Any:
    response = admin.post(f"/drugs/{slug}/publish", publish_body(), role=role, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def drug(admin: Admin) -> dict[str, Any]:
    """A synthetic drug (by the editor) with one section, ready to publish."""
    created = admin.created("/drugs", PUBLISHABLE)
    admin.created(
        "/drugs/testdrug-a/sections", {"key": "overview", "title": "Overview", "body": "Old synthetic text."}
    )
    return created
