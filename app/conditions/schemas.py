"""Management API shapes for conditions (create reuses the bundle's `ConditionIn`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, field_validator

from app.bundle.schemas import ConditionTranslation, Translations, translations_update_field
from app.conditions.models import Condition
from app.core.concurrency import row_etag
from app.core.markdown import render_markdown
from app.core.types import NOT_NULL, Markdown, Name, ReadModel, Slug, WriteModel, not_null

ADMIN_CONDITIONS = "/api/v1/admin/conditions"


def condition_url(slug: str) -> str:
    return f"{ADMIN_CONDITIONS}/{slug}"


def condition_etag(condition: Condition) -> str:
    return row_etag(Condition.__tablename__, condition.id, condition.version)


class ConditionUpdate(WriteModel):
    slug: Annotated[Slug | None, NOT_NULL] = None
    name: Annotated[Name | None, NOT_NULL] = None
    description: Markdown | None = None
    translations: Annotated[Translations[ConditionTranslation] | None, NOT_NULL] = translations_update_field()

    _required = field_validator("slug", "name", "translations")(not_null)


class ConditionRead(ReadModel):
    id: int
    slug: str
    name: str
    description: str | None
    description_html: str | None
    translations: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="The condition's text in other locales: BCP 47 tag → fields."
    )
    drugs: list[str] = Field(description="Slugs of the drugs whose working draft has this indication.")
    version: int
    etag: str
    created_at: dt.datetime
    updated_at: dt.datetime
    links: dict[str, str]

    @classmethod
    def of(cls, condition: Condition, drugs: list[str]) -> ConditionRead:
        return cls(
            id=condition.id,
            slug=condition.slug,
            name=condition.name,
            description=condition.description,
            description_html=render_markdown(condition.description) if condition.description else None,
            translations=dict(condition.translations or {}),
            drugs=drugs,
            version=condition.version,
            etag=condition_etag(condition),
            created_at=condition.created_at,
            updated_at=condition.updated_at,
            links={"self": condition_url(condition.slug)},
        )


class AdminConditionSummary(ReadModel):
    id: int
    slug: str
    name: str
    version: int
    etag: str
    links: dict[str, str]

    @classmethod
    def of(cls, condition: Condition) -> AdminConditionSummary:
        return cls(
            id=condition.id,
            slug=condition.slug,
            name=condition.name,
            version=condition.version,
            etag=condition_etag(condition),
            links={"self": condition_url(condition.slug)},
        )


class AdminConditionPage(ReadModel):
    items: list[AdminConditionSummary]
    next_cursor: str | None
