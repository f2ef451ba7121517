"""Conditions (shared between drugs): create, edit, delete. Services flush; the caller commits."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.bundle.schemas import ConditionIn
from app.conditions.models import Condition
from app.conditions.schemas import ConditionUpdate, condition_etag
from app.core.concurrency import check_etag
from app.core.errors import Conflict, NotFound, ProblemField
from app.drugs.editing import merge, refuse_slug_change_in_use
from app.drugs.models import Drug, Indication
from app.drugs.service import stored_translations
from app.publishing.models import PublishedDrug, PublishedDrugCondition


class ConditionNotFound(NotFound):
    code, title = "condition_not_found", "Condition not found"


def _slug_conflict(slug: str) -> Conflict:
    return Conflict(
        f"A condition already uses the slug {slug!r}.",
        errors=[ProblemField(pointer="/slug", detail="already in use", code="duplicate")],
    )


def get_condition(session: Session, slug: str, *, for_update: bool = False) -> Condition:
    query = sa.select(Condition).where(Condition.slug == slug)
    if for_update:
        query = query.with_for_update()
    condition = session.scalars(query).one_or_none()
    if condition is None:
        raise ConditionNotFound(f"No condition with slug {slug!r}.")
    return condition


def list_conditions(session: Session, *, after_slug: str | None, limit: int) -> list[Condition]:
    query = sa.select(Condition).order_by(Condition.slug).limit(limit)
    if after_slug is not None:
        query = query.where(Condition.slug > after_slug)
    return list(session.scalars(query))


def drugs_with(session: Session, condition: Condition) -> list[str]:
    """Slugs of the (not deleted) drugs whose working draft lists this condition."""
    return list(
        session.scalars(
            sa.select(Drug.slug)
            .join(Indication, Indication.drug_id == Drug.id)
            .where(Indication.condition_id == condition.id, Drug.deleted_at.is_(None))
            .order_by(Drug.slug)
        )
    )


def _slug_taken(session: Session, slug: str) -> bool:
    return session.scalar(sa.select(Condition.id).where(Condition.slug == slug)) is not None


def create_condition(session: Session, data: ConditionIn) -> Condition:
    if _slug_taken(session, data.slug):
        raise _slug_conflict(data.slug)
    condition = Condition(
        slug=data.slug,
        name=data.name,
        description=data.description,
        translations=stored_translations(data.translations),
    )
    session.add(condition)
    session.flush()
    return condition


def update_condition(
    session: Session, condition: Condition, changes: ConditionUpdate, *, if_match: str
) -> Condition:
    check_etag(if_match, condition_etag(condition))
    current = ConditionIn.model_validate(
        {
            "slug": condition.slug,
            "name": condition.name,
            "description": condition.description,
            "translations": condition.translations or {},
        }
    )
    data = merge(ConditionIn, current, changes)
    if data == current:
        return condition
    if data.slug != condition.slug:
        if _slug_taken(session, data.slug):
            raise _slug_conflict(data.slug)
        # Drafts refer to it by id and follow; published documents link to its slug.
        refuse_slug_change_in_use(_published_drugs_listing(session, condition))
    condition.slug, condition.name, condition.description = data.slug, data.name, data.description
    condition.translations = stored_translations(data.translations)
    session.flush()
    return condition


def _drugs_listing(session: Session, condition: Condition) -> list[str]:
    """The slugs of the drugs whose working draft lists the condition as an indication."""
    return list(
        session.scalars(
            sa.select(Drug.slug).join(Indication, Indication.drug_id == Drug.id)
            .where(Indication.condition_id == condition.id).order_by(Drug.slug)
        )
    )  # fmt: skip


def _published_drugs_listing(session: Session, condition: Condition) -> list[str]:
    """The drugs whose public document lists the condition (and links to it by its slug)."""
    live = PublishedDrugCondition
    return list(
        session.scalars(
            sa.select(PublishedDrug.slug)
            .join(live, live.drug_id == PublishedDrug.drug_id)
            .where(live.condition_slug == condition.slug)
            .order_by(PublishedDrug.slug)
        )
    )


def delete_condition(session: Session, condition: Condition, *, if_match: str) -> None:
    """Delete a condition no drug refers to (revisions keep their own copy of it)."""
    check_etag(if_match, condition_etag(condition))
    used_by = _drugs_listing(session, condition)
    if used_by:
        raise Conflict(
            f"Drugs still list this condition as an indication: {', '.join(used_by)}. Remove those first."
        )
    session.delete(condition)
    session.flush()
