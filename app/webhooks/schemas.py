"""Management API shapes for webhook endpoints and their deliveries (the secret only in `WebhookCreated`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from app.core.concurrency import row_etag
from app.core.types import NOT_NULL, ReadModel, ShortText, WriteModel, not_null
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

ADMIN_WEBHOOKS = "/api/v1/admin/webhooks"

# http(s), a host without credentials (no `@`), no fragment.
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\x00-\x20\x7f]+(?:[/?][^#\x00-\x20\x7f]*)?$"
EventType = Literal["drug.published", "drug.updated", "drug.unpublished"]
WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    Field(
        description="Where to POST events: http(s), no credentials, a public address "
        "(unless the host is in `DRUGINFO_WEBHOOK_ALLOWED_HOSTS`).",
        examples=["https://portal.example.org/hooks/druginfo"],
        # What a URL must look like; its host's addresses are checked when it is registered.
        json_schema_extra={"format": "uri", "pattern": URL_PATTERN},
    ),
]
EventList = Annotated[
    list[EventType],
    Field(min_length=1, max_length=3, description="The events to receive."),
]
Description = Annotated[ShortText, StringConstraints(max_length=300)]


def webhook_url(endpoint_id: int) -> str:
    return f"{ADMIN_WEBHOOKS}/{endpoint_id}"


def webhook_etag(endpoint: WebhookEndpoint) -> str:
    return row_etag(WebhookEndpoint.__tablename__, endpoint.id, endpoint.version)


def _unique(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


class WebhookCreate(WriteModel):
    url: WebhookUrl
    events: EventList = ["drug.published", "drug.updated", "drug.unpublished"]
    description: Description | None = None
    active: bool = True

    _dedupe = field_validator("events")(_unique)


class WebhookUpdate(WriteModel):
    url: Annotated[WebhookUrl | None, NOT_NULL] = None
    events: Annotated[EventList | None, NOT_NULL] = None
    description: Description | None = None
    active: Annotated[bool | None, NOT_NULL] = None

    _required = field_validator("url", "events", "active")(not_null)


class WebhookRead(ReadModel):
    id: int
    url: str
    events: list[str]
    description: str | None
    active: bool
    created_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    etag: str
    links: dict[str, str]

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookRead:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=list(endpoint.events),
            description=endpoint.description,
            active=endpoint.active,
            created_by=endpoint.created_by,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
            version=endpoint.version,
            etag=webhook_etag(endpoint),
            links={
                "self": webhook_url(endpoint.id),
                "deliveries": webhook_url(endpoint.id) + "/deliveries",
            },
        )


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="The signing secret (`whsec_...`, Standard Webhooks). Shown this once: store it now."
    )


class WebhookPage(ReadModel):
    items: list[WebhookRead]
    next_cursor: str | None


class DeliveryRead(ReadModel):
    id: int
    message_id: str = Field(
        description="The `webhook-id` header: the same on every retry (deduplicate on it)."
    )
    event_id: int = Field(description="The publication event (as in `/api/v1/changes`).")
    event_type: str
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryRead:
        return cls(
            id=delivery.id,
            message_id=delivery.message_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_attempt_at=delivery.last_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            last_duration_ms=delivery.last_duration_ms,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
        )


class DeliveryPage(ReadModel):
    items: list[DeliveryRead]
    next_cursor: str | None
