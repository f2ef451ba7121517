"""Prometheus metrics: requests, latency, caches, database pools; correct with several workers.

With one process the metrics live in the default registry. With several workers (`druginfo serve
--workers N`), `PROMETHEUS_MULTIPROC_DIR` names a directory where every worker writes its values
(prometheus-client's multiprocess mode) and `/metrics`, whichever worker answers it, adds them up.
The variable must be set before this module is imported; `druginfo serve` does it.

Cache counters are not metric objects: the response store keeps plain counters, read at scrape
time through `app.core.cache_metrics` (per app, so several apps in one test process never clash).
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"

REQUESTS = Counter(
    "druginfo_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "druginfo_http_request_duration_seconds",
    "Time from receiving a request to sending the last byte of its answer.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMITED = Counter(
    "druginfo_rate_limited_total",
    "Requests refused with 429, by the limit that refused them (address or key).",
    ["limit"],
)
# Gauges kept by pool events rather than read by a collector at scrape time: a collector only sees
# the process that answers the scrape, while these add up over the live workers ("livesum").
DB_POOL_CHECKED_OUT = Gauge(
    "druginfo_db_pool_checked_out",
    "Database connections currently in use, by engine (read / write), over all live workers.",
    ["engine"],
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "druginfo_db_pool_size",
    "Connections each pool keeps open (without overflow), by engine, over all live workers.",
    ["engine"],
    multiprocess_mode="livesum",
)


# Decided once, like prometheus-client decides how to store values when it is imported.
_MULTIPROCESS = bool(os.environ.get(MULTIPROC_DIR_VARIABLE))
_COUNTED = "druginfo_checkout_counted"


def multiprocess_mode() -> bool:
    return _MULTIPROCESS


def instrument_pool(engine: Engine, name: str) -> None:
    """Keep the pool gauges of one engine up to date (checkout and checkin events)."""
    pool: Any = engine.pool
    size = pool.size() if hasattr(pool, "size") else 0
    DB_POOL_SIZE.labels(engine=name).inc(size)
    checked_out = DB_POOL_CHECKED_OUT.labels(engine=name)

    # A checkin is counted only for a checkout that was: the pool also checks in connections whose
    # checkout failed half-way (a failed pre-ping) or that were checked out before these listeners.
    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.record_info[_COUNTED] = True
        checked_out.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        if record is not None and record.record_info.pop(_COUNTED, False):
            checked_out.dec()

    @event.listens_for(engine, "engine_disposed")
    def _disposed(*_: Any) -> None:
        DB_POOL_SIZE.labels(engine=name).dec(size)


_worker_registered = False


def register_worker() -> None:
    """In multiprocess mode, drop this worker's live gauges when it exits."""
    global _worker_registered
    if multiprocess_mode() and not _worker_registered:
        _worker_registered = True
        atexit.register(multiprocess.mark_process_dead, os.getpid())


def exposition() -> tuple[bytes, str]:
    """The current metrics in the Prometheus text format, and its content type."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
