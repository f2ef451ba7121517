"""Shared pieces of the public routers' answers: list parameters and paged JSON."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from app.core.config import Settings
from app.core.errors import InvalidParameters, ProblemField
from app.core.pagination import next_link
from app.delivery.store import PublishedStore


def parse_list(raw: str | None, allowed: tuple[str, ...], name: str) -> frozenset[str] | None:
    """A comma-separated query value; each must be one of `allowed` (`-` read as `_`)."""
    if raw is None:
        return None
    values = {v.strip().replace("-", "_") for v in raw.split(",") if v.strip()}
    unknown = sorted(values - set(allowed))
    if unknown:
        raise InvalidParameters(
            f"Unknown {name}: {', '.join(unknown)}. Choose from: {', '.join(allowed)}.",
            errors=[
                ProblemField(pointer=f"#/query/{name}", detail=f"unknown value {u!r}", code="unknown_value")
                for u in unknown
            ],
        )
    return frozenset(values)


def page_response(
    request: Request, settings: Settings, payload: dict[str, Any], *, locale: str | None = None
) -> Response:
    """A page of a list (or any computed document) with its ETag and `Link: rel="next"`.

    It may change with any publish, so it is dated by the content generation, and the prepared
    answer is kept by the response cache until the generation changes.
    """
    store: PublishedStore = request.app.state.store
    cursor = payload.get("next_cursor")
    extra = {"Link": next_link(request.url, cursor)} if cursor else None
    representation = store.prepare_json(
        payload, last_modified=store.content_changed_at, locale=locale, extra_headers=extra
    )
    return store.answer(request, representation)
