"""Query parameters: unknown ones are refused, so no filter, sort or field name is silently ignored."""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections import Counter
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from app.core.errors import InvalidParameters, ProblemField, RepeatedParameters, UnknownParameters
from app.core.types import CONTROL_CHARACTERS

# By route id, holding a weak reference to check it: routes are not hashable, and in tests apps come
# and go, so an id can be reused by a new route.
_names_by_route: dict[int, tuple[weakref.ref[APIRoute], frozenset[str], frozenset[str]]] = {}
ModelT = TypeVar("ModelT", bound=BaseModel)


def _query_names(dependant: Dependant, *, repeatable: bool = False) -> set[str]:
    """The query parameters the route declares (`repeatable`: only those that take several values)."""
    names = {
        param.alias
        for param in dependant.query_params
        if not repeatable or _takes_several(param.field_info.annotation)
    }
    for sub in dependant.dependencies:
        names |= _query_names(sub, repeatable=repeatable)
    return names


def _takes_several(annotation: Any) -> bool:
    """A parameter annotated `list[str]` (or `list[str] | None` …): FastAPI reads every value given."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_takes_several(arg) for arg in get_args(annotation))
    return (origin or annotation) in (list, tuple, set, frozenset)


def _documented_query_names(route: APIRoute, *, repeatable: bool = False) -> set[str]:
    """The query parameters of the route's `openapi_extra` (see `query_parameters`)."""
    documented = (route.openapi_extra or {}).get("parameters", [])
    return {
        p["name"]
        for p in documented
        if p.get("in") == "query" and (not repeatable or p.get("schema", {}).get("type") == "array")
    }


def _names_of(route: APIRoute) -> tuple[frozenset[str], frozenset[str]]:
    """The query parameters a route takes, and those of them that may be repeated."""
    found = _names_by_route.get(id(route))
    if found is None or found[0]() is not route:
        allowed = frozenset(_query_names(route.dependant) | _documented_query_names(route))
        repeatable = frozenset(
            _query_names(route.dependant, repeatable=True) | _documented_query_names(route, repeatable=True)
        )
        found = _names_by_route[id(route)] = (weakref.ref(route), allowed, repeatable)
    return found[1], found[2]


def query_parameters(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` that documents the fields of `model` as the route's query parameters, as
    FastAPI documents declared ones (the app's unknown-parameter check accepts them too).

    For a route that reads its query with `parse_query_model` instead of one FastAPI parameter
    per field: FastAPI inspects every parameter's annotation again at each request, which for
    search's seven (with the locale negotiation) cost ~0.4 ms, a sixth of a cache-missing search.
    """
    schema = model.model_json_schema()
    properties: dict[str, dict[str, Any]] = schema["properties"]
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in properties.items():
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        parameters.append({**parameter, "schema": field_schema})
    return {"parameters": parameters}


def parse_query_model(model: type[ModelT], request: Request) -> ModelT:
    """The request's query parameters as `model` (see `query_parameters`), validated in one call.

    A repeated parameter counts once, with its last value, as FastAPI reads them. Errors are the ones
    FastAPI raises for its own parameters (`RequestValidationError`, at ("query", name)), so they
    become the same 422 problem.
    """
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def _each(names: list[str], detail: str, code: str) -> list[ProblemField]:
    return [ProblemField(pointer=f"#/query/{name}", detail=detail, code=code) for name in names]


async def reject_unknown_query_params(request: Request) -> None:
    """App-wide dependency: a query parameter the route does not declare is a 400, and so is one
    given twice that takes one value (FastAPI would read the last and drop the others unseen: a
    filter silently not applied).

    A value with a control character is a 422 (PostgreSQL cannot even compare text with a NUL).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed, repeatable = _names_of(route)
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if unknown:
        raise UnknownParameters(
            f"Unknown query parameter(s): {', '.join(unknown)}."
            + (f" Allowed: {', '.join(sorted(allowed))}." if allowed else " This endpoint takes none."),
            errors=_each(unknown, "unknown parameter", "unknown"),
        )
    given = request.query_params.multi_items()
    if len(given) > len(request.query_params):  # some name given twice (the length counts names once)
        counts = Counter(name for name, _ in given)
        repeated = sorted(name for name, n in counts.items() if n > 1 and name not in repeatable)
        if repeated:
            raise RepeatedParameters(
                f"Query parameter(s) given more than once: {', '.join(repeated)}. Each takes one value.",
                errors=_each(repeated, "given more than once", "repeated"),
            )
    bad = sorted({key for key, value in given if CONTROL_CHARACTERS.search(value)})
    if bad:
        raise InvalidParameters(
            f"Control characters are not allowed in query parameters: {', '.join(bad)}.",
            errors=_each(bad, "control character", "control_character"),
        )


# RFC 3339 §5.6 `date-time`, what an OpenAPI `format: date-time` promises (and nothing else: no
# numbers, no missing offset), and its `full-date`.
_FULL_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATE_TIME = re.compile(
    _FULL_DATE + r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE = re.compile(_FULL_DATE)
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


def parse_moment(raw: str, *, dates: bool = False) -> dt.datetime | None:
    """An RFC 3339 date-time (with `dates`, also a full-date: its midnight UTC) in UTC, or None."""
    if _DATE_TIME.fullmatch(raw):
        text = raw.upper()
    elif dates and _DATE.fullmatch(raw):
        text = raw + "T00:00:00Z"
    else:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:  # a day or time that does not exist (2026-02-30, 25:00, a leap second)
        return None
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # within a day of year 1 or 9999: as early / late as a timestamp goes
        return _EARLIEST if moment.year == 1 else _LATEST


def moment_param(name: str, raw: str | None) -> dt.datetime | None:
    """A `format: date-time` query parameter, in UTC; a value that is not one is a 422."""
    if raw is None:
        return None
    moment = parse_moment(raw)
    if moment is None:
        raise InvalidParameters(
            f"`{name}` takes an RFC 3339 timestamp such as 2026-01-31T12:00:00Z.",
            errors=[
                ProblemField(pointer=f"#/query/{name}", detail="not a timestamp", code="invalid_timestamp")
            ],
        )
    return moment
