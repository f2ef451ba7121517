"""`/api/v1/admin/webhooks`: endpoints that receive signed change events (scope `keys:manage`).

Admin-only: a webhook makes the server send data to a URL of the caller's choosing, which is as
sensitive as handing out keys.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from app.auth.dependencies import KeyManager
from app.core.concurrency import IfMatch
from app.core.deps import ReadSession, SettingsDep, WriteSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_id, encode_cursor
from app.core.routing import GuardedRouter
from app.webhooks import service
from app.webhooks.models import WebhookEndpoint
from app.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
    webhook_etag,
    webhook_url,
)

router = GuardedRouter(prefix="/webhooks", tags=["admin: webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The webhook's id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
READ_PROBLEMS = problem_responses(401, 403, 404, 422)
CREATE_PROBLEMS = problem_responses(401, 403, 413, 422, 503)
CHANGE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422, 428, 503)


def _read(endpoint: WebhookEndpoint, response: Response) -> WebhookRead:
    response.headers["ETag"] = webhook_etag(endpoint)
    return WebhookRead.of(endpoint)


@router.get("", response_model=WebhookPage, summary="List webhooks", responses=READ_PROBLEMS)
def list_webhooks(
    _: KeyManager, session: ReadSession, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> WebhookPage:
    """Every registered endpoint, oldest first (secrets are never shown)."""
    after = cursor_id(cursor, kind="webhooks", key="after") if cursor else None
    endpoints = service.list_endpoints(session, after_id=after, limit=limit + 1)
    more = len(endpoints) > limit
    endpoints = endpoints[:limit]
    return WebhookPage(
        items=[WebhookRead.of(e) for e in endpoints],
        next_cursor=encode_cursor({"k": "webhooks", "after": endpoints[-1].id}) if more else None,
    )


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Register a webhook",
    responses=CREATE_PROBLEMS,
)
def create_webhook(
    principal: KeyManager,
    body: WebhookCreate,
    session: WriteSession,
    settings: SettingsDep,
    response: Response,
) -> WebhookCreated:
    """Register an endpoint for events from now on; the response holds the signing secret, shown this once."""
    endpoint = service.create_endpoint(
        session, body, created_by=principal.prefix, allowed_hosts=settings.webhook_allowed_hosts
    )
    response.headers["Location"] = webhook_url(endpoint.id)
    read = _read(endpoint, response)
    return WebhookCreated(**read.model_dump(), secret=endpoint.secret)


@router.get("/{webhook_id}", response_model=WebhookRead, summary="Show a webhook", responses=READ_PROBLEMS)
def get_webhook(
    _: KeyManager, webhook_id: WebhookId, session: ReadSession, response: Response
) -> WebhookRead:
    return _read(service.get_endpoint(session, webhook_id), response)


@router.patch(
    "/{webhook_id}", response_model=WebhookRead, summary="Edit a webhook", responses=CHANGE_PROBLEMS
)
def update_webhook(
    _: KeyManager,
    webhook_id: WebhookId,
    body: WebhookUpdate,
    if_match: IfMatch,
    session: WriteSession,
    settings: SettingsDep,
    response: Response,
) -> WebhookRead:
    """Change the URL, events, description or `active` (re-activating does not replay missed events)."""
    endpoint = service.get_endpoint(session, webhook_id, for_update=True)
    endpoint = service.update_endpoint(
        session, endpoint, body, if_match=if_match, allowed_hosts=settings.webhook_allowed_hosts
    )
    return _read(endpoint, response)


@router.delete(
    "/{webhook_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a webhook",
    responses=CHANGE_PROBLEMS,
)
def delete_webhook(
    _: KeyManager, webhook_id: WebhookId, if_match: IfMatch, session: WriteSession
) -> Response:
    service.delete_endpoint(
        session, service.get_endpoint(session, webhook_id, for_update=True), if_match=if_match
    )
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    summary="A webhook's delivery log",
    responses=READ_PROBLEMS,
)
def list_deliveries(
    _: KeyManager,
    webhook_id: WebhookId,
    session: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Deliveries to this endpoint, newest first: status, attempts, last response code or error."""
    before = cursor_id(cursor, kind="webhook-deliveries", key="before") if cursor else None
    endpoint = service.get_endpoint(session, webhook_id)
    deliveries = service.list_deliveries(session, endpoint, before_id=before, limit=limit + 1)
    more = len(deliveries) > limit
    deliveries = deliveries[:limit]
    return DeliveryPage(
        items=[DeliveryRead.of(d) for d in deliveries],
        next_cursor=encode_cursor({"k": "webhook-deliveries", "before": deliveries[-1].id}) if more else None,
    )
