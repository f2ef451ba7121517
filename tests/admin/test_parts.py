"""Every ordered part of a drug: create, read, edit with If-Match, reorder, delete; keys and references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from app.core.db import make_null_pool_engine
from app.drugs.models import Section
from tests.admin.conftest import ADMIN, Admin
from tests.admin.test_drugs import count_rows
from tests.helpers import assert_problem


@dataclass(frozen=True)
class Part:
    segment: str
    table: str
    new: Callable[[int], dict[str, Any]]  # the n-th distinct item to create
    change: dict[str, Any]  # a partial edit
    expect: dict[str, Any]  # fields of the item after the edit


PARTS = [
    Part(
        "sections",
        "drug_section",
        lambda n: {"key": f"section-{n}", "title": f"Section {n}", "body": f"Body **{n}**."},
        {"body": "New *body*."},
        {"body": "New *body*.", "body_html": "<p>New <em>body</em>.</p>", "key": "section-0"},
    ),
    Part(
        "faqs",
        "faq",
        lambda n: {"question": f"Question {n}?", "answer": f"Answer {n}.", "tags": ["test"]},
        {"answer": "Changed answer.", "tags": []},
        {
            "answer": "Changed answer.",
            "answer_html": "<p>Changed answer.</p>",
            "tags": [],
            "question": "Question 0?",
        },
    ),
    Part(
        "side-effects",
        "side_effect",
        lambda n: {"name": f"Testeffect {n}", "seriousness": "common", "management_tips": ["Rest."]},
        {"seriousness": "serious", "description": "Call the team.", "urgency": "contact-care-team"},
        {"seriousness": "serious", "description_html": "<p>Call the team.</p>", "management_tips": ["Rest."]},
    ),
    Part(
        "monitoring",
        "monitoring_item",
        lambda n: {"name": f"Testcheck {n}", "purpose": "To test."},
        {"frequency": "As stated by the synthetic source."},
        {"frequency": "As stated by the synthetic source.", "purpose": "To test."},
    ),
    Part(
        "indications",
        "indication",
        lambda n: {"condition": f"testcondition-{n}", "status": "approved"},
        {"status": "investigational", "notes": "Synthetic note."},
        {"status": "investigational", "notes": "Synthetic note.", "condition": "testcondition-0"},
    ),
    Part(
        "combinations",
        "combination",
        lambda n: {
            "name": f"Testregimen {n}",
            "components": [{"name": "Testdrug A", "drug": "testdrug-a"}, {"name": "Testcomponent"}],
        },
        {"components": [{"name": "Testcomponent", "role": "steroid"}]},
        {"components": [{"name": "Testcomponent", "drug": None, "role": "steroid"}], "name": "Testregimen 0"},
    ),
    Part(
        "stories",
        "patient_story",
        lambda n: {
            "title": f"Story {n}",
            "person": {"name": "Alex", "age": 60},
            "body": "A synthetic story.",
        },
        {"person": {"name": "Sam"}},
        {"person": {"name": "Sam", "age": None, "occupation": None}, "title": "Story 0"},
    ),
]


@pytest.fixture
def conditions(admin: Admin) -> None:
    for n in range(3):
        admin.created("/conditions", {"slug": f"testcondition-{n}", "name": f"Testcondition {n}"})


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.segment)
def test_part_lifecycle(admin: Admin, drug: dict[str, Any], conditions: None, part: Part) -> None:
    base = f"/drugs/testdrug-a/{part.segment}"

    # Create three; each answers 201 with Location and ETag, and advances the drug's version.
    items = []
    for n in range(3):
        response = admin.post(base, part.new(n))
        assert response.status_code == 201, response.text
        item = response.json()
        assert response.headers["Location"] == f"{ADMIN}{base}/{item['id']}"
        assert response.headers["ETag"] == item["etag"] == f'"{part.table}-{item["id"]}-v1"'
        items.append(item)
    assert admin.get("/drugs/testdrug-a").json()["version"] == 4

    listed = admin.get(base)
    assert [i["id"] for i in listed.json()["items"]] == [i["id"] for i in items]
    assert listed.headers["ETag"] == listed.json()["etag"]
    shown = admin.get(f"{base}/{items[0]['id']}")
    assert shown.json() == items[0] and shown.headers["ETag"] == items[0]["etag"]

    # Edit: only the sent fields change; the item's and the drug's versions advance.
    url = f"{base}/{items[0]['id']}"
    edited = admin.patch(url, part.change, etag=items[0]["etag"])
    assert edited.status_code == 200, edited.text
    after = edited.json()
    assert after["version"] == 2 and edited.headers["ETag"] == after["etag"] != items[0]["etag"]
    assert {k: after[k] for k in part.expect} == part.expect
    assert admin.get("/drugs/testdrug-a").json()["version"] == 5
    assert_problem(admin.patch(url, part.change, etag=items[0]["etag"]), 412, "precondition_failed")
    assert_problem(admin.patch(url, part.change, etag=None), 428, "precondition_required")
    for field in ("id", "version", "position", "drug_id", "etag"):
        problem = assert_problem(admin.patch(url, {field: 1}, etag=after["etag"]), 422, "validation_failed")
        assert problem["errors"][0]["pointer"] == f"/{field}"
        assert_problem(admin.post(base, {**part.new(9), field: 1}), 422, "validation_failed")

    # Reorder with the list's ETag; items keep their own ETags (moving does not change them).
    order = admin.get(f"{base}/order")
    assert order.json()["ids"] == [i["id"] for i in items]
    reversed_ids = [i["id"] for i in reversed(items)]
    reordered = admin.put(f"{base}/order", {"ids": reversed_ids}, etag=order.headers["ETag"])
    assert reordered.status_code == 200, reordered.text
    assert reordered.json()["ids"] == reversed_ids
    relisted = admin.get(base).json()
    assert [i["id"] for i in relisted["items"]] == reversed_ids
    assert relisted["items"][-1]["etag"] == after["etag"]
    drug_doc = admin.get("/drugs/testdrug-a").json()
    assert [i["id"] for i in drug_doc[part.segment.replace("-", "_")]] == reversed_ids
    assert drug_doc["version"] == 6
    assert_problem(admin.put(f"{base}/order", {"ids": reversed_ids}, etag=order.headers["ETag"]), 412)

    # Delete needs the current ETag too; afterwards the item is gone.
    assert_problem(admin.delete(url, etag=None), 428)
    assert_problem(admin.delete(url, etag=items[0]["etag"]), 412)
    assert admin.delete(url, etag=after["etag"]).status_code == 204
    assert_problem(admin.get(url), 404, f"{part.table}_not_found")
    assert_problem(admin.patch(url, part.change, etag=after["etag"]), 404)
    assert len(admin.get(base).json()["items"]) == 2
    assert admin.get("/drugs/testdrug-a").json()["version"] == 7


# One translatable text field of each kind, in French.
FRENCH = {
    "sections": {"title": "Section traduite"},
    "faqs": {"answer": "Réponse traduite."},
    "side-effects": {"name": "Effet traduit"},
    "monitoring": {"purpose": "Pour tester."},
    "indications": {"notes": "Notes traduites."},
    "combinations": {"rationale": "Raison traduite."},
    "stories": {"body": "Histoire traduite."},
}


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.segment)
def test_translations_are_kept_shown_and_edited(
    admin: Admin, drug: dict[str, Any], conditions: None, part: Part
) -> None:
    """A create that sends translations keeps them (it used to drop them with a 201)."""
    base = f"/drugs/testdrug-a/{part.segment}"
    french = FRENCH[part.segment]
    created = admin.created(base, {**part.new(0), "translations": {"FR": french}})
    url = f"{base}/{created['id']}"
    assert created["translations"] == {"fr": french}  # the tag in its canonical case

    # An edit of other fields keeps them; sending them replaces them whole; `{}` removes them.
    edited = admin.patch(url, part.change, etag=created["etag"]).json()
    assert edited["translations"] == {"fr": french}
    german = {"de": french}
    replaced = admin.patch(url, {"translations": german}, etag=edited["etag"])
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["translations"] == german and replaced.json()["version"] == 3
    assert admin.get(url).json()["translations"] == german
    same = admin.patch(url, {"translations": german}, etag=replaced.json()["etag"])
    assert same.json()["version"] == 3  # nothing changed, nothing recorded

    for bad, pointer in (
        ({"xx-!!": french}, "/translations"),
        ({"fr": {}}, "/translations/fr"),
        ({"fr": {"unknown_field": "x"}}, "/translations/fr/unknown_field"),
        (None, "/translations"),
    ):
        problem = assert_problem(admin.patch(url, {"translations": bad}, etag=same.json()["etag"]), 422)
        assert any(e["pointer"].startswith(pointer) for e in problem["errors"]), problem
    assert admin.get(url).json()["translations"] == german

    assert latest_document_item(admin, part)["translations"] == german  # the revision holds them
    removed = admin.patch(url, {"translations": {}}, etag=same.json()["etag"]).json()
    assert removed["translations"] == {}
    assert "translations" not in latest_document_item(admin, part)


def latest_document_item(admin: Admin, part: Part) -> dict[str, Any]:
    revision = admin.get("/drugs/testdrug-a/revisions").json()["items"][0]["number"]
    document = admin.get(f"/drugs/testdrug-a/revisions/{revision}").json()["document"]
    item: dict[str, Any] = document["drug"][part.segment.replace("-", "_")][0]
    return item


def test_a_translation_edited_in_the_admin_api_is_served_once_published(
    admin: Admin, drug: dict[str, Any]
) -> None:
    faq = admin.created("/drugs/testdrug-a/faqs", {"question": "Why?", "answer": "Because."})
    french = {"question": "Pourquoi ?", "answer": "Parce que."}
    edited = admin.patch(
        f"/drugs/testdrug-a/faqs/{faq['id']}", {"translations": {"fr": french}}, etag=faq["etag"]
    )
    assert edited.status_code == 200, edited.text
    admin.patch(
        "/drugs/testdrug-a",
        {"disclaimer": "Synthetic.", "sources": [{"title": "Synthetic source"}]},
        etag=admin.get("/drugs/testdrug-a").headers["ETag"],
    )
    published = admin.post(
        "/drugs/testdrug-a/publish",
        {"reviewed_by": "Test Reviewer", "next_review_due": "2099-01-01", "reason": "Synthetic review"},
        role="publisher",
    )
    assert published.status_code == 200, published.text

    (served,) = admin.client.get("/api/v1/drugs/testdrug-a/faqs?locale=fr").json()["items"]
    assert (served["question"], served["locale"]) == ("Pourquoi ?", "fr")


def test_reorder_must_name_every_item_once(admin: Admin, drug: dict[str, Any]) -> None:
    ids = [
        admin.created("/drugs/testdrug-a/faqs", {"question": f"Q{n}?", "answer": "A."})["id"]
        for n in range(3)
    ]
    etag = admin.get("/drugs/testdrug-a/faqs/order").headers["ETag"]
    cases = [
        ([ids[0], ids[1]], {"/ids"}),  # one missing
        ([*ids, 999], {"/ids/3"}),  # one unknown
        ([ids[0], ids[0], ids[1], ids[2]], {"/ids/1"}),  # one twice
        ([], {"/ids"}),
    ]
    for body_ids, pointers in cases:
        response = admin.put("/drugs/testdrug-a/faqs/order", {"ids": body_ids}, etag=etag)

        problem = assert_problem(response, 422, "validation_failed")
        assert {e["pointer"] for e in problem["errors"]} == pointers, (body_ids, problem)
    assert admin.get("/drugs/testdrug-a/faqs/order").json()["ids"] == ids
    assert admin.put("/drugs/testdrug-a/faqs/order", {"ids": ids}, etag=etag).status_code == 200  # no-op


def test_natural_keys_are_unique_within_a_drug(admin: Admin, drug: dict[str, Any], conditions: None) -> None:
    base = "/drugs/testdrug-a"
    admin.created(f"{base}/sections", {"key": "intro", "title": "Intro", "body": "B."})
    admin.created(f"{base}/side-effects", {"name": "Testrash", "seriousness": "common"})
    admin.created(f"{base}/monitoring", {"name": "Testcheck", "purpose": "P."})
    admin.created(f"{base}/indications", {"condition": "testcondition-0", "status": "approved"})
    admin.created(f"{base}/combinations", {"name": "Testregimen", "components": [{"name": "X"}]})
    duplicates = [
        ("sections", {"key": "intro", "title": "Other", "body": "B."}, "/key"),
        ("side-effects", {"name": "TESTRASH", "seriousness": "serious"}, "/name"),
        ("monitoring", {"name": "testcheck", "purpose": "P."}, "/name"),
        ("indications", {"condition": "testcondition-0", "status": "investigational"}, "/condition"),
        ("combinations", {"name": "testregimen", "components": [{"name": "Y"}]}, "/name"),
    ]
    for segment, body, pointer in duplicates:
        problem = assert_problem(admin.post(f"{base}/{segment}", body), 409, "conflict")
        assert problem["errors"][0]["pointer"] == pointer

    # Editing another item into the same key is refused too.
    other = admin.created(f"{base}/sections", {"key": "other", "title": "Other", "body": "B."})
    assert_problem(admin.patch(f"{base}/sections/{other['id']}", {"key": "intro"}, etag=other["etag"]), 409)
    assert admin.get(base).json()["version"] == 7


def test_references_are_checked_and_failures_leave_nothing(
    admin: Admin, drug: dict[str, Any], settings
) -> None:
    base = "/drugs/testdrug-a"
    unknown_condition = admin.post(
        f"{base}/indications", {"condition": "no-such-condition", "status": "approved"}
    )
    unknown_drug = admin.post(
        f"{base}/combinations",
        {
            "name": "Testregimen",
            "components": [{"name": "A", "drug": "testdrug-a"}, {"name": "B", "drug": "nope"}],
        },
    )
    duplicate_components = admin.post(
        f"{base}/combinations", {"name": "R", "components": [{"name": "A"}, {"name": "a"}]}
    )

    assert assert_problem(unknown_condition, 422)["errors"][0]["pointer"] == "/condition"
    assert assert_problem(unknown_drug, 422)["errors"][0]["pointer"] == "/components/1/drug"
    assert assert_problem(duplicate_components, 422)["errors"][0]["pointer"] == "/components"
    for table in ("indication", "combination", "combination_component"):
        assert count_rows(settings, table) == 0, table
    assert admin.get(base).json()["version"] == 1
    assert_problem(
        admin.post("/drugs/no-such-drug/faqs", {"question": "Q?", "answer": "A."}), 404, "drug_not_found"
    )


def test_a_drug_document_stays_within_its_limits(admin: Admin, drug: dict[str, Any], settings) -> None:
    engine = make_null_pool_engine(settings.database_url)
    with engine.begin() as conn:  # 50 sections, the most a drug document holds
        conn.execute(
            sa.insert(Section),
            [
                {
                    "drug_id": drug["id"],
                    "position": n,
                    "key": f"s-{n}",
                    "title": "T",
                    "body": "B.",
                    "translations": {},
                    "version": 1,
                }
                for n in range(50)
            ],
        )
    engine.dispose()

    response = admin.post("/drugs/testdrug-a/sections", {"key": "s-50", "title": "T", "body": "B."})

    problem = assert_problem(response, 409, "document_invalid")
    assert problem["errors"][0]["pointer"] == "#/document/sections"
    assert len(admin.get("/drugs/testdrug-a/sections").json()["items"]) == 50
    assert admin.get("/drugs/testdrug-a").json()["version"] == 1
