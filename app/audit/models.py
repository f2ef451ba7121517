"""Audit entries: one per write, append-only (the database refuses UPDATE and DELETE, migration 0005)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonType, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_key_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    actor_prefix: Mapped[str | None] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(100), index=True)
    entity: Mapped[str] = mapped_column(sa.String(50), index=True)
    entity_id: Mapped[str | None] = mapped_column(sa.String(200))
    request_id: Mapped[str | None] = mapped_column(sa.String(100))
    changes: Mapped[Any] = mapped_column(JsonType, nullable=True)
