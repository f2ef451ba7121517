"""Bounded field types shared by every write schema (no unbounded string, list or number)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL = CONTROL_CHARACTERS
# Free text in a query parameter: no control characters (PostgreSQL cannot even hold a NUL byte).
QUERY_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# Text in a write, as the OpenAPI documents it: no control characters (tabs and newlines are fine),
# and not blank: write models trim whitespace (Unicode White_Space, as pydantic-core's trim), so
# blank text would arrive empty. Said as what the text must not match: a fuzzer folds a string's
# maxLength into a pattern it must match (`[...]{1,50000}`), which then took it seconds to compile.
CONTROL_CHARACTER_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_BLANK_PATTERN = r"^[\x09-\x0d\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
TEXT_SCHEMA: dict[str, Any] = {"not": {"pattern": f"{CONTROL_CHARACTER_PATTERN}|{_BLANK_PATTERN}"}}
_TEXT = Field(json_schema_extra=TEXT_SCHEMA)


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
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_control_chars), _TEXT
]
Title = Annotated[
    str, StringConstraints(min_length=1, max_length=300), AfterValidator(_no_control_chars), _TEXT
]
Question = Annotated[
    str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_control_chars), _TEXT
]
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(_no_control_chars), _TEXT
]
Reason = Annotated[
    str, StringConstraints(min_length=1, max_length=1000), AfterValidator(_no_control_chars), _TEXT
]
Markdown = Annotated[
    str,
    StringConstraints(min_length=1, max_length=50_000),
    AfterValidator(_no_control_chars),
    Field(description="Markdown (raw HTML is not rendered).", json_schema_extra=TEXT_SCHEMA),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9 -]*$")]
CodeSystem = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$")]
CodeValue = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")]


class WriteModel(BaseModel):
    """Base for input schemas: unknown fields are rejected, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_null(schema: dict[str, Any]) -> None:
    """`anyOf: [X, {type: null}]` → X: the field may be left out, but null is refused (`not_null`)."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update({k: v for k, v in branches[0].items() if k not in schema})


# On an optional field of an update schema whose value may be left out but not sent as null. (Not
# `SkipJsonSchema[None]`: that makes a union, and every error pointer would name its branches.)
NOT_NULL = Field(json_schema_extra=_no_null)


def constrained_keys(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of a dict field whose keys have a pattern: document it as `propertyNames`.

    pydantic documents a key pattern as `patternProperties`, which leaves keys that do not match it
    unconstrained (so any key looks valid); `propertyNames` constrains every key.
    """
    for pattern, value in schema.pop("patternProperties", {}).items():
        schema["additionalProperties"] = value
        schema.setdefault("propertyNames", {})["pattern"] = pattern


def constrained_keys_not_null(schema: dict[str, Any]) -> None:
    """`constrained_keys` for an update schema's dict field that may be left out but not sent as null."""
    _no_null(schema)
    constrained_keys(schema)
    if schema.get("type") == "object" and "maxLength" in schema:  # pydantic's name for an optional dict's
        schema["maxProperties"] = schema.pop("maxLength")


def not_null(value: object) -> object:
    """For update schemas: a field may be omitted, but a required field may not be sent as null."""
    if value is None:
        raise ValueError("may not be null (omit the field to leave it unchanged)")
    return value


class ReadModel(BaseModel):
    """Base for output schemas (documentation of the responses)."""

    model_config = ConfigDict(from_attributes=True)
