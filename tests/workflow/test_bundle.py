"""Import and export through HTTP and the CLI: dry run, all-or-nothing, round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.bundle.router import IMPORT_BODY
from app.bundle.schemas import Bundle
from tests.admin.conftest import Admin
from tests.conftest import new_database
from tests.helpers import assert_problem
from tests.test_cli import run
from tests.workflow.conftest import PUBLISHABLE, future, publish

SEED = json.loads((Path(__file__).resolve().parents[2] / "seed_data" / "bundle.json").read_text())


def synthetic_bundle() -> dict[str, Any]:
    """Two synthetic drugs with deep content (sections, FAQs, side effects)."""
    drugs = []
    for letter in "xy":
        drugs.append(
            {
                **PUBLISHABLE,
                "slug": f"testdrug-{letter}",
                "name": f"Testdrug {letter.upper()}",
                "status": "draft",
                "sections": [{"key": "overview", "title": "Overview", "body": f"Synthetic {letter}."}],
                "faqs": [{"question": f"Synthetic question {n}?", "answer": "Synthetic."} for n in range(5)],
                "side_effects": [
                    {"name": "Synthetic effect", "seriousness": "common", "description": "Synthetic."}
                ],
            }
        )
    return {"format": "druginfo-bundle", "version": 1, "drugs": drugs}


def drug_slugs(admin: Admin) -> list[str]:
    return [d["slug"] for d in admin.get("/drugs").json()["items"]]


def test_dry_run_reports_and_changes_nothing(admin: Admin) -> None:
    response = admin.post("/import?dry_run=true", synthetic_bundle(), role="publisher")
    assert response.status_code == 200, response.text
    assert response.json()["dry_run"] is True
    assert response.json()["created"]["drugs"] == ["testdrug-x", "testdrug-y"]
    assert drug_slugs(admin) == []
    applied = admin.post("/import", synthetic_bundle(), role="publisher").json()
    assert applied["created"]["drugs"] == ["testdrug-x", "testdrug-y"] and applied["dry_run"] is False
    assert drug_slugs(admin) == ["testdrug-x", "testdrug-y"]
    again = admin.post("/import?dry_run=true", synthetic_bundle(), role="publisher").json()
    assert again["changed"] is False and again["unchanged"]["drugs"] == ["testdrug-x", "testdrug-y"]
    entries = admin.get("/audit-log?action=bundle.import", role="publisher").json()["items"]
    assert len(entries) == 1 and entries[0]["changes"]["created"]["drugs"] == ["testdrug-x", "testdrug-y"]
    assert (
        admin.get("/drugs/testdrug-x/revisions").json()["items"][0]["author"]
        == admin.tokens["publisher"].split("_")[1]
    )


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        (("drugs", 1, "faqs", 3, "answer"), "", "/drugs/1/faqs/3/answer"),
        (("drugs", 1, "side_effects", 0, "seriousness"), "sometimes", "/drugs/1/side_effects/0/seriousness"),
        (("drugs", 1, "sections", 0, "key"), "Not A Slug", "/drugs/1/sections/0/key"),
    ],
)
def test_one_bad_item_deep_inside_applies_nothing(
    admin: Admin, path: tuple[Any, ...], value: Any, pointer: str
) -> None:
    bundle = synthetic_bundle()
    target: Any = bundle
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    for dry_run in ("true", "false"):
        body = assert_problem(admin.post(f"/import?dry_run={dry_run}", bundle, role="publisher"), 422, None)
        assert pointer in [e["pointer"] for e in body["errors"]], body
    assert drug_slugs(admin) == []
    assert admin.get("/audit-log", role="publisher").json()["items"] == []


def test_unknown_reference_is_named_and_nothing_applied(admin: Admin) -> None:
    bundle = synthetic_bundle()
    bundle["drugs"][1]["indications"] = [{"condition": "no-such-condition", "status": "approved"}]
    body = assert_problem(admin.post("/import", bundle, role="publisher"), 422, "bundle_invalid")
    assert [e["pointer"] for e in body["errors"]] == ["/drugs/1/indications/0/condition"]
    assert drug_slugs(admin) == []


def test_imported_text_is_sanitized_like_crud(admin: Admin) -> None:
    bundle = synthetic_bundle()
    bundle["drugs"][0]["status"] = "published"
    bundle["drugs"][0]["review"] = {"reviewed_by": "Test Reviewer", "next_review_due": future()}
    bundle["drugs"][0]["sections"][0]["body"] = "Safe. <script>alert(1)</script>"
    assert admin.post("/import", bundle, role="publisher").status_code == 200
    public = admin.client.get("/api/v1/drugs/testdrug-x")
    assert public.status_code == 200
    html = public.json()["sections"][0]["body_html"]
    assert "Safe." in html and "<script" not in html


def test_import_needs_the_publish_scope(admin: Admin) -> None:
    assert_problem(admin.post("/import", synthetic_bundle(), role="editor"), 403, None)
    assert_problem(admin.get("/export", role=None), 401, None)


def test_export_import_round_trip(
    seeded_admin: Admin, request: pytest.FixtureRequest, engine_name: str, tmp_path: Path
) -> None:
    admin = seeded_admin
    admin.created("/drugs", PUBLISHABLE)
    admin.created("/drugs/testdrug-a/faqs", {"question": "Synthetic question?", "answer": "Synthetic."})
    publish(admin)
    admin.created("/drugs", {"slug": "testdrug-b", "name": "Testdrug B"})  # a draft: not exported

    exported = admin.get("/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/json")
    bundle = exported.json()
    assert [d["slug"] for d in bundle["drugs"]] == ["pomalidomide", "testdrug-a"]
    with_drafts = admin.get("/export?include_drafts=true&include_revisions=true").json()
    assert [d["slug"] for d in with_drafts["drugs"]] == ["pomalidomide", "testdrug-a", "testdrug-b"]
    assert [r["number"] for r in with_drafts["revisions"]["testdrug-a"]][:2] == [1, 2]
    admin.client.close()

    file = tmp_path / "bundle.json"
    file.write_bytes(exported.content)
    (tmp_path / "second").mkdir()
    url = new_database(request, engine_name, tmp_path / "second")
    dry = run(url, "import", str(file), "--dry-run")
    assert dry.returncode == 0 and dry.stdout.startswith("dry run:"), dry.stderr
    imported = run(url, "import", str(file))
    assert imported.returncode == 0, imported.stderr
    again = run(url, "export", "--output", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.json").read_bytes() == exported.content


def test_cli_import_reports_each_problem_and_fails(tmp_path: Path, settings: Any) -> None:
    bundle = copy.deepcopy(synthetic_bundle())
    bundle["drugs"][1]["faqs"][4]["answer"] = ""
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bundle))
    result = run(settings.database_url, "import", str(file))
    assert result.returncode == 1 and "/drugs/1/faqs/4/answer" in result.stderr


def test_the_import_body_documents_every_member_of_a_bundle() -> None:
    """The OpenAPI names the bundle's members (unknown ones are refused); an export's history is ignored."""
    assert set(IMPORT_BODY["properties"]) == {*Bundle.model_fields, "revisions"}
    assert IMPORT_BODY["additionalProperties"] is False


def test_an_http_import_publishes_only_what_every_public_document_needs(admin: Admin) -> None:
    """`status: published` in a bundle is a publish: a source and a disclaimer are required, as by
    `POST …/publish`. Review metadata is the bundle's (an overdue catalog may be moved here)."""
    bare = {**synthetic_bundle()["drugs"][0], "status": "published", "sources": [], "disclaimer": None}
    overdue = {
        **synthetic_bundle()["drugs"][1],
        "status": "published",
        "review": {"reviewed_by": "Test Reviewer", "next_review_due": "2020-01-01"},
    }
    bundle = {"format": "druginfo-bundle", "version": 1, "drugs": [overdue, bare]}

    refused = assert_problem(admin.post("/import", bundle, role="publisher"), 422, "bundle_invalid")

    assert {(e["pointer"], e["code"]) for e in refused["errors"]} == {
        ("/drugs/1/sources", "missing_source"),
        ("/drugs/1/disclaimer", "missing_disclaimer"),
    }
    assert drug_slugs(admin) == []  # all or nothing: the other drug was not imported either
    assert admin.client.get("/api/v1/drugs/testdrug-y").status_code == 404

    applied = admin.post(
        "/import", {**bundle, "drugs": [overdue, {**bare, "status": "draft"}]}, role="publisher"
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["published"] == ["testdrug-y"]
    assert admin.client.get("/api/v1/drugs/testdrug-y").status_code == 200
    assert [d["slug"] for d in admin.get("/reviews").json()["overdue"]] == ["testdrug-y"]
    again = admin.post("/import", {**bundle, "drugs": [overdue]}, role="publisher")
    assert again.status_code == 200 and again.json()["changed"] is False  # nothing new to publish
