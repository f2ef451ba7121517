"""FHIR errors: under `/fhir` every error is an `OperationOutcome` (application/fhir+json).

The app-wide handlers answer problem+json; FHIR clients expect OperationOutcome. Rather than
branching on the path in the global handlers, the FHIR router uses a route class that converts
errors raised while handling its own routes (including the app-wide unknown-parameter check and
request validation, which run inside the route handler).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.errors import AppError, validation_problem_fields
from app.fhir.resources import FHIR_MEDIA_TYPE, operation_outcome

log = logging.getLogger("druginfo.fhir")

# HTTP status → FHIR issue type (http://hl7.org/fhir/issue-type).
_ISSUE_CODES = {400: "invalid", 404: "not-found", 405: "not-supported", 406: "not-supported", 422: "invalid"}


def outcome_response(
    status: int, code: str, diagnostics: str, *, expression: list[str] | None = None
) -> Response:
    body = orjson.dumps(operation_outcome(code, diagnostics, expression=expression))
    return Response(body, status_code=status, media_type=FHIR_MEDIA_TYPE)


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
                issue = (
                    exc.issue if isinstance(exc, FhirError) else _ISSUE_CODES.get(exc.status, "processing")
                )
                status = 400 if exc.status == 422 else exc.status
                expression = [_from_query_pointer(e.pointer) for e in exc.errors] if exc.errors else None
                return outcome_response(status, issue, exc.detail or exc.title, expression=expression)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
                return outcome_response(
                    exc.status_code, _ISSUE_CODES.get(exc.status_code, "processing"), detail
                )
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return outcome_response(500, "exception", "Internal server error.")

        return route
