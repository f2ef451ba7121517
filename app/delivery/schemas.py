"""Shapes of the public documents. Handlers serve pre-rendered bytes; these models document them."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Links(Out):
    self: str = Field(examples=["/api/v1/drugs/pomalidomide"])


class DrugRef(Out):
    slug: str
    name: str
    links: Links


class Review(Out):
    """Review metadata as published; `status` says plainly whether a clinician reviewed it."""

    status: Literal["reviewed", "not-reviewed"]
    overdue: bool = Field(description="True when `next_review_due` has passed.")
    last_reviewed: dt.date | None
    next_review_due: dt.date | None
    reviewed_by: str | None
    note: str | None


class Source(Out):
    title: str
    publisher: str | None
    url: str | None
    accessed: dt.date | None
    note: str | None


class SectionOut(Out):
    id: int
    key: str
    title: str
    body: str = Field(description="Markdown.")
    body_html: str = Field(description="Sanitized HTML rendered from `body`.")


class FaqOut(Out):
    id: int
    question: str
    answer: str
    answer_html: str
    tags: list[str]


class SideEffectOut(Out):
    id: int
    name: str
    seriousness: Literal["common", "serious"]
    description: str | None
    description_html: str | None
    management_tips: list[str]
    urgency: Literal["self-care", "contact-care-team", "emergency"] | None
    when_to_contact_care_team: str | None


class MonitoringOut(Out):
    id: int
    name: str
    purpose: str
    frequency: str | None


class ConditionRef(Out):
    slug: str
    name: str
    description: str | None
    links: Links


class IndicationOut(Out):
    id: int
    condition: ConditionRef
    status: Literal["approved", "investigational"]
    notes: str | None


class ComponentOut(Out):
    name: str
    drug: str | None = Field(description="Slug of the component's drug record, if any.")
    role: str | None


class CombinationOut(Out):
    id: int
    name: str
    components: list[ComponentOut]
    rationale: str | None
    rationale_html: str | None
    notes: str | None
    notes_html: str | None


class Person(Out):
    name: str | None
    age: int | None
    occupation: str | None


class StoryOut(Out):
    id: int
    title: str
    person: Person
    body: str
    body_html: str


class SupportResourceOut(Out):
    slug: str
    category: Literal["support-group", "financial-assistance", "educational", "nutrition", "other"]
    title: str
    description: str | None
    description_html: str | None
    url: str | None
    phone: str | None
    email: str | None
    is_global: bool


class DrugDocument(Out):
    """The complete published document of a drug (parts left out by `include=` are absent)."""

    slug: str
    name: str
    brand_names: list[str]
    drug_class: str | None
    summary: str | None
    codes: dict[str, str]
    status: Literal["published"]
    version: int
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime
    locale: str
    review: Review
    disclaimer: str | None
    disclaimer_html: str | None
    sources: list[Source] | None = None
    sections: list[SectionOut] | None = None
    faqs: list[FaqOut] | None = None
    side_effects: list[SideEffectOut] | None = None
    monitoring: list[MonitoringOut] | None = None
    indications: list[IndicationOut] | None = None
    combinations: list[CombinationOut] | None = None
    stories: list[StoryOut] | None = None
    support_resources: list[SupportResourceOut] | None = None
    links: Links


class DrugSummary(Out):
    """One drug in a list (`fields=` may leave some out; `slug` is always there)."""

    slug: str
    name: str | None = None
    brand_names: list[str] | None = None
    drug_class: str | None = None
    summary: str | None = None
    codes: dict[str, str] | None = None
    updated_at: dt.datetime | None = None
    last_reviewed: dt.date | None = None
    links: Links | None = None


class Page(Out):
    total: int = Field(description="How many items match, over all pages.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class DrugList(Page):
    items: list[DrugSummary]


class _PartEnvelope(Out):
    drug: DrugRef
    locale: str
    disclaimer: str | None
    review: Review


class SectionList(_PartEnvelope):
    items: list[SectionOut]


class SectionItem(_PartEnvelope):
    item: SectionOut


class FaqList(_PartEnvelope):
    items: list[FaqOut]


class SideEffectList(_PartEnvelope):
    items: list[SideEffectOut]


class MonitoringList(_PartEnvelope):
    items: list[MonitoringOut]


class IndicationList(_PartEnvelope):
    items: list[IndicationOut]


class CombinationList(_PartEnvelope):
    items: list[CombinationOut]


class StoryList(_PartEnvelope):
    items: list[StoryOut]


class SupportResourceList(_PartEnvelope):
    items: list[SupportResourceOut]


class ConditionSummary(Out):
    slug: str
    name: str
    description: str | None
    description_html: str | None
    approved_drugs: int = Field(description="Published drugs approved for this condition.")
    investigational_drugs: int = Field(description="Published drugs under research for it.")
    links: Links


class ConditionList(Page):
    items: list[ConditionSummary]


class ConditionDrug(Out):
    slug: str
    name: str
    drug_class: str | None
    summary: str | None
    notes: str | None = Field(description="The indication's notes, e.g. the line of therapy.")
    links: Links


class ConditionDrugs(Out):
    approved: list[ConditionDrug]
    investigational: list[ConditionDrug]


class ConditionDetail(Out):
    slug: str
    name: str
    description: str | None
    description_html: str | None
    drugs: ConditionDrugs
    links: Links


class FaqAcrossDrugs(FaqOut):
    drug: DrugRef
    disclaimer: str | None


class FaqPage(Page):
    items: list[FaqAcrossDrugs]


class ResourcePage(Page):
    items: list[SupportResourceOut]
