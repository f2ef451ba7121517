"""Support resources (shared; global or linked to drugs): create, edit, delete. The caller commits."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.bundle.schemas import SupportResourceIn
from app.core.concurrency import check_etag
from app.core.errors import Conflict, NotFound, ProblemField
from app.drugs.editing import merge
from app.drugs.models import Drug
from app.drugs.service import resource_in
from app.resources.models import DrugSupportResource, SupportResource
from app.resources.schemas import SupportResourceUpdate, resource_etag


class SupportResourceNotFound(NotFound):
    code, title = "support_resource_not_found", "Support resource not found"


def _slug_conflict(slug: str) -> Conflict:
    return Conflict(
        f"A support resource already uses the slug {slug!r}.",
        errors=[ProblemField(pointer="/slug", detail="already in use", code="duplicate")],
    )


def find_resource(session: Session, slug: str, *, for_update: bool = False) -> SupportResource | None:
    query = sa.select(SupportResource).where(SupportResource.slug == slug)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def get_resource(session: Session, slug: str, *, for_update: bool = False) -> SupportResource:
    resource = find_resource(session, slug, for_update=for_update)
    if resource is None:
        raise SupportResourceNotFound(f"No support resource with slug {slug!r}.")
    return resource


def list_resources(session: Session, *, after_slug: str | None, limit: int) -> list[SupportResource]:
    query = sa.select(SupportResource).order_by(SupportResource.slug).limit(limit)
    if after_slug is not None:
        query = query.where(SupportResource.slug > after_slug)
    return list(session.scalars(query))


def linked_drugs(session: Session, resource: SupportResource) -> list[str]:
    return list(
        session.scalars(
            sa.select(Drug.slug)
            .join(DrugSupportResource, DrugSupportResource.drug_id == Drug.id)
            .where(DrugSupportResource.resource_id == resource.id, Drug.deleted_at.is_(None))
            .order_by(Drug.slug)
        )
    )


def create_resource(session: Session, data: SupportResourceIn) -> SupportResource:
    if find_resource(session, data.slug) is not None:
        raise _slug_conflict(data.slug)
    # `translations` is left out of dumps when empty (and was given twice when not: a 500).
    values = {**data.model_dump(), "translations": data.model_dump(mode="json").get("translations", {})}
    resource = SupportResource(**values)
    session.add(resource)
    session.flush()
    return resource


def update_resource(
    session: Session, resource: SupportResource, changes: SupportResourceUpdate, *, if_match: str
) -> SupportResource:
    check_etag(if_match, resource_etag(resource))
    current = resource_in(resource)
    data = merge(SupportResourceIn, current, changes)
    if data == current:
        return resource
    if data.slug != resource.slug and find_resource(session, data.slug) is not None:
        raise _slug_conflict(data.slug)
    for field, value in data.model_dump().items():
        setattr(resource, field, value)
    session.flush()
    return resource


def delete_resource(session: Session, resource: SupportResource, *, if_match: str) -> None:
    """Delete a resource no drug links to (unlink it first, so each drug's change is explicit)."""
    check_etag(if_match, resource_etag(resource))
    linked = session.scalars(
        sa.select(Drug.slug).join(DrugSupportResource, DrugSupportResource.drug_id == Drug.id)
        .where(DrugSupportResource.resource_id == resource.id).order_by(Drug.slug)
    ).all()  # fmt: skip
    if linked:
        raise Conflict(f"The resource is linked to: {', '.join(linked)}. Unlink it from those drugs first.")
    session.delete(resource)
    session.flush()
