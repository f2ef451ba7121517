"""The public projection: which revision of each drug is live, and the columns public filters need.

Only publishing writes these tables; every public read starts from them, so a draft can never
leak. The content generation is bumped by every committed write, so caches can tell they are stale.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, utcnow


class PublishedDrug(Base):
    __tablename__ = "published_drug"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), primary_key=True)
    revision_id: Mapped[int] = mapped_column(sa.ForeignKey("drug_revision.id", ondelete="RESTRICT"))
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    name_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    letter: Mapped[str] = mapped_column(sa.String(1), index=True)
    drug_class_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    last_reviewed: Mapped[dt.date | None] = mapped_column(sa.Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PublishedDrugCode(Base):
    __tablename__ = "published_drug_code"

    drug_id: Mapped[int] = mapped_column(
        sa.ForeignKey("published_drug.drug_id", ondelete="CASCADE"), primary_key=True
    )
    system: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(100))

    __table_args__ = (sa.Index("ix_published_drug_code_system_code", "system", "code"),)


class PublishedDrugCondition(Base):
    __tablename__ = "published_drug_condition"

    drug_id: Mapped[int] = mapped_column(
        sa.ForeignKey("published_drug.drug_id", ondelete="CASCADE"), primary_key=True
    )
    condition_slug: Mapped[str] = mapped_column(sa.String(100), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(sa.String(20))

    __table_args__ = (sa.CheckConstraint("status IN ('approved', 'investigational')", name="status"),)


class PublishedDrugLocale(Base):
    """A locale some text of the live revision is translated into (what `Accept-Language` can pick)."""

    __tablename__ = "published_drug_locale"

    drug_id: Mapped[int] = mapped_column(
        sa.ForeignKey("published_drug.drug_id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(sa.String(35), primary_key=True, index=True)


class PublishedCombinationComponent(Base):
    """A component of a published regimen, for "which regimens include this drug"."""

    __tablename__ = "published_combination_component"

    drug_id: Mapped[int] = mapped_column(
        sa.ForeignKey("published_drug.drug_id", ondelete="CASCADE"), primary_key=True
    )
    combination_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name_key: Mapped[str] = mapped_column(sa.String(200), primary_key=True, index=True)
    component_drug_slug: Mapped[str | None] = mapped_column(sa.String(100), index=True)


class ContentState(Base):
    """A single row: the content generation, bumped in the same transaction as every write."""

    __tablename__ = "content_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)


PUBLICATION_EVENTS = ("published", "updated", "unpublished")


class PublicationEvent(Base):
    """One change of what the public sees, in commit order: the change feed (`/api/v1/changes`).

    Written in the same transaction as the projection change, after the content generation bump,
    whose row lock serializes publishing transactions: ids are therefore handed out in commit order,
    and a reader that has seen id N will never later find a committed event below N.
    """

    __tablename__ = "publication_event"

    # Integer on SQLite so the column is the rowid (AUTOINCREMENT: ids are never reused).
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="RESTRICT"), index=True)
    event: Mapped[str] = mapped_column(sa.String(20))
    slug: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("drug_revision.id", ondelete="RESTRICT"))
    revision_number: Mapped[int | None] = mapped_column(sa.Integer)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __table_args__ = (
        sa.CheckConstraint(
            "event IN ('published', 'updated', 'unpublished')",
            name="event",
        ),
        sa.CheckConstraint(
            "(event = 'unpublished') = (revision_id IS NULL)",
            name="revision_unless_unpublished",
        ),
        {"sqlite_autoincrement": True},
    )
