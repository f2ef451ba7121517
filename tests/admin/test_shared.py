"""Conditions and support resources (shared between drugs), and linking resources to drugs."""

from __future__ import annotations

from typing import Any

from tests.admin.conftest import ADMIN, Admin
from tests.admin.test_drugs import count_rows
from tests.helpers import assert_problem

RESOURCE = {
    "slug": "testresource-a",
    "category": "support-group",
    "title": "Testresource A",
    "description": "A **synthetic** group.",
    "url": "https://example.org/group",
    "phone": "+1 555 0100",
}


def test_condition_lifecycle(admin: Admin, drug: dict[str, Any]) -> None:
    response = admin.post("/conditions", {"slug": "testcondition-a", "name": "Testcondition A"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"{ADMIN}/conditions/testcondition-a"
    assert response.headers["ETag"] == created["etag"] and created["drugs"] == []
    assert_problem(admin.post("/conditions", {"slug": "testcondition-a", "name": "Again"}), 409)

    admin.created("/drugs/testdrug-a/indications", {"condition": "testcondition-a", "status": "approved"})
    shown = admin.get("/conditions/testcondition-a").json()
    assert shown["drugs"] == ["testdrug-a"]
    assert [c["slug"] for c in admin.get("/conditions").json()["items"]] == ["testcondition-a"]

    edited = admin.patch("/conditions/testcondition-a", {"description": "Some *text*."}, etag=created["etag"])
    assert edited.status_code == 200, edited.text
    assert edited.json()["description_html"] == "<p>Some <em>text</em>.</p>" and edited.json()["version"] == 2
    assert_problem(admin.patch("/conditions/testcondition-a", {"name": "X"}, etag=created["etag"]), 412)
    assert_problem(
        admin.patch("/conditions/testcondition-a", {"name": None}, etag=edited.json()["etag"]), 422
    )
    assert_problem(admin.patch("/conditions/testcondition-a", {"id": 3}, etag=edited.json()["etag"]), 422)

    renamed = admin.patch(
        "/conditions/testcondition-a", {"slug": "testcondition-b"}, etag=edited.json()["etag"]
    )
    assert renamed.headers["Content-Location"] == f"{ADMIN}/conditions/testcondition-b"
    # The drug refers to the condition by id, so it follows the rename.
    indications = admin.get("/drugs/testdrug-a/indications").json()["items"]
    assert indications[0]["condition"] == "testcondition-b"

    # A condition still in use cannot go; once unused it can.
    etag = renamed.json()["etag"]
    assert_problem(admin.delete("/conditions/testcondition-b", etag=etag), 409, "conflict")
    admin.delete(f"/drugs/testdrug-a/indications/{indications[0]['id']}", etag=indications[0]["etag"])
    assert admin.delete("/conditions/testcondition-b", etag=etag).status_code == 204
    assert_problem(admin.get("/conditions/testcondition-b"), 404, "condition_not_found")


def test_a_condition_published_drugs_link_to_keeps_its_slug(seeded_admin: Admin) -> None:
    """Pomalidomide's public indications link to /api/v1/conditions/kaposi-sarcoma."""
    condition = seeded_admin.get("/conditions/kaposi-sarcoma")
    refused = seeded_admin.patch(
        "/conditions/kaposi-sarcoma", {"slug": "kaposi"}, etag=condition.headers["ETag"]
    )

    problem = assert_problem(refused, 409, "conflict")
    assert problem["errors"][0]["pointer"] == "/slug" and "pomalidomide" in problem["detail"]
    link = seeded_admin.client.get("/api/v1/drugs/pomalidomide/indications").json()["items"]
    assert any(i["condition"]["slug"] == "kaposi-sarcoma" for i in link)
    assert seeded_admin.client.get("/api/v1/conditions/kaposi-sarcoma").status_code == 200
    # Its other fields stay editable.
    named = seeded_admin.patch(
        "/conditions/kaposi-sarcoma", {"name": "Kaposi sarcoma (KS)"}, etag=condition.headers["ETag"]
    )
    assert named.status_code == 200, named.text


def test_condition_translations_are_kept_shown_and_edited(admin: Admin) -> None:
    french = {"name": "Maladie de test", "description": "Une maladie *synthétique*."}
    created = admin.created(
        "/conditions", {"slug": "test-cond", "name": "Test cond", "translations": {"fr": french}}
    )
    assert created["translations"] == {"fr": french}

    renamed = admin.patch("/conditions/test-cond", {"name": "Test cond renamed"}, etag=created["etag"]).json()
    assert renamed["translations"] == {"fr": french}
    replaced = admin.patch("/conditions/test-cond", {"translations": {}}, etag=renamed["etag"])
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["translations"] == {}
    assert admin.get("/conditions/test-cond").json()["translations"] == {}


def test_support_resource_lifecycle(admin: Admin) -> None:
    response = admin.post("/support-resources", RESOURCE)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"{ADMIN}/support-resources/testresource-a"
    assert created["description_html"] == "<p>A <strong>synthetic</strong> group.</p>"
    assert (created["is_global"], created["drugs"], created["version"]) == (False, [], 1)

    edited = admin.patch(
        "/support-resources/testresource-a",
        {"url": "mailto:help@example.org", "phone": None},
        etag=created["etag"],
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["url"], edited.json()["phone"], edited.json()["version"]) == (
        "mailto:help@example.org",
        None,
        2,
    )
    assert [r["slug"] for r in admin.get("/support-resources").json()["items"]] == ["testresource-a"]
    assert admin.delete("/support-resources/testresource-a", etag=created["etag"]).status_code == 412
    assert admin.delete("/support-resources/testresource-a", etag=edited.json()["etag"]).status_code == 204
    assert_problem(admin.get("/support-resources/testresource-a"), 404, "support_resource_not_found")


def test_support_resource_urls_are_https_mailto_or_tel_only(admin: Admin, settings) -> None:
    good = ["https://example.org/x", "mailto:someone@example.org", "tel:+15550100"]
    bad = [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "http://example.org",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//example.org",
        "https://",
        "ftp://example.org",
    ]
    for n, url in enumerate(good):
        admin.created("/support-resources", {**RESOURCE, "slug": f"good-{n}", "url": url})
    for n, url in enumerate(bad):
        response = admin.post("/support-resources", {**RESOURCE, "slug": f"bad-{n}", "url": url})

        problem = assert_problem(response, 422, "validation_failed")
        assert problem["errors"][0]["pointer"] == "/url", url
    resource = admin.get("/support-resources/good-0").json()
    edit = admin.patch("/support-resources/good-0", {"url": "javascript:alert(1)"}, etag=resource["etag"])
    assert assert_problem(edit, 422)["errors"][0]["pointer"] == "/url"
    assert count_rows(settings, "support_resource") == len(good)


def test_linking_resources_to_a_drug(admin: Admin, drug: dict[str, Any]) -> None:
    for letter in "abc":
        admin.created("/support-resources", {**RESOURCE, "slug": f"testresource-{letter}"})
    links = "/drugs/testdrug-a/support-resources"

    for letter in "abc":
        response = admin.post(links, {"resource": f"testresource-{letter}"})
        assert response.status_code == 201, response.text
        assert response.headers["Location"] == f"{ADMIN}{links}/testresource-{letter}"
    assert_problem(admin.post(links, {"resource": "testresource-a"}), 409, "conflict")
    assert assert_problem(admin.post(links, {"resource": "nope"}), 422)["errors"][0]["pointer"] == "/resource"

    listed = admin.get(links)
    assert [i["resource"] for i in listed.json()["items"]] == [
        "testresource-a",
        "testresource-b",
        "testresource-c",
    ]
    assert admin.get("/drugs/testdrug-a").json()["support_resources"] == [
        "testresource-a",
        "testresource-b",
        "testresource-c",
    ]
    assert admin.get("/support-resources/testresource-b").json()["drugs"] == ["testdrug-a"]

    order = admin.get(f"{links}/order")
    new_order = ["testresource-c", "testresource-a", "testresource-b"]
    assert_problem(admin.put(f"{links}/order", {"slugs": new_order[:2]}, etag=order.headers["ETag"]), 422)
    reordered = admin.put(f"{links}/order", {"slugs": new_order}, etag=order.headers["ETag"])
    assert reordered.status_code == 200 and reordered.json()["slugs"] == new_order
    assert admin.get("/drugs/testdrug-a").json()["support_resources"] == new_order
    assert_problem(admin.put(f"{links}/order", {"slugs": new_order}, etag=order.headers["ETag"]), 412)

    # A linked resource cannot be deleted; unlink it first (If-Match = the link's ETag).
    resource = admin.get("/support-resources/testresource-a").json()
    assert_problem(admin.delete("/support-resources/testresource-a", etag=resource["etag"]), 409)
    link = admin.get(f"{links}/testresource-a")
    assert_problem(admin.delete(f"{links}/testresource-a", etag=None), 428)
    assert admin.delete(f"{links}/testresource-a", etag=link.headers["ETag"]).status_code == 204
    assert_problem(admin.get(f"{links}/testresource-a"), 404, "link_not_found")
    assert admin.delete("/support-resources/testresource-a", etag=resource["etag"]).status_code == 204
    drug_doc = admin.get("/drugs/testdrug-a").json()
    assert drug_doc["support_resources"] == ["testresource-c", "testresource-b"]
    assert drug_doc["version"] == 1 + 3 + 1 + 1  # three links, one reorder, one unlink
