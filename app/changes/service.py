"""Reads of the change feed (`publication_event`), in id order = commit order."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.core.errors import InvalidParameters, ProblemField
from app.core.params import parse_moment
from app.publishing.models import PublicationEvent


@dataclass(frozen=True, slots=True)
class Since:
    """Where to resume: after an event id (a cursor), or from a moment."""

    after_id: int | None = None
    moment: dt.datetime | None = None


# A cursor: the decimal id of the last event seen (ids fit a signed 64-bit integer), or empty.
CURSOR_PATTERN = "^[0-9]{0,18}$"
_CURSOR = re.compile("[0-9]{0,18}")
SINCE_MAX_LENGTH = 64
SINCE_SCHEMA: dict[str, Any] = {
    "maxLength": SINCE_MAX_LENGTH,
    "anyOf": [
        {"type": "string", "pattern": CURSOR_PATTERN},
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
    ],
}


def parse_since(raw: str | None) -> Since:
    """`since` is a cursor (`SINCE_SCHEMA`), an RFC 3339 timestamp, or a date (its midnight UTC)."""
    if raw is None or raw == "":
        return Since(after_id=0)
    if _CURSOR.fullmatch(raw):
        return Since(after_id=int(raw))
    moment = parse_moment(raw, dates=True)
    if moment is None:
        raise InvalidParameters(
            "`since` takes a cursor from a previous page (`next_cursor`), an RFC 3339 timestamp "
            "such as 2026-01-31T12:00:00Z, or a date such as 2026-01-31.",
            errors=[
                ProblemField(pointer="#/query/since", detail="not a cursor or timestamp", code="invalid")
            ],
        )
    return Since(moment=moment)


def list_events(conn: sa.Connection, since: Since, *, limit: int) -> tuple[list[Any], bool]:
    """Up to `limit` events after `since`, oldest first, and whether more follow."""
    query = sa.select(
        PublicationEvent.id,
        PublicationEvent.event,
        PublicationEvent.slug,
        PublicationEvent.name,
        PublicationEvent.revision_number,
        PublicationEvent.occurred_at,
    )
    if since.after_id is not None:
        query = query.where(PublicationEvent.id > since.after_id)
    if since.moment is not None:
        query = query.where(PublicationEvent.occurred_at >= since.moment)
    rows = list(conn.execute(query.order_by(PublicationEvent.id).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def newest_event(conn: sa.Connection, *, before: dt.datetime | None = None) -> Any | None:
    """The newest event (`id`, `occurred_at`), or the newest before a moment; None if there is none."""
    query = sa.select(PublicationEvent.id, PublicationEvent.occurred_at)
    if before is not None:
        query = query.where(PublicationEvent.occurred_at < before)
    return conn.execute(query.order_by(PublicationEvent.id.desc()).limit(1)).one_or_none()
