"""Rate limits (per client address, per API key on the admin API), header size, and what is exempt."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.ratelimit import TokenBuckets
from app.main import create_app
from tests.helpers import assert_problem
from tests.ops.conftest import app_with_probes


def test_a_bucket_allows_its_size_then_refills_at_its_rate() -> None:
    buckets = TokenBuckets(60)  # one token a second

    allowed = [buckets.take("a", now=0.0) for _ in range(60)]
    refused = buckets.take("a", now=0.0)
    after_one_second = buckets.take("a", now=1.0)
    other_key = buckets.take("b", now=0.0)

    assert allowed == [0.0] * 60
    assert refused == pytest.approx(1.0)
    assert after_one_second == 0.0
    assert other_key == 0.0


def test_buckets_forget_clients_that_went_quiet() -> None:
    buckets = TokenBuckets(60, sweep_at=100)
    for client in range(100):
        buckets.take(client, now=0.0)

    buckets.take("late", now=120.0)  # everyone else has refilled by now: nothing to remember

    assert len(buckets) == 1


def _limited(settings: Settings, **limits: int) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)), raise_server_exceptions=False)


def test_a_client_address_over_its_rate_gets_429_with_retry_after(sqlite_settings: Settings) -> None:
    with _limited(sqlite_settings, rate_limit_per_minute=5) as client:
        statuses = [client.get("/api/v1/drugs").status_code for _ in range(5)]
        refused = client.get("/api/v1/drugs/anything")

    assert statuses == [200] * 5
    body = assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert "5 requests per minute" in body["detail"]
    assert refused.headers["x-request-id"] == body["request_id"]
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_probes_and_scrapes_are_never_limited(sqlite_settings: Settings) -> None:
    with _limited(sqlite_settings, rate_limit_per_minute=1) as client:
        client.get("/api/v1/drugs")
        statuses = {
            client.get(path).status_code for path in ("/healthz", "/readyz", "/metrics") for _ in range(3)
        }

    assert statuses == {200}


def test_zero_switches_the_limits_off(sqlite_settings: Settings) -> None:
    with _limited(sqlite_settings, rate_limit_per_minute=0, admin_rate_limit_per_minute=0) as client:
        statuses = {client.get("/healthz").status_code for _ in range(50)} | {
            client.get("/api/v1/drugs").status_code for _ in range(50)
        }

    assert statuses == {200}


def test_a_429_is_readable_cross_origin(sqlite_settings: Settings) -> None:
    with _limited(sqlite_settings, rate_limit_per_minute=1) as client:
        client.get("/api/v1/drugs")
        refused = client.get("/api/v1/drugs", headers={"Origin": "https://portal.example"})

    assert refused.status_code == 429
    assert refused.headers["access-control-allow-origin"] == "*"
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()


def test_admin_requests_are_limited_per_api_key(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(
        update={"rate_limit_per_minute": 100, "admin_rate_limit_per_minute": 3}
    )
    first_key = {"Authorization": "Bearer dik_first_0123456789"}
    second_key = {"Authorization": "Bearer dik_second_0123456789"}
    with app_with_probes(settings) as client:
        first = [
            client.get("/api/v1/admin/test-only/whoami", headers=first_key).status_code for _ in range(4)
        ]
        second = client.get("/api/v1/admin/test-only/whoami", headers=second_key).status_code
        public = client.get("/api/v1/drugs", headers=first_key).status_code

    assert first == [200, 200, 200, 429]
    assert second == 200  # another key has its own bucket
    assert public == 200  # the key limit is for the admin API; public reads count per address only


def test_made_up_tokens_do_not_escape_the_address_limit(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(
        update={"rate_limit_per_minute": 3, "admin_rate_limit_per_minute": 100}
    )
    with app_with_probes(settings) as client:
        statuses = [
            client.get(
                "/api/v1/admin/test-only/whoami", headers={"Authorization": f"Bearer guess-{i}"}
            ).status_code
            for i in range(4)
        ]

    assert statuses == [200, 200, 200, 429]


def test_an_oversized_request_head_is_431_in_the_app_too(public_client: TestClient) -> None:
    # uvicorn (BoundedHttpToolsProtocol) refuses these before the app; other servers reach this check.
    response = public_client.get("/api/v1/drugs", headers={"X-Big": "a" * 40_000})

    assert_problem(response, 431, "request_headers_too_large")
