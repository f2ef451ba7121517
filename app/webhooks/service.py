"""Webhook endpoints (admin CRUD) and their delivery log. Services flush; the caller commits."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.concurrency import check_etag
from app.core.errors import NotFound, ProblemField, ValidationFailed
from app.publishing.models import PublicationEvent
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import WebhookCreate, WebhookUpdate, webhook_etag
from app.webhooks.signing import new_secret
from app.webhooks.targets import TargetRefused, check_target


class WebhookNotFound(NotFound):
    code, title = "webhook_not_found", "Webhook not found"


class WebhookTargetRefused(ValidationFailed):
    code, title = "webhook_target_refused", "Webhook target refused"


def check_url(url: str, *, allowed_hosts: list[str]) -> None:
    """422 naming `/url` if the URL may not receive webhooks (SSRF rules in `targets`)."""
    try:
        check_target(url, allowed_hosts=allowed_hosts)
    except TargetRefused as exc:
        raise WebhookTargetRefused(
            f"The URL cannot receive webhooks: {exc}.",
            errors=[ProblemField(pointer="/url", detail=str(exc), code="target_refused")],
        ) from exc


def newest_event_id(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.max(PublicationEvent.id), 0))) or 0)


def get_endpoint(session: Session, endpoint_id: int, *, for_update: bool = False) -> WebhookEndpoint:
    query = sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        query = query.with_for_update()
    endpoint = session.scalars(query).one_or_none()
    if endpoint is None:
        raise WebhookNotFound(f"No webhook with id {endpoint_id}.")
    return endpoint


def list_endpoints(session: Session, *, after_id: int | None, limit: int) -> list[WebhookEndpoint]:
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(limit)
    if after_id is not None:
        query = query.where(WebhookEndpoint.id > after_id)
    return list(session.scalars(query))


def create_endpoint(
    session: Session, data: WebhookCreate, *, created_by: str, allowed_hosts: list[str]
) -> WebhookEndpoint:
    """Register an endpoint; it receives events published from now on."""
    check_url(data.url, allowed_hosts=allowed_hosts)
    endpoint = WebhookEndpoint(
        url=data.url,
        events=list(data.events),
        description=data.description,
        active=data.active,
        secret=new_secret(),
        last_event_id=newest_event_id(session),
        created_by=created_by,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def update_endpoint(
    session: Session,
    endpoint: WebhookEndpoint,
    changes: WebhookUpdate,
    *,
    if_match: str,
    allowed_hosts: list[str],
) -> WebhookEndpoint:
    check_etag(if_match, webhook_etag(endpoint))
    values = changes.model_dump(exclude_unset=True)
    if "url" in values and values["url"] != endpoint.url:
        check_url(values["url"], allowed_hosts=allowed_hosts)
    if "events" in values:
        values["events"] = list(dict.fromkeys(values["events"]))
    if values.get("active") and not endpoint.active:
        # Re-activated: changes made while it was off are not replayed, like a new registration.
        endpoint.last_event_id = newest_event_id(session)
    changed = {k: v for k, v in values.items() if getattr(endpoint, k) != v}
    for field, value in changed.items():
        setattr(endpoint, field, value)
    session.flush()
    return endpoint


def delete_endpoint(session: Session, endpoint: WebhookEndpoint, *, if_match: str) -> None:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    check_etag(if_match, webhook_etag(endpoint))
    session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()


def list_deliveries(
    session: Session, endpoint: WebhookEndpoint, *, before_id: int | None, limit: int
) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return list(session.scalars(query))
