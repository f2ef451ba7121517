"""`/metrics`: Prometheus text, bounded labels (route templates), caches, pools; workers add up."""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from app.cli import prepare_metrics_directory
from app.core.config import Settings
from app.main import create_app
from tests.ops.conftest import access_lines
from tests.ops.live import LiveServer


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/api/v1/drugs/pomalidomide/faqs", "/api/v1/drugs/{slug}/faqs", "200"),
        ("GET", "/api/v1/drugs/no-such-drug", "/api/v1/drugs/{slug}", "404"),
        (
            "GET",
            "/api/v1/drugs/pomalidomide/sections/mechanism",
            "/api/v1/drugs/{slug}/sections/{key}",
            "200",
        ),
        ("DELETE", "/api/v1/drugs/pomalidomide", "/api/v1/drugs/{slug}", "405"),
        ("HEAD", "/api/v1/drugs/pomalidomide/faqs", "/api/v1/drugs/{slug}/faqs", "200"),
        ("GET", "/no/such/path-4711", "<unmatched>", "404"),
        ("GET", "/docs-assets/swagger-ui.css", "/docs-assets/{path}", "200"),
        # Admin routes are declared in routers included at /api/v1/admin: the label has the prefix.
        ("GET", "/api/v1/admin/drugs/pomalidomide", "/api/v1/admin/drugs/{slug}", "401"),
        ("PATCH", "/api/v1/admin/drugs/x/faqs/12", "/api/v1/admin/drugs/{slug}/faqs/{part_id}", "401"),
        ("POST", "/api/v1/admin/drugs", "/api/v1/admin/drugs", "401"),
    ],
)
def test_requests_are_counted_by_route_template(
    public_client: TestClient, method: str, path: str, route: str, status: str
) -> None:
    labels = {"method": method, "route": route, "status": status}
    before = sample("druginfo_http_requests_total", **labels)
    observed_before = sample("druginfo_http_request_duration_seconds_count", **labels)

    # Twice: the second answer of a cacheable GET comes from the response cache, before routing.
    public_client.request(method, path)
    public_client.request(method, path)
    text = public_client.get("/metrics").text

    assert sample("druginfo_http_requests_total", **labels) == before + 2
    assert sample("druginfo_http_request_duration_seconds_count", **labels) == observed_before + 2
    assert f'route="{route}"' in text
    # Raw paths never become label values: label sets stay bounded whatever clients ask for.
    assert "path-4711" not in text and "no-such-drug" not in text


def test_methods_clients_invent_are_one_label(public_client: TestClient) -> None:
    labels = {"method": "OTHER", "route": "/api/v1/drugs", "status": "405"}
    before = sample("druginfo_http_requests_total", **labels)

    public_client.request("PROPFIND", "/api/v1/drugs")

    assert sample("druginfo_http_requests_total", **labels) == before + 1


def scraped(text: str, name: str, **labels: str) -> float:
    """One sample from this app's `/metrics` text (cache counters live in a per-app registry)."""
    label_text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)"
    found = re.search(rf"^{pattern}$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_cache_hits_and_misses_are_counted(seeded_client: TestClient) -> None:
    path = "/api/v1/drugs/pomalidomide/stories"
    before = seeded_client.get("/metrics").text  # a scrape is itself a (never cached) response miss

    assert seeded_client.get(path).status_code == 200  # rendered: a miss, the answer is kept
    assert seeded_client.get(path).status_code == 200  # served from the response cache: a hit
    after = seeded_client.get("/metrics").text

    misses = ("druginfo_cache_misses_total", {"cache": "responses"})
    hits = ("druginfo_cache_hits_total", {"cache": "responses"})
    # The two scrapes' own misses: the one after counts itself; the one before counted itself already.
    assert scraped(after, misses[0], **misses[1]) == scraped(before, misses[0], **misses[1]) + 2
    assert scraped(after, hits[0], **hits[1]) == scraped(before, hits[0], **hits[1]) + 1
    # The miss rendered the drug document: the document/body caches were consulted.
    consulted = [
        scraped(text, f"druginfo_cache_{what}_total", cache=cache)
        for text in (before, after)
        for what in ("hits", "misses")
        for cache in ("documents", "bodies")
    ]
    assert sum(consulted[4:]) > sum(consulted[:4])


def _gauge_reaches(expected: float, name: str = "druginfo_db_pool_checked_out") -> bool:
    # Other apps alive in this test process (their generation watchers) check connections in and
    # out of the same process-wide gauge for a millisecond at a time: look a few times.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if sample(name, engine="read") == expected:
            return True
        time.sleep(0.005)
    return False


def _settled(name: str) -> float:
    # The resting value: the least of samples over ~0.1 s, so another app's momentary checkout
    # (a generation watcher's poll) is not taken for the baseline.
    samples = []
    for _ in range(20):
        samples.append(sample(name, engine="read"))
        time.sleep(0.005)
    return min(samples)


def test_pool_gauges_follow_checkouts(public_client: TestClient) -> None:
    engine = public_client.app.state.db.engine  # type: ignore[attr-defined]
    assert sample("druginfo_db_pool_size", engine="read") > 0
    assert "druginfo_db_pool_checked_out" in public_client.get("/metrics").text
    # Other apps alive in this worker process share the gauge; one of them holding a connection for
    # seconds (a loaded machine, a test that holds its pool) hides this engine's +2 for as long.
    # Each attempt starts from a settled baseline; a gauge that does not follow fails all of them.
    for _attempt in range(5):
        idle = _settled("druginfo_db_pool_checked_out")
        assert idle >= 0
        with engine.connect(), engine.connect():
            held = _gauge_reaches(idle + 2)
        returned = _gauge_reaches(idle)  # every connection returned
        if held and returned:
            break
    else:
        pytest.fail(f"the gauge did not follow two checkouts and checkins (baseline {idle})")

    public_client.get("/api/v1/drugs?limit=3&sort=name")  # a request that reads the database
    assert _gauge_reaches(idle)


def test_metrics_endpoint_is_plain_text_and_not_in_the_public_api(public_client: TestClient) -> None:
    response = public_client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    assert "/metrics" not in public_client.get("/openapi.json").json()["paths"]


def test_metrics_can_be_switched_off(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, metrics_enabled=False))
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("enabled", [False, True])
def test_opentelemetry_is_consulted_only_when_switched_on(
    database_url: str, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """Off (the default), FastAPI's native instrumentation never asks whether a tracer provider is
    configured; on, it asks at every request, and the answers are the same either way."""
    from opentelemetry import trace

    asked: list[object] = []
    real = trace.get_tracer_provider

    def counting() -> trace.TracerProvider:
        asked.append(None)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    with TestClient(create_app(Settings(database_url=database_url, opentelemetry=enabled))) as client:
        before = len(asked)
        answers = [client.get("/healthz").status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert (len(asked) - before >= 3) is enabled
    if not enabled:
        assert len(asked) == before


def test_several_workers_report_one_sum(live_server: LiveServer) -> None:
    # No keep-alive: a new connection each time. Which worker accepts one is up to the kernel and
    # the scheduler (an idle worker can win every race for a while), so keep sending, several at
    # once, until both have answered this test's requests; the count to check is however many were sent.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=live_server.url, limits=limits) as http, ThreadPoolExecutor(8) as pool:

        def settled_count() -> float:
            # A request is counted just after its answer is sent: wait until the sum stops moving.
            previous, deadline = -1.0, time.monotonic() + 10
            while time.monotonic() < deadline:
                current = _healthz_count(http.get("/metrics").text)
                if current == previous:
                    return current
                previous = current
                time.sleep(0.3)
            raise AssertionError("the request count never settled")

        def healthz(number: int) -> int:
            return http.get("/healthz", headers={"X-Request-ID": f"one-sum-{number}"}).status_code

        def answering_pids() -> set[int]:
            lines = [json.loads(line) for line in access_lines(live_server) if '"one-sum-' in line]
            return {line["pid"] for line in lines}

        before = settled_count()
        sent, deadline = 0, time.monotonic() + 30
        while sent == 0 or (len(answering_pids()) < 2 and time.monotonic() < deadline):
            assert list(pool.map(healthz, range(sent, sent + 16))) == [200] * 16
            sent += 16
            time.sleep(0.2)  # the access line is written just after the answer
        after = settled_count()
        counts = [_healthz_count(http.get("/metrics").text) for _ in range(4)]
        pool_sizes = {_pool_size(http.get("/metrics").text) for _ in range(4)}

    assert len(answering_pids()) == 2, f"both workers should have answered ({sent} requests)"
    # Whichever worker answers the scrape, it reports the sum over both.
    assert after == before + sent
    assert counts == [after] * 4
    assert pool_sizes == {2 * 5}  # two workers' read pools of 5 connections


def _healthz_count(text: str) -> float:
    found = re.search(
        r'druginfo_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


def _pool_size(text: str) -> float:
    found = re.search(r'druginfo_db_pool_size\{engine="read"\} (\S+)', text)
    assert found is not None, text
    return float(found.group(1))


def test_serve_prepares_the_shared_metrics_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # so that the test's changes are undone after it
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert prepare_metrics_directory(1) is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ

    made = prepare_metrics_directory(2)
    assert made is not None and made.is_dir()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(made)
    made.rmdir()

    given = tmp_path / "metrics"
    given.mkdir()
    for name in ("counter_11.db", "histogram_12.db", "gauge_livesum_13.db", "druginfo.db", "notes.txt"):
        (given / name).write_text("x")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))

    assert prepare_metrics_directory(4) is None  # the operator's directory: emptied of old metrics, kept
    assert sorted(p.name for p in given.iterdir()) == ["druginfo.db", "notes.txt"]
