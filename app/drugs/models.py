"""The drug aggregate as working-draft tables: a drug and every part under it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IDS_NEVER_REUSED, Base, JsonType, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.conditions.models import Condition
    from app.resources.models import DrugSupportResource

DRUG_STATUSES = ("draft", "in_review", "published", "archived")
SERIOUSNESS = ("common", "serious")
URGENCIES = ("self-care", "contact-care-team", "emergency")
INDICATION_STATUSES = ("approved", "investigational")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Drug(Base):
    __tablename__ = "drug"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    brand_names: Mapped[list[str]] = mapped_column(JsonType, default=list)
    drug_class: Mapped[str | None] = mapped_column(sa.String(200))
    summary: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    disclaimer: Mapped[str | None] = mapped_column(sa.Text)
    last_reviewed: Mapped[dt.date | None] = mapped_column(sa.Date)
    next_review_due: Mapped[dt.date | None] = mapped_column(sa.Date)
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(200))
    review_note: Mapped[str | None] = mapped_column(sa.Text)
    translations: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    codes: Mapped[list[DrugCode]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="DrugCode.system"
    )
    sources: Mapped[list[DrugSource]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="DrugSource.position"
    )
    sections: Mapped[list[Section]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="Section.position"
    )
    faqs: Mapped[list[Faq]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="Faq.position"
    )
    side_effects: Mapped[list[SideEffect]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="SideEffect.position"
    )
    monitoring: Mapped[list[MonitoringItem]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="MonitoringItem.position"
    )
    indications: Mapped[list[Indication]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="Indication.position"
    )
    combinations: Mapped[list[Combination]] = relationship(
        back_populates="drug",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="Combination.position",
        foreign_keys="Combination.drug_id",
    )
    stories: Mapped[list[PatientStory]] = relationship(
        back_populates="drug", cascade="all, delete-orphan", lazy="raise", order_by="PatientStory.position"
    )
    resource_links: Mapped[list[DrugSupportResource]] = relationship(
        back_populates="drug",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="DrugSupportResource.position",
    )

    __table_args__ = (
        sa.CheckConstraint(_in("status", DRUG_STATUSES), name="status"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )
    __mapper_args__ = {"version_id_col": version}


class DrugCode(Base):
    """A standard code for a drug (`atc` → `L04AX06`); systems are stored lower-case."""

    __tablename__ = "drug_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(sa.String(50))
    code: Mapped[str] = mapped_column(sa.String(100))

    drug: Mapped[Drug] = relationship(back_populates="codes", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "system"),
        sa.CheckConstraint("system = lower(system)", name="system_lowercase"),
    )


class DrugSource(Base):
    """Where the drug's content comes from (kept on record for every drug)."""

    __tablename__ = "drug_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(500))
    publisher: Mapped[str | None] = mapped_column(sa.String(300))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    accessed: Mapped[dt.date | None] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.Text)

    drug: Mapped[Drug] = relationship(back_populates="sources", lazy="raise")

    __table_args__ = (sa.CheckConstraint("position >= 0", name="position_nonnegative"),)


class _Part:
    """Columns shared by every ordered, versioned, translatable part of a drug."""

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    translations: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class Section(_Part, Base):
    __tablename__ = "drug_section"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)

    drug: Mapped[Drug] = relationship(back_populates="sections", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "key"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": _Part.version}


class Faq(_Part, Base):
    __tablename__ = "faq"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(sa.String(500))
    answer: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)

    drug: Mapped[Drug] = relationship(back_populates="faqs", lazy="raise")

    __table_args__ = (sa.CheckConstraint("position >= 0", name="position_nonnegative"), IDS_NEVER_REUSED)
    __mapper_args__ = {"version_id_col": _Part.version}


class SideEffect(_Part, Base):
    __tablename__ = "side_effect"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    seriousness: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str | None] = mapped_column(sa.Text)
    management_tips: Mapped[list[str]] = mapped_column(JsonType, default=list)
    urgency: Mapped[str | None] = mapped_column(sa.String(30))
    when_to_contact_care_team: Mapped[str | None] = mapped_column(sa.Text)

    drug: Mapped[Drug] = relationship(back_populates="side_effects", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "name"),
        sa.CheckConstraint(_in("seriousness", SERIOUSNESS), name="seriousness"),
        sa.CheckConstraint(f"urgency IS NULL OR {_in('urgency', URGENCIES)}", name="urgency"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": _Part.version}


class MonitoringItem(_Part, Base):
    """What is checked during treatment and why; a frequency only where the source states one."""

    __tablename__ = "monitoring_item"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    purpose: Mapped[str] = mapped_column(sa.Text)
    frequency: Mapped[str | None] = mapped_column(sa.String(300))

    drug: Mapped[Drug] = relationship(back_populates="monitoring", lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "name"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": _Part.version}


class Indication(_Part, Base):
    """A drug used for a condition: approved, or under research."""

    __tablename__ = "indication"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    condition_id: Mapped[int] = mapped_column(sa.ForeignKey("condition.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    notes: Mapped[str | None] = mapped_column(sa.Text)

    drug: Mapped[Drug] = relationship(back_populates="indications", lazy="raise")
    condition: Mapped[Condition] = relationship(lazy="raise")

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "condition_id"),
        sa.CheckConstraint(_in("status", INDICATION_STATUSES), name="status"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": _Part.version}


class Combination(_Part, Base):
    """A combination therapy (regimen) that includes the drug."""

    __tablename__ = "combination"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    rationale: Mapped[str | None] = mapped_column(sa.Text)
    notes: Mapped[str | None] = mapped_column(sa.Text)

    drug: Mapped[Drug] = relationship(back_populates="combinations", lazy="raise", foreign_keys=[drug_id])
    components: Mapped[list[CombinationComponent]] = relationship(
        back_populates="combination",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="CombinationComponent.position",
    )

    __table_args__ = (
        sa.UniqueConstraint("drug_id", "name"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": _Part.version}


class CombinationComponent(Base):
    """One component of a regimen: named as the source names it, linked to a drug record if we have one."""

    __tablename__ = "combination_component"

    id: Mapped[int] = mapped_column(primary_key=True)
    combination_id: Mapped[int] = mapped_column(
        sa.ForeignKey("combination.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str | None] = mapped_column(sa.String(300))
    drug_id: Mapped[int | None] = mapped_column(sa.ForeignKey("drug.id", ondelete="SET NULL"), index=True)

    combination: Mapped[Combination] = relationship(back_populates="components", lazy="raise")
    drug: Mapped[Drug | None] = relationship(lazy="raise", foreign_keys=[drug_id])

    __table_args__ = (
        sa.UniqueConstraint("combination_id", "name"),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
    )


class PatientStory(_Part, Base):
    __tablename__ = "patient_story"

    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drug.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    person_name: Mapped[str | None] = mapped_column(sa.String(100))
    person_age: Mapped[int | None] = mapped_column(sa.Integer)
    person_occupation: Mapped[str | None] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)

    drug: Mapped[Drug] = relationship(back_populates="stories", lazy="raise")

    __table_args__ = (
        sa.CheckConstraint(
            "person_age IS NULL OR (person_age >= 0 AND person_age <= 130)", name="person_age"
        ),
        sa.CheckConstraint("position >= 0", name="position_nonnegative"),
        IDS_NEVER_REUSED,
    )
    __mapper_args__ = {"version_id_col": _Part.version}
