"""The JSON bundle: one format for seed data, import and export.

A bundle holds shared conditions and support resources, and complete drug documents that refer to
them by slug. The same part schemas validate the management API's writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from app.core.locale import LOCALE_SCHEMA, MAX_TAG_LENGTH, normalize_tag
from app.core.types import (
    CONTROL_CHARACTERS,
    NOT_NULL,
    CodeSystem,
    CodeValue,
    Markdown,
    Name,
    Question,
    ShortText,
    Slug,
    Tag,
    Title,
    WriteModel,
    constrained_keys,
    constrained_keys_not_null,
)

DrugStatus = Literal["draft", "in_review", "published", "archived"]
Seriousness = Literal["common", "serious"]
Urgency = Literal["self-care", "contact-care-team", "emergency"]
IndicationStatus = Literal["approved", "investigational"]
ResourceCategory = Literal["support-group", "financial-assistance", "educational", "nutrition", "other"]

MAX_LOCALES = 50
# A drug's links to support resources live under `.../support-resources/{slug}`, next to
# `.../support-resources/order`: a resource may not take that name.
RESERVED_RESOURCE_SLUGS = ("order",)


def _not_reserved(slug: str) -> str:
    if slug in RESERVED_RESOURCE_SLUGS:
        raise ValueError(f"{slug!r} is reserved (a drug's `/support-resources/{slug}` is another URL)")
    return slug


ResourceSlug = Annotated[
    Slug,
    AfterValidator(_not_reserved),
    Field(json_schema_extra={"not": {"enum": list(RESERVED_RESOURCE_SLUGS)}}),
]


def _canonical_tag(tag: str) -> str:
    canonical = normalize_tag(tag)
    if canonical is None:
        raise ValueError(f"{tag!r} is not a BCP 47 language tag (e.g. `fr`, `pt-BR`, `zh-Hant`)")
    return canonical


LocaleTag = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_TAG_LENGTH),
    AfterValidator(_canonical_tag),
    Field(json_schema_extra=LOCALE_SCHEMA),
]


def _unique_tags(value: Any) -> Any:
    """`fr` and `FR` are the same locale: refuse a translations object that names one twice."""
    if isinstance(value, dict):
        seen: set[str] = set()
        for key in value:
            canonical = normalize_tag(key) if isinstance(key, str) else None
            if canonical is not None and canonical in seen:
                raise ValueError(f"locale {canonical!r} is given more than once")
            if canonical is not None:
                seen.add(canonical)
    return value


class TranslationModel(WriteModel):
    """The translatable text fields of one item in one locale; fields left out fall back to the default.

    At least one field, and no nulls (leave a field out instead): the OpenAPI says both.
    """

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"minProperties": 1}
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(str(k) for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"null is not a translation ({', '.join(nulls)}): leave the field out")
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> Any:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a translation must give at least one field")
        return self

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


T = TypeVar("T", bound=TranslationModel)
Translations = Annotated[dict[LocaleTag, T], BeforeValidator(_unique_tags)]


def translations_update_field() -> Any:
    """The `translations` of a partial edit: when sent, they replace the item's translations whole."""
    return Field(
        default=None,
        max_length=MAX_LOCALES,
        description="Replaces the item's translations as a whole when sent (BCP 47 locale → the "
        "translated text fields); `{}` removes them all. Left out, they stay as they are.",
        json_schema_extra=constrained_keys_not_null,
    )


def translations_field() -> Any:
    """The `translations` field of a translatable item (left out of documents when empty)."""
    return Field(
        default_factory=dict,
        max_length=MAX_LOCALES,
        exclude_if=lambda value: not value,
        description="Translations of this item's text: BCP 47 locale → the translated fields "
        "(text fields only; any left out fall back to the default locale).",
        json_schema_extra=constrained_keys,
    )


class DrugTranslation(TranslationModel):
    name: Annotated[Name | None, NOT_NULL] = None
    brand_names: Annotated[Annotated[list[Name], Field(max_length=30)] | None, NOT_NULL] = None
    drug_class: Annotated[Name | None, NOT_NULL] = None
    summary: Annotated[ShortText | None, NOT_NULL] = None
    disclaimer: Annotated[Markdown | None, NOT_NULL] = None


class SectionTranslation(TranslationModel):
    title: Annotated[Title | None, NOT_NULL] = None
    body: Annotated[Markdown | None, NOT_NULL] = None


class FaqTranslation(TranslationModel):
    question: Annotated[Question | None, NOT_NULL] = None
    answer: Annotated[Markdown | None, NOT_NULL] = None


class SideEffectTranslation(TranslationModel):
    name: Annotated[Name | None, NOT_NULL] = None
    description: Annotated[Markdown | None, NOT_NULL] = None
    management_tips: Annotated[Annotated[list[ShortText], Field(max_length=30)] | None, NOT_NULL] = None
    when_to_contact_care_team: Annotated[ShortText | None, NOT_NULL] = None


class MonitoringTranslation(TranslationModel):
    name: Annotated[Name | None, NOT_NULL] = None
    purpose: Annotated[ShortText | None, NOT_NULL] = None
    frequency: Annotated[ShortText | None, NOT_NULL] = None


class IndicationTranslation(TranslationModel):
    notes: Annotated[ShortText | None, NOT_NULL] = None


class CombinationTranslation(TranslationModel):
    name: Annotated[Title | None, NOT_NULL] = None
    rationale: Annotated[Markdown | None, NOT_NULL] = None
    notes: Annotated[Markdown | None, NOT_NULL] = None


class StoryTranslation(TranslationModel):
    title: Annotated[Title | None, NOT_NULL] = None
    body: Annotated[Markdown | None, NOT_NULL] = None


class ConditionTranslation(TranslationModel):
    name: Annotated[Name | None, NOT_NULL] = None
    description: Annotated[Markdown | None, NOT_NULL] = None


class SupportResourceTranslation(TranslationModel):
    title: Annotated[Title | None, NOT_NULL] = None
    description: Annotated[Markdown | None, NOT_NULL] = None


TRANSLATION_MODELS: dict[str, type[TranslationModel]] = {
    "drug": DrugTranslation,
    "sections": SectionTranslation,
    "faqs": FaqTranslation,
    "side_effects": SideEffectTranslation,
    "monitoring": MonitoringTranslation,
    "indications": IndicationTranslation,
    "combinations": CombinationTranslation,
    "stories": StoryTranslation,
    "conditions": ConditionTranslation,
    "support_resources": SupportResourceTranslation,
}


class SourceIn(WriteModel):
    title: Title
    publisher: Name | None = None
    url: HttpUrl | None = None
    accessed: dt.date | None = None
    note: ShortText | None = None


class ReviewIn(WriteModel):
    """Review metadata; all empty means nobody has clinically reviewed the content (say so in `note`)."""

    last_reviewed: dt.date | None = None
    next_review_due: dt.date | None = None
    reviewed_by: Name | None = None
    note: ShortText | None = None


class SectionIn(WriteModel):
    key: Slug = Field(examples=["mechanism"])
    title: Title
    body: Markdown
    translations: Translations[SectionTranslation] = translations_field()


class FaqIn(WriteModel):
    question: Question
    answer: Markdown
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    translations: Translations[FaqTranslation] = translations_field()


class SideEffectIn(WriteModel):
    name: Name
    seriousness: Seriousness
    description: Markdown | None = None
    management_tips: list[ShortText] = Field(default_factory=list, max_length=30)
    urgency: Urgency | None = Field(default=None, description="Only where the source says so.")
    when_to_contact_care_team: ShortText | None = None
    translations: Translations[SideEffectTranslation] = translations_field()


class MonitoringIn(WriteModel):
    name: Name = Field(description="What is checked.", examples=["Blood cell counts"])
    purpose: ShortText = Field(description="Why it is checked.")
    frequency: ShortText | None = Field(default=None, description="Only where the source states it.")
    translations: Translations[MonitoringTranslation] = translations_field()


class IndicationIn(WriteModel):
    condition: Slug = Field(description="Slug of a condition in the bundle or the database.")
    status: IndicationStatus
    notes: ShortText | None = None
    translations: Translations[IndicationTranslation] = translations_field()


class ComponentIn(WriteModel):
    name: Name
    drug: Slug | None = Field(default=None, description="Slug of the component's own drug record, if any.")
    role: ShortText | None = None


class CombinationIn(WriteModel):
    name: Title
    components: list[ComponentIn] = Field(min_length=1, max_length=10)
    rationale: Markdown | None = None
    notes: Markdown | None = None
    translations: Translations[CombinationTranslation] = translations_field()

    @field_validator("components")
    @classmethod
    def _unique_components(cls, components: list[ComponentIn]) -> list[ComponentIn]:
        names = [c.name.casefold() for c in components]
        if len(names) != len(set(names)):
            raise ValueError("component names must be unique")
        return components


class PersonIn(WriteModel):
    """The person as the story publishes them (first name, age, occupation)."""

    name: Name | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    occupation: Name | None = None


class StoryIn(WriteModel):
    title: Title
    person: PersonIn = Field(default_factory=PersonIn)
    body: Markdown
    translations: Translations[StoryTranslation] = translations_field()


class ConditionIn(WriteModel):
    slug: Slug
    name: Name
    description: Markdown | None = None
    translations: Translations[ConditionTranslation] = translations_field()


def _safe_url(url: str) -> str:
    if CONTROL_CHARACTERS.search(url):
        raise ValueError("control characters are not allowed")
    lowered = url.lower()
    if lowered.startswith("https://") and len(lowered) > len("https://"):
        HttpUrl(url)  # well-formed
        return url
    if lowered.startswith(("mailto:", "tel:")) and url.split(":", 1)[1]:
        return url
    raise ValueError("only https:, mailto: and tel: URLs are allowed")


_VISIBLE = r"[^\x00-\x20\x7f]"
_NO_CONTROL = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
ResourceUrl = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(_safe_url),
    WithJsonSchema(
        {
            "description": "`https:`, `mailto:` or `tel:` only.",
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": 2000,
                    "format": "uri",
                    "pattern": f"^[Hh][Tt][Tt][Pp][Ss]://{_VISIBLE}",
                },
                {
                    "type": "string",
                    "maxLength": 2000,
                    "pattern": f"^(?:[Mm][Aa][Ii][Ll][Tt][Oo]|[Tt][Ee][Ll]):{_NO_CONTROL}+$",
                },
            ],
        }
    ),
]
Phone = Annotated[str, StringConstraints(max_length=50, pattern=r"^\+?[0-9 ()./-]{3,50}$")]
# No whitespace or control characters (C0 and C1) around the `@` and `.`: spelled out, since `\s`
# means different things to the regex engines that read this pattern.
_EMAIL_PART = r"[^@\x00-\x20\x7f-\x9f]+"
Email = Annotated[
    str, StringConstraints(max_length=320, pattern=rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$")
]


class SupportResourceIn(WriteModel):
    slug: ResourceSlug
    category: ResourceCategory
    title: Title
    description: Markdown | None = None
    url: ResourceUrl | None = None
    phone: Phone | None = None
    email: Email | None = None
    is_global: bool = Field(default=False, description="Shown for every drug, not only linked ones.")
    translations: Translations[SupportResourceTranslation] = translations_field()


class DrugIn(WriteModel):
    """A complete drug document (the working draft's content)."""

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
    status: DrugStatus = "draft"
    review: ReviewIn = Field(default_factory=ReviewIn)
    disclaimer: Markdown | None = None
    sources: list[SourceIn] = Field(default_factory=list, max_length=50)
    sections: list[SectionIn] = Field(default_factory=list, max_length=50)
    faqs: list[FaqIn] = Field(default_factory=list, max_length=200)
    side_effects: list[SideEffectIn] = Field(default_factory=list, max_length=200)
    monitoring: list[MonitoringIn] = Field(default_factory=list, max_length=50)
    indications: list[IndicationIn] = Field(default_factory=list, max_length=100)
    combinations: list[CombinationIn] = Field(default_factory=list, max_length=50)
    stories: list[StoryIn] = Field(default_factory=list, max_length=50)
    support_resources: list[Slug] = Field(
        default_factory=list, max_length=100, description="Slugs of support resources linked to this drug."
    )
    translations: Translations[DrugTranslation] = translations_field()

    @field_validator("codes")
    @classmethod
    def _lowercase_systems(cls, codes: dict[str, str]) -> dict[str, str]:
        lowered = {system.lower(): code for system, code in codes.items()}
        if len(lowered) != len(codes):
            raise ValueError("code systems must be unique (case-insensitively)")
        return lowered

    @model_validator(mode="after")
    def _unique_keys(self) -> DrugIn:
        _require_unique("sections", [s.key for s in self.sections])
        _require_unique("side_effects", [s.name.casefold() for s in self.side_effects])
        _require_unique("monitoring", [m.name.casefold() for m in self.monitoring])
        _require_unique("indications", [i.condition for i in self.indications])
        _require_unique("combinations", [c.name.casefold() for c in self.combinations])
        _require_unique("support_resources", list(self.support_resources))
        return self


def _require_unique(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: duplicate entry {value!r}")
        seen.add(value)


class Bundle(WriteModel):
    """Everything needed to (re)build the content: conditions, support resources and drugs."""

    format: Literal["druginfo-bundle"] = "druginfo-bundle"
    version: Literal[1] = 1
    conditions: list[ConditionIn] = Field(default_factory=list, max_length=10_000)
    support_resources: list[SupportResourceIn] = Field(default_factory=list, max_length=10_000)
    drugs: list[DrugIn] = Field(default_factory=list, max_length=20_000)

    @model_validator(mode="after")
    def _unique_slugs(self) -> Bundle:
        _require_unique("conditions", [c.slug for c in self.conditions])
        _require_unique("support_resources", [r.slug for r in self.support_resources])
        _require_unique("drugs", [d.slug for d in self.drugs])
        return self
