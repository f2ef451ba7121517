"""FHIR errors: under `/fhir` every error is an `OperationOutcome` (application/fhir+json).

The app-wide handlers answer problem+json; FHIR clients expect OperationOutcome. Rather than
branching on the path in the global handlers, the FHIR router uses a route class that converts
errors raised while handling its own routes (including the app-wide unknown-parameter check and
request validation, which run inside the route handler). A database that is down, busy, full or
not migrated is answered as the app answers it (503 with `Retry-After`, or 507), never as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.db import classify_database_error
from app.core.errors import (
    AppError,
    ServiceUnavailable,
    database_problem,
    is_lock_timeout,
    validation_problem_fields,
)
from app.fhir.resources import FHIR_MEDIA_TYPE, operation_outcome

log = logging.getLogger("druginfo.fhir")

# HTTP status → FHIR issue type (http://hl7.org/fhir/issue-type). A database that is down, busy or
# not migrated (503) is `transient`: retry later, as `Retry-After` says. A full one (507) is
# `exception`, which R5 files under `transient` too: the server's condition, not the request's, so
# the same request succeeds once there is room. Not `too-costly`: that one (under `processing`)
# tells the client its request was too expensive and to ask for less, which would not help.
_ISSUE_CODES = {
    400: "invalid",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    422: "invalid",
    503: "transient",
    507: "exception",
}


def outcome_response(
    status: int,
    code: str,
    diagnostics: str,
    *,
    expression: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = orjson.dumps(operation_outcome(code, diagnostics, expression=expression))
    return Response(body, status_code=status, media_type=FHIR_MEDIA_TYPE, headers=headers or None)


class FhirError(AppError):
    """An error with its FHIR issue type."""

    issue: str = "invalid"


class FhirNotFound(FhirError):
    status, code, title, issue = 404, "not_found", "Not found", "not-found"


class FhirInvalid(FhirError):
    status, code, title, issue = 400, "invalid", "Invalid request", "invalid"


class FhirNotAcceptable(FhirError):
    status, code, title, issue = 406, "not_acceptable", "Not acceptable", "not-supported"


def _from_query_pointer(pointer: str) -> str:
    return pointer.removeprefix("#/query/").removeprefix("#/path/")


def _app_error_outcome(exc: AppError) -> Response:
    issue = exc.issue if isinstance(exc, FhirError) else _ISSUE_CODES.get(exc.status, "processing")
    status = 400 if exc.status == 422 else exc.status
    expression = [_from_query_pointer(e.pointer) for e in exc.errors] if exc.errors else None
    return outcome_response(
        status, issue, exc.detail or exc.title, expression=expression, headers=exc.headers
    )


def _database_problem(exc: Exception) -> AppError | None:
    """The app's answer to a database that is busy, down, full or not migrated, as its handlers in
    `app.core.errors` give it; None for any other error (a bug)."""
    if isinstance(exc, sa.exc.OperationalError) and is_lock_timeout(exc):
        # The app-wide busy answer (`database_busy`): the transaction was rolled back, retry soon.
        return ServiceUnavailable(
            "The database is busy with other writes; retry shortly.", headers={"Retry-After": "1"}
        )
    kind = classify_database_error(exc)
    return None if kind is None else database_problem(kind)


class FhirRoute(APIRoute):
    """Turns every error of a FHIR route into an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                # FHIR answers bad search or path parameters with 400.
                fields = validation_problem_fields(exc.errors())
                return outcome_response(
                    400,
                    "invalid",
                    "; ".join(f"{_from_query_pointer(f.pointer)}: {f.detail}" for f in fields[:5]),
                    expression=[_from_query_pointer(f.pointer) for f in fields][:10] or None,
                )
            except AppError as exc:
                return _app_error_outcome(exc)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
                return outcome_response(
                    exc.status_code, _ISSUE_CODES.get(exc.status_code, "processing"), detail
                )
            except Exception as exc:
                # Caught here, the app-wide database handlers never see it: classify it as they do.
                problem = _database_problem(exc)
                if problem is None:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    return outcome_response(500, "exception", "Internal server error.")
                log.warning(
                    "database %s on %s %s: %s",
                    problem.code,
                    request.method,
                    request.url.path,
                    exc.__class__.__name__,
                    exc_info=exc,
                )
                return _app_error_outcome(problem)

        return route
