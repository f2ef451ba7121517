"""One JSON line per request, a request id in and out, and never a token or a body in the logs."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.logging import JsonFormatter, bind_request_id
from tests.helpers import assert_problem
from tests.ops.conftest import access_lines, app_with_probes
from tests.ops.live import LiveServer

HEX_ID = r"^[0-9a-f]{32}$"


@pytest.mark.parametrize("given", ["abc-123", "trace:4bf92f3577b34da6.a3ce929d_0e0e4736", "x" * 128])
def test_a_safe_request_id_is_kept_and_echoed(public_client: TestClient, given: str) -> None:
    response = public_client.get("/api/v1/drugs/no-such-drug", headers={"X-Request-ID": given})

    body = assert_problem(response, 404)
    assert response.headers["x-request-id"] == given
    assert body["request_id"] == given


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, "<script>", "semi;colon", "ünïcode"])
def test_an_unsafe_request_id_is_replaced(public_client: TestClient, given: str) -> None:
    response = public_client.get(
        "/api/v1/drugs/no-such-drug", headers={"X-Request-ID": given.encode("utf-8")}
    )

    assert response.headers["x-request-id"] != given
    assert response.headers["x-request-id"] == response.json()["request_id"]
    assert len(response.headers["x-request-id"]) == 32


def test_every_response_gets_a_fresh_id(public_client: TestClient) -> None:
    ids = {public_client.get("/healthz").headers["x-request-id"] for _ in range(5)}

    assert len(ids) == 5


def test_one_access_line_per_request_with_the_route_template(
    public_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="druginfo.access"):
        response = public_client.get(
            "/api/v1/drugs/pomalidomide/faqs?locale=xx",
            headers={"Authorization": "Bearer dik_secret_token_value", "X-Request-ID": "req-42"},
        )

    records = [r for r in caplog.records if r.name == "druginfo.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "req-42"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/drugs/{slug}/faqs"
    assert line["path"] == "/api/v1/drugs/pomalidomide/faqs"
    assert line["status"] == response.status_code
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["time"].endswith("+00:00")
    formatted = JsonFormatter().format(records[0])
    assert "dik_secret_token_value" not in formatted and "locale=xx" not in formatted
    assert "key_prefix" not in line


def test_the_key_prefix_set_by_auth_is_logged(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with app_with_probes(sqlite_settings) as client, caplog.at_level(logging.INFO, logger="druginfo.access"):
        client.get("/api/v1/admin/test-only/whoami", headers={"Authorization": "Bearer dik_test1234_secret"})

    (record,) = [r for r in caplog.records if r.name == "druginfo.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["key_prefix"] == "dik_test1234"
    assert "secret" not in JsonFormatter().format(record)


def test_a_failure_is_logged_with_its_request_id(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with app_with_probes(sqlite_settings) as client, caplog.at_level(logging.INFO):
        response = client.get("/test-only/boom", headers={"X-Request-ID": "boom-1"})

    assert_problem(response, 500, "internal_error")
    errors = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "druginfo.errors"]
    access = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "druginfo.access"]
    assert errors and errors[0]["request_id"] == "boom-1" and "RuntimeError" in errors[0]["exception"]
    assert len(access) == 1 and access[0]["status"] == 500 and access[0]["level"] == "error"


def test_the_formatter_writes_one_json_object_per_record() -> None:
    bind_request_id("fmt-1")
    record = logging.LogRecord("druginfo.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.custom = {"nested": [1, 2]}

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "hello world"
    assert line["level"] == "warning"
    assert line["request_id"] == "fmt-1"
    assert line["custom"] == {"nested": [1, 2]}
    assert "\n" not in JsonFormatter().format(record)


def test_the_real_server_logs_only_json_lines(live_server: LiveServer) -> None:
    import httpx

    httpx.get(f"{live_server.url}/api/v1/drugs/pomalidomide", headers={"X-Request-ID": "live-1"})
    # The access line is written once the answer has gone out: give it a moment to reach the file.
    deadline = time.monotonic() + 5
    while not any('"live-1"' in line for line in access_lines(live_server)) and time.monotonic() < deadline:
        time.sleep(0.05)

    lines = [line for line in live_server.lines() if line.strip()]
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    assert parsed and all({"time", "level", "logger", "message", "pid"} <= set(p) for p in parsed)
    # migrate and seed print their one-line reports before the server starts; everything after is JSON.
    server_part = lines[next(i for i, line in enumerate(lines) if line.startswith("{")) :]
    assert all(line.startswith("{") for line in server_part), server_part
    live = [json.loads(line) for line in access_lines(live_server) if '"live-1"' in line]
    assert len(live) == 1, lines[-20:]
    assert live[0]["route"] == "/api/v1/drugs/{slug}" and live[0]["status"] == 200
