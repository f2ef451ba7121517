"""The revision document read with Core queries (`snapshot_of`) is exactly the ORM aggregate's document."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.cli import unit_of_work
from app.core.config import Settings, normalize_database_url
from app.core.db import Database, make_null_pool_engine
from app.drugs import editing
from app.drugs import service as drug_service
from app.drugs.models import Drug
from app.main import create_app
from app.publishing import service as publishing
from tests.admin.conftest import Admin, create_tokens
from tests.factories import import_into, synthetic_drug

TRANSLATED_DRUG = synthetic_drug(
    "testdrug-everything",
    "Testdrug Everything",
    codes={"atc": "T00X01", "rxnorm": "99999"},
    translations={"fr": {"name": "Testmédicament", "summary": "Synthétique."}},
    sources=[
        {
            "title": "Second fixture",
            "publisher": "Tests",
            "url": "https://example.org",
            "accessed": "2026-01-02",
        },
        {"title": "Test fixture", "note": "Synthetic."},
    ],
    sections=[
        {
            "key": "introduction",
            "title": "Intro",
            "body": "One.",
            "translations": {"fr": {"title": "Intro FR"}},
        },
        {"key": "mechanism", "title": "How", "body": "*Two*."},
    ],
    faqs=[
        {
            "question": "Q1?",
            "answer": "A1.",
            "tags": ["basics", "b"],
            "translations": {"de": {"answer": "A1 DE."}},
        },
        {"question": "Q2?", "answer": "A2."},
    ],
    side_effects=[
        {
            "name": "Test effect",
            "seriousness": "serious",
            "description": "Desc.",
            "management_tips": ["Rest.", "Drink water."],
            "urgency": "contact-care-team",
            "when_to_contact_care_team": "If it lasts.",
            "translations": {"fr": {"management_tips": ["Repos."]}},
        }
    ],
    monitoring=[{"name": "Test check", "purpose": "To test.", "frequency": "Weekly (synthetic)."}],
    indications=[
        {"condition": "test-condition-b", "status": "investigational", "notes": "Synthetic."},
        {"condition": "test-condition-a", "status": "approved", "translations": {"fr": {"notes": "N."}}},
    ],
    combinations=[
        {
            "name": "Test regimen",
            "rationale": "Why.",
            "components": [
                {"name": "Testdrug Everything", "drug": "testdrug-everything"},
                {"name": "Other thing", "role": "Support."},
            ],
        }
    ],
    stories=[{"title": "A story", "person": {"name": "Sam", "age": 40}, "body": "Text."}],
    support_resources=["test-resource"],
)
BUNDLE: dict[str, Any] = {
    "conditions": [
        {
            "slug": "test-condition-a",
            "name": "Condition A",
            "translations": {"fr": {"name": "Condition A FR"}},
        },
        {"slug": "test-condition-b", "name": "Condition B", "description": "B."},
    ],
    "support_resources": [
        {
            "slug": "test-resource",
            "category": "educational",
            "title": "Test resource",
            "url": "https://example.org/help",
            "phone": "+1 555 0100",
        }
    ],
    "drugs": [TRANSLATED_DRUG],
}


def orm_snapshot(session: Session, slug: str) -> dict[str, Any]:
    drug = session.scalars(
        sa.select(Drug).where(Drug.slug == slug).options(*drug_service.AGGREGATE_OPTIONS)
    ).one()
    return {
        "drug": drug_service.to_drug_in(drug).model_dump(mode="json"),
        "conditions": [
            drug_service.condition_in(i.condition).model_dump(mode="json") for i in drug.indications
        ],
        "support_resources": [
            drug_service.resource_in(link.resource).model_dump(mode="json") for link in drug.resource_links
        ],
        "ids": {name: [part.id for part in getattr(drug, name)] for name in drug_service.ORDERED_PARTS},
    }


@pytest.mark.parametrize("slug", ["pomalidomide", "testdrug-everything"])
def test_core_snapshot_is_the_orm_aggregates_document(seeded: Settings, slug: str) -> None:
    import_into(seeded, BUNDLE)
    db = Database(seeded)
    try:
        with db.write_sessions() as session:
            drug_id = session.scalar(sa.select(Drug.id).where(Drug.slug == slug))
            assert drug_id is not None

            assert drug_service.snapshot_of(session, drug_id) == orm_snapshot(session, slug)
    finally:
        db.dispose()


def test_revisions_hold_the_snapshot_of_the_draft(seeded: Settings) -> None:
    import_into(seeded, BUNDLE)
    db = Database(seeded)
    try:
        with db.write_sessions() as session:
            document = session.scalar(
                sa.text(
                    "SELECT document FROM drug_revision JOIN drug ON drug.id = drug_revision.drug_id"
                    " WHERE drug.slug = 'testdrug-everything' ORDER BY number DESC LIMIT 1"
                )
            )
            if isinstance(document, str):
                import json

                document = json.loads(document)

            assert document == orm_snapshot(session, "testdrug-everything")
    finally:
        db.dispose()


@contextmanager
def read_session(settings: Settings) -> Iterator[Session]:
    """A session of its own on the database (as another process would read it)."""
    db = Database(settings)
    try:
        with db.read_sessions() as session:
            yield session
    finally:
        db.dispose()


def latest_revision_document(settings: Settings, slug: str) -> dict[str, Any]:
    with read_session(settings) as session:
        drug_id = session.scalar(sa.select(Drug.id).where(Drug.slug == slug))
        assert drug_id is not None
        latest = publishing.latest_document(session, drug_id)
        assert latest is not None
        return latest.document


def full_snapshot(settings: Settings, slug: str) -> dict[str, Any]:
    with read_session(settings) as session:
        return orm_snapshot(session, slug)


@pytest.fixture
def everything(seeded: Settings) -> Iterator[tuple[Admin, Settings]]:
    """The management API on the seed plus `testdrug-everything` (every kind of part, translated)."""
    import_into(seeded, BUNDLE)
    tokens = create_tokens(seeded)
    with TestClient(create_app(seeded), raise_server_exceptions=False) as client:
        yield Admin(client, tokens), seeded


def item(admin: Admin, kind: str, n: int = 0) -> dict[str, Any]:
    items: list[dict[str, Any]] = admin.get(f"/drugs/testdrug-everything/{kind}").json()["items"]
    return items[n]


def test_each_edits_revision_is_the_drafts_complete_document(everything: tuple[Admin, Settings]) -> None:
    """An edit's revision reads again only what the edit changed and what other records contribute
    (`snapshot_of(reuse=...)`): after every kind of write, and after writes to those other records,
    it must still be exactly the draft's complete document."""
    admin, settings = everything
    slug = "testdrug-everything"
    base = f"/drugs/{slug}"

    def edit(kind: str, changes: dict[str, Any], n: int = 0) -> None:
        part = item(admin, kind, n)
        response = admin.patch(f"{base}/{kind}/{part['id']}", changes, etag=part["etag"])
        assert response.status_code == 200, response.text

    def assert_revision_is_the_draft(after: str) -> None:
        assert latest_revision_document(settings, slug) == full_snapshot(settings, slug), after

    edit("faqs", {"answer": "First edit."})  # the first since the import: read in full
    assert_revision_is_the_draft("the first edit")
    steps: list[tuple[str, Any]] = [
        ("faq", lambda: edit("faqs", {"answer": "Second edit.", "tags": ["x"]})),
        ("faq translation", lambda: edit("faqs", {"translations": {"fr": {"answer": "Réponse."}}}, 1)),
        ("section", lambda: edit("sections", {"body": "New *body*."}, 1)),
        ("side effect", lambda: edit("side-effects", {"management_tips": ["Sleep."]})),
        ("monitoring", lambda: edit("monitoring", {"frequency": "Monthly (synthetic)."})),
        ("story", lambda: edit("stories", {"person": {"name": "Alex", "age": 41}})),
        ("indication", lambda: edit("indications", {"notes": "Changed."})),
        ("combination", lambda: edit("combinations", {"rationale": "Because."})),
        ("new faq", lambda: admin.created(f"{base}/faqs", {"question": "Q3?", "answer": "A3."})),
        (
            "reordered sections",
            lambda: admin.put(
                f"{base}/sections/order",
                {"ids": list(reversed(admin.get(f"{base}/sections/order").json()["ids"]))},
                etag=admin.get(f"{base}/sections/order").json()["etag"],
            ),
        ),
        (
            "deleted story",
            lambda: admin.delete(
                f"{base}/stories/{item(admin, 'stories')['id']}", etag=item(admin, "stories")["etag"]
            ),
        ),
        (
            "the drug's own fields",
            lambda: admin.patch(
                base, {"summary": "New.", "codes": {"atc": "T00X02"}}, etag=admin.get(base).json()["etag"]
            ),
        ),
    ]
    for name, step in steps:
        result = step()
        if isinstance(result, httpx.Response):
            assert result.status_code < 300, (name, result.text)
        assert_revision_is_the_draft(name)

    # What other records contribute changes without a revision of the drug; the next edit shows it.
    condition = admin.get("/conditions/test-condition-a").json()
    renamed = admin.patch("/conditions/test-condition-a", {"name": "Condition A2"}, etag=condition["etag"])
    assert renamed.status_code == 200, renamed.text
    resource = admin.get("/support-resources/test-resource").json()
    retitled = admin.patch("/support-resources/test-resource", {"title": "Retitled"}, etag=resource["etag"])
    assert retitled.status_code == 200, retitled.text
    edit("faqs", {"answer": "After the shared edits."})
    assert_revision_is_the_draft("shared records edited")
    assert latest_revision_document(settings, slug)["conditions"][1]["name"] == "Condition A2"

    # A write by another process (its own engines): this one must not take its revision as its own.
    db = Database(settings)
    try:
        with unit_of_work(db) as session:
            drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
            kind = next(k for k in editing.PART_KINDS if k.collection == "sections")
            section = editing.list_parts(session, drug, kind)[0]
            editing.update_part(
                session,
                drug,
                kind,
                section,
                kind.update_schema(body="Elsewhere."),
                if_match=kind.etag(section),
            )
    finally:
        db.dispose()
    edit("faqs", {"answer": "After the other process."})
    assert_revision_is_the_draft("another process's write")


def test_an_edits_revision_reads_the_parts_it_did_not_change_from_the_last_one(
    everything: tuple[Admin, Settings],
) -> None:
    """How the reuse works, seen from outside: a section changed behind the app's back (no revision,
    no version: something no write path does) is not read again by a FAQ edit's revision; the next
    section edit reads the sections and shows it."""
    admin, settings = everything
    slug = "testdrug-everything"
    base = f"/drugs/{slug}"
    for answer in ("One.", "Two."):  # the first is read in full and recorded; the second reuses it
        faq = item(admin, "faqs")
        assert (
            admin.patch(f"{base}/faqs/{faq['id']}", {"answer": answer}, etag=faq["etag"]).status_code == 200
        )

    engine = make_null_pool_engine(normalize_database_url(settings.database_url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE drug_section SET body = 'Behind the back.' WHERE key = 'mechanism'"))
    engine.dispose()
    faq = item(admin, "faqs")
    assert admin.patch(f"{base}/faqs/{faq['id']}", {"answer": "Three."}, etag=faq["etag"]).status_code == 200
    sections = latest_revision_document(settings, slug)["drug"]["sections"]
    assert [s["body"] for s in sections] == ["One.", "*Two*."]
    assert latest_revision_document(settings, slug)["drug"]["faqs"][0]["answer"] == "Three."

    section = item(admin, "sections")
    assert (
        admin.patch(
            f"{base}/sections/{section['id']}", {"title": "Intro 2"}, etag=section["etag"]
        ).status_code
        == 200
    )
    assert latest_revision_document(settings, slug) == full_snapshot(settings, slug)
    assert [s["body"] for s in latest_revision_document(settings, slug)["drug"]["sections"]] == [
        "One.",
        "Behind the back.",
    ]
