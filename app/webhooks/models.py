"""Webhook endpoints that admins register, and one delivery row per (endpoint, publication event)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import IDS_NEVER_REUSED, Base, JsonType, UTCDateTime, utcnow

WEBHOOK_EVENTS = ("drug.published", "drug.updated", "drug.unpublished")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[str]] = mapped_column(JsonType)
    # The signing secret (`whsec_<base64>`). It must be readable to sign, so it cannot be hashed like an
    # API key; it is returned once, on creation, and never again.
    secret: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.String(300))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # The last publication event this endpoint has been considered for: the worker's cursor. Set to the
    # newest event on creation and on re-activation, so an endpoint gets only changes from then on.
    last_event_id: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __table_args__ = (IDS_NEVER_REUSED,)
    __mapper_args__ = {"version_id_col": version}


class WebhookDelivery(Base):
    """One message to one endpoint; its id (`msg_<event id>`) stays the same across retries."""

    __tablename__ = "webhook_delivery"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey("publication_event.id", ondelete="CASCADE"),
        index=True,
    )
    event_type: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    last_duration_ms: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        # The worker's query: due pending deliveries, oldest due first.
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    @property
    def message_id(self) -> str:
        return f"msg_{self.event_id}"
