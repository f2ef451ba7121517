"""Security headers on every response, CSPs that fit each page, CORS public and admin apart, no leaks."""

from __future__ import annotations

import base64
import hashlib
import re
import socket

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.middleware import API_CSP
from app.main import create_app
from tests.helpers import assert_problem
from tests.ops.conftest import app_with_probes
from tests.ops.live import LiveServer

EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/drugs/pomalidomide", 200),
        ("GET", "/api/v1/drugs/no-such-drug", 404),
        ("GET", "/api/v1/drugs?limit=0", 422),
        ("POST", "/api/v1/drugs", 405),
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/openapi.json", 200),
        ("GET", "/docs-assets/swagger-ui.css", 200),
    ],
)
def test_every_response_carries_the_security_headers(
    public_client: TestClient, method: str, path: str, status: int
) -> None:
    response = public_client.request(method, path)

    assert response.status_code == status
    for name, value in EVERYWHERE.items():
        assert response.headers[name] == value
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in response.headers


def test_a_304_carries_them_too(public_client: TestClient) -> None:
    etag = public_client.get("/api/v1/drugs/pomalidomide").headers["etag"]

    response = public_client.get("/api/v1/drugs/pomalidomide", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["x-content-type-options"] == "nosniff"


def _inline_script_hashes(html: str) -> set[str]:
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.DOTALL)
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts
    }


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_get_a_csp_that_allows_exactly_their_own_scripts(
    public_client: TestClient, page: str
) -> None:
    response = public_client.get(page)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )

    assert response.headers["content-type"].startswith("text/html")
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    sources = policy["script-src"].split()
    assert sources[0] == "'self'"
    # Every inline script of the page is allowed by its hash, and nothing else is.
    assert set(sources[1:]) == _inline_script_hashes(response.text)
    # Only the page's own origin: the docs must work on an offline intranet and load nothing from a CDN.
    assert "http" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


def test_swagger_has_an_inline_script_to_allow(public_client: TestClient) -> None:
    # The hash mechanism above is exercised, not vacuous: Swagger UI boots from an inline script.
    assert _inline_script_hashes(public_client.get("/docs").text)


def test_hsts_only_when_configured(sqlite_settings: Settings) -> None:
    with TestClient(create_app(sqlite_settings.model_copy(update={"hsts": True}))) as client:
        response = client.get("/healthz")

    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_a_frameable_route_opts_out_of_frame_denial(sqlite_settings: Settings) -> None:
    with app_with_probes(sqlite_settings) as client:
        response = client.get("/test-only/embed")

    assert "x-frame-options" not in response.headers
    # The route's own policy wins over the default for HTML.
    assert response.headers["content-security-policy"].endswith("frame-ancestors https://portal.example")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_internal_error_leaks_nothing(sqlite_settings: Settings) -> None:
    with app_with_probes(sqlite_settings) as client:
        response = client.get("/test-only/boom")

    body = assert_problem(response, 500, "internal_error")
    assert set(body) == {"type", "title", "status", "code", "instance", "request_id"}
    for leak in ("SELECT", "api_key", "RuntimeError", "Traceback", 'File "', ".py"):
        assert leak not in response.text
    assert response.headers["x-request-id"] == body["request_id"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_broken_database_leaks_no_sql(sqlite_settings: Settings) -> None:
    with TestClient(create_app(sqlite_settings), raise_server_exceptions=False) as client:
        db = client.app.state.db  # type: ignore[attr-defined]
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE published_drug_code")

        response = client.get("/api/v1/drugs?code=atc|L04AX06")

    body = assert_problem(response, 503, "database_unavailable")
    lowered = response.text.lower()
    for leak in ("select", "published_drug", "sqlite", "no such table"):
        assert leak not in lowered
    assert set(body) <= {"type", "title", "status", "code", "detail", "instance", "request_id"}


@pytest.mark.parametrize(
    ("path", "origin_allowed"),
    [("/api/v1/drugs", True), ("/api/v1/admin/drugs", False), ("/api/v1/admin", False)],
)
def test_cors_is_open_for_reading_the_public_api_and_closed_for_admin(
    sqlite_settings: Settings, path: str, origin_allowed: bool
) -> None:
    preflight = {"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(sqlite_settings)) as client:
        response = client.options(path, headers=preflight)

    assert ("access-control-allow-origin" in response.headers) is origin_allowed


def test_the_public_api_is_readable_not_writable_cross_origin(public_client: TestClient) -> None:
    headers = {"Origin": "https://portal.example", "Access-Control-Request-Method": "DELETE"}

    response = public_client.options("/api/v1/drugs/pomalidomide", headers=headers)

    assert "DELETE" not in response.headers.get("access-control-allow-methods", "")


def test_admin_cors_opens_only_to_configured_origins(sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"admin_cors_origins": ["https://cms.example"]})
    preflight = {
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, if-match, content-type",
    }
    with TestClient(create_app(settings)) as client:
        allowed = client.options(
            "/api/v1/admin/drugs/x", headers={**preflight, "Origin": "https://cms.example"}
        )
        other = client.options(
            "/api/v1/admin/drugs/x", headers={**preflight, "Origin": "https://evil.example"}
        )
        actual = client.get("/api/v1/admin/test", headers={"Origin": "https://cms.example"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://cms.example"
    assert "PATCH" in allowed.headers["access-control-allow-methods"]
    assert "if-match" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert actual.headers["access-control-allow-origin"] == "https://cms.example"
    assert "x-request-id" in actual.headers["access-control-expose-headers"].lower()


def test_the_real_server_has_no_banner(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/drugs/pomalidomide")

    assert response.status_code == 200
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_real_server_answers_malformed_requests_without_details(live_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")
        answer = sock.recv(4096)

    assert answer.startswith(b"HTTP/1.1 400")
    assert b"server:" not in answer.lower()
    assert b"Traceback" not in answer
