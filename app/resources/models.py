"""Support resources: shared, either global or linked to drugs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IDS_NEVER_REUSED, Base, JsonType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.drugs.models import Drug

RESOURCE_CATEGORIES = ("support-group", "financial-assistance", "educational", "nutrition", "other")


class SupportResource(Base):
    __tablename__ = "support_resource"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    category: Mapped[str] = mapped_column(sa.String(30))
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    is_global: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    translations: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    drug_links: Mapped[list[DrugSupportResource]] = relationship(
        back_populates="resource", cascade="all, delete-orphan", lazy="raise"
    )

    __table_args__ = (
        sa.CheckConstraint(
            "category IN ({})".format(", ".join(repr(c) for c in RESOURCE_CATEGORIES)), name="category"
        ),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": version}


class DrugSupportResource(Base):
    """Links a resource to a drug, in the drug's order."""

    __tablename__ = "drug_support_resource"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        sa.ForeignKey("support_resource.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer)

    drug: Mapped[Drug] = relationship(back_populates="resource_links", lazy="raise")
    resource: Mapped[SupportResource] = relationship(back_populates="drug_links", lazy="raise")

    __table_args__ = (sa.CheckConstraint("position >= 0", name="position_nonnegative"),)
