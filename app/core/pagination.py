"""Opaque cursors: base64url JSON that the server alone reads; a tampered cursor is a 422."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from starlette.datastructures import URL

from app.core.errors import InvalidParameters, ProblemField

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def bad_cursor() -> InvalidParameters:
    return InvalidParameters(
        "The cursor is not valid for this list; start again without one.",
        errors=[ProblemField(pointer="#/query/cursor", detail="invalid cursor", code="invalid_cursor")],
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


def next_link(url: URL, cursor: str) -> str:
    """`Link` header value for the next page: the same query with the new cursor."""
    return f'<{url.include_query_params(cursor=cursor)}>; rel="next"'
