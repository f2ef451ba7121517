"""Pure ASGI middleware every response passes through: request id, access log, metrics, security
headers, CORS (public and admin apart), rate limits; and the admin API's request-body size limit
and `no-store`.

Order, outermost first: security headers → request context → CORS → rate limit → (gzip, app). So a
429, a 431 and a 500 still carry the request id and the security headers, and a 429 carries CORS
headers a browser needs to read it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.config import Settings
from app.core.deps import HANDLER_THREADS
from app.core.errors import internal_error_response, problem_response
from app.core.http import CACHED_ROUTE
from app.core.logging import REQUEST_ID_HEADER, access_log, bind_request_id
from app.core.ratelimit import RateLimitMiddleware

ADMIN_PATH_PREFIX = "/api/v1/admin"
# Metric labels must stay few: any other method (clients choose it) is counted as OTHER.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
log = logging.getLogger("druginfo.errors")

# JSON and everything that is not a page: nothing may load, nothing may frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# HTML pages that say nothing else: their own scripts, styles and images only.
HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_FRAMEABLE = "__druginfo_frameable__"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def frameable(endpoint: Endpoint) -> Endpoint:
    """Mark a page that other sites may frame (embeds): no `X-Frame-Options`, no default
    `frame-ancestors`; the endpoint sets its own `Content-Security-Policy` with the allowed ancestors."""
    setattr(endpoint, _FRAMEABLE, True)
    return endpoint


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PATH_PREFIX or path.startswith(ADMIN_PATH_PREFIX + "/")


def _with_include_prefix(template: str, scope: Scope) -> str:
    """The route's template with the prefix its router was included at (`/api/v1/admin` + `/drugs`).

    FastAPI leaves the route as declared in its router in the scope; the request's path has as many
    segments as the full template (a path parameter never holds a `/`), so the prefix is its first ones.
    """
    actual: str = scope.get("path", "")
    extra = actual.count("/") - template.count("/")
    if extra <= 0:
        return template
    return "/".join(actual.split("/")[: extra + 1]) + template


def route_label(scope: Scope) -> str:
    """The route template (`/api/v1/drugs/{slug}`), never the raw path: bounded label values."""
    # A response-cache hit skips routing; the cache kept the template of the handler that answered.
    cached = scope.get(CACHED_ROUTE)
    if cached:
        return str(cached)
    # `path_format`: the template without convertors (`{part_id}`, not `{part_id:int}`).
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if path:
        return _with_include_prefix(str(path), scope)
    # Mounted apps (the docs assets) leave their endpoint in the scope but not their route.
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in getattr(scope.get("app"), "routes", ()):
            if isinstance(route, Mount) and route.app is endpoint:
                return f"{route.path}/{{path}}"
    return metrics.UNMATCHED_ROUTE


_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def page_csp(html: bytes, *, inline_styles: bool = False, workers: bool = False) -> str:
    """A CSP for one of our HTML pages: its own inline scripts allowed by hash, never 'unsafe-inline'."""
    hashes = " ".join(
        "'sha256-" + _b64(hashlib.sha256(script).digest()) + "'" for script in _INLINE_SCRIPT.findall(html)
    )
    directives = [
        "default-src 'none'",
        f"script-src 'self' {hashes}".strip(),
        # ReDoc (styled-components) injects <style> elements at run time: no hash can cover them.
        "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    if workers:
        directives.append("worker-src 'self' blob:")
    return "; ".join(directives)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def with_page_csp(page: HTMLResponse, *, inline_styles: bool = False, workers: bool = False) -> HTMLResponse:
    """The page with a CSP made for it (the docs pages: their inline bootstrap script by hash)."""
    page.headers["Content-Security-Policy"] = page_csp(
        bytes(page.body), inline_styles=inline_styles, workers=workers
    )
    return page


class SecurityHeadersMiddleware:
    """Adds the security headers a response does not set itself (a route's own CSP wins)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            self.common.append((b"strict-transport-security", b"max-age=31536000"))
        # (is HTML, may be framed) → the policy, encoded once.
        self.policies = {
            (html, framed): (policy.replace("; frame-ancestors 'none'", "") if framed else policy).encode()
            for html, policy in ((True, HTML_CSP), (False, API_CSP))
            for framed in (True, False)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = set()
                content_type = own_policy = None
                for name, value in headers:  # one pass: this runs for every response
                    lowered = name.lower()
                    present.add(lowered)
                    if lowered == b"content-type" and content_type is None:
                        content_type = value
                    elif lowered == b"content-security-policy" and own_policy is None:
                        own_policy = value
                # A page that states its own `frame-ancestors` (the embeds) governs its framing; this
                # also holds for answers the response cache serves without routing (no endpoint then).
                declares_ancestors = (
                    own_policy is not None
                    and b"frame-ancestors" in own_policy
                    and b"frame-ancestors 'none'" not in own_policy
                )
                framed = getattr(scope.get("endpoint"), _FRAMEABLE, False) or declares_ancestors
                for name, value in self.common:
                    if name not in present:
                        headers.append((name, value))
                if own_policy is None:
                    is_html = content_type is not None and content_type.startswith(b"text/html")
                    headers.append((b"content-security-policy", self.policies[is_html, bool(framed)]))
                if not framed and b"x-frame-options" not in present:
                    headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestContextMiddleware:
    """Request id in and out, one JSON access-log line and the request metrics per request, and a
    bare 500 problem (never a stack trace) for anything that escapes the app."""

    def __init__(self, app: ASGIApp, *, max_header_bytes: int) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        head_size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        for name, value in scope["headers"]:
            head_size += len(name) + len(value) + 4
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        request_id = bind_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            if head_size > self.max_header_bytes:
                # uvicorn (BoundedHttpToolsProtocol) refuses these first; this covers other servers.
                await _headers_too_large(scope["path"])(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unhandled error on %s %s",
                scope.get("method"),
                scope.get("path"),
                extra={"request_id": request_id},
            )
            if status:
                raise  # the answer has started: all we can do is let the server drop the connection
            await internal_error_response(scope["path"])(scope, receive, send_with_id)
        finally:
            self._observe(scope, status or 499, time.perf_counter() - started, request_id)

    def _observe(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        method = scope["method"]
        route = route_label(scope)
        key = (method, route, str(status))
        series = self._series.get(key)
        if series is None:
            labels = {
                "method": method if method in KNOWN_METHODS else "OTHER",
                "route": route,
                "status": str(status),
            }
            series = (metrics.REQUESTS.labels(**labels), metrics.LATENCY.labels(**labels))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)
        level = logging.ERROR if status >= 500 else logging.INFO
        if access_log.isEnabledFor(level):
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
            key_prefix = scope.get("state", {}).get("key_prefix")
            if key_prefix:
                fields["key_prefix"] = key_prefix
            # makeRecord + handle, not .log(): .log() walks the stack for the caller's file and line,
            # which the access line does not use and which would be most of its cost.
            access_log.handle(
                access_log.makeRecord(access_log.name, level, __file__, 0, "request", (), None, extra=fields)
            )


def _headers_too_large(path: str) -> Any:
    return problem_response(
        431,
        code="request_headers_too_large",
        title="Request header fields too large",
        instance=path,
        headers={"Connection": "close"},
    )


class PathCORSMiddleware:
    """CORS for the public API (open for reading) and, apart, for the admin API (closed unless configured)."""

    def __init__(self, app: ASGIApp, *, public_origins: list[str], admin_origins: list[str]) -> None:
        self.public = CORSMiddleware(
            app,
            allow_origins=public_origins,
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=["Accept", "Accept-Language", "If-None-Match", "If-Modified-Since", "X-Request-ID"],
            expose_headers=[
                "ETag",
                "Last-Modified",
                "Link",
                "Content-Language",
                "Retry-After",
                "X-Request-ID",
            ],
        )
        self.admin: ASGIApp = (
            CORSMiddleware(
                app,
                allow_origins=admin_origins,
                allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID"],
                expose_headers=["ETag", "Location", "Link", "Retry-After", "X-Request-ID"],
                max_age=600,
            )
            if admin_origins
            else app
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_admin_path(scope["path"]):
            await self.admin(scope, receive, send)
        else:
            await self.public(scope, receive, send)


def install_middleware(
    app: FastAPI,
    settings: Settings,
    *,
    explain_refusal: Callable[[Scope, Response], Response | None] | None = None,
) -> None:
    """Add the operational middleware (call after any middleware that must sit inside it, e.g. gzip).

    `explain_refusal`: see `RateLimitMiddleware` (the embedded widgets' notice page)."""
    app.add_middleware(
        RateLimitMiddleware,
        per_address=settings.rate_limit_per_minute,
        per_key=settings.admin_rate_limit_per_minute,
        is_admin_path=is_admin_path,
        explain=explain_refusal,
    )
    app.add_middleware(
        PathCORSMiddleware,
        public_origins=settings.cors_allow_origins,
        admin_origins=settings.admin_cors_origins,
    )
    app.add_middleware(RequestContextMiddleware, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.hsts)
    if settings.public_url:
        app.add_middleware(PublicOriginMiddleware, origin=settings.public_url)


class PublicOriginMiddleware:
    """Every request as if made to the configured public origin (`DRUGINFO_PUBLIC_URL`).

    Absolute links are built from the request's scheme and `Host` (JSON-LD and FHIR ids, Atom
    entries, `Link: rel="next"`, embed pages). A client can send any `Host`; a shared cache in
    front (a CDN keyed by path) would then keep, and hand everyone, links to the sender's host.
    With a public origin set, the scheme, `Host` header and server address of every request are
    rewritten to it before anything reads them (the response cache's key included).
    """

    def __init__(self, app: ASGIApp, *, origin: str) -> None:
        self.app = app
        parts = urlsplit(origin)
        self.scheme = parts.scheme
        self.host = parts.netloc.encode("latin-1")
        self.server = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["scheme"] = self.scheme
            scope["server"] = self.server
            scope["headers"] = [(b"host", self.host)] + [
                (name, value) for name, value in scope["headers"] if name != b"host"
            ]
        await self.app(scope, receive, send)


class RequestBodyTooLarge(HTTPException):
    """Raised from `receive` while the body streams in; FastAPI re-raises HTTPExceptions as they are."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=f"The request body is larger than {max_bytes} bytes.")


class BodySizeLimitMiddleware:
    """Refuse bodies over `max_bytes`: by `Content-Length` up front, and by counting chunks as they arrive.

    Counting matters because a chunked request has no `Content-Length`; without it a client could
    stream an unbounded body into memory before validation ever runs.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = chunked = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value.decode("latin-1")
            elif name == b"transfer-encoding":
                chunked = value
        if declared is None and chunked is None:
            # Neither header: the request has no body (RFC 9112 §6.3), so there is nothing to count.
            await self.app(scope, receive, send)
            return
        # The limit depends on the path (bundle imports are larger).
        max_bytes = self.per_path.get(scope["path"], self.max_bytes)
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._refuse(scope, receive, send, max_bytes)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise RequestBodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestBodyTooLarge:
            # Normally the app's error handler answers; this covers a body read outside a route.
            if response_started:
                raise
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            413,
            code="payload_too_large",
            title="Payload too large",
            detail=f"The request body is larger than {max_bytes} bytes.",
            instance=scope.get("path"),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class HeadMiddleware:
    """HEAD is GET without the content (RFC 9110 §9.3.2), on every route that takes GET.

    FastAPI's routes answer only the methods they declare (Starlette's own routes add HEAD to GET),
    so the app inside sees a GET: the same status and headers (`ETag`, `Content-Length`,
    `Cache-Control`, a `304` for a matching `If-None-Match`), from the response cache when a GET
    would be. The body is dropped here, whatever the server does with it. The server and the
    middleware outside still see HEAD (access log, metrics), with the route the GET matched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        inner = {**scope, "method": "GET"}

        async def send_head(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        try:
            await self.app(inner, receive, send_head)
        finally:
            # What routing found (route, path parameters) is what the access log and metrics name.
            scope.update({key: value for key, value in inner.items() if key != "method"})


class VaryOnceGZipMiddleware(GZipMiddleware):
    """Starlette's gzip, without naming `Accept-Encoding` twice in `Vary`: a prepared public answer
    already varies on it (it carries its own gzip variant), and gzip adds it again to any large
    answer it leaves uncompressed."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_vary_once(message: Message) -> None:
            if message["type"] == "http.response.start":
                _vary_once(message)
            await send(message)

        await super().__call__(scope, receive, send_vary_once)


def _vary_once(message: Message) -> None:
    headers: list[tuple[bytes, bytes]] = message.get("headers", [])
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"vary" and value.count(b",") >= 1:
            names = [part.strip() for part in value.split(b",")]
            unique: dict[bytes, bytes] = {}
            for part in names:
                unique.setdefault(part.lower(), part)
            if len(unique) < len(names):
                headers[index] = (name, b", ".join(unique.values()))


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response under the given path prefixes (errors included)."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)


class ThreadSlotsMiddleware:
    """At most one request fewer than the worker threads runs in the app at once; the rest wait here.

    A request may need a thread again after taking one (a sync dependency's cleanup, a handler
    after its dependencies), while its function-scoped dependencies (the write session) still
    hold their connection and locks (SQLite's write lock, PostgreSQL row locks). With every worker
    thread taken by requests waiting for those locks or connections, the holder would wait for a
    thread until the waiters gave up (`sqlite_busy_timeout_ms`, `db_pool_timeout`): a 503 for each
    of them. Found by 50 editors over HTTP (tests/ops/test_faults.py). Waiting here, on the event
    loop, takes no thread, so one is always free for a request already inside.

    An asyncio semaphore: a free slot is taken without a trip around the event loop (anyio's
    semaphore makes one per request, as a cancellation checkpoint).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # the thread limiter belongs to the running event loop
            # The smaller of the two pools requests take threads from: the handlers' own, and
            # anyio's (FastAPI runs sync dependencies there).
            anyio_threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
            threads = min(HANDLER_THREADS, anyio_threads)
            self._slots = asyncio.Semaphore(max(1, threads - 1))
        async with self._slots:
            await self.app(scope, receive, send)
