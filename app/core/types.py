"""Bounded field types shared by every write schema (no unbounded string, list or number)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = CONTROL_CHARACTERS
# Free text in a query parameter: no control characters (PostgreSQL cannot even hold a NUL byte).
QUERY_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def _no_control_chars(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("control characters are not allowed")
    return value


Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=SLUG_PATTERN),
    Field(
        description="Lower-case, URL-safe identifier (`a-z`, `0-9`, single hyphens).",
        examples=["pomalidomide"],
    ),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_control_chars)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(_no_control_chars)]
Question = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_control_chars)]
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_no_control_chars)
]
Markdown = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50_000),
    AfterValidator(_no_control_chars),
    Field(description="Markdown (raw HTML is not rendered)."),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9 -]*$")]
CodeSystem = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$")]
CodeValue = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")]


class WriteModel(BaseModel):
    """Base for input schemas: unknown fields are rejected, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def not_null(value: object) -> object:
    """For update schemas: a field may be omitted, but a required field may not be sent as null."""
    if value is None:
        raise ValueError("may not be null (omit the field to leave it unchanged)")
    return value


class ReadModel(BaseModel):
    """Base for output schemas (documentation of the responses)."""

    model_config = ConfigDict(from_attributes=True)
