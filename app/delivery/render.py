"""Turn a revision's stored document into the public JSON document (Markdown rendered to safe HTML)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.core.locale import fallback_chain
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


def localized(item: dict[str, Any], chain: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The item's text in the first locale of `chain` that has it, field by field, and that locale.

    `chain` ends with the default locale, whose text is the item's own fields; more specific
    translations are laid over less specific ones (`fr-CA` over `fr` over the default).
    """
    translations: dict[str, dict[str, Any]] = item.get("translations") or {}
    if not translations or len(chain) == 1:
        return item, chain[-1]
    merged, used = dict(item), chain[-1]
    for tag in reversed(chain[:-1]):
        translation = translations.get(tag)
        if translation:
            merged.update(translation)
            used = tag
    return merged, used


def document_locales(snapshot: dict[str, Any], default_locale: str) -> list[str]:
    """Every locale some text of the document exists in, the default first."""
    drug = snapshot["drug"]
    items: list[dict[str, Any]] = [drug, *snapshot["conditions"], *snapshot["support_resources"]]
    for part in PARTS:
        if part not in ("sources", "support_resources"):
            items.extend(drug[part])
    tags = {tag for item in items for tag in (item.get("translations") or {})}
    return [default_locale, *sorted(tags - {default_locale})]


def render_document(
    live: LiveRevision, *, locale: str, default_locale: str, today: dt.date
) -> dict[str, Any]:
    """The full public document of one live revision, in `locale` where translated (per item)."""
    snapshot = live.document
    chain = fallback_chain(locale, default_locale)
    drug, drug_locale = localized(snapshot["drug"], chain)
    ids: dict[str, list[int]] = snapshot["ids"]
    conditions = {c["slug"]: c for c in snapshot["conditions"]}

    def each(part: str) -> list[tuple[int, dict[str, Any], str]]:
        return [(i, *localized(item, chain)) for i, item in zip(ids[part], drug[part], strict=True)]

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
        "locale": drug_locale,
        "available_locales": document_locales(snapshot, default_locale),
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
                "locale": used,
            }
            for i, s, used in each("sections")
        ],
        "faqs": [
            {
                "id": i,
                "question": f["question"],
                "answer": f["answer"],
                "answer_html": render_markdown(f["answer"]),
                "tags": f["tags"],
                "locale": used,
            }
            for i, f, used in each("faqs")
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
                "locale": used,
            }
            for i, e, used in each("side_effects")
        ],
        "monitoring": [
            {"id": i, "name": m["name"], "purpose": m["purpose"], "frequency": m["frequency"], "locale": used}
            for i, m, used in each("monitoring")
        ],
        "indications": [
            {
                "id": i,
                "condition": render_condition(conditions[ind["condition"]], chain),
                "status": ind["status"],
                "notes": ind["notes"],
                "locale": used,
            }
            for i, ind, used in each("indications")
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
                "locale": used,
            }
            for i, c, used in each("combinations")
        ],
        "stories": [
            {
                "id": i,
                "title": s["title"],
                "person": s["person"],
                "body": s["body"],
                "body_html": render_markdown(s["body"]),
                "locale": used,
            }
            for i, s, used in each("stories")
        ],
        "support_resources": [render_resource(r, chain) for r in snapshot["support_resources"]],
        "links": {"self": drug_link(drug["slug"])},
    }


def render_condition(condition: dict[str, Any], chain: tuple[str, ...]) -> dict[str, Any]:
    text, used = localized(condition, chain)
    return {
        "slug": condition["slug"],
        "name": text["name"],
        "description": text["description"],
        "links": {"self": f"{API}/conditions/{condition['slug']}"},
        "locale": used,
    }


def render_resource(resource: dict[str, Any], chain: tuple[str, ...]) -> dict[str, Any]:
    text, used = localized(resource, chain)
    return {
        "slug": resource["slug"],
        "category": resource["category"],
        "title": text["title"],
        "description": text["description"],
        "description_html": _html(text["description"]),
        "url": resource["url"],
        "phone": resource["phone"],
        "email": resource["email"],
        "is_global": resource["is_global"],
        "locale": used,
    }


def served_locales(payload: Any) -> set[str]:
    """The locales the text of a public answer is in: every localized object of it says its `locale`.

    `codes` is not looked into: its keys are code systems, which an editor names.
    """
    found: set[str] = set()
    pending = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            locale = value.get("locale")
            if isinstance(locale, str):
                found.add(locale)
            pending.extend(v for k, v in value.items() if isinstance(v, dict | list) and k != "codes")
        elif isinstance(value, list):
            pending.extend(v for v in value if isinstance(v, dict | list))
    return found


def content_language(locales: Iterable[str], default_locale: str) -> str | None:
    """`Content-Language` of text in `locales`: all of them, the most specific first, the default last.

    That is the order of the request's fallback chain (`fr-CA`, `fr`, `en`), which every served
    locale is in, yet it depends on the tags alone: the same text is labelled the same whatever was
    asked, so answers with equal bytes (equal ETags) have equal headers. No text, no header (RFC 9110
    §8.5: then it is meant for every audience).
    """
    ordered = sorted(set(locales), key=lambda tag: (tag == default_locale, -tag.count("-"), tag))
    return ", ".join(ordered) or None


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
        "locale": document["locale"],
        "links": document["links"],
    }
