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
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

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
    current_etag: str | None = Field(
        default=None, description="On `412`: the resource's current `ETag` (also in the `ETag` header)."
    )
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
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers or {}
        self.extensions = extensions or {}


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class InvalidParameters(AppError):
    status, code, title = 422, "invalid_parameters", "Invalid parameters"


class UnknownParameters(AppError):
    status, code, title = 400, "unknown_parameters", "Unknown query parameters"


class RepeatedParameters(AppError):
    status, code, title = 400, "repeated_parameters", "Repeated query parameters"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", "Validation failed"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, *, code: str = "unauthorized", error: str | None = None) -> None:
        # RFC 6750 §3: tell the client which scheme to use (and, for a bad key, that it is invalid).
        challenge = 'Bearer realm="druginfo"' + (f', error="{error}"' if error else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})
        self.code = code


class Forbidden(AppError):
    status, code, title = 403, "insufficient_scope", "Forbidden"

    def __init__(self, detail: str, *, scopes: list[str]) -> None:
        scope = " ".join(scopes)
        super().__init__(
            detail,
            headers={
                "WWW-Authenticate": f'Bearer realm="druginfo", error="insufficient_scope", scope="{scope}"'
            },
        )


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition_required", "Precondition required"


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition_failed", "Precondition failed"

    def __init__(self, detail: str, *, current_etag: str) -> None:
        super().__init__(detail, headers={"ETag": current_etag}, extensions={"current_etag": current_etag})


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
    extensions: dict[str, Any] | None = None,
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
    if extensions:
        body.update({k: v for k, v in extensions.items() if k not in body})
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
    412: ("precondition_failed", "Precondition failed"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
    431: ("request_headers_too_large", "Request header fields too large"),
    503: ("service_unavailable", "Service unavailable"),
    507: ("insufficient_storage", "Insufficient storage"),
}


def _install_problem_schema(app: FastAPI) -> None:
    """Put `Problem` (and what it refers to) into the OpenAPI components that `problem_responses` cites."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = app.openapi_schema = build_openapi()
            problem = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}", mode="serialization"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            _document_unknown_cursors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_unknown_cursors(schema: dict[str, Any]) -> None:
    """Statuses every operation of a kind can answer, documented once here: 400 (unknown query
    parameters, refused app-wide) everywhere, and 404 `cursor_not_found` on every paged list."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            # The app-wide `reject_unknown_query_params` dependency: any operation may answer 400.
            if "400" not in responses:
                responses["400"] = problem_responses(400)[400]
            parameters = operation.get("parameters", ())
            pages = any(p.get("name") == "cursor" and p.get("in") == "query" for p in parameters)
            if pages and "404" not in responses:
                responses["404"] = problem_responses(404)[404]


def app_error_response(request: Request, exc: AppError) -> Response:
    return problem_response(
        exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


def internal_error_response(path: str) -> Response:
    """The bare 500: never a stack trace, SQL or an exception message."""
    return problem_response(500, code="internal_error", title="Internal server error", instance=path)


def _log_context() -> dict[str, str | None]:
    # Bound at logging time: a handler may format the record later, outside this request's context.
    return {"request_id": current_request_id()}


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can produce leaves as problem+json."""
    _install_problem_schema(app)

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
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(
            exc.status_code,
            code=code,
            title=title,
            detail=detail,
            instance=request.url.path,
            headers=headers or None,
        )

    @app.exception_handler(sa.exc.OperationalError)
    async def _database_busy(request: Request, exc: sa.exc.OperationalError) -> Response:
        if not is_lock_timeout(exc):
            # The most specific handler wins: a database that is down, full or not migrated is
            # classified by the general database handler (503/507), not answered as a 500.
            return await _database_error(request, exc)
        # The writer waited its whole busy timeout for the lock; the transaction was rolled back,
        # so a retry is safe. Never a 500 for contention.
        log.warning("write lock not acquired on %s %s", request.method, request.url.path)
        return problem_response(
            503,
            code="database_busy",
            title="Service unavailable",
            detail="The database is busy with other writes; retry shortly.",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(sa.exc.IntegrityError)
    async def _integrity_error(request: Request, exc: sa.exc.IntegrityError) -> Response:
        # Services check what they can first; this is the database's last word (e.g. two racing
        # creates of the same slug). The transaction was rolled back, nothing was written.
        log.info("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
        return problem_response(
            409,
            code="conflict",
            title="Conflict",
            detail="The change conflicts with existing data (a duplicate or a dangling reference).",
            instance=request.url.path,
        )

    @app.exception_handler(StaleDataError)
    async def _stale_data(request: Request, exc: StaleDataError) -> Response:
        return problem_response(
            412,
            code="precondition_failed",
            title="Precondition failed",
            detail="Someone else changed this resource first; read it again and retry.",
            instance=request.url.path,
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


def is_lock_timeout(exc: sa.exc.OperationalError) -> bool:
    """SQLite's "database is locked", or PostgreSQL's lock-timeout / serialization / deadlock errors."""
    if getattr(exc.orig, "sqlstate", None) in {"55P03", "40001", "40P01"}:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts for this path (Starlette only reports the first route's)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    if "GET" in allowed and "HEAD" not in allowed:  # every GET answers HEAD (`HeadMiddleware`)
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry for an endpoint, so the OpenAPI lists its problem answers exactly."""
    # No `"model"`: FastAPI would build a response field per status per route (most of the cost of
    # building an app); the schema is referenced here and added to the components once, below.
    return {
        status: {
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
