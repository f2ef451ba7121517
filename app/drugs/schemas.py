"""Management API shapes for the drug aggregate: create / update (all optional) / read.

Create bodies reuse the bundle's part schemas (`FaqIn`, ...). Update bodies have the same fields,
all optional; the service applies the ones that were sent onto the current state and validates
the result with the create schema, so an update can never produce what a create would refuse.
Read-only fields (`id`, `version`, `status`, review metadata, timestamps) appear only in reads:
write schemas forbid unknown fields, so trying to set them is a 422 naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, field_validator

from app.bundle.schemas import (
    CombinationTranslation,
    ComponentIn,
    FaqTranslation,
    IndicationStatus,
    IndicationTranslation,
    MonitoringTranslation,
    PersonIn,
    SectionTranslation,
    Seriousness,
    SideEffectTranslation,
    SourceIn,
    StoryTranslation,
    Translations,
    Urgency,
    translations_update_field,
)
from app.core.concurrency import row_etag
from app.core.markdown import render_markdown
from app.core.types import (
    NOT_NULL,
    CodeSystem,
    CodeValue,
    Markdown,
    Name,
    Question,
    ReadModel,
    ShortText,
    Slug,
    Tag,
    Title,
    WriteModel,
    constrained_keys,
    not_null,
)
from app.drugs.models import (
    Combination,
    Drug,
    Faq,
    Indication,
    MonitoringItem,
    PatientStory,
    Section,
    SideEffect,
)
from app.quality.readability import reading_grade

ADMIN = "/api/v1/admin"


def drug_url(slug: str) -> str:
    return f"{ADMIN}/drugs/{slug}"


def html(text: str | None) -> str | None:
    """Markdown rendered with raw HTML off, then sanitized with an allow-list."""
    return render_markdown(text) if text else None


def _lowercase_systems(codes: dict[str, str] | None) -> dict[str, str] | None:
    if codes is None:
        return None
    lowered = {system.lower(): code for system, code in codes.items()}
    if len(lowered) != len(codes):
        raise ValueError("code systems must be unique (case-insensitively)")
    return lowered


# --- the drug itself -------------------------------------------------------------------------------


class DrugCreate(WriteModel):
    """A new drug (its working draft starts as `draft`; parts are added through their own endpoints)."""

    slug: Slug
    name: Name
    brand_names: list[Name] = Field(default_factory=list, max_length=30)
    drug_class: Name | None = None
    summary: ShortText | None = None
    codes: dict[CodeSystem, CodeValue] = Field(
        default_factory=dict,
        max_length=20,
        description='Code system → code, e.g. `{"atc": "L04AX06"}`.',
        json_schema_extra=constrained_keys,
    )
    disclaimer: Markdown | None = None
    sources: list[SourceIn] = Field(default_factory=list, max_length=50)

    _systems = field_validator("codes")(_lowercase_systems)


class DrugUpdate(WriteModel):
    """Fields to change; omitted fields stay as they are. `codes` and `sources` are replaced whole."""

    slug: Annotated[Slug | None, NOT_NULL] = None
    name: Annotated[Name | None, NOT_NULL] = None
    brand_names: Annotated[Annotated[list[Name], Field(max_length=30)] | None, NOT_NULL] = None
    drug_class: Name | None = None
    summary: ShortText | None = None
    codes: Annotated[
        Annotated[dict[CodeSystem, CodeValue], Field(max_length=20, json_schema_extra=constrained_keys)]
        | None,
        NOT_NULL,
    ] = None
    disclaimer: Markdown | None = None
    sources: Annotated[Annotated[list[SourceIn], Field(max_length=50)] | None, NOT_NULL] = None

    _systems = field_validator("codes")(_lowercase_systems)
    _required = field_validator("slug", "name", "brand_names", "codes", "sources")(not_null)


class SourceRead(ReadModel):
    title: str
    publisher: str | None
    url: str | None
    accessed: dt.date | None
    note: str | None


class ReviewRead(ReadModel):
    last_reviewed: dt.date | None
    next_review_due: dt.date | None
    reviewed_by: str | None
    note: str | None


class PartRead(ReadModel):
    id: int
    version: int = Field(description="Increases with every change to this item.")
    etag: str = Field(description="Send as `If-Match` to change or delete this item.")
    translations: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="The item's text in other locales: BCP 47 tag → translated fields."
    )


class SectionRead(PartRead):
    key: str
    title: str
    body: str
    body_html: str | None
    reading_grade: float | None = Field(default=None, description="Flesch–Kincaid grade of `body`.")

    @classmethod
    def of(cls, s: Section) -> SectionRead:
        return cls(
            id=s.id,
            version=s.version,
            etag=row_etag(Section.__tablename__, s.id, s.version),
            translations=dict(s.translations or {}),
            key=s.key,
            title=s.title,
            body=s.body,
            body_html=html(s.body),
            reading_grade=reading_grade(s.body),
        )


class FaqRead(PartRead):
    question: str
    answer: str
    answer_html: str | None
    tags: list[str]
    reading_grade: float | None = Field(default=None, description="Flesch–Kincaid grade of `answer`.")

    @classmethod
    def of(cls, f: Faq) -> FaqRead:
        return cls(
            id=f.id,
            version=f.version,
            etag=row_etag(Faq.__tablename__, f.id, f.version),
            translations=dict(f.translations or {}),
            question=f.question,
            answer=f.answer,
            answer_html=html(f.answer),
            tags=list(f.tags),
            reading_grade=reading_grade(f.answer),
        )


class SideEffectRead(PartRead):
    name: str
    seriousness: str
    description: str | None
    description_html: str | None
    management_tips: list[str]
    urgency: str | None
    when_to_contact_care_team: str | None
    reading_grade: float | None = Field(default=None, description="Flesch–Kincaid grade of `description`.")

    @classmethod
    def of(cls, e: SideEffect) -> SideEffectRead:
        return cls(
            id=e.id,
            version=e.version,
            etag=row_etag(SideEffect.__tablename__, e.id, e.version),
            translations=dict(e.translations or {}),
            name=e.name,
            seriousness=e.seriousness,
            description=e.description,
            description_html=html(e.description),
            management_tips=list(e.management_tips),
            urgency=e.urgency,
            when_to_contact_care_team=e.when_to_contact_care_team,
            reading_grade=reading_grade(e.description),
        )


class MonitoringRead(PartRead):
    name: str
    purpose: str
    frequency: str | None

    @classmethod
    def of(cls, m: MonitoringItem) -> MonitoringRead:
        return cls(
            id=m.id,
            version=m.version,
            etag=row_etag(MonitoringItem.__tablename__, m.id, m.version),
            translations=dict(m.translations or {}),
            name=m.name,
            purpose=m.purpose,
            frequency=m.frequency,
        )


class IndicationRead(PartRead):
    condition: str = Field(description="Slug of the condition.")
    status: str
    notes: str | None

    @classmethod
    def of(cls, i: Indication) -> IndicationRead:
        return cls(
            id=i.id,
            version=i.version,
            etag=row_etag(Indication.__tablename__, i.id, i.version),
            translations=dict(i.translations or {}),
            condition=i.condition.slug,
            status=i.status,
            notes=i.notes,
        )


class ComponentRead(ReadModel):
    name: str
    drug: str | None
    role: str | None


class CombinationRead(PartRead):
    name: str
    components: list[ComponentRead]
    rationale: str | None
    rationale_html: str | None
    notes: str | None
    notes_html: str | None

    @classmethod
    def of(cls, c: Combination) -> CombinationRead:
        return cls(
            id=c.id,
            version=c.version,
            etag=row_etag(Combination.__tablename__, c.id, c.version),
            translations=dict(c.translations or {}),
            name=c.name,
            components=[
                ComponentRead(name=k.name, drug=k.drug.slug if k.drug else None, role=k.role)
                for k in c.components
            ],
            rationale=c.rationale,
            rationale_html=html(c.rationale),
            notes=c.notes,
            notes_html=html(c.notes),
        )


class PersonRead(ReadModel):
    name: str | None
    age: int | None
    occupation: str | None


class StoryRead(PartRead):
    title: str
    person: PersonRead
    body: str
    body_html: str | None

    @classmethod
    def of(cls, s: PatientStory) -> StoryRead:
        return cls(
            id=s.id,
            version=s.version,
            etag=row_etag(PatientStory.__tablename__, s.id, s.version),
            translations=dict(s.translations or {}),
            title=s.title,
            person=PersonRead(name=s.person_name, age=s.person_age, occupation=s.person_occupation),
            body=s.body,
            body_html=html(s.body),
            reading_grade=reading_grade(s.body),
        )


class DraftDrugSummary(ReadModel):
    id: int
    slug: str
    name: str
    status: str
    version: int
    etag: str
    updated_at: dt.datetime
    links: dict[str, str]

    @classmethod
    def of(cls, drug: Drug) -> DraftDrugSummary:
        return cls(
            id=drug.id,
            slug=drug.slug,
            name=drug.name,
            status=drug.status,
            version=drug.version,
            etag=drug_etag(drug),
            updated_at=drug.updated_at,
            links={"self": drug_url(drug.slug)},
        )


class DraftDrugPage(ReadModel):
    items: list[DraftDrugSummary]
    next_cursor: str | None


READING_TARGET = 8.0  # patient materials are commonly written for grade 6-8


class ReadabilitySummary(ReadModel):
    """Reading grades of the drug's sections, FAQ answers and side-effect descriptions."""

    texts: int = Field(description="How many texts have a grade.")
    average: float | None
    hardest: float | None
    target: float = Field(default=READING_TARGET, description="Grade editors should aim at or below.")
    above_target: list[str] = Field(description="The texts above the target: `sections/<key>`, …")


def readability_of(
    sections: list[SectionRead], faqs: list[FaqRead], effects: list[SideEffectRead]
) -> ReadabilitySummary:
    graded = [(f"sections/{s.key}", s.reading_grade) for s in sections]
    graded += [(f"faqs/{f.id}", f.reading_grade) for f in faqs]
    graded += [(f"side_effects/{e.id}", e.reading_grade) for e in effects]
    grades = [(name, g) for name, g in graded if g is not None]
    values = [g for _, g in grades]
    return ReadabilitySummary(
        texts=len(values),
        average=round(sum(values) / len(values), 1) if values else None,
        hardest=max(values) if values else None,
        above_target=[name for name, g in grades if g > READING_TARGET],
    )


class DrugRead(ReadModel):
    """The working draft of a drug with every part (what an editor sees; not necessarily public)."""

    id: int
    slug: str
    name: str
    brand_names: list[str]
    drug_class: str | None
    summary: str | None
    codes: dict[str, str]
    status: str = Field(description="Read-only here; changed by the publishing workflow.")
    review: ReviewRead = Field(description="Read-only here; recorded when a reviewer publishes.")
    disclaimer: str | None
    disclaimer_html: str | None
    sources: list[SourceRead]
    sections: list[SectionRead]
    faqs: list[FaqRead]
    side_effects: list[SideEffectRead]
    monitoring: list[MonitoringRead]
    indications: list[IndicationRead]
    combinations: list[CombinationRead]
    stories: list[StoryRead]
    support_resources: list[str] = Field(description="Slugs of the linked support resources, in order.")
    version: int = Field(description="Increases with every change to the drug or any of its parts.")
    etag: str
    created_at: dt.datetime
    updated_at: dt.datetime
    links: dict[str, str]
    live_revision: int | None = Field(
        default=None, description="Number of the revision the public sees; null when not published."
    )
    has_unpublished_changes: bool = Field(
        default=False, description="The working draft differs from what the public sees."
    )
    latest_revision: int | None = Field(default=None, description="Number of the newest revision.")
    readability: ReadabilitySummary | None = Field(default=None, description="Reading grades, summarized.")

    @classmethod
    def of(cls, drug: Drug) -> DrugRead:
        return cls(
            id=drug.id,
            slug=drug.slug,
            name=drug.name,
            brand_names=list(drug.brand_names),
            drug_class=drug.drug_class,
            summary=drug.summary,
            codes={c.system: c.code for c in drug.codes},
            status=drug.status,
            review=ReviewRead(
                last_reviewed=drug.last_reviewed,
                next_review_due=drug.next_review_due,
                reviewed_by=drug.reviewed_by,
                note=drug.review_note,
            ),
            disclaimer=drug.disclaimer,
            disclaimer_html=html(drug.disclaimer),
            sources=[
                SourceRead(title=s.title, publisher=s.publisher, url=s.url, accessed=s.accessed, note=s.note)
                for s in drug.sources
            ],
            sections=[SectionRead.of(s) for s in drug.sections],
            faqs=[FaqRead.of(f) for f in drug.faqs],
            side_effects=[SideEffectRead.of(e) for e in drug.side_effects],
            monitoring=[MonitoringRead.of(m) for m in drug.monitoring],
            indications=[IndicationRead.of(i) for i in drug.indications],
            combinations=[CombinationRead.of(c) for c in drug.combinations],
            stories=[StoryRead.of(s) for s in drug.stories],
            support_resources=[link.resource.slug for link in drug.resource_links],
            version=drug.version,
            etag=drug_etag(drug),
            created_at=drug.created_at,
            updated_at=drug.updated_at,
            links={"self": drug_url(drug.slug)},
        ).with_readability()

    def with_readability(self) -> DrugRead:
        self.readability = readability_of(self.sections, self.faqs, self.side_effects)
        return self


def drug_etag(drug: Drug) -> str:
    return row_etag(Drug.__tablename__, drug.id, drug.version)


# --- part updates (same fields as the bundle's part schemas, all optional) -------------------------


class SectionUpdate(WriteModel):
    key: Annotated[Slug | None, NOT_NULL] = None
    title: Annotated[Title | None, NOT_NULL] = None
    body: Annotated[Markdown | None, NOT_NULL] = None

    translations: Annotated[Translations[SectionTranslation] | None, NOT_NULL] = translations_update_field()

    _required = field_validator("key", "title", "body", "translations")(not_null)


class FaqUpdate(WriteModel):
    question: Annotated[Question | None, NOT_NULL] = None
    answer: Annotated[Markdown | None, NOT_NULL] = None
    tags: Annotated[Annotated[list[Tag], Field(max_length=20)] | None, NOT_NULL] = None

    translations: Annotated[Translations[FaqTranslation] | None, NOT_NULL] = translations_update_field()

    _required = field_validator("question", "answer", "tags", "translations")(not_null)


class SideEffectUpdate(WriteModel):
    name: Annotated[Name | None, NOT_NULL] = None
    seriousness: Annotated[Seriousness | None, NOT_NULL] = None
    description: Markdown | None = None
    management_tips: Annotated[Annotated[list[ShortText], Field(max_length=30)] | None, NOT_NULL] = None
    urgency: Urgency | None = None
    when_to_contact_care_team: ShortText | None = None

    translations: Annotated[Translations[SideEffectTranslation] | None, NOT_NULL] = (
        translations_update_field()
    )

    _required = field_validator("name", "seriousness", "management_tips", "translations")(not_null)


class MonitoringUpdate(WriteModel):
    name: Annotated[Name | None, NOT_NULL] = None
    purpose: Annotated[ShortText | None, NOT_NULL] = None
    frequency: ShortText | None = None

    translations: Annotated[Translations[MonitoringTranslation] | None, NOT_NULL] = (
        translations_update_field()
    )

    _required = field_validator("name", "purpose", "translations")(not_null)


class IndicationUpdate(WriteModel):
    condition: Annotated[Slug | None, NOT_NULL] = None
    status: Annotated[IndicationStatus | None, NOT_NULL] = None
    notes: ShortText | None = None

    translations: Annotated[Translations[IndicationTranslation] | None, NOT_NULL] = (
        translations_update_field()
    )

    _required = field_validator("condition", "status", "translations")(not_null)


class CombinationUpdate(WriteModel):
    name: Annotated[Title | None, NOT_NULL] = None
    components: Annotated[
        Annotated[list[ComponentIn], Field(min_length=1, max_length=10)] | None, NOT_NULL
    ] = Field(default=None, description="Replaces the components as a whole.")
    rationale: Markdown | None = None
    notes: Markdown | None = None

    translations: Annotated[Translations[CombinationTranslation] | None, NOT_NULL] = (
        translations_update_field()
    )

    _required = field_validator("name", "components", "translations")(not_null)


class StoryUpdate(WriteModel):
    title: Annotated[Title | None, NOT_NULL] = None
    person: Annotated[PersonIn | None, NOT_NULL] = Field(
        default=None, description="Replaces the person as a whole."
    )
    body: Annotated[Markdown | None, NOT_NULL] = None

    translations: Annotated[Translations[StoryTranslation] | None, NOT_NULL] = translations_update_field()

    _required = field_validator("title", "person", "body", "translations")(not_null)


class PartOrder(WriteModel):
    """The complete list of the items' ids, in the new order."""

    ids: list[int] = Field(max_length=500, description="Every item's id exactly once, in the new order.")


class OrderRead(ReadModel):
    ids: list[int]
    etag: str = Field(description="Send as `If-Match` with the new order.")
