"""Query parameters: unknown ones are refused, so no filter, sort or field name is silently ignored."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.core.errors import InvalidParameters, ProblemField, UnknownParameters
from app.core.types import CONTROL_CHARACTERS

_allowed_by_route: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query_params(request: Request) -> None:
    """App-wide dependency: a query parameter the route does not declare is a 400.

    A value with a control character is a 422 (PostgreSQL cannot even compare text with a NUL).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _allowed_by_route.get(id(route))
    if allowed is None:
        allowed = frozenset(_query_names(route.dependant))
        _allowed_by_route[id(route)] = allowed
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if unknown:
        raise UnknownParameters(
            f"Unknown query parameter(s): {', '.join(unknown)}."
            + (f" Allowed: {', '.join(sorted(allowed))}." if allowed else " This endpoint takes none."),
            errors=[
                ProblemField(pointer=f"#/query/{name}", detail="unknown parameter", code="unknown")
                for name in unknown
            ],
        )
    bad = sorted(
        {key for key, value in request.query_params.multi_items() if CONTROL_CHARACTERS.search(value)}
    )
    if bad:
        raise InvalidParameters(
            f"Control characters are not allowed in query parameters: {', '.join(bad)}.",
            errors=[
                ProblemField(pointer=f"#/query/{name}", detail="control character", code="control_character")
                for name in bad
            ],
        )
