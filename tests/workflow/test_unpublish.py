"""Unpublish and archive remove a drug from every public endpoint; the change feed says so."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.conftest import Admin
from tests.workflow.conftest import publish

GONE = [
    "/api/v1/drugs/testdrug-a",
    "/api/v1/drugs/testdrug-a/jsonld",
    "/api/v1/drugs/testdrug-a/sections/overview",
    "/fhir/MedicationKnowledge/testdrug-a",
    "/embed/drugs/testdrug-a/faqs",
]
LISTS = [
    "/api/v1/drugs",
    "/api/v1/faqs",
    "/api/v1/conditions/testcondition-a",
    "/api/v1/search?q=testdrug",
    "/fhir/MedicationKnowledge",
]


@pytest.mark.parametrize("how", ["unpublish", "archive"])
def test_unpublish_hides_the_drug_everywhere(admin: Admin, drug: dict[str, Any], how: str) -> None:
    admin.created("/conditions", {"slug": "testcondition-a", "name": "Testcondition A"})
    admin.created("/drugs/testdrug-a/indications", {"condition": "testcondition-a", "status": "approved"})
    admin.created(
        "/drugs/testdrug-a/faqs", {"question": "Synthetic question?", "answer": "Synthetic answer."}
    )
    publish(admin)
    for url in GONE:
        assert admin.client.get(url).status_code == 200, url
    for url in LISTS:
        response = admin.client.get(url)
        assert response.status_code == 200 and "testdrug-a" in response.text, url

    response = admin.post(f"/drugs/testdrug-a/{how}", role="publisher")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == ("archived" if how == "archive" else "draft")
    for url in GONE:
        assert admin.client.get(url).status_code == 404, url
    for url in LISTS:
        response = admin.client.get(url)
        assert "testdrug-a" not in response.text and "Testdrug A" not in response.text, url
    events = admin.client.get("/api/v1/changes").json()
    assert "unpublished" in str(events)
