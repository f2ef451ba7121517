"""Routing with guarded routers (`app.core.routing`): every operation is still found, 405s still say
which methods a path takes, and a guard turns away exactly the paths its router does not have."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from starlette.routing import Match

from app.core.config import Settings
from app.core.routing import GuardedRouter, include
from app.main import create_app
from tests.helpers import assert_problem

# What the router itself answers (a missing condition is a `not_found` too, with its own detail).
ROUTING_ANSWERS = {("not_found", "Not Found"), ("method_not_allowed", "Method Not Allowed")}


@pytest.fixture
def unlimited_client(settings: Settings) -> Iterator[TestClient]:
    """Its own app (no rate limits: every operation is asked once, and a 429 would answer first)."""
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0, "admin_rate_limit_per_minute": 0})
    with TestClient(create_app(unlimited), raise_server_exceptions=False) as client:
        yield client


def _documented(client: TestClient) -> dict[str, set[str]]:
    """Each documented path, with sample values in its parameters, and the methods it takes."""
    spec = client.get("/openapi.json").json()
    operations: dict[str, set[str]] = defaultdict(set)
    for template, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            kinds = {
                p["name"]: p.get("schema", {}).get("type")
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if p["in"] == "path"
            }
            operations[_sample(template, kinds)].add(method.upper())
    return operations


def _sample(template: str, kinds: dict[str, str | None]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "1" if kinds.get(m.group(1)) == "integer" else "x", template)


def test_every_documented_operation_is_routed_to(unlimited_client: TestClient) -> None:
    operations = _documented(unlimited_client)
    assert len(operations) > 80  # the whole API, public and admin

    for path, methods in operations.items():
        for method in methods:
            response = unlimited_client.request(method, path)
            assert response.status_code not in (405, 429), (method, path, response.text)
            body = response.json() if "json" in response.headers.get("content-type", "") else {}
            answer = (body.get("code"), body.get("detail"))
            assert answer not in ROUTING_ANSWERS, (method, path, response.text)
            if path.startswith("/fhir/"):  # FHIR answers with OperationOutcomes; the router's says so
                assert "is not supported by this server" not in response.text, (method, path)


def test_a_method_a_path_does_not_take_is_a_405_listing_the_ones_it_does(
    unlimited_client: TestClient,
) -> None:
    for path, methods in _documented(unlimited_client).items():
        if "PUT" in methods:
            continue
        response = unlimited_client.put(path)
        assert response.status_code == 405, path
        if not path.startswith("/fhir/"):  # FHIR: an OperationOutcome
            assert_problem(response, 405, "method_not_allowed")
        assert methods <= {m.strip() for m in response.headers["allow"].split(",")}, path


@pytest.mark.parametrize(
    "path",
    ["/api/v1/admin/nowhere", "/api/v1/admin/drugs/x/nowhere", "/api/v1/drugs/x/nowhere", "/nowhere"],
)
def test_a_path_no_route_has_is_a_404(unlimited_client: TestClient, path: str) -> None:
    assert_problem(unlimited_client.get(path), 404, "not_found")


def _scope(method: str, path: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [],
    }


def test_a_guard_turns_away_only_what_its_router_does_not_have() -> None:
    router = GuardedRouter(prefix="/things")

    @router.get("/{slug}/parts/{part_id:int}")
    def part(slug: str, part_id: int) -> None: ...

    @router.post("")
    def make() -> None: ...

    assert router.path_guard() is None  # not included yet: a plain APIRouter
    app = FastAPI()
    include(app, router, prefix="/api")
    guard = router.path_guard()

    assert guard is not None
    for path in ("/api/things", "/api/things/a-b/parts/12"):
        assert guard.match(path)
    for path in (
        "/api/things/a/parts/x",
        "/api/things/a/parts/1/more",
        "/things",
        "/api/thing",
        "/api/things/",
    ):
        assert guard.match(path) is None
        assert router.matches(_scope("GET", path)) == (Match.NONE, {})
    # A path the router has with a method it has not: FastAPI's own answer (a 405), not the guard's.
    with TestClient(app) as client:
        assert client.put("/api/things/a/parts/1").status_code == 405
        assert client.get("/api/things/a/parts/1").status_code == 200

    @router.get("/{slug}/more")
    def more(slug: str) -> None: ...

    assert guard is not router.path_guard()  # a route added later is guarded too
    assert router.path_guard().match("/api/things/a/more")  # type: ignore[union-attr]


def test_a_plain_route_is_guarded_too_and_a_mount_is_not() -> None:
    """A router with a catch-all `Route` (as the FHIR router's) is guarded by its path as well; a
    mount matches more than its own path, so a router holding one cannot be."""
    router = GuardedRouter(prefix="/fhirish")

    @router.get("/metadata")
    def metadata() -> None: ...

    async def unsupported(_: Request) -> PlainTextResponse:
        return PlainTextResponse("unsupported", status_code=404)

    router.add_route("/fhirish/{rest:path}", unsupported, methods=["GET", "PATCH"])
    app = FastAPI()
    include(app, router)
    guard = router.path_guard()

    assert guard is not None
    for path in ("/fhirish/metadata", "/fhirish/anything/else"):
        assert guard.match(path)
    assert guard.match("/api/v1/admin/drugs/a/faqs/1") is None
    with TestClient(app) as client:
        assert client.get("/fhirish/metadata").status_code == 200
        assert client.patch("/fhirish/x/y").text == "unsupported"

    mounted = GuardedRouter()
    mounted.mount("/static", PlainTextResponse("file"))
    include(FastAPI(), mounted)
    assert mounted.path_guard() is None


def test_every_router_of_the_app_is_guarded(settings: Settings) -> None:
    """An unguarded router is asked route by route for every request that reaches routing."""
    app = create_app(settings)
    routers = [getattr(route, "original_router", None) for route in app.router.routes]
    guarded = [router for router in routers if isinstance(router, GuardedRouter)]

    assert len(guarded) > 20
    assert [router.prefix for router in guarded if router.path_guard() is None] == []


def test_a_router_is_included_at_one_prefix_only() -> None:
    router = GuardedRouter()

    @router.get("/a")
    def a() -> None: ...

    include(FastAPI(), router, prefix="/one")
    include(FastAPI(), router, prefix="/one")  # a new app, the same place: fine
    with pytest.raises(ValueError, match="already included"):
        include(FastAPI(), router, prefix="/two")
