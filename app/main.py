"""The application factory: routers, error handlers and middleware; nothing happens at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.responses import HTMLResponse

from app import __version__, models  # noqa: F401  (models: every mapper registered before first use)
from app.admin.router import include_admin_routers
from app.auth.redaction import install_log_redaction
from app.changes.router import router as changes_router
from app.core.cache_metrics import cache_registry
from app.core.concurrency import document_required_if_match
from app.core.config import ADMIN_PREFIX, Settings, get_settings
from app.core.db import Database
from app.core.errors import install_error_handlers, problem_responses
from app.core.http import GZIP_MIN_SIZE
from app.core.middleware import (
    BodySizeLimitMiddleware,
    HeadMiddleware,
    NoStoreMiddleware,
    ThreadSlotsMiddleware,
    VaryOnceGZipMiddleware,
    with_page_csp,
)
from app.core.params import reject_unknown_query_params
from app.core.routing import include
from app.delivery.cache import ResponseCacheMiddleware
from app.delivery.router import router as delivery_router
from app.delivery.store import PublishedStore
from app.embed.router import router as embed_router
from app.embed.router import widget_refusal
from app.fhir.router import router as fhir_router
from app.idempotency.service import IdempotencyMiddleware, Replay, replay_response
from app.infobutton.router import router as infobutton_router
from app.ops.router import install_operations
from app.publishing.generation import GenerationWatcher
from app.schemaorg.router import router as jsonld_router
from app.search.router import router as search_router
from app.search.router import search_queue
from app.webhooks.worker import WebhookWorker

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"

DESCRIPTION = """\
Patient-information content about drugs: long-form sections, FAQs, side effects with management
advice, conditions treated, combination therapies, patient stories and support resources.

The delivery API (`/api/v1`) serves published content only. The management API (`/api/v1/admin`)
needs an API key (`Authorization: Bearer <key>`) and edits the working draft; changes there reach the
public only when published. Every error is an RFC 9457 `application/problem+json` document, except
on the embeddable widget pages (`/embed/drugs/...`), which answer errors as small HTML notices a
portal's iframe can show, and in FHIR (`/fhir`), which answers `OperationOutcome`s.
"""


# FastAPI's native OpenTelemetry off (`opentelemetry`): otherwise every request asks the global
# providers whether one is configured (~3 µs, a twentieth of a cached read), even with no SDK.
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect cycles less often than Python's default (every 700 net allocations).

    A warm process holds ~200,000 tracked objects (routes, models, caches); with the defaults, a
    full collection (~100 ms with the GIL held: every request waits) ran every couple of seconds
    under a cache-missing load (`make bench`, distinct searches: p99 199 → 125 ms, +10% req/s).
    """
    if young_threshold:
        gc.set_threshold(young_threshold, 20, 20)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build one app instance around its own settings and database engines."""
    settings = settings or get_settings()
    db = Database(settings)
    install_log_redaction()

    watcher = GenerationWatcher(db, interval=settings.cache_poll_interval)
    store = PublishedStore(
        db,
        watcher.clock,
        max_entries=settings.cache_max_entries,
        max_documents=settings.cache_max_documents,
    )

    webhooks = WebhookWorker(db, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector(settings.gc_young_threshold)
        watcher.start()
        if settings.webhooks_enabled:
            webhooks.start()
        yield
        webhooks.stop()
        watcher.stop()
        app.state.search_queue.close()
        db.dispose()

    app = FastAPI(
        telemetry=None if settings.opentelemetry else TELEMETRY_OFF,
        title="druginfo",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query_params)],
        responses=problem_responses(429, 503),
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = store
    app.state.generation_watcher = watcher
    app.state.webhook_worker = webhooks
    app.state.search_queue = search_queue(settings, db.dialect)

    install_error_handlers(app)
    document_required_if_match(app)
    app.add_exception_handler(Replay, replay_response)
    # Innermost, so answers from the response cache (outside it) never wait for a slot.
    app.add_middleware(ThreadSlotsMiddleware)
    app.add_middleware(IdempotencyMiddleware, db=db)  # sees the uncompressed response
    # Public answers carry their own precompressed variant; the middleware only compresses the rest.
    app.add_middleware(VaryOnceGZipMiddleware, minimum_size=GZIP_MIN_SIZE)
    app.add_middleware(ResponseCacheMiddleware, store=store)
    app.add_middleware(NoStoreMiddleware, prefixes=(ADMIN_PREFIX,))
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        per_path={f"{ADMIN_PREFIX}/import": settings.max_import_bytes},
    )
    app.add_middleware(HeadMiddleware)  # outside the response cache: a HEAD is answered like a GET
    # Search first: FastAPI tries routes in order, and a search is the public request that most
    # often reaches the router (the response cache answers most document reads before it).
    include(app, search_router)
    include(app, delivery_router)
    include(app, jsonld_router)
    include(app, changes_router)
    include(app, embed_router)
    include(app, infobutton_router)
    include(app, fhir_router)
    include_admin_routers(app)
    _install_docs(app)
    app.state.cache_metrics_registry = cache_registry(store.stats)
    # Health, readiness, metrics; CORS, limits, logs, security headers. A widget refused by the
    # rate limit answers with its notice page, as for its other failures.
    install_operations(app, settings, explain_refusal=widget_refusal)
    return app


def _install_docs(app: FastAPI) -> None:
    """API docs with their assets served by the app itself (clinic intranets are often offline)."""
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return with_page_csp(
            get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="druginfo API",
                swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                swagger_css_url="/docs-assets/swagger-ui.css",
                swagger_favicon_url="/docs-assets/favicon.png",
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return with_page_csp(
            get_redoc_html(
                openapi_url="/openapi.json",
                title="druginfo API",
                redoc_js_url="/docs-assets/redoc.standalone.js",
                redoc_favicon_url="/docs-assets/favicon.png",
                with_google_fonts=False,
            ),
            inline_styles=True,
            workers=True,
        )
