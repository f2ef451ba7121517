"""`/api/v1/admin/support-resources`: shared support resources (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response
from sqlalchemy.orm import Session

from app.auth.dependencies import ContentReader, ContentWriter
from app.bundle.schemas import SupportResourceIn
from app.core.concurrency import IfMatch
from app.core.deps import ReadSession, WriteSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_slug, encode_cursor
from app.core.routing import GuardedRouter
from app.core.types import SLUG_PATTERN
from app.idempotency.service import Idempotent
from app.resources import service
from app.resources.models import SupportResource
from app.resources.schemas import (
    AdminSupportResourcePage,
    AdminSupportResourceSummary,
    SupportResourceRead,
    SupportResourceUpdate,
    resource_etag,
    resource_url,
)

router = GuardedRouter(prefix="/support-resources", tags=["admin: support resources"])

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="The resource's slug.")]
READ_PROBLEMS = problem_responses(401, 403, 404, 422)
CREATE_PROBLEMS = problem_responses(401, 403, 409, 413, 422, 503)
CHANGE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422, 428, 503)


def _read(session: Session, resource: SupportResource, response: Response) -> SupportResourceRead:
    response.headers["ETag"] = resource_etag(resource)
    return SupportResourceRead.of(resource, service.linked_drugs(session, resource))


@router.get(
    "", response_model=AdminSupportResourcePage, summary="List support resources", responses=READ_PROBLEMS
)
def list_resources(
    _: ContentReader,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> AdminSupportResourcePage:
    after = cursor_slug(cursor, kind="admin-resources", key="after") if cursor else None
    resources = service.list_resources(session, after_slug=after, limit=limit + 1)
    more = len(resources) > limit
    resources = resources[:limit]
    return AdminSupportResourcePage(
        items=[AdminSupportResourceSummary.of(r) for r in resources],
        next_cursor=encode_cursor({"k": "admin-resources", "after": resources[-1].slug}) if more else None,
    )


@router.post(
    "",
    status_code=201,
    dependencies=[Idempotent],
    response_model=SupportResourceRead,
    summary="Create a support resource",
    responses=CREATE_PROBLEMS,
)
def create_resource(
    _: ContentWriter, body: SupportResourceIn, session: WriteSession, response: Response
) -> SupportResourceRead:
    resource = service.create_resource(session, body)
    response.headers["Location"] = resource_url(resource.slug)
    return _read(session, resource, response)


@router.get(
    "/{slug}", response_model=SupportResourceRead, summary="Show a support resource", responses=READ_PROBLEMS
)
def get_resource(
    _: ContentReader, slug: SlugPath, session: ReadSession, response: Response
) -> SupportResourceRead:
    return _read(session, service.get_resource(session, slug), response)


@router.patch(
    "/{slug}",
    response_model=SupportResourceRead,
    summary="Edit a support resource",
    responses=CHANGE_PROBLEMS,
)
def update_resource(
    _: ContentWriter,
    slug: SlugPath,
    body: SupportResourceUpdate,
    if_match: IfMatch,
    session: WriteSession,
    response: Response,
) -> SupportResourceRead:
    resource = service.get_resource(session, slug, for_update=True)
    resource = service.update_resource(session, resource, body, if_match=if_match)
    if resource.slug != slug:
        response.headers["Content-Location"] = resource_url(resource.slug)
    return _read(session, resource, response)


@router.delete(
    "/{slug}",
    status_code=204,
    response_class=Response,
    summary="Delete a support resource no drug links to",
    responses=CHANGE_PROBLEMS,
)
def delete_resource(_: ContentWriter, slug: SlugPath, if_match: IfMatch, session: WriteSession) -> Response:
    service.delete_resource(session, service.get_resource(session, slug, for_update=True), if_match=if_match)
    return Response(status_code=204)
