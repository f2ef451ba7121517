"""Immutable revisions: each holds one complete drug document, as saved or published."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, JsonType, UTCDateTime, utcnow


class DrugRevision(Base):
    __tablename__ = "drug_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JsonType)
    message: Mapped[str] = mapped_column(sa.String(1000))
    author: Mapped[str | None] = mapped_column(sa.String(100))
    drug_version: Mapped[int] = mapped_column(sa.Integer)
    drug_created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    drug_updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "number"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
    )
