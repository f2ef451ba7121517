"""The editorial story through HTTP: edit a published drug, publish, restore, publish again."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.config import Settings
from app.main import create_app
from tests.admin.conftest import Admin
from tests.helpers import assert_problem
from tests.workflow.conftest import PUBLISHABLE, future, publish, publish_body

PUBLIC = "/api/v1/drugs/testdrug-a"


def public_overview(admin: Admin) -> str:
    response = admin.client.get(PUBLIC)
    assert response.status_code == 200, response.text
    sections = response.json()["sections"]
    return next(s["body"] for s in sections if s["key"] == "overview")


def section(admin: Admin) -> dict[str, Any]:
    items: list[dict[str, Any]] = admin.get("/drugs/testdrug-a/sections").json()["items"]
    return items[0]


def test_full_editorial_story(admin: Admin, drug: dict[str, Any]) -> None:
    assert admin.client.get(PUBLIC).status_code == 404  # a draft is not public
    read = admin.get("/drugs/testdrug-a").json()
    assert read["live_revision"] is None and read["has_unpublished_changes"] is True

    published = publish(admin)
    assert published["status"] == "published"
    assert published["review"]["reviewed_by"] == "Test Reviewer"
    assert published["has_unpublished_changes"] is False
    first_live = published["live_revision"]
    assert "Old synthetic text." in public_overview(admin)

    # Edit the published drug: the public keeps the published text.
    item = section(admin)
    response = admin.patch(
        f"/drugs/testdrug-a/sections/{item['id']}",
        {"body": "New synthetic text."},
        etag=item["etag"],
        headers={"X-Change-Reason": "Clearer wording"},
    )
    assert response.status_code == 200, response.text
    assert "Old synthetic text." in public_overview(admin)
    read = admin.get("/drugs/testdrug-a").json()
    assert read["status"] == "published"
    assert read["has_unpublished_changes"] is True and read["live_revision"] == first_live
    revisions = admin.get("/drugs/testdrug-a/revisions").json()["items"]
    assert revisions[0]["message"] == "Clearer wording"

    publish(admin)
    assert "New synthetic text." in public_overview(admin)

    # Restore the first published revision: a new revision; the public changes only on publish.
    restored = admin.post(f"/drugs/testdrug-a/revisions/{first_live}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["latest_revision"] > first_live
    assert restored.json()["sections"][0]["body"] == "Old synthetic text."
    assert "New synthetic text." in public_overview(admin)
    publish(admin)
    assert "Old synthetic text." in public_overview(admin)

    numbers = [r["number"] for r in admin.get("/drugs/testdrug-a/revisions").json()["items"]]
    assert numbers == sorted(numbers, reverse=True) and numbers == list(range(len(numbers), 0, -1))


def test_revisions_are_paginated_and_readable(admin: Admin, drug: dict[str, Any]) -> None:
    for n in range(3):
        current = admin.get("/drugs/testdrug-a").json()
        admin.patch("/drugs/testdrug-a", {"summary": f"Synthetic summary {n}."}, etag=current["etag"])
    seen: list[int] = []
    url = "/drugs/testdrug-a/revisions?limit=2"
    while url:
        page = admin.get(url).json()
        seen += [r["number"] for r in page["items"]]
        url = (
            f"/drugs/testdrug-a/revisions?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
        )
    assert seen == [5, 4, 3, 2, 1]  # create, section, three edits
    one = admin.get("/drugs/testdrug-a/revisions/5").json()
    assert one["document"]["drug"]["summary"] == "Synthetic summary 2."
    assert one["author"] and one["created_at"]
    assert_problem(admin.get("/drugs/testdrug-a/revisions/99"), 404, "revision_not_found")


def test_diff_names_fields_by_stable_keys(admin: Admin, drug: dict[str, Any]) -> None:
    admin.created("/drugs/testdrug-a/faqs", {"question": "Synthetic question?", "answer": "Answer one."})
    faq = admin.get("/drugs/testdrug-a/faqs").json()["items"][0]
    admin.patch(f"/drugs/testdrug-a/faqs/{faq['id']}", {"answer": "Answer two."}, etag=faq["etag"])
    current = admin.get("/drugs/testdrug-a").json()
    admin.patch("/drugs/testdrug-a", {"summary": "Synthetic summary two."}, etag=current["etag"])

    diff = admin.get("/drugs/testdrug-a/revisions/5/diff?against=3").json()
    assert diff["revision"] == 5 and diff["against"] == 3
    assert {(c["path"], c["op"], c["before"], c["after"]) for c in diff["changes"]} == {
        ("/drug/faqs[question=Synthetic question?]/answer", "changed", "Answer one.", "Answer two."),
        ("/drug/summary", "changed", "Synthetic summary one.", "Synthetic summary two."),
    }
    added = admin.get("/drugs/testdrug-a/revisions/3/diff").json()
    assert added["against"] == 2
    assert [(c["path"], c["op"], c["before"]) for c in added["changes"]] == [
        ("/drug/faqs[question=Synthetic question?]", "added", None)
    ]
    assert added["changes"][0]["after"]["answer"] == "Answer one."
    first = admin.get("/drugs/testdrug-a/revisions/1/diff").json()
    assert first["against"] is None
    assert (first["changes"][0]["path"], first["changes"][0]["op"]) == ("/drug", "added")
    assert_problem(admin.get("/drugs/testdrug-a/revisions/5/diff?against=77"), 404, "revision_not_found")


def test_publish_gate_names_each_missing_item(admin: Admin) -> None:
    admin.created("/drugs", {"slug": "testdrug-b", "name": "Testdrug B"})
    response = admin.post("/drugs/testdrug-b/publish", {"reason": "Try"}, role="publisher")
    body = assert_problem(response, 422, "publish_refused")
    codes = {e["code"] for e in body["errors"]}
    assert codes == {"missing_source", "missing_disclaimer", "missing_reviewer", "missing_next_review_due"}
    past = {"reviewed_by": "Test Reviewer", "next_review_due": "2020-01-01", "reason": "Try"}
    body = assert_problem(
        admin.post("/drugs/testdrug-b/publish", past, role="publisher"), 422, "publish_refused"
    )
    assert "next_review_due_not_future" in {e["code"] for e in body["errors"]}
    assert_problem(admin.post("/drugs/testdrug-b/publish", {"reviewed_by": "X"}, role="publisher"), 422, None)
    assert admin.client.get("/api/v1/drugs/testdrug-b").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_publishing_needs_the_publish_scope(admin: Admin, drug: dict[str, Any], role: str) -> None:
    assert_problem(admin.post("/drugs/testdrug-a/publish", publish_body(), role=role), 403, None)


def test_four_eyes(admin: Admin, settings: Settings) -> None:
    """The publisher may not publish changes only it made, unless configured to allow it."""
    admin.request("POST", "/drugs", role="publisher", json={**_publishable("testdrug-c")})
    assert_problem(
        admin.post("/drugs/testdrug-c/publish", publish_body(), role="publisher"), 403, "four_eyes"
    )
    # Another key's change since makes it a shared piece of work.
    current = admin.get("/drugs/testdrug-c").json()
    admin.patch("/drugs/testdrug-c", {"summary": "Edited by the editor."}, etag=current["etag"])
    publish(admin, "testdrug-c")

    lenient = settings.model_copy(update={"allow_single_person_publish": True})
    from fastapi.testclient import TestClient

    with TestClient(create_app(lenient)) as client:
        other = Admin(client, admin.tokens)
        other.request("POST", "/drugs", role="publisher", json=_publishable("testdrug-d"))
        publish(other, "testdrug-d")


def _publishable(slug: str) -> dict[str, Any]:
    from tests.workflow.conftest import PUBLISHABLE

    return {**PUBLISHABLE, "slug": slug, "name": slug.replace("-", " ").title()}


def test_submit_and_archive_transitions(admin: Admin, drug: dict[str, Any]) -> None:
    submitted = admin.post("/drugs/testdrug-a/submit")
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    assert_problem(admin.post("/drugs/testdrug-a/submit"), 409, "wrong_status")
    publish(admin)
    archived = admin.post("/drugs/testdrug-a/archive", role="publisher")
    assert archived.json()["status"] == "archived" and archived.json()["live_revision"] is None
    assert admin.client.get(PUBLIC).status_code == 404
    assert_problem(
        admin.post("/drugs/testdrug-a/publish", publish_body(), role="publisher"), 409, "wrong_status"
    )
    assert_problem(admin.post("/drugs/testdrug-a/unpublish", role="publisher"), 409, "wrong_status")


def test_soft_delete_is_undone_by_restore(admin: Admin, drug: dict[str, Any]) -> None:
    current = admin.get("/drugs/testdrug-a").json()
    assert admin.delete("/drugs/testdrug-a", etag=current["etag"]).status_code == 204
    assert admin.get("/drugs/testdrug-a").status_code == 404
    history = admin.get("/drugs/testdrug-a/revisions").json()["items"]
    restored = admin.post(f"/drugs/testdrug-a/revisions/{history[1]['number']}/restore")
    assert restored.status_code == 200, restored.text
    assert admin.get("/drugs/testdrug-a").json()["sections"][0]["body"] == "Old synthetic text."


def test_next_review_due_is_recorded(admin: Admin, drug: dict[str, Any]) -> None:
    body = publish(admin)
    assert body["review"]["next_review_due"] == future()
    public = admin.client.get(PUBLIC).json()
    assert "Test Reviewer" in str(public)


def test_an_if_match_sent_with_a_workflow_action_is_evaluated(admin: Admin, drug: dict[str, Any]) -> None:
    """RFC 9110 §13.1.1: the reviewer publishes the draft they read, or nothing."""
    reviewed = admin.get("/drugs/testdrug-a")
    item = section(admin)
    edited = admin.patch(
        f"/drugs/testdrug-a/sections/{item['id']}", {"body": "Unreviewed."}, etag=item["etag"]
    )
    assert edited.status_code == 200, edited.text

    stale = admin.post(
        "/drugs/testdrug-a/publish", publish_body(), role="publisher", etag=reviewed.headers["ETag"]
    )

    problem = assert_problem(stale, 412, "precondition_failed")
    assert problem["current_etag"] == admin.get("/drugs/testdrug-a").headers["ETag"]
    assert admin.client.get(PUBLIC).status_code == 404  # nothing was published
    assert assert_problem(
        admin.post("/drugs/testdrug-a/publish", publish_body(), role="publisher", etag="not-quoted"), 412
    )

    current = admin.get("/drugs/testdrug-a").headers["ETag"]
    published = publish(admin, etag=current)
    assert published["status"] == "published"
    assert publish(admin, etag="*")["status"] == "published"  # `*`: only that the drug exists

    first = admin.get("/drugs/testdrug-a/revisions").json()["items"][-1]["number"]
    for action in ("submit", "unpublish", "archive", f"revisions/{first}/restore"):
        refused = admin.post(f"/drugs/testdrug-a/{action}", role="publisher", etag=reviewed.headers["ETag"])
        assert_problem(refused, 412, "precondition_failed")
    assert admin.get("/drugs/testdrug-a").json()["status"] == "published"
    restored = admin.post(
        f"/drugs/testdrug-a/revisions/{first}/restore",
        role="editor",
        etag=admin.get("/drugs/testdrug-a").headers["ETag"],
    )
    assert restored.status_code == 200, restored.text


def test_a_restore_keeps_the_review_on_record(admin: Admin, drug: dict[str, Any]) -> None:
    """Review metadata is set by publishing only: restoring an unreviewed revision does not erase it,
    so the reviews dashboard keeps reporting on what the public sees."""
    before_review = admin.get("/drugs/testdrug-a/revisions").json()["items"][0]["number"]
    published = publish(admin)
    assert published["review"]["reviewed_by"] == "Test Reviewer"

    restored = admin.post(f"/drugs/testdrug-a/revisions/{before_review}/restore")

    assert restored.status_code == 200, restored.text
    assert restored.json()["review"] == published["review"]
    dashboard = admin.get("/reviews").json()
    assert "testdrug-a" not in [item["slug"] for item in dashboard["never_reviewed"]]


def test_publishing_a_renamed_drug_tells_the_feed_the_old_slug_is_gone(
    admin: Admin, drug: dict[str, Any]
) -> None:
    publish(admin)
    current = admin.get("/drugs/testdrug-a")
    renamed = admin.patch("/drugs/testdrug-a", {"slug": "testdrug-renamed"}, etag=current.headers["ETag"])
    assert renamed.status_code == 200, renamed.text
    assert admin.client.get(PUBLIC).status_code == 200  # the public keeps the published slug

    # The old slug is free in the drafts, but still live: another drug cannot be published under it.
    admin.created("/drugs", {**PUBLISHABLE, "name": "Another Testdrug"})
    refused = admin.post("/drugs/testdrug-a/publish", publish_body(), role="publisher")
    problem = assert_problem(refused, 409, "conflict")
    assert problem["errors"][0]["code"] == "slug_live" and "testdrug-renamed" in problem["detail"]

    publish(admin, "testdrug-renamed")
    events = [(e["event"], e["drug"]["slug"]) for e in admin.client.get("/api/v1/changes").json()["items"]]
    assert events[-2:] == [("unpublished", "testdrug-a"), ("published", "testdrug-renamed")]
    assert admin.client.get(PUBLIC).status_code == 404
    assert publish(admin)["slug"] == "testdrug-a"  # now the slug is free
    assert admin.client.get(PUBLIC).json()["name"] == "Another Testdrug"
