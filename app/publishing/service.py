"""Revisions and the public projection: the only code that decides what the public sees."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached

from app.core.db import PreparedSelect, PreparedWrite, prepare_select, prepare_write, utcnow
from app.core.errors import Conflict, ProblemField
from app.delivery.render import document_locales
from app.drugs.models import Drug
from app.drugs.service import snapshot_of
from app.publishing import generation
from app.publishing.models import (
    ContentState,
    PublicationEvent,
    PublishedCombinationComponent,
    PublishedDrug,
    PublishedDrugCode,
    PublishedDrugCondition,
    PublishedDrugLocale,
)
from app.revisions.models import DrugRevision
from app.search import service as search_service


def bump_generation(session: Session) -> int:
    """Advance the content generation in the current transaction (caches compare against it)."""
    changed_at = utcnow()
    conn = session.connection()
    number: int = _bump_statement(conn.dialect.name).run(conn, {"changed_at": changed_at}).rows[0][0]
    generation.announce(session, generation.Generation(number=number, changed_at=changed_at))
    session.info["bumped"] = True
    return number


@functools.cache
def _bump_statement(dialect: str) -> PreparedWrite:
    # Built once: it runs in every write transaction.
    state = cast(sa.Table, ContentState.__table__)
    statement = (
        sa.update(state)
        .where(state.c.id == 1)
        .values(generation=state.c.generation + 1, updated_at=sa.bindparam("changed_at"))
        .returning(state.c.generation)
    )
    return prepare_write(statement, dialect)


def current_generation(session: Session) -> int:
    return session.scalar(sa.select(ContentState.generation).where(ContentState.id == 1)) or 0


def latest_revision(session: Session, drug_id: int) -> DrugRevision | None:
    return session.scalars(
        sa.select(DrugRevision)
        .where(DrugRevision.drug_id == drug_id)
        .order_by(DrugRevision.number.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True, slots=True)
class LatestDocument:
    number: int
    drug_version: int  # the drug's version when it was recorded
    document: dict[str, Any]


def latest_document(session: Session, drug_id: int) -> LatestDocument | None:
    """The drug's latest revision: number, drug version and document (Core: every write reads it)."""
    conn = session.connection()
    rows = _latest_document_statement(conn.dialect.name).rows(conn, {"drug_id": drug_id})
    if not rows:
        return None
    return LatestDocument(int(rows[0].number), int(rows[0].drug_version), rows[0].document)


@functools.cache
def _latest_document_statement(dialect: str) -> PreparedSelect:
    revision = cast(sa.Table, DrugRevision.__table__)
    statement = (
        sa.select(revision.c.number, revision.c.drug_version, revision.c.document)
        .where(revision.c.drug_id == sa.bindparam("drug_id"))
        .order_by(revision.c.number.desc())
        .limit(1)
    )
    return prepare_select(statement, dialect)


def record_revision(
    session: Session,
    drug: Drug,
    *,
    message: str,
    author: str | None,
    document: dict[str, Any] | None = None,
    number: int | None = None,
) -> DrugRevision:
    """Store the drug's complete current document (`snapshot_of` unless given) as its next revision
    (`number`, when the caller already knows it, else the one after the latest)."""
    session.flush()
    if number is None:
        latest = session.scalar(
            sa.select(sa.func.max(DrugRevision.number)).where(DrugRevision.drug_id == drug.id)
        )
        number = (latest or 0) + 1
    values = {
        "drug_id": drug.id,
        "number": number,
        "document": document if document is not None else snapshot_of(session, drug.id),
        "message": message,
        "author": author,
        "drug_version": drug.version,
        "drug_created_at": drug.created_at,
        "drug_updated_at": drug.updated_at,
        "created_at": utcnow(),
    }
    # A Core INSERT, then the row attached to the session as loaded: a revision is written once and
    # never changed, and the ORM's unit of work for its ~30 kB document cost more than the INSERT.
    conn = session.connection()
    revision_id = _insert_revision(conn.dialect.name).run(conn, values).rows[0][0]
    revision = DrugRevision(id=revision_id, **values)
    make_transient_to_detached(revision)
    session.add(revision)
    session.info["wrote"] = True  # what a flush would have noted: the write bumps the generation
    return revision


_REVISION_COLUMNS = (
    "drug_id", "number", "document", "message", "author", "drug_version", "drug_created_at",
    "drug_updated_at", "created_at",
)  # fmt: skip


@functools.cache
def _insert_revision(dialect: str) -> PreparedWrite:
    table = cast(sa.Table, DrugRevision.__table__)
    return prepare_write(sa.insert(table).returning(table.c.id), dialect, _REVISION_COLUMNS)


def live_revision_id(session: Session, drug_id: int) -> int | None:
    return session.scalar(sa.select(PublishedDrug.revision_id).where(PublishedDrug.drug_id == drug_id))


def publish_revision(session: Session, drug: Drug, revision: DrugRevision) -> PublishedDrug:
    """Point the public view of `drug` at `revision` (one transaction: readers see old or new, never half)."""
    document = revision.document["drug"]
    _refuse_a_slug_live_for_another_drug(session, drug, document["slug"])
    published = session.get(PublishedDrug, drug.id)
    previous_revision_id = published.revision_id if published is not None else None
    previous_slug, previous_name = (published.slug, published.name) if published is not None else (None, None)
    if published is None:
        published = PublishedDrug(drug_id=drug.id)
        session.add(published)
    name: str = document["name"]
    published.revision_id = revision.id
    published.slug = document["slug"]
    published.name = name
    published.name_key = name.casefold()
    published.letter = _letter(name)
    published.drug_class_key = (document.get("drug_class") or "").casefold() or None
    published.last_reviewed = drug.last_reviewed
    published.updated_at = revision.drug_updated_at
    published.published_at = utcnow()
    session.flush()
    for table in (
        PublishedDrugCode,
        PublishedDrugCondition,
        PublishedDrugLocale,
        PublishedCombinationComponent,
    ):
        session.execute(sa.delete(table).where(table.drug_id == drug.id))
    session.add_all(
        PublishedDrugCode(drug_id=drug.id, system=system, code=code)
        for system, code in document["codes"].items()
    )
    session.add_all(
        PublishedDrugCondition(drug_id=drug.id, condition_slug=ind["condition"], status=ind["status"])
        for ind in document["indications"]
    )
    session.add_all(
        PublishedDrugLocale(drug_id=drug.id, locale=locale)
        for locale in document_locales(revision.document, search_service.default_locale(session))[1:]
    )
    session.add_all(
        PublishedCombinationComponent(
            drug_id=drug.id,
            combination_id=combination_id,
            name_key=component["name"].casefold()[:200],
            component_drug_slug=component["drug"],
        )
        for combination_id, combination in zip(
            revision.document["ids"]["combinations"], document["combinations"], strict=True
        )
        for component in combination["components"]
    )
    session.flush()
    search_service.index_drug(session, drug.id, revision.document)
    bump_generation(session)
    if previous_revision_id != revision.id:
        renamed = previous_slug is not None and previous_slug != published.slug
        if renamed:  # the old URL is gone: a consumer keyed by slug must drop it
            _record_event(
                session, drug, "unpublished", slug=str(previous_slug), name=str(previous_name), revision=None
            )
        event = "published" if previous_revision_id is None or renamed else "updated"
        _record_event(session, drug, event, slug=published.slug, name=name, revision=revision)
    session.flush()
    return published


def _refuse_a_slug_live_for_another_drug(session: Session, drug: Drug, slug: str) -> None:
    """A drug renamed in its draft keeps its public slug until it is published again: another drug
    cannot be published under that slug before then."""
    holder = session.scalar(
        sa.select(Drug.slug)
        .join(PublishedDrug, PublishedDrug.drug_id == Drug.id)
        .where(PublishedDrug.slug == slug, PublishedDrug.drug_id != drug.id)
    )
    if holder is not None:
        detail = (
            f"The public slug {slug!r} still belongs to the published drug now named {holder!r} in its "
            f"draft: publish or unpublish {holder!r} first."
        )
        raise Conflict(detail, errors=[ProblemField(pointer="/slug", detail=detail, code="slug_live")])


def unpublish(session: Session, drug: Drug) -> None:
    """Remove the drug from every public view (search included)."""
    published = session.execute(
        sa.select(PublishedDrug.slug, PublishedDrug.name).where(PublishedDrug.drug_id == drug.id)
    ).one_or_none()
    search_service.remove_drug(session, drug.id)
    session.execute(sa.delete(PublishedDrug).where(PublishedDrug.drug_id == drug.id))
    bump_generation(session)
    if published is not None:
        _record_event(session, drug, "unpublished", slug=published.slug, name=published.name, revision=None)


def _record_event(
    session: Session, drug: Drug, event: str, *, slug: str, name: str, revision: DrugRevision | None
) -> None:
    """Append to the change feed. Called after `bump_generation`: see `PublicationEvent` on ordering."""
    session.add(
        PublicationEvent(
            drug_id=drug.id,
            event=event,
            slug=slug,
            name=name,
            revision_id=revision.id if revision is not None else None,
            revision_number=revision.number if revision is not None else None,
            occurred_at=utcnow(),
        )
    )
    session.flush()


def _letter(name: str) -> str:
    first = name.strip()[:1].casefold()
    return first if first.isalpha() and first.isascii() else "#"
