"""`/healthz`, `/readyz`, `/metrics`, and `install_operations`, which wires them and the middleware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import FastAPI, Request
from prometheus_client import generate_latest
from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import Scope

from app.core import metrics
from app.core.config import Settings
from app.core.db import Database
from app.core.errors import problem_responses
from app.core.middleware import install_middleware
from app.core.routing import GuardedRouter, include
from app.ops import service

router = GuardedRouter(tags=["operations"])
NO_STORE = {"Cache-Control": "no-store"}


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", summary="The process is up", response_model=Health, responses=problem_responses(400))
def healthz() -> Response:
    """Answers as long as the process serves requests; says nothing about the database."""
    return Response(b'{"status":"ok"}', media_type="application/json", headers=NO_STORE)


@router.get(
    "/readyz",
    summary="The database is reachable and migrated",
    response_model=Health,
    responses=problem_responses(400, 503),
)
def readyz(request: Request) -> Response:
    """200 when the database answers and its schema is at this release's migration head, else 503."""
    db: Database = request.app.state.db
    service.check_ready(db, request.app.state.schema_heads)
    return Response(b'{"status":"ready"}', media_type="application/json", headers=NO_STORE)


def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format: requests, latency, rate limiting, caches and database pools."""
    body, content_type = metrics.exposition()
    # The answering worker's cache counters (read from its store at scrape time).
    body += generate_latest(request.app.state.cache_metrics_registry)
    return Response(body, media_type=content_type, headers=NO_STORE)


def install_operations(
    app: FastAPI,
    settings: Settings,
    *,
    explain_refusal: Callable[[Scope, Response], Response | None] | None = None,
) -> None:
    """Health, readiness and metrics endpoints, pool gauges, and the operational middleware
    (`explain_refusal`: see `install_middleware`)."""
    app.state.schema_heads = service.expected_heads()
    db: Database = app.state.db
    metrics.instrument_pool(db.engine, "read")
    if db.write_engine is not db.engine:
        metrics.instrument_pool(db.write_engine, "write")
    metrics.register_worker()
    include(app, router)
    if settings.metrics_enabled:
        app.add_api_route(
            "/metrics",
            metrics_endpoint,
            methods=["GET"],
            include_in_schema=False,  # for the operator's scraper, not for API consumers
        )
    install_middleware(app, settings, explain_refusal=explain_refusal)
