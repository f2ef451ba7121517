"""Conditional GETs and cache headers for public responses."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request
from starlette.responses import Response

from app.core.config import Settings

JSON_MEDIA_TYPE = "application/json"


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [c.strip() for c in header.split(",")]
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def not_modified(request: Request, etag: str, last_modified: dt.datetime | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since and last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def public_headers(settings: Settings, etag: str, last_modified: dt.datetime | None) -> dict[str, str]:
    headers = {
        "ETag": etag,
        "Cache-Control": (
            f"public, max-age={settings.cache_max_age}, "
            f"stale-while-revalidate={settings.cache_stale_while_revalidate}"
        ),
        "Vary": "Accept-Encoding, Accept-Language",
    }
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    return headers


def public_json(
    request: Request,
    settings: Settings,
    body: bytes,
    etag: str,
    last_modified: dt.datetime | None,
    *,
    content_language: str | None = None,
    extra_headers: dict[str, str] | None = None,
    media_type: str = JSON_MEDIA_TYPE,
) -> Response:
    """A cacheable public answer (JSON unless told otherwise), or 304 when the client's copy is current."""
    headers = public_headers(settings, etag, last_modified)
    if content_language:
        headers["Content-Language"] = content_language
    if extra_headers:
        headers.update(extra_headers)
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
