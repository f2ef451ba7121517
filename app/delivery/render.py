"""Turn a revision's stored document into the public JSON document (Markdown rendered to safe HTML)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from app.core.markdown import render_markdown

API = "/api/v1"
PARTS = (
    "sources",
    "sections",
    "faqs",
    "side_effects",
    "monitoring",
    "indications",
    "combinations",
    "stories",
    "support_resources",
)


@dataclass(frozen=True, slots=True)
class LiveRevision:
    """What the public projection says about one published drug."""

    drug_id: int
    revision_id: int
    number: int
    drug_version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime
    document: dict[str, Any]


def _html(text: str | None) -> str | None:
    return render_markdown(text) if text else None


def drug_link(slug: str) -> str:
    return f"{API}/drugs/{slug}"


def review_of(drug: dict[str, Any], today: dt.date) -> dict[str, Any]:
    review = drug["review"]
    due = dt.date.fromisoformat(review["next_review_due"]) if review.get("next_review_due") else None
    reviewed = bool(review.get("reviewed_by") and review.get("last_reviewed"))
    return {
        "status": "reviewed" if reviewed else "not-reviewed",
        "overdue": bool(due and due < today),
        "last_reviewed": review.get("last_reviewed"),
        "next_review_due": review.get("next_review_due"),
        "reviewed_by": review.get("reviewed_by"),
        "note": review.get("note"),
    }


def render_document(live: LiveRevision, *, locale: str, today: dt.date) -> dict[str, Any]:
    """The full public document of one live revision."""
    snapshot = live.document
    drug = snapshot["drug"]
    ids: dict[str, list[int]] = snapshot["ids"]
    conditions = {c["slug"]: c for c in snapshot["conditions"]}
    return {
        "slug": drug["slug"],
        "name": drug["name"],
        "brand_names": drug["brand_names"],
        "drug_class": drug["drug_class"],
        "summary": drug["summary"],
        "codes": drug["codes"],
        "status": "published",
        "version": live.drug_version,
        "revision": live.number,
        "created_at": live.created_at,
        "updated_at": live.updated_at,
        "published_at": live.published_at,
        "locale": locale,
        "review": review_of(drug, today),
        "disclaimer": drug["disclaimer"],
        "disclaimer_html": _html(drug["disclaimer"]),
        "sources": drug["sources"],
        "sections": [
            {
                "id": i,
                "key": s["key"],
                "title": s["title"],
                "body": s["body"],
                "body_html": render_markdown(s["body"]),
            }
            for i, s in zip(ids["sections"], drug["sections"], strict=True)
        ],
        "faqs": [
            {
                "id": i,
                "question": f["question"],
                "answer": f["answer"],
                "answer_html": render_markdown(f["answer"]),
                "tags": f["tags"],
            }
            for i, f in zip(ids["faqs"], drug["faqs"], strict=True)
        ],
        "side_effects": [
            {
                "id": i,
                "name": e["name"],
                "seriousness": e["seriousness"],
                "description": e["description"],
                "description_html": _html(e["description"]),
                "management_tips": e["management_tips"],
                "urgency": e["urgency"],
                "when_to_contact_care_team": e["when_to_contact_care_team"],
            }
            for i, e in zip(ids["side_effects"], drug["side_effects"], strict=True)
        ],
        "monitoring": [
            {"id": i, "name": m["name"], "purpose": m["purpose"], "frequency": m["frequency"]}
            for i, m in zip(ids["monitoring"], drug["monitoring"], strict=True)
        ],
        "indications": [
            {
                "id": i,
                "condition": {
                    "slug": ind["condition"],
                    "name": conditions[ind["condition"]]["name"],
                    "description": conditions[ind["condition"]]["description"],
                    "links": {"self": f"{API}/conditions/{ind['condition']}"},
                },
                "status": ind["status"],
                "notes": ind["notes"],
            }
            for i, ind in zip(ids["indications"], drug["indications"], strict=True)
        ],
        "combinations": [
            {
                "id": i,
                "name": c["name"],
                "components": c["components"],
                "rationale": c["rationale"],
                "rationale_html": _html(c["rationale"]),
                "notes": c["notes"],
                "notes_html": _html(c["notes"]),
            }
            for i, c in zip(ids["combinations"], drug["combinations"], strict=True)
        ],
        "stories": [
            {
                "id": i,
                "title": s["title"],
                "person": s["person"],
                "body": s["body"],
                "body_html": render_markdown(s["body"]),
            }
            for i, s in zip(ids["stories"], drug["stories"], strict=True)
        ],
        "support_resources": [render_resource(r) for r in snapshot["support_resources"]],
        "links": {"self": drug_link(drug["slug"])},
    }


def render_resource(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "slug": resource["slug"],
        "category": resource["category"],
        "title": resource["title"],
        "description": resource["description"],
        "description_html": _html(resource["description"]),
        "url": resource["url"],
        "phone": resource["phone"],
        "email": resource["email"],
        "is_global": resource["is_global"],
    }


def summary_of(document: dict[str, Any], last_reviewed: str | None) -> dict[str, Any]:
    return {
        "slug": document["slug"],
        "name": document["name"],
        "brand_names": document["brand_names"],
        "drug_class": document["drug_class"],
        "summary": document["summary"],
        "codes": document["codes"],
        "updated_at": document["updated_at"],
        "last_reviewed": last_reviewed,
        "links": document["links"],
    }
