"""`GET /api/v1/admin/audit-log`: read-only; nothing edits or deletes audit entries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import Field

from app.audit.models import AuditEntry
from app.auth.dependencies import AuditReader
from app.core.deps import ReadSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from app.core.types import ReadModel

router = APIRouter(tags=["admin: audit log"])


class AuditEntryRead(ReadModel):
    id: int
    occurred_at: dt.datetime
    actor_key_id: int | None
    actor_prefix: str | None = Field(description="The key's public prefix (never its secret).")
    action: str
    entity: str
    entity_id: str | None
    request_id: str | None
    changes: Any = Field(description="What changed: a field-level diff for drugs, else before/after.")


class AuditPage(ReadModel):
    items: list[AuditEntryRead]
    next_cursor: str | None


@router.get(
    "/audit-log",
    response_model=AuditPage,
    summary="Read the audit log",
    responses=problem_responses(401, 403, 422),
)
def audit_log(
    _: AuditReader,
    session: ReadSession,
    actor: Annotated[str | None, Query(max_length=100, description="Key prefix (or key id).")] = None,
    entity: Annotated[str | None, Query(max_length=50, description="`drug`, `keys`, `conditions`, …")] = None,
    entity_id: Annotated[str | None, Query(max_length=200, description="The entity's slug or id.")] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. `drug.publish`.")] = None,
    since: Annotated[dt.datetime | None, Query(description="From this time (inclusive, ISO 8601).")] = None,
    until: Annotated[dt.datetime | None, Query(description="Before this time (exclusive).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AuditPage:
    """Oldest first (the order things happened); filters combine with AND."""
    query = sa.select(AuditEntry)
    if actor:
        condition = AuditEntry.actor_prefix == actor
        if actor.isdigit():
            condition = condition | (AuditEntry.actor_key_id == int(actor))
        query = query.where(condition)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if since:
        query = query.where(AuditEntry.occurred_at >= _aware(since))
    if until:
        query = query.where(AuditEntry.occurred_at < _aware(until))
    if cursor:
        query = query.where(AuditEntry.id > int(decode_cursor(cursor, kind="audit")["after"]))
    rows = list(session.scalars(query.order_by(AuditEntry.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEntryRead.model_validate(r) for r in rows],
        next_cursor=encode_cursor({"k": "audit", "after": rows[-1].id}) if more else None,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
