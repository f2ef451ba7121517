"""`GET /api/v1/admin/audit-log`: read-only; nothing edits or deletes audit entries."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query
from pydantic import Field

from app.audit.models import AuditEntry
from app.auth.dependencies import AuditReader
from app.core.deps import ReadSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_id, encode_cursor
from app.core.params import moment_param
from app.core.routing import GuardedRouter
from app.core.types import QUERY_TEXT_PATTERN, ReadModel

router = GuardedRouter(tags=["admin: audit log"])
TIMESTAMP = {"format": "date-time"}
# A key id: ASCII digits only (str.isdigit() takes `²`), within what a key id column holds.
_KEY_ID = re.compile("[0-9]{1,9}")


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
    actor: Annotated[
        str | None, Query(max_length=100, pattern=QUERY_TEXT_PATTERN, description="Key prefix (or key id).")
    ] = None,
    entity: Annotated[
        str | None,
        Query(max_length=50, pattern=QUERY_TEXT_PATTERN, description="`drug`, `keys`, `conditions`, …"),
    ] = None,
    entity_id: Annotated[
        str | None, Query(max_length=200, pattern=QUERY_TEXT_PATTERN, description="The entity's slug or id.")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=100, pattern=QUERY_TEXT_PATTERN, description="e.g. `drug.publish`.")
    ] = None,
    since: Annotated[
        str | None, Query(description="From this time (inclusive).", json_schema_extra=TIMESTAMP)
    ] = None,
    until: Annotated[
        str | None, Query(description="Before this time (exclusive).", json_schema_extra=TIMESTAMP)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AuditPage:
    """Oldest first (the order things happened); filters combine with AND."""
    start, end = moment_param("since", since), moment_param("until", until)
    query = sa.select(AuditEntry)
    if actor:
        condition = AuditEntry.actor_prefix == actor
        if _KEY_ID.fullmatch(actor):
            condition = condition | (AuditEntry.actor_key_id == int(actor))
        query = query.where(condition)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if start:
        query = query.where(AuditEntry.occurred_at >= start)
    if end:
        query = query.where(AuditEntry.occurred_at < end)
    if cursor:
        query = query.where(AuditEntry.id > cursor_id(cursor, kind="audit", key="after"))
    rows = list(session.scalars(query.order_by(AuditEntry.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEntryRead.model_validate(r) for r in rows],
        next_cursor=encode_cursor({"k": "audit", "after": rows[-1].id}) if more else None,
    )
