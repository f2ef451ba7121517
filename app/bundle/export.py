"""Export: the content as a bundle (the seed/import format), produced piece by piece for streaming.

By default the bundle holds what the public sees: each published drug's live revision, plus every
condition and support resource (shared records are published when saved). `include_drafts` exports
the working draft of every drug that is not deleted instead; `include_revisions` adds each drug's
history under `revisions` (ignored by import: history is never rewritten).
Everything is sorted by slug, so export → import into an empty database → export is byte-identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.conditions.models import Condition
from app.drugs import service as drug_service
from app.drugs.models import Drug
from app.publishing.models import PublishedDrug
from app.resources.models import SupportResource
from app.revisions.models import DrugRevision

BATCH = 50


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def drug_count(session: Session, *, include_drafts: bool) -> int:
    if include_drafts:
        return (
            session.scalar(sa.select(sa.func.count()).select_from(Drug).where(Drug.deleted_at.is_(None))) or 0
        )
    return session.scalar(sa.select(sa.func.count()).select_from(PublishedDrug)) or 0


def iter_bundle(
    session: Session,
    *,
    include_drafts: bool = False,
    include_revisions: bool = False,
    on_drug: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """The bundle as JSON text chunks (one object per chunk)."""
    yield '{"format":"druginfo-bundle","version":1,"conditions":['
    conditions = session.scalars(sa.select(Condition).order_by(Condition.slug))
    yield ",".join(_dump(drug_service.condition_in(c).model_dump(mode="json")) for c in conditions)
    yield '],"support_resources":['
    resources = session.scalars(sa.select(SupportResource).order_by(SupportResource.slug))
    yield ",".join(_dump(drug_service.resource_in(r).model_dump(mode="json")) for r in resources)
    yield '],"drugs":['
    slugs: list[tuple[int, str]] = []
    first = True
    for drug_id, slug, document in _drug_documents(session, include_drafts=include_drafts):
        yield ("" if first else ",") + _dump(document)
        first = False
        slugs.append((drug_id, slug))
        if on_drug is not None:
            on_drug(slug)
    yield "]"
    if include_revisions:
        yield ',"revisions":{'
        for n, (drug_id, slug) in enumerate(slugs):
            rows = session.scalars(
                sa.select(DrugRevision).where(DrugRevision.drug_id == drug_id).order_by(DrugRevision.number)
            )
            history = [
                {
                    "number": r.number,
                    "message": r.message,
                    "author": r.author,
                    "created_at": r.created_at.isoformat(),
                    "document": r.document,
                }
                for r in rows
            ]
            yield ("" if n == 0 else ",") + _dump(slug) + ":" + _dump(history)
        yield "}"
    yield "}\n"


def _drug_documents(session: Session, *, include_drafts: bool) -> Iterator[tuple[int, str, dict[str, Any]]]:
    if not include_drafts:
        query = (
            sa.select(PublishedDrug.drug_id, PublishedDrug.slug, DrugRevision.document)
            .join(DrugRevision, DrugRevision.id == PublishedDrug.revision_id)
            .order_by(PublishedDrug.slug)
        )
        for drug_id, slug, document in session.execute(query.execution_options(yield_per=BATCH)):
            yield drug_id, slug, document["drug"]
        return
    ids = list(
        session.execute(sa.select(Drug.id, Drug.slug).where(Drug.deleted_at.is_(None)).order_by(Drug.slug))
    )
    for start in range(0, len(ids), BATCH):
        chunk = [i for i, _ in ids[start : start + BATCH]]
        drugs = session.scalars(
            sa.select(Drug)
            .where(Drug.id.in_(chunk))
            .options(*drug_service.AGGREGATE_OPTIONS)
            .order_by(Drug.slug)
        ).all()
        for drug in drugs:
            yield drug.id, drug.slug, drug_service.to_drug_in(drug).model_dump(mode="json")
        session.expunge_all()
