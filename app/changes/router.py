"""`GET /api/v1/changes`: what changed in the published content, in commit order, for syncing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from app.changes import service
from app.core.deps import ReadConn, SettingsDep
from app.core.errors import problem_responses
from app.core.http import public_json
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.routing import GuardedRouter
from app.delivery.dependencies import Store
from app.delivery.render import drug_link
from app.delivery.store import dumps, strong_etag

router = GuardedRouter(prefix="/api/v1", tags=["delivery"])


class ChangeDrug(BaseModel):
    slug: str
    name: str
    links: dict[str, str] | None = Field(description="`self`: the document (absent once unpublished).")


class Change(BaseModel):
    id: str = Field(description="This event's cursor.")
    event: Literal["published", "updated", "unpublished"]
    drug: ChangeDrug
    revision: int | None = Field(description="The revision number now live (null when unpublished).")
    occurred_at: dt.datetime


class ChangePage(BaseModel):
    items: list[Change]
    next_cursor: str = Field(
        description="Pass as `since` next time; present even when there is nothing new, so a consumer "
        "can poll from it."
    )
    has_more: bool


@router.get(
    "/changes",
    response_model=ChangePage,
    summary="Feed of published, updated and unpublished drugs in commit order",
    responses=problem_responses(400, 422),
)
def list_changes(
    request: Request,
    conn: ReadConn,
    settings: SettingsDep,
    store: Store,
    since: Annotated[
        str | None,
        Query(
            max_length=service.SINCE_MAX_LENGTH,
            description="A `next_cursor` from a previous page, or an RFC 3339 timestamp or a date "
            "(events at or after it). Omit to start from the beginning.",
            json_schema_extra=service.SINCE_SCHEMA,
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
) -> Response:
    """Events in the order their transactions committed: a consumer that stores `next_cursor` and
    asks again from it never misses a change and never sees one twice."""
    position = service.parse_since(since)
    rows, has_more = service.list_events(conn, position, limit=limit)
    # The page changes when an event is added (has_more, or the cursor of an empty page), and every
    # publish moves the content generation too; take the later, in case this process's clock lags.
    changed = [store.content_changed_at]
    if rows:
        next_cursor = rows[-1].id
        changed.append(rows[-1].occurred_at)
    else:
        # Nothing after `since`: resume from the newest event (before the moment), never from beyond
        # it: a cursor ahead of the feed would skip the events that later get the ids in between.
        # Nor beyond `since`: an event committed since the page was read is still to be seen.
        newest = service.newest_event(conn, before=position.moment)
        next_cursor = newest.id if newest is not None else 0
        if position.after_id is not None:
            next_cursor = min(position.after_id, next_cursor)
        changed.append(newest.occurred_at if newest is not None else None)
    items = [
        {
            "id": str(row.id),
            "event": row.event,
            "drug": {
                "slug": row.slug,
                "name": row.name,
                "links": None if row.event == "unpublished" else {"self": drug_link(row.slug)},
            },
            "revision": row.revision_number,
            "occurred_at": row.occurred_at,
        }
        for row in rows
    ]
    body = dumps({"items": items, "next_cursor": str(next_cursor), "has_more": has_more})
    extra = {"Cache-Control": "public, no-cache"}
    if has_more:
        extra["Link"] = f'<{request.url.include_query_params(since=str(next_cursor))}>; rel="next"'
    last_modified = max(filter(None, changed), default=None)
    return public_json(request, settings, body, strong_etag(body), last_modified, extra_headers=extra)
