"""`Idempotency-Key` on POST create, publish and import."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import Admin
from tests.helpers import assert_problem
from tests.workflow.conftest import PUBLISHABLE, publish_body


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def revisions(admin: Admin, slug: str = "testdrug-a") -> int:
    return len(admin.get(f"/drugs/{slug}/revisions").json()["items"])


def test_create_retry_returns_the_original_without_acting_twice(admin: Admin) -> None:
    first = admin.post("/drugs", PUBLISHABLE, headers=key("create-1"))
    assert first.status_code == 201, first.text
    retry = admin.post("/drugs", PUBLISHABLE, headers=key("create-1"))
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    assert revisions(admin) == 1
    # Without the key, the same create is a conflict (it would act again).
    assert_problem(admin.post("/drugs", PUBLISHABLE), 409, None)


def test_same_key_different_body_is_refused(admin: Admin) -> None:
    admin.post("/drugs", PUBLISHABLE, headers=key("create-2"))
    other = {**PUBLISHABLE, "slug": "testdrug-b", "name": "Testdrug B"}
    assert_problem(admin.post("/drugs", other, headers=key("create-2")), 422, "idempotency_key_reused")
    assert admin.get("/drugs/testdrug-b").status_code == 404


def test_keys_are_per_key_holder(admin: Admin) -> None:
    admin.post("/drugs", PUBLISHABLE, headers=key("shared"))
    other = {**PUBLISHABLE, "slug": "testdrug-b", "name": "Testdrug B"}
    response = admin.post("/drugs", other, role="publisher", headers=key("shared"))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_a_failed_request_can_be_retried_with_its_key(admin: Admin) -> None:
    bad = {**PUBLISHABLE, "name": ""}
    assert admin.post("/drugs", bad, headers=key("create-3")).status_code == 422
    admin.post("/drugs", {**PUBLISHABLE, "slug": "testdrug-b", "name": "Testdrug B"})
    assert admin.post("/drugs", PUBLISHABLE, headers=key("create-4")).status_code == 201


def test_publish_and_part_create_retries(admin: Admin) -> None:
    admin.created("/drugs", PUBLISHABLE)
    faq = {"question": "Synthetic question?", "answer": "Synthetic."}
    first = admin.post("/drugs/testdrug-a/faqs", faq, headers=key("faq-1"))
    again = admin.post("/drugs/testdrug-a/faqs", faq, headers=key("faq-1"))
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    before = revisions(admin)
    body = publish_body()
    published = admin.post("/drugs/testdrug-a/publish", body, role="publisher", headers=key("pub-1"))
    assert published.status_code == 200, published.text
    replayed = admin.post("/drugs/testdrug-a/publish", body, role="publisher", headers=key("pub-1"))
    assert replayed.json() == published.json() and revisions(admin) == before + 1
    events = admin.client.get("/api/v1/changes").json()
    assert str(events).count("testdrug-a") >= 1
    publishes = admin.get("/audit-log?action=drug.publish", role="publisher").json()["items"]
    assert len(publishes) == 1


def test_import_retry(admin: Admin) -> None:
    bundle: dict[str, Any] = {"format": "druginfo-bundle", "version": 1, "drugs": [PUBLISHABLE]}
    first = admin.post("/import", bundle, role="publisher", headers=key("import-1"))
    again = admin.post("/import", bundle, role="publisher", headers=key("import-1"))
    assert first.json() == again.json() and first.json()["created"]["drugs"] == ["testdrug-a"]
    assert len(admin.get("/audit-log?action=bundle.import", role="publisher").json()["items"]) == 1


@pytest.mark.parametrize("value", ["", "x" * 201, "has space"])
def test_invalid_keys(admin: Admin, value: str) -> None:
    assert_problem(admin.post("/drugs", PUBLISHABLE, headers=key(value)), 400, "invalid_idempotency_key")
