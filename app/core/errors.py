"""One error shape for every endpoint: RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.core.db import DatabaseErrorKind, classify_database_error
from app.core.logging import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("druginfo.errors")


class ProblemField(BaseModel):
    """One bad input: where it is and what is wrong with it."""

    pointer: str = Field(description="JSON pointer into the request body, or `#/query/<name>` etc.")
    detail: str
    code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str | None = None
    instance: str | None = None
    code: str = Field(description="Stable snake_case error code.", examples=["not_found"])
    errors: list[ProblemField] | None = None
    request_id: str | None = Field(
        default=None, description="The request's `X-Request-ID`: quote it when reporting a problem."
    )


class AppError(Exception):
    """A domain error that knows its HTTP status; one handler renders them all."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ProblemField] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers or {}


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class InvalidParameters(AppError):
    status, code, title = 422, "invalid_parameters", "Invalid parameters"


class UnknownParameters(AppError):
    status, code, title = 400, "unknown_parameters", "Unknown query parameters"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"


class InsufficientStorage(AppError):
    status, code, title = 507, "insufficient_storage", "Insufficient storage"


class RequestHeadersTooLarge(AppError):
    status, code, title = 431, "request_headers_too_large", "Request header fields too large"


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


def problem_response(
    status: int,
    *,
    code: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    errors: Iterable[ProblemField] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [e.model_dump(exclude_none=True) for e in errors]
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers or None
    )


def _pointer(location: Sequence[int | str]) -> str:
    """`("body", "faqs", 0, "question")` → `/faqs/0/question`; query etc. → `#/query/limit`."""
    if not location:
        return ""
    head, *rest = location
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in rest]
    if head == "body":
        return "/" + "/".join(escaped)
    return "#/" + "/".join([str(head), *escaped])


def validation_problem_fields(errors: Sequence[Any]) -> list[ProblemField]:
    return [
        ProblemField(
            pointer=_pointer(err.get("loc", ())), detail=str(err.get("msg", "")), code=err.get("type")
        )
        for err in errors
    ]


_STATUS_TITLES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
    431: ("request_headers_too_large", "Request header fields too large"),
    503: ("service_unavailable", "Service unavailable"),
    507: ("insufficient_storage", "Insufficient storage"),
}


def app_error_response(request: Request, exc: AppError) -> Response:
    return problem_response(
        exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
    )


def internal_error_response(path: str) -> Response:
    """The bare 500: never a stack trace, SQL or an exception message."""
    return problem_response(500, code="internal_error", title="Internal server error", instance=path)


def _log_context() -> dict[str, str | None]:
    # Bound at logging time: a handler may format the record later, outside this request's context.
    return {"request_id": current_request_id()}


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can produce leaves as problem+json."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return app_error_response(request, exc)

    @app.exception_handler(sa.exc.SQLAlchemyError)
    async def _database_error(request: Request, exc: sa.exc.SQLAlchemyError) -> Response:
        # A database that is down, full or not migrated is the operator's problem, not a bug: 503/507
        # with a problem body and no SQL, and the service recovers by itself once the database does.
        kind = classify_database_error(exc)
        if kind is None:
            log.exception("database error on %s %s", request.method, request.url.path, extra=_log_context())
            return internal_error_response(request.url.path)
        log.warning(
            "database %s on %s %s: %s",
            kind,
            request.method,
            request.url.path,
            exc.__class__.__name__,
            exc_info=exc,
            extra=_log_context(),
        )
        return app_error_response(request, database_problem(kind))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = validation_problem_fields(exc.errors())
        in_body = any(f.pointer.startswith("/") or f.pointer == "" for f in fields)
        return problem_response(
            422,
            code="validation_failed" if in_body else "invalid_parameters",
            title="Validation failed" if in_body else "Invalid parameters",
            detail="; ".join(f"{f.pointer or 'body'}: {f.detail}" for f in fields[:5]),
            instance=request.url.path,
            errors=fields,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, title = _STATUS_TITLES.get(exc.status_code, ("http_error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        return problem_response(
            exc.status_code,
            code=code,
            title=title,
            detail=detail,
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never leak a stack trace or SQL: log it, answer with a bare 500 problem.
        log.exception("unhandled error on %s %s", request.method, request.url.path, extra=_log_context())
        return internal_error_response(request.url.path)


def database_problem(kind: DatabaseErrorKind) -> AppError:
    if kind == "full":
        return InsufficientStorage(
            "The database has no room for this change; nothing was written. Try again later."
        )
    return DatabaseUnavailable(
        "The database is not available right now; try again shortly.", headers={"Retry-After": "5"}
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry for an endpoint, so the OpenAPI lists its problem answers exactly."""
    return {
        status: {
            "model": Problem,
            "description": _STATUS_TITLES.get(status, ("", "Problem"))[1]
            if status in _STATUS_TITLES
            else {
                409: "Conflict",
                412: "Precondition failed",
                422: "Invalid input",
                428: "Precondition required",
            }.get(status, "Problem"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
