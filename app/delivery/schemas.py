"""Shapes of the public documents. Handlers serve pre-rendered bytes; these models document them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


ItemLocale = Annotated[
    str,
    Field(
        description="The locale this item's text is served in: the one asked for where translated, "
        "else the default locale.",
        examples=["en"],
    ),
]


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
    locale: ItemLocale


class FaqOut(Out):
    id: int
    question: str
    answer: str
    answer_html: str
    tags: list[str]
    locale: ItemLocale


class SideEffectOut(Out):
    id: int
    name: str
    seriousness: Literal["common", "serious"]
    description: str | None
    description_html: str | None
    management_tips: list[str]
    urgency: Literal["self-care", "contact-care-team", "emergency"] | None
    when_to_contact_care_team: str | None
    locale: ItemLocale


class MonitoringOut(Out):
    id: int
    name: str
    purpose: str
    frequency: str | None
    locale: ItemLocale


class ConditionRef(Out):
    slug: str
    name: str
    description: str | None
    links: Links
    locale: ItemLocale


class IndicationOut(Out):
    id: int
    condition: ConditionRef
    status: Literal["approved", "investigational"]
    notes: str | None
    locale: ItemLocale


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
    locale: ItemLocale


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
    locale: ItemLocale


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
    locale: ItemLocale


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
    locale: str = Field(description="The locale of the drug's own text (name, summary, ...).")
    available_locales: list[str] = Field(
        description="Every locale some text of this drug exists in, the default first."
    )
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
    locale: str | None = None
    links: Links | None = None


class Page(Out):
    total: int = Field(description="How many items match, over all pages.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last. A list in a fixed order "
        "resumes after the last item delivered, whatever changed meanwhile; a list ranked by relevance "
        "(`q`) refuses a cursor made before the published content changed (`410`, `cursor_expired`)."
    )


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


class FaqItem(_PartEnvelope):
    item: FaqOut


class SideEffectItem(_PartEnvelope):
    item: SideEffectOut


class MonitoringItem(_PartEnvelope):
    item: MonitoringOut


class IndicationItem(_PartEnvelope):
    item: IndicationOut


class CombinationItem(_PartEnvelope):
    item: CombinationOut


class StoryItem(_PartEnvelope):
    item: StoryOut


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
    locale: ItemLocale
    links: Links


class ConditionList(Page):
    items: list[ConditionSummary]


class ConditionDrug(Out):
    slug: str
    name: str
    drug_class: str | None
    summary: str | None
    notes: str | None = Field(description="The indication's notes, e.g. the line of therapy.")
    locale: ItemLocale
    links: Links


class ConditionDrugs(Out):
    approved: list[ConditionDrug]
    investigational: list[ConditionDrug]


class ConditionDetail(Out):
    slug: str
    name: str
    description: str | None
    description_html: str | None
    locale: ItemLocale
    drugs: ConditionDrugs
    links: Links


class FaqAcrossDrugs(FaqOut):
    drug: DrugRef
    disclaimer: str | None


class FaqPage(Page):
    items: list[FaqAcrossDrugs]


class SideEffectAcrossDrugs(SideEffectOut):
    drug: DrugRef
    disclaimer: str | None


class SideEffectPage(Page):
    items: list[SideEffectAcrossDrugs]


class CombinationAcrossDrugs(CombinationOut):
    drug: DrugRef
    disclaimer: str | None


class CombinationPage(Page):
    items: list[CombinationAcrossDrugs]


class ResourcePage(Page):
    items: list[SupportResourceOut]
