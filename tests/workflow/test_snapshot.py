"""The revision document read with Core queries (`snapshot_of`) is exactly the ORM aggregate's document."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database
from app.drugs import service as drug_service
from app.drugs.models import Drug
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
