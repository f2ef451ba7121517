"""The editorial workflow: draft → in_review → published; unpublish; archive; restore a revision.

The working draft's `status` is the workflow state; what the public sees is only ever the live
revision (`published_drug`), swapped by `publishing.publish_revision` in the same transaction that
records the publishing revision. Every transition records a revision (the status is part of the
document) and an audit entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.bundle.schemas import DrugIn, ReviewIn
from app.conditions.models import Condition
from app.core.db import utcnow
from app.core.errors import AppError, Conflict, NotFound, ProblemField, ValidationFailed
from app.drugs import service as drug_service
from app.drugs.models import Drug
from app.drugs.service import AGGREGATE_OPTIONS, DrugNotFound
from app.publishing import service as publishing
from app.resources.models import SupportResource
from app.revisions.models import DrugRevision


class PublishRefused(AppError):
    status, code, title = 422, "publish_refused", "The drug cannot be published yet"


class FourEyes(AppError):
    status, code, title = 403, "four_eyes", "A second person must publish these changes"


class WrongStatus(Conflict):
    code, title = "wrong_status", "Not allowed in the drug's current status"


class RevisionNotFound(NotFound):
    code, title = "revision_not_found", "Revision not found"


def lock_drug(session: Session, slug: str, *, include_deleted: bool = False) -> Drug:
    """The drug with every part, its row locked (`FOR UPDATE`; SQLite holds `BEGIN IMMEDIATE`)."""
    query = sa.select(Drug).where(Drug.slug == slug).options(*AGGREGATE_OPTIONS).with_for_update(of=Drug)
    if not include_deleted:
        query = query.where(Drug.deleted_at.is_(None))
    drug = session.scalars(query).one_or_none()
    if drug is None:
        raise DrugNotFound(f"No drug with slug {slug!r}.")
    return drug


def _transition(session: Session, drug: Drug, status: str, *, message: str, action: str) -> DrugRevision:
    drug.status = status
    drug.updated_at = utcnow()
    return audit.revise(session, drug, message=message, action=action)


def submit(session: Session, drug: Drug, *, reason: str | None) -> DrugRevision:
    if drug.status == "in_review":
        raise WrongStatus(f"Drug {drug.slug!r} is already waiting for review.")
    return _transition(
        session, drug, "in_review", message=reason or "Submitted for review", action="drug.submit"
    )


def gate_problems(
    drug: Drug, *, reviewed_by: str | None, next_review_due: dt.date | None, today: dt.date
) -> list[ProblemField]:
    """Everything a drug lacks before it may be published (empty when it may)."""
    problems: list[ProblemField] = []
    if not drug.sources:
        problems.append(
            ProblemField(
                pointer="#/document/sources", detail="at least one source is required", code="missing_source"
            )
        )
    if not (drug.disclaimer or "").strip():
        problems.append(
            ProblemField(
                pointer="#/document/disclaimer", detail="a disclaimer is required", code="missing_disclaimer"
            )
        )
    if not (reviewed_by or "").strip():
        problems.append(
            ProblemField(pointer="/reviewed_by", detail="the reviewer is required", code="missing_reviewer")
        )
    if next_review_due is None:
        problems.append(
            ProblemField(
                pointer="/next_review_due",
                detail="the next review date is required",
                code="missing_next_review_due",
            )
        )
    elif next_review_due <= today:
        problems.append(
            ProblemField(
                pointer="/next_review_due",
                detail="the next review date must be in the future",
                code="next_review_due_not_future",
            )
        )
    return problems


def authors_since_publish(session: Session, drug: Drug) -> set[str]:
    """Authors of the revisions after the live one (all revisions when never published)."""
    live = publishing.live_revision_id(session, drug.id)
    since = 0
    if live is not None:
        since = session.scalar(sa.select(DrugRevision.number).where(DrugRevision.id == live)) or 0
    rows = session.scalars(
        sa.select(DrugRevision.author).where(DrugRevision.drug_id == drug.id, DrugRevision.number > since)
    )
    return {a or "" for a in rows}


def publish(
    session: Session,
    drug: Drug,
    *,
    reviewed_by: str | None,
    next_review_due: dt.date | None,
    reason: str,
    allow_single_person: bool,
    today: dt.date,
) -> DrugRevision:
    """Gate, four eyes, record the review and a revision with the reason, then swap the public view."""
    if drug.status == "archived":
        raise WrongStatus(f"Drug {drug.slug!r} is archived; submit it for review first.")
    problems = gate_problems(drug, reviewed_by=reviewed_by, next_review_due=next_review_due, today=today)
    if problems:
        raise PublishRefused(
            "Missing before publishing: " + "; ".join(p.detail for p in problems) + ".", errors=problems
        )
    actor = audit.actor_of(session)
    authors = authors_since_publish(session, drug)
    if not allow_single_person and authors and authors <= {actor.prefix or ""}:
        raise FourEyes(
            f"Every change since the last publish was made by this key ({actor.prefix}); "
            "another key with content:publish must review and publish it."
        )
    drug.reviewed_by = reviewed_by
    drug.last_reviewed = today
    drug.next_review_due = next_review_due
    revision = _transition(session, drug, "published", message=reason, action="drug.publish")
    publishing.publish_revision(session, drug, revision)
    return revision


def unpublish(session: Session, drug: Drug, *, archive: bool, reason: str | None) -> DrugRevision:
    if archive and drug.status == "archived":
        raise WrongStatus(f"Drug {drug.slug!r} is already archived.")
    if not archive and publishing.live_revision_id(session, drug.id) is None:
        raise WrongStatus(f"Drug {drug.slug!r} is not published.")
    publishing.unpublish(session, drug)
    status, action = ("archived", "drug.archive") if archive else ("draft", "drug.unpublish")
    return _transition(
        session, drug, status, message=reason or action.split(".")[1].capitalize() + "d", action=action
    )


def get_revision(session: Session, drug: Drug, number: int) -> DrugRevision:
    revision = session.scalars(
        sa.select(DrugRevision).where(DrugRevision.drug_id == drug.id, DrugRevision.number == number)
    ).one_or_none()
    if revision is None:
        raise RevisionNotFound(f"Drug {drug.slug!r} has no revision {number}.")
    return revision


def restore(session: Session, drug: Drug, revision: DrugRevision, *, reason: str | None) -> DrugRevision:
    """Make the working draft equal to the revision's document; records a new revision (and undeletes)."""
    data = DrugIn.model_validate(revision.document["drug"])
    # Restoring is a content change: the workflow status, the review on record (set by publishing
    # only) and what the public sees stay as they are.
    review = ReviewIn(
        last_reviewed=drug.last_reviewed,
        next_review_due=drug.next_review_due,
        reviewed_by=drug.reviewed_by,
        note=drug.review_note,
    )
    data = data.model_copy(
        update={"status": drug.status if drug.deleted_at is None else "draft", "review": review}
    )
    if data.slug != drug.slug and session.scalar(
        sa.select(Drug.id).where(Drug.slug == data.slug, Drug.id != drug.id)
    ):
        raise Conflict(f"Another drug now uses the slug {data.slug!r}; rename it first.")
    drug.slug = data.slug
    drug.deleted_at = None
    references = _references(session, revision.document, data)
    drug_service.replace_content(session, drug, data, **references)
    return audit.revise(
        session, drug, message=reason or f"Restored from revision {revision.number}", action="drug.restore"
    )


def _references(session: Session, document: dict[str, Any], data: DrugIn) -> dict[str, Any]:
    """Conditions and resources by slug (recreated from the revision's copies if gone); component drugs."""
    conditions = {c.slug: c for c in session.scalars(sa.select(Condition))}
    for copy in document.get("conditions", []):
        if copy["slug"] not in conditions:
            condition = Condition(
                slug=copy["slug"],
                name=copy["name"],
                description=copy.get("description"),
                translations=copy.get("translations") or {},
            )
            session.add(condition)
            conditions[condition.slug] = condition
    resources = {r.slug: r for r in session.scalars(sa.select(SupportResource))}
    for copy in document.get("support_resources", []):
        if copy["slug"] not in resources:
            resource = SupportResource(**{**copy, "translations": copy.get("translations") or {}})
            session.add(resource)
            resources[resource.slug] = resource
    session.flush()
    wanted = {k.drug for c in data.combinations for k in c.components if k.drug}
    drugs = {
        d.slug: d
        for d in session.scalars(sa.select(Drug).where(Drug.slug.in_(wanted), Drug.deleted_at.is_(None)))
    }
    missing = sorted(wanted - drugs.keys())
    if missing:
        raise ValidationFailed(
            f"The revision's regimens name drugs that no longer exist: {', '.join(missing)}.",
            errors=[
                ProblemField(pointer="/drug/combinations", detail=f"unknown drug {m!r}", code="unknown")
                for m in missing
            ],
        )
    return {"conditions": conditions, "resources": resources, "drugs_by_slug": drugs}
