"""Opaque cursors: base64url JSON that the server alone reads; a tampered or foreign cursor is a 404."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import Query
from starlette.datastructures import URL

from app.core.errors import NotFound, ProblemField
from app.core.types import CONTROL_CHARACTERS

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CURSOR_PATTERN = "^[A-Za-z0-9_-]*$"  # base64url without padding
CURSOR_FORMAT = "druginfo-cursor"


def encode_cursor(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


class CursorNotFound(NotFound):
    code, title = "cursor_not_found", "Page not found"


def bad_cursor() -> CursorNotFound:
    """A well-formed cursor that points at no page of this list.

    404, not 422: any string of the cursor alphabet is well-formed (the OpenAPI cannot say which ones
    the server issued), and like an unknown slug it simply names nothing here. A cursor outside the
    alphabet or too long is a 422 like any other malformed parameter.
    """
    return CursorNotFound(
        "The cursor does not point into this list (it may come from another list, sort or filter); "
        "start again without one.",
        errors=[ProblemField(pointer="#/query/cursor", detail="unknown cursor", code="cursor_not_found")],
    )


def decode_cursor(cursor: str, *, kind: str) -> dict[str, Any]:
    """The cursor's payload; it must have been made for this kind of list."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        payload = None
    if not isinstance(payload, dict) or payload.get("k") != kind:
        raise bad_cursor()
    return payload


def cursor_id(cursor: str, *, kind: str, key: str) -> int:
    """The id a cursor of this kind carries under `key`; a cursor without a usable one names no page."""
    value = decode_cursor(cursor, kind=kind).get(key)
    # bool is an int; and both engines hold ids in signed 64 bits (SQLite overflows beyond).
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise bad_cursor()
    return value


def cursor_slug(cursor: str, *, kind: str, key: str) -> str:
    """The text (a slug) a cursor of this kind carries under `key`; else it names no page."""
    value = decode_cursor(cursor, kind=kind).get(key)
    # PostgreSQL cannot even compare text holding a NUL byte.
    if not isinstance(value, str) or len(value) > 200 or CONTROL_CHARACTERS.search(value):
        raise bad_cursor()
    return value


def next_link(url: URL, cursor: str) -> str:
    """`Link` header value for the next page: the same query with the new cursor."""
    return f'<{url.include_query_params(cursor=cursor)}>; rel="next"'


# The `cursor` query parameter (as `Query(**…)`, or `Field(None, **…)` in a model of a query).
CURSOR_PARAMETER: dict[str, Any] = {
    "max_length": 500,
    "pattern": CURSOR_PATTERN,
    # Not any string of this alphabet is a cursor: only the `next_cursor` the server issued for this
    # list (same filters and sort); any other well-formed one names no page (404).
    "json_schema_extra": {"format": CURSOR_FORMAT},
    "description": "`next_cursor` of the previous page (opaque; only valid with the same filters and sort).",
}
Cursor = Annotated[str | None, Query(**CURSOR_PARAMETER)]
