"""Management API shapes for support resources (create reuses the bundle's `SupportResourceIn`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, field_validator

from app.bundle.schemas import Email, Phone, ResourceCategory, ResourceSlug, ResourceUrl
from app.core.concurrency import row_etag
from app.core.markdown import render_markdown
from app.core.types import NOT_NULL, Markdown, ReadModel, Slug, Title, WriteModel, not_null
from app.resources.models import SupportResource

ADMIN_RESOURCES = "/api/v1/admin/support-resources"


def resource_url(slug: str) -> str:
    return f"{ADMIN_RESOURCES}/{slug}"


def resource_etag(resource: SupportResource) -> str:
    return row_etag(SupportResource.__tablename__, resource.id, resource.version)


class SupportResourceUpdate(WriteModel):
    """Fields to change. The result is validated like a new resource (URLs: https:, mailto:, tel: only)."""

    slug: Annotated[ResourceSlug | None, NOT_NULL] = None
    category: Annotated[ResourceCategory | None, NOT_NULL] = None
    title: Annotated[Title | None, NOT_NULL] = None
    description: Markdown | None = None
    url: ResourceUrl | None = None
    phone: Phone | None = None
    email: Email | None = None
    is_global: Annotated[bool | None, NOT_NULL] = None

    _required = field_validator("slug", "category", "title", "is_global")(not_null)


class SupportResourceRead(ReadModel):
    id: int
    slug: str
    category: str
    title: str
    description: str | None
    description_html: str | None
    url: str | None
    phone: str | None
    email: str | None
    is_global: bool
    drugs: list[str] = Field(description="Slugs of the drugs this resource is linked to.")
    version: int
    etag: str
    created_at: dt.datetime
    updated_at: dt.datetime
    links: dict[str, str]

    @classmethod
    def of(cls, resource: SupportResource, drugs: list[str]) -> SupportResourceRead:
        return cls(
            id=resource.id,
            slug=resource.slug,
            category=resource.category,
            title=resource.title,
            description=resource.description,
            description_html=render_markdown(resource.description) if resource.description else None,
            url=resource.url,
            phone=resource.phone,
            email=resource.email,
            is_global=resource.is_global,
            drugs=drugs,
            version=resource.version,
            etag=resource_etag(resource),
            created_at=resource.created_at,
            updated_at=resource.updated_at,
            links={"self": resource_url(resource.slug)},
        )


class AdminSupportResourceSummary(ReadModel):
    id: int
    slug: str
    category: str
    title: str
    is_global: bool
    version: int
    etag: str
    links: dict[str, str]

    @classmethod
    def of(cls, resource: SupportResource) -> AdminSupportResourceSummary:
        return cls(
            id=resource.id,
            slug=resource.slug,
            category=resource.category,
            title=resource.title,
            is_global=resource.is_global,
            version=resource.version,
            etag=resource_etag(resource),
            links={"self": resource_url(resource.slug)},
        )


class AdminSupportResourcePage(ReadModel):
    items: list[AdminSupportResourceSummary]
    next_cursor: str | None


class ResourceLinkIn(WriteModel):
    resource: Slug = Field(description="Slug of the support resource to link to the drug.")


class ResourceLinkRead(ReadModel):
    resource: str
    title: str
    category: str
    etag: str = Field(description="Send as `If-Match` to unlink.")
    links: dict[str, str]


class ResourceLinkList(ReadModel):
    items: list[ResourceLinkRead]
    etag: str


class ResourceOrder(WriteModel):
    """Every linked resource's slug exactly once, in the new order."""

    slugs: list[Slug] = Field(max_length=100)


class ResourceOrderRead(ReadModel):
    slugs: list[str]
    etag: str
