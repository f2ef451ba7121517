"""Shared pieces of the public routers' answers: list parameters and paged JSON."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.responses import Response

from app.core.errors import InvalidParameters, ProblemField
from app.core.pagination import next_link
from app.delivery.store import PublishedStore


def list_pattern(allowed: tuple[str, ...]) -> str:
    """The regex of a comma-separated list of `allowed` names (`-` or `_`, spaces around, empty items).

    It is both what the OpenAPI says and what `parse_list` checks, so the two cannot disagree; only
    constructs that mean the same in ECMA-262 (JSON Schema) and Python regexes are used.
    """
    item = "(?:" + "|".join(name.replace("_", "[-_]") for name in allowed) + ")"
    return f"^ *(?:{item} *)?(?:, *(?:{item} *)?)*$"


def parse_list(raw: str | None, allowed: tuple[str, ...], name: str) -> frozenset[str] | None:
    """A comma-separated query value; each must be one of `allowed` (`-` read as `_`)."""
    if raw is None:
        return None
    if not re.fullmatch(list_pattern(allowed), raw):
        items = [v.strip(" ") for v in raw.split(",")]
        unknown = sorted({v for v in items if v and v.replace("-", "_") not in allowed})
        raise InvalidParameters(
            f"Unknown {name}: {', '.join(unknown)}. Choose from: {', '.join(allowed)}."
            if unknown
            else f"Give {name} as a comma-separated list of: {', '.join(allowed)}.",
            errors=[
                ProblemField(pointer=f"#/query/{name}", detail=f"unknown value {u!r}", code="unknown_value")
                for u in unknown
            ]
            or [
                ProblemField(
                    pointer=f"#/query/{name}", detail="not a comma-separated list", code="invalid_list"
                )
            ],
        )
    return frozenset(v.strip(" ").replace("-", "_") for v in raw.split(",") if v.strip(" "))


def page_response(
    request: Request, payload: dict[str, Any], *, locales: Iterable[str] | None = None
) -> Response:
    """A page of a list (or any computed document) with its ETag and `Link: rel="next"`.

    It may change with any publish, so it is dated by the content generation, and the prepared
    answer is kept by the response cache until the generation changes. `Content-Language` names
    the locales its items are served in (`PublishedStore.prepare_json`), or `locales` when the
    caller knows them.
    """
    store: PublishedStore = request.app.state.store
    cursor = payload.get("next_cursor")
    extra = {"Link": next_link(request.url, cursor)} if cursor else None
    representation = store.prepare_json(
        payload, last_modified=store.content_changed_at, extra_headers=extra, locales=locales
    )
    return store.answer(request, representation)
