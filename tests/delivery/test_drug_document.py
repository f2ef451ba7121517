"""The full published document and its per-part endpoints."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from tests.factories import import_into, synthetic_drug
from tests.helpers import assert_problem

DOC = "/api/v1/drugs/pomalidomide"


def test_full_document_embeds_every_part_in_order(public_client: TestClient) -> None:
    response = public_client.get(DOC)

    assert response.status_code == 200
    doc = response.json()
    assert doc["name"] == "Pomalidomide"
    assert doc["brand_names"] == ["Pomalyst"]
    assert doc["status"] == "published"
    assert doc["faqs"][0]["question"] == "What is Pomalidomide?"
    assert len(doc["faqs"]) == 6
    assert [s["key"] for s in doc["sections"]][:2] == ["introduction", "mechanism"]
    assert len(doc["side_effects"]) == 8
    assert len(doc["monitoring"]) == 4
    assert len(doc["stories"]) == 2
    assert len(doc["combinations"]) == 2
    assert {i["condition"]["slug"] for i in doc["indications"]} == {
        "multiple-myeloma",
        "kaposi-sarcoma",
        "lymphoma",
    }
    assert len(doc["support_resources"]) == 4
    assert doc["sources"][0]["title"]
    assert "medical advice" in doc["disclaimer"]


def test_document_shows_honest_review_status(public_client: TestClient) -> None:
    review = public_client.get(DOC).json()["review"]

    assert review["status"] == "not-reviewed"
    assert review["reviewed_by"] is None
    assert review["overdue"] is False
    assert "not been clinically reviewed" in review["note"]


def test_markdown_comes_with_sanitized_html(public_client: TestClient) -> None:
    doc = public_client.get(DOC).json()

    benefits = next(s for s in doc["sections"] if s["key"] == "benefits")
    assert "<h3>" in benefits["body_html"]
    assert doc["faqs"][0]["answer_html"].startswith("<p>")


@pytest.mark.parametrize(
    ("include", "present"),
    [
        ("faqs", {"faqs"}),
        ("faqs,side-effects", {"faqs", "side_effects"}),
        ("sections,stories", {"sections", "stories"}),
    ],
)
def test_include_chooses_parts(public_client: TestClient, include: str, present: set[str]) -> None:
    doc = public_client.get(DOC, params={"include": include}).json()

    parts = {"sources", "sections", "faqs", "side_effects", "monitoring", "indications", "combinations",
             "stories", "support_resources"}  # fmt: skip
    assert {p for p in parts if p in doc} == present
    assert doc["disclaimer"] and doc["review"]


def test_unknown_include_is_named(public_client: TestClient) -> None:
    body = assert_problem(public_client.get(DOC, params={"include": "faqs,secrets"}), 422)

    assert body["errors"][0]["pointer"] == "#/query/include"
    assert "secrets" in body["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("path", "count"),
    [("sections", 11), ("faqs", 6), ("side-effects", 8), ("monitoring", 4), ("indications", 3),
     ("combinations", 2), ("stories", 2), ("support-resources", 4)],
)  # fmt: skip
def test_part_endpoints(public_client: TestClient, path: str, count: int) -> None:
    response = public_client.get(f"{DOC}/{path}")

    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == count
    assert body["drug"]["slug"] == "pomalidomide"
    assert "medical advice" in body["disclaimer"]
    assert body["review"]["status"] == "not-reviewed"


@pytest.mark.parametrize(("seriousness", "count"), [("common", 4), ("serious", 4)])
def test_side_effects_by_seriousness(public_client: TestClient, seriousness: str, count: int) -> None:
    items = public_client.get(f"{DOC}/side-effects", params={"seriousness": seriousness}).json()["items"]

    assert len(items) == count
    assert {i["seriousness"] for i in items} == {seriousness}


@pytest.mark.parametrize(
    ("status", "slugs"),
    [("approved", {"multiple-myeloma"}), ("investigational", {"kaposi-sarcoma", "lymphoma"})],
)
def test_indications_by_status(public_client: TestClient, status: str, slugs: set[str]) -> None:
    items = public_client.get(f"{DOC}/indications", params={"status": status}).json()["items"]

    assert {i["condition"]["slug"] for i in items} == slugs


def test_one_section_by_key(public_client: TestClient) -> None:
    body = public_client.get(f"{DOC}/sections/mechanism").json()

    assert body["item"]["key"] == "mechanism"
    assert "angiogenesis" in body["item"]["body"]


def test_unknown_section_is_404(public_client: TestClient) -> None:
    assert_problem(public_client.get(f"{DOC}/sections/no-such-section"), 404)


@pytest.mark.parametrize(
    "path", ["", "/faqs", "/sections", "/sections/introduction", "/side-effects", "/support-resources"]
)
def test_unknown_drug_is_404_on_every_endpoint(public_client: TestClient, path: str) -> None:
    assert_problem(public_client.get(f"/api/v1/drugs/no-such-drug{path}"), 404, "drug_not_found")


def test_unpublished_drug_never_leaks(seeded: Settings, seeded_client: TestClient) -> None:
    draft = synthetic_drug("testdrug-draft", "Testdrug Draft", status="draft")
    import_into(seeded_client, {"drugs": [draft]})

    assert_problem(seeded_client.get("/api/v1/drugs/testdrug-draft"), 404)
    assert_problem(seeded_client.get("/api/v1/drugs/testdrug-draft/faqs"), 404)
    assert "testdrug-draft" not in seeded_client.get("/api/v1/drugs").text
    assert "Testdrug Draft" not in seeded_client.get("/api/v1/faqs", params={"limit": 100}).text


def test_archived_drug_is_removed_from_public_view(seeded: Settings, seeded_client: TestClient) -> None:
    import_into(seeded_client, {"drugs": [synthetic_drug("testdrug-a", "Testdrug A")]})
    assert seeded_client.get("/api/v1/drugs/testdrug-a").status_code == 200

    import_into(seeded_client, {"drugs": [synthetic_drug("testdrug-a", "Testdrug A", status="archived")]})

    assert_problem(seeded_client.get("/api/v1/drugs/testdrug-a"), 404)


def test_republished_change_is_served(seeded: Settings, seeded_client: TestClient) -> None:
    import_into(seeded_client, {"drugs": [synthetic_drug("testdrug-a", "Testdrug A")]})
    first = seeded_client.get("/api/v1/drugs/testdrug-a").json()

    changed = synthetic_drug("testdrug-a", "Testdrug A", summary="A changed synthetic summary.")
    import_into(seeded_client, {"drugs": [changed]})
    second = seeded_client.get("/api/v1/drugs/testdrug-a").json()

    assert second["summary"] == "A changed synthetic summary."
    assert second["revision"] == first["revision"] + 1


def test_etag_and_conditional_get(public_client: TestClient) -> None:
    first = public_client.get(DOC)
    etag = first.headers["etag"]

    assert etag.startswith('"') and etag.endswith('"')
    assert "public" in first.headers["cache-control"]
    assert first.headers["last-modified"].endswith("GMT")
    assert public_client.get(DOC, headers={"If-None-Match": etag}).status_code == 304
    assert public_client.get(DOC, headers={"If-None-Match": '"other"'}).status_code == 200
    since = public_client.get(DOC, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304


def test_large_bodies_are_gzipped(public_client: TestClient) -> None:
    response = public_client.get(DOC, headers={"Accept-Encoding": "gzip"})

    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["slug"] == "pomalidomide"
