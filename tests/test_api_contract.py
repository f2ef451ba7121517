"""One error shape everywhere, an exact OpenAPI, and docs that work offline."""

from __future__ import annotations

import re
from typing import Annotated, Any

import jsonschema_rs
import pytest
from fastapi import Depends, FastAPI, Query
from fastapi.testclient import TestClient

from app.core.errors import install_error_handlers
from app.core.params import reject_unknown_query_params
from tests.helpers import assert_problem


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nowhere", 404),
        ("GET", "/api/v1/drugs/UPPER", 422),
        ("GET", "/api/v1/drugs/" + "a" * 101, 422),
        ("POST", "/api/v1/drugs", 405),
        ("DELETE", "/api/v1/drugs/pomalidomide", 405),
        ("PUT", "/api/v1/faqs", 405),
        ("GET", "/api/v1/drugs?limit=-1", 422),
        ("GET", "/api/v1/drugs/pomalidomide/side-effects?seriousness=mild", 422),
        ("GET", "/api/v1/drugs/pomalidomide/indications?status=maybe", 422),
        ("GET", "/api/v1/support-resources?category=unknown", 422),
        ("GET", "/api/v1/faqs?drug=../../etc", 422),
        ("GET", "/api/v1/drugs?drug_class=" + "x" * 500, 422),
        ("GET", "/api/v1/drugs?limit=0&limit=2", 400),
        ("GET", "/api/v1/search?q=fatigue&type=faq&type=drug", 400),
    ],
)
def test_every_error_is_a_problem(public_client: TestClient, method: str, path: str, status: int) -> None:
    response = public_client.request(method, path)

    body = assert_problem(response, status)
    assert body.get("instance", "").startswith("/")
    if status == 405:
        assert "GET" in response.headers["allow"]


def test_openapi_documents_every_public_operation(public_client: TestClient) -> None:
    spec = public_client.get("/openapi.json").json()

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "204" in responses and method == "delete":
                assert not responses["204"].get("content"), f"{method} {path}: 204 with a body"
                continue
            ok = responses.get("200") or responses.get("201")
            assert ok, f"{method} {path}"
            # JSON for the API; HTML, JavaScript, JSON-LD, FHIR JSON or XML where that is the point.
            assert ok["content"], f"{method} {path} documents no response body"
            for media_type, body in ok["content"].items():
                assert body.get("schema"), f"{method} {path} has no schema for {media_type}"
            assert operation.get("summary"), f"{method} {path} has no summary"
            if path.startswith("/api/v1/") and "{" in path:
                assert "404" in responses, f"{method} {path} does not declare 404"
    assert "Problem" in spec["components"]["schemas"]


def test_documents_conform_to_their_response_models(public_client: TestClient) -> None:
    from app.delivery import schemas

    checks = {
        "/api/v1/drugs/pomalidomide": schemas.DrugDocument,
        "/api/v1/drugs?fields=name": schemas.DrugList,
        "/api/v1/drugs/pomalidomide/faqs": schemas.FaqList,
        "/api/v1/drugs/pomalidomide/sections/mechanism": schemas.SectionItem,
        "/api/v1/drugs/pomalidomide/side-effects": schemas.SideEffectList,
        "/api/v1/drugs/pomalidomide/monitoring": schemas.MonitoringList,
        "/api/v1/drugs/pomalidomide/indications": schemas.IndicationList,
        "/api/v1/drugs/pomalidomide/combinations": schemas.CombinationList,
        "/api/v1/drugs/pomalidomide/stories": schemas.StoryList,
        "/api/v1/drugs/pomalidomide/support-resources": schemas.SupportResourceList,
        "/api/v1/conditions": schemas.ConditionList,
        "/api/v1/conditions/multiple-myeloma": schemas.ConditionDetail,
        "/api/v1/faqs": schemas.FaqPage,
        "/api/v1/support-resources": schemas.ResourcePage,
    }
    for path, model in checks.items():
        model.model_validate_json(public_client.get(path).content)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_assets_are_served_locally(public_client: TestClient, page: str) -> None:
    html = public_client.get(page).text

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert asset.startswith("/"), f"{asset} would need the internet"
        if asset != "/openapi.json":
            assert public_client.get(asset).status_code == 200, asset


def test_health_and_readiness(public_client: TestClient) -> None:
    assert public_client.get("/healthz").json() == {"status": "ok"}
    assert public_client.get("/readyz").status_code == 200


def _string_branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string alternatives of a parameter schema, each with the constraints around it."""
    outer = {k: v for k, v in schema.items() if k not in ("anyOf", "description", "title", "default")}
    branches = schema.get("anyOf", [schema])
    return [{**outer, **b} for b in branches if b.get("type") == "string" or "enum" in b]


def test_every_string_query_parameter_says_what_it_accepts(public_client: TestClient) -> None:
    """A query string is free text only where the app takes free text; control characters (refused
    app-wide) are never documented as valid, so schemathesis' valid data is what the app accepts."""
    spec = public_client.get("/openapi.json").json()
    validator = jsonschema_rs.Draft202012Validator

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                where = f"{method.upper()} {path} ?{parameter['name']}"
                for branch in _string_branches(parameter["schema"]):
                    assert {"pattern", "enum", "format", "const"} & set(branch), f"{where}: any string"
                    if "pattern" in branch:
                        # The pattern (an anchored ECMA-262 regex) refuses a control character anywhere.
                        for value in ("\x01", "a\x1f", "\x7fa"):
                            assert not validator({"pattern": branch["pattern"]}).is_valid(value), where


@pytest.mark.parametrize(
    "value", ["a", " a ", "a\tb\nc", "", " ", "\t\n", "\u3000", "\u00a0x\u00a0", "\x85", "a\x01", "\x7f", "é"]
)
def test_write_text_is_documented_as_validated(value: str) -> None:
    """The OpenAPI of write text (not blank, no control characters) accepts what the app accepts."""
    from app.conditions.schemas import ConditionUpdate
    from app.core.types import TEXT_SCHEMA

    documented = jsonschema_rs.validator_for({"type": "string", "minLength": 1, **TEXT_SCHEMA})
    try:
        ConditionUpdate(name=value)
        accepted = True
    except ValueError:
        accepted = False

    assert documented.is_valid(value) == accepted, repr(value)


@pytest.mark.parametrize(
    ("query", "repeated"),
    [
        ("limit=0&limit=2", ["limit"]),
        ("sort=name&sort=-name&q=x&q=y", ["q", "sort"]),
        ("code=rxnorm|x&code=atc|L04AX06", ["code"]),
    ],
)
def test_a_parameter_given_twice_is_refused_not_half_read(
    public_client: TestClient, query: str, repeated: list[str]
) -> None:
    """FastAPI reads the last value of a repeated parameter: the first filter would be dropped unseen."""
    body = assert_problem(public_client.get(f"/api/v1/drugs?{query}"), 400, "repeated_parameters")

    assert [e["pointer"] for e in body["errors"]] == [f"#/query/{name}" for name in repeated]
    assert public_client.get("/api/v1/drugs?limit=2&sort=name").status_code == 200


def test_a_parameter_declared_as_a_list_may_be_repeated() -> None:
    app = FastAPI(dependencies=[Depends(reject_unknown_query_params)])
    install_error_handlers(app)

    @app.get("/things")
    def things(tag: Annotated[list[str] | None, Query()] = None, limit: int = 1) -> list[str]:
        return tag or []

    with TestClient(app) as client:
        assert client.get("/things?tag=a&tag=b").json() == ["a", "b"]
        assert_problem(client.get("/things?tag=a&limit=1&limit=2"), 400, "repeated_parameters")
