"""`/api/v1/admin/conditions`: conditions shared by drugs (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response
from sqlalchemy.orm import Session

from app.auth.dependencies import ContentReader, ContentWriter
from app.bundle.schemas import ConditionIn
from app.conditions import service
from app.conditions.models import Condition
from app.conditions.schemas import (
    AdminConditionPage,
    AdminConditionSummary,
    ConditionRead,
    ConditionUpdate,
    condition_etag,
    condition_url,
)
from app.core.concurrency import IfMatch
from app.core.deps import ReadSession, WriteSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_slug, encode_cursor
from app.core.routing import GuardedRouter
from app.core.types import SLUG_PATTERN
from app.idempotency.service import Idempotent

router = GuardedRouter(prefix="/conditions", tags=["admin: conditions"])

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="The condition's slug.")]
READ_PROBLEMS = problem_responses(401, 403, 404, 422)
CREATE_PROBLEMS = problem_responses(401, 403, 409, 413, 422, 503)
CHANGE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422, 428, 503)


def _read(session: Session, condition: Condition, response: Response) -> ConditionRead:
    response.headers["ETag"] = condition_etag(condition)
    return ConditionRead.of(condition, service.drugs_with(session, condition))


@router.get("", response_model=AdminConditionPage, summary="List conditions", responses=READ_PROBLEMS)
def list_conditions(
    _: ContentReader,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AdminConditionPage:
    after = cursor_slug(cursor, kind="admin-conditions", key="after") if cursor else None
    conditions = service.list_conditions(session, after_slug=after, limit=limit + 1)
    more = len(conditions) > limit
    conditions = conditions[:limit]
    return AdminConditionPage(
        items=[AdminConditionSummary.of(c) for c in conditions],
        next_cursor=encode_cursor({"k": "admin-conditions", "after": conditions[-1].slug}) if more else None,
    )


@router.post(
    "",
    status_code=201,
    response_model=ConditionRead,
    summary="Create a condition",
    responses=CREATE_PROBLEMS,
    dependencies=[Idempotent],
)
def create_condition(
    _: ContentWriter, body: ConditionIn, session: WriteSession, response: Response
) -> ConditionRead:
    condition = service.create_condition(session, body)
    response.headers["Location"] = condition_url(condition.slug)
    return _read(session, condition, response)


@router.get("/{slug}", response_model=ConditionRead, summary="Show a condition", responses=READ_PROBLEMS)
def get_condition(
    _: ContentReader, slug: SlugPath, session: ReadSession, response: Response
) -> ConditionRead:
    return _read(session, service.get_condition(session, slug), response)


@router.patch("/{slug}", response_model=ConditionRead, summary="Edit a condition", responses=CHANGE_PROBLEMS)
def update_condition(
    _: ContentWriter,
    slug: SlugPath,
    body: ConditionUpdate,
    if_match: IfMatch,
    session: WriteSession,
    response: Response,
) -> ConditionRead:
    """Drugs' published documents keep their copy of the condition until they are published again."""
    condition = service.get_condition(session, slug, for_update=True)
    condition = service.update_condition(session, condition, body, if_match=if_match)
    if condition.slug != slug:
        response.headers["Content-Location"] = condition_url(condition.slug)
    return _read(session, condition, response)


@router.delete(
    "/{slug}",
    status_code=204,
    response_class=Response,
    summary="Delete a condition no drug uses",
    responses=CHANGE_PROBLEMS,
)
def delete_condition(_: ContentWriter, slug: SlugPath, if_match: IfMatch, session: WriteSession) -> Response:
    service.delete_condition(
        session, service.get_condition(session, slug, for_update=True), if_match=if_match
    )
    return Response(status_code=204)
