"""FHIR R5: every resource and error validates with the R5 models of `fhir.resources`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from fhir.resources import get_fhir_model_class

from app.core.config import Settings, normalize_database_url
from app.core.db import make_null_pool_engine
from app.fhir import resources as fhir_resources
from app.main import create_app
from tests.helpers import assert_documented, assert_problem
from tests.interop.bundles import CODED_SLUG, CODES

ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"


def _valid(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate with the R5 model of its type (Bundles: every entry too); return it."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    for entry in resource.get("entry", []):
        _valid(entry["resource"])
    return resource


def _fhir(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/fhir+json"
    return _valid(response.json())


def _outcome(response: httpx.Response, status: int, issue: str) -> dict[str, Any]:
    outcome = _fhir(response, status)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"
    assert outcome["issue"][0]["code"] == issue
    assert outcome["issue"][0]["diagnostics"]
    return outcome


def test_capability_statement(public_client: TestClient) -> None:
    statement = _fhir(public_client.get("/fhir/metadata"))

    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "5.0.0"
    assert statement["kind"] == "instance"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {"MedicationKnowledge", "ClinicalUseDefinition", "CodeSystem"}
    assert [p["name"] for p in resources["MedicationKnowledge"]["searchParam"]] == ["code"]
    assert [p["name"] for p in resources["ClinicalUseDefinition"]["searchParam"]] == ["subject", "type"]


def test_medication_knowledge_of_the_seed(public_client: TestClient) -> None:
    resource = _fhir(public_client.get("/fhir/MedicationKnowledge/pomalidomide"))

    assert resource["id"] == "pomalidomide"
    assert resource["status"] == "active"
    assert resource["name"] == ["Pomalidomide", "Pomalyst"]
    assert resource["code"] == {"text": "Pomalidomide"}, "no codes in the seed, none invented"
    assert (
        resource["medicineClassification"][0]["classification"][0]["text"] == "Immunomodulatory drug (IMiD)"
    )
    assert [g["indication"][0]["reference"]["display"] for g in resource["indicationGuideline"]] == [
        "Multiple myeloma",
        "Kaposi sarcoma",
        "Lymphoma",
    ]
    assert len(resource["clinicalUseIssue"]) == 8
    assert "not be considered as medical advice" in resource["text"]["div"]


def test_every_reference_of_a_medication_knowledge_resolves(public_client: TestClient) -> None:
    resource = _fhir(public_client.get("/fhir/MedicationKnowledge/pomalidomide"))
    references = [g["indication"][0]["reference"]["reference"] for g in resource["indicationGuideline"]]
    references += [issue["reference"] for issue in resource["clinicalUseIssue"]]

    for reference in references:
        target = _fhir(public_client.get(f"/fhir/{reference}"))
        assert f"{target['resourceType']}/{target['id']}" == reference


def test_medication_knowledge_codes_use_fhir_system_uris(interop_client: TestClient) -> None:
    resource = _fhir(interop_client.get(f"/fhir/MedicationKnowledge/{CODED_SLUG}"))

    assert resource["code"]["coding"] == [
        {"system": ATC, "code": CODES["atc"]},
        {"system": NDC, "code": CODES["ndc"]},
        {"system": RXNORM, "code": CODES["rxnorm"]},
    ]
    assert resource["name"] == ["Testdrug Coded", "Testbrand Alpha", "Testbrand Beta"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (f"{ATC}|{CODES['atc']}", ["testdrug-coded", "testdrug-sibling"]),
        (CODES["atc"], ["testdrug-coded", "testdrug-sibling"]),
        (f"{RXNORM}|{CODES['rxnorm']}", ["testdrug-coded"]),
        (f"{NDC}|{CODES['ndc']}", ["testdrug-coded"]),
        (f"{ATC}|", ["testdrug-coded", "testdrug-sibling"]),
        (f"{RXNORM}|{CODES['atc']}", []),
        (f"|{CODES['atc']}", []),
        (f"http://unknown.example/system|{CODES['atc']}", []),
        ("ZZ99ZZ02", []),  # the draft's code: drafts never leak
        (f"{RXNORM}|{CODES['rxnorm']},{ATC}|{CODES['atc']}", ["testdrug-coded", "testdrug-sibling"]),
        (f"{ATC}|nomatch,{ATC}|", ["testdrug-coded", "testdrug-sibling"]),  # the whole system wins
        (f"nomatch,{NDC}|{CODES['ndc']},{RXNORM}|", ["testdrug-coded"]),
    ],
)
def test_search_medication_knowledge_by_code(
    interop_client: TestClient, code: str, expected: list[str]
) -> None:
    bundle = _fhir(interop_client.get("/fhir/MedicationKnowledge", params={"code": code}))

    assert bundle["type"] == "searchset"
    assert bundle["total"] == len(expected)
    found = [e["resource"]["id"] for e in bundle.get("entry", [])]
    assert found == expected
    for entry in bundle.get("entry", []):
        assert entry["fullUrl"] == f"http://testserver/fhir/MedicationKnowledge/{entry['resource']['id']}"
        assert entry["search"]["mode"] == "match"


def test_search_without_parameters_lists_published_drugs(interop_client: TestClient) -> None:
    bundle = _fhir(interop_client.get("/fhir/MedicationKnowledge"))

    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert "pomalidomide" in ids and CODED_SLUG in ids
    assert "testdrug-draft" not in ids


def _categories(resource: dict[str, Any]) -> str:
    return resource["category"][0]["coding"][0]["code"]


def test_indications_are_clinical_use_definitions(public_client: TestClient) -> None:
    bundle = _fhir(
        public_client.get(
            "/fhir/ClinicalUseDefinition",
            params={"subject": "MedicationKnowledge/pomalidomide", "type": "indication"},
        )
    )

    resources = [e["resource"] for e in bundle["entry"]]
    assert all(r["type"] == "indication" for r in resources)
    by_condition = {
        r["indication"]["diseaseSymptomProcedure"]["concept"]["text"]: _categories(r) for r in resources
    }
    assert by_condition == {
        "Multiple myeloma": "approved",
        "Kaposi sarcoma": "investigational",
        "Lymphoma": "investigational",
    }
    system = resources[0]["category"][0]["coding"][0]["system"]
    code_system = _fhir(public_client.get(system.removeprefix("http://testserver")))
    assert {c["code"] for c in code_system["concept"]} == {"approved", "investigational"}
    assert "dexamethasone" in resources[0]["text"]["div"], "the notes are in the narrative"


def test_side_effects_are_undesirable_effects_classified_by_seriousness(public_client: TestClient) -> None:
    bundle = _fhir(
        public_client.get(
            "/fhir/ClinicalUseDefinition",
            params={"subject": "MedicationKnowledge/pomalidomide", "type": "undesirable-effect"},
        )
    )

    effects = {
        e["resource"]["undesirableEffect"]["symptomConditionEffect"]["concept"]["text"]: e["resource"][
            "undesirableEffect"
        ]["classification"]["coding"][0]["code"]
        for e in bundle["entry"]
    }
    assert effects == {
        "Fatigue": "common",
        "Constipation": "common",
        "Nausea": "common",
        "Fever": "common",
        "Blood clots": "serious",
        "Neutropenia": "serious",
        "Increased risk of infections": "serious",
        "Birth defects": "serious",
    }
    system = bundle["entry"][0]["resource"]["undesirableEffect"]["classification"]["coding"][0]["system"]
    code_system = _fhir(public_client.get(system.removeprefix("http://testserver")))
    assert {c["code"] for c in code_system["concept"]} == {"common", "serious"}


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"subject": f"MedicationKnowledge/{CODED_SLUG}"}, 4),
        ({"subject": f"http://testserver/fhir/MedicationKnowledge/{CODED_SLUG}"}, 4),
        ({"subject": CODED_SLUG, "type": "indication,undesirable-effect"}, 4),
        ({"subject": f"MedicationKnowledge/{CODED_SLUG}", "type": "contraindication"}, 0),
        ({"subject": "MedicationKnowledge/no-such-drug"}, 0),
        ({"subject": "MedicationKnowledge/testdrug-draft"}, 0),
    ],
)
def test_clinical_use_search_forms(interop_client: TestClient, params: dict[str, str], total: int) -> None:
    bundle = _fhir(interop_client.get("/fhir/ClinicalUseDefinition", params=params))

    assert bundle["total"] == total


def test_coded_drug_clinical_uses_map_both_kinds(interop_client: TestClient) -> None:
    bundle = _fhir(interop_client.get("/fhir/ClinicalUseDefinition", params={"subject": CODED_SLUG}))

    resources = [e["resource"] for e in bundle["entry"]]
    assert [r["type"] for r in resources] == [
        "indication",
        "indication",
        "undesirable-effect",
        "undesirable-effect",
    ]
    assert [_categories(r) for r in resources[:2]] == ["approved", "investigational"]
    assert "Synthetic: right away." in resources[3]["text"]["div"]


def _found(response: httpx.Response) -> list[str]:
    """The ids (`MedicationKnowledge/x`) of a searchset's entries, in order."""
    return [
        entry["fullUrl"].removeprefix("http://testserver/fhir/") for entry in _fhir(response).get("entry", [])
    ]


CODED_USES = [f"ClinicalUseDefinition/{CODED_SLUG}-{kind}-" for kind in ("indication", "undesirable-effect")]


# FHIR search: a repeated parameter means AND (every value must match), a comma within one value OR;
# so the answer cannot depend on the order of the values.
@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        # Both drugs have the ATC code; only testdrug-coded has the RxNorm one as well.
        (
            "/fhir/MedicationKnowledge",
            [("code", f"{ATC}|{CODES['atc']}"), ("code", f"{RXNORM}|{CODES['rxnorm']}")],
            [f"MedicationKnowledge/{CODED_SLUG}"],
        ),
        ("/fhir/MedicationKnowledge", [("code", "nomatch"), ("code", CODES["atc"])], []),
        (
            "/fhir/MedicationKnowledge",
            [("code", f"nomatch,{ATC}|{CODES['atc']}"), ("code", f"{NDC}|,nomatch")],
            [f"MedicationKnowledge/{CODED_SLUG}"],
        ),
        (
            "/fhir/MedicationKnowledge",
            [("code", CODES["atc"]), ("code", f"{ATC}|")],
            ["MedicationKnowledge/testdrug-coded", "MedicationKnowledge/testdrug-sibling"],
        ),
        (  # a value whose system this server does not use matches nothing, so neither do both
            "/fhir/MedicationKnowledge",
            [("code", CODES["atc"]), ("code", f"http://unknown.example/system|{CODES['atc']}")],
            [],
        ),
        # A clinical use belongs to one MedicationKnowledge: repeated subjects must all name it.
        (
            "/fhir/ClinicalUseDefinition",
            [("subject", f"MedicationKnowledge/{CODED_SLUG}"), ("subject", CODED_SLUG)],
            [CODED_USES[0], CODED_USES[0], CODED_USES[1], CODED_USES[1]],
        ),
        (
            "/fhir/ClinicalUseDefinition",
            [
                ("subject", f"MedicationKnowledge/{CODED_SLUG}"),
                ("subject", "MedicationKnowledge/pomalidomide"),
            ],
            [],
        ),
        (
            "/fhir/ClinicalUseDefinition",
            [("subject", CODED_SLUG), ("type", "indication,undesirable-effect"), ("type", "indication")],
            [CODED_USES[0], CODED_USES[0]],
        ),
        (
            "/fhir/ClinicalUseDefinition",
            [("subject", CODED_SLUG), ("type", "indication"), ("type", "undesirable-effect")],
            [],
        ),
    ],
)
def test_a_repeated_search_parameter_requires_every_value_in_any_order(
    interop_client: TestClient, path: str, query: list[tuple[str, str]], expected: list[str]
) -> None:
    found = _found(interop_client.get(path, params=query))
    in_reverse = _found(interop_client.get(path, params=query[::-1]))

    assert len(found) == len(expected), found
    assert all(url.startswith(prefix) for url, prefix in zip(found, expected, strict=True)), found
    assert in_reverse == found


# FHIR ignores a search parameter without a value, whichever parameter it is and however often.
@pytest.mark.parametrize(
    ("path", "same_as"),
    [
        ("/fhir/MedicationKnowledge?code=", "/fhir/MedicationKnowledge"),
        ("/fhir/MedicationKnowledge?code=%20%20", "/fhir/MedicationKnowledge"),
        (
            f"/fhir/MedicationKnowledge?code=&code={CODES['atc']}",
            f"/fhir/MedicationKnowledge?code={CODES['atc']}",
        ),
        ("/fhir/ClinicalUseDefinition?subject=", "/fhir/ClinicalUseDefinition"),
        ("/fhir/ClinicalUseDefinition?type=", "/fhir/ClinicalUseDefinition"),
        ("/fhir/ClinicalUseDefinition?subject=&type=&subject=%20", "/fhir/ClinicalUseDefinition"),
        (
            f"/fhir/ClinicalUseDefinition?subject={CODED_SLUG}&subject=",
            f"/fhir/ClinicalUseDefinition?subject={CODED_SLUG}",
        ),
        (
            f"/fhir/ClinicalUseDefinition?subject={CODED_SLUG}&type=&type=indication",
            f"/fhir/ClinicalUseDefinition?subject={CODED_SLUG}&type=indication",
        ),
    ],
)
def test_an_empty_search_value_is_ignored(interop_client: TestClient, path: str, same_as: str) -> None:
    expected = _found(interop_client.get(same_as))

    assert expected, "a baseline that finds something"
    assert _found(interop_client.get(path)) == expected


@pytest.mark.parametrize(
    ("method", "path", "status", "issue"),
    [
        ("GET", "/fhir/MedicationKnowledge/no-such-drug", 404, "not-found"),
        ("GET", "/fhir/MedicationKnowledge/testdrug-draft", 404, "not-found"),
        ("GET", "/fhir/MedicationKnowledge/bad_id!", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition/pomalidomide-indication-999999", 404, "not-found"),
        ("GET", "/fhir/ClinicalUseDefinition/whatever", 404, "not-found"),
        ("GET", "/fhir/CodeSystem/unknown", 404, "not-found"),
        ("GET", "/fhir/MedicationKnowledge?colour=red", 400, "invalid"),
        ("GET", "/fhir/MedicationKnowledge?code=a,,b", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition?subject=Patient/1", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition?type=bogus", 400, "invalid"),
        # A bad value is refused wherever it stands among repeated ones.
        ("GET", "/fhir/MedicationKnowledge?code=a,,b&code=x", 400, "invalid"),
        ("GET", "/fhir/MedicationKnowledge?code=x&code=a,,b", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition?subject=Patient/1&subject=x", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition?subject=x&subject=Patient/1", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition?type=bogus&type=indication", 400, "invalid"),
        ("GET", "/fhir/ClinicalUseDefinition?type=indication&type=bogus", 400, "invalid"),
        ("GET", "/fhir/MedicationKnowledge?" + "&".join(["code=x"] * 11), 400, "invalid"),
        ("GET", "/fhir/metadata?_format=xml", 406, "not-supported"),
        # One response has one format: a parameter that cannot be ANDed is refused when repeated.
        ("GET", "/fhir/metadata?_format=json&_format=xml", 400, "invalid"),
        ("GET", "/fhir/metadata?_format=xml&_format=json", 400, "invalid"),
        ("GET", "/fhir/CodeSystem/indication-status?_pretty=true&_pretty=false", 400, "invalid"),
        ("GET", "/fhir/Patient/1", 404, "not-supported"),
        ("GET", "/fhir", 404, "not-supported"),
        ("POST", "/fhir/MedicationKnowledge", 405, "not-supported"),
        ("DELETE", "/fhir/MedicationKnowledge/pomalidomide", 405, "not-supported"),
        # The method is refused before the query is looked at (no 406 for `_format`, no 400).
        ("PUT", "/fhir/metadata?_format=xml", 405, "not-supported"),
        ("PATCH", "/fhir/CodeSystem/indication-status?_pretty=true&colour=red", 405, "not-supported"),
        ("OPTIONS", "/fhir/metadata", 405, "not-supported"),
    ],
)
def test_fhir_errors_are_operation_outcomes(
    interop_client: TestClient, method: str, path: str, status: int, issue: str
) -> None:
    response = interop_client.request(method, path)

    _outcome(response, status, issue)
    if status == 405:
        assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("template", "path", "status"),
    [
        ("/fhir/metadata", "/fhir/metadata", 200),
        ("/fhir/MedicationKnowledge", "/fhir/MedicationKnowledge", 200),
        ("/fhir/MedicationKnowledge", "/fhir/MedicationKnowledge?code=nothing", 200),
        ("/fhir/MedicationKnowledge/{id}", "/fhir/MedicationKnowledge/pomalidomide", 200),
        ("/fhir/MedicationKnowledge/{id}", "/fhir/MedicationKnowledge/no-such-drug", 404),
        ("/fhir/ClinicalUseDefinition", f"/fhir/ClinicalUseDefinition?subject={CODED_SLUG}", 200),
        ("/fhir/ClinicalUseDefinition/{id}", "/fhir/ClinicalUseDefinition/pomalidomide-indication-1", 200),
        ("/fhir/CodeSystem/{id}", "/fhir/CodeSystem/side-effect-seriousness", 200),
        ("/fhir/metadata", "/fhir/metadata?_format=xml", 406),
    ],
)
def test_fhir_answers_match_their_openapi_schemas(
    interop_client: TestClient, template: str, path: str, status: int
) -> None:
    response = interop_client.get(path)

    assert response.status_code == status, response.text
    assert_documented(interop_client, template, response)


@pytest.mark.parametrize(
    "fmt", ["json", "application/fhir+json", "application/json", "application/fhir+json; fhirVersion=5.0"]
)
def test_json_formats_are_accepted(public_client: TestClient, fmt: str) -> None:
    _fhir(public_client.get("/fhir/metadata", params={"_format": fmt}))


def test_fhir_reads_are_cacheable(public_client: TestClient) -> None:
    first = public_client.get("/fhir/MedicationKnowledge/pomalidomide")
    again = public_client.get(
        "/fhir/MedicationKnowledge/pomalidomide", headers={"If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304


# --- The database's state: the FHIR form of the app's 503 / 507, never a 500 ----------------------

# Every FHIR read that needs the database (a locale other than the default is looked up there too).
DATABASE_READS = [
    ("/fhir/MedicationKnowledge/{id}", "/fhir/MedicationKnowledge/pomalidomide"),
    ("/fhir/MedicationKnowledge", "/fhir/MedicationKnowledge"),
    ("/fhir/MedicationKnowledge", "/fhir/MedicationKnowledge?code=L04AX06&code=L04AX06"),
    ("/fhir/MedicationKnowledge", "/fhir/MedicationKnowledge?locale=fr"),
    ("/fhir/ClinicalUseDefinition", "/fhir/ClinicalUseDefinition"),
    ("/fhir/ClinicalUseDefinition", "/fhir/ClinicalUseDefinition?subject=pomalidomide&type=indication"),
    ("/fhir/ClinicalUseDefinition/{id}", "/fhir/ClinicalUseDefinition/pomalidomide-indication-1"),
]


@pytest.fixture
def unmigrated_client(
    request: pytest.FixtureRequest, engine_name: str, tmp_path: Path
) -> Iterator[TestClient]:
    """An app on an existing database that was never migrated: reachable, without tables."""
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'unmigrated.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create("unmigrated")
    with TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False) as client:
        yield client


def test_fhir_on_an_unmigrated_database_is_a_transient_503(unmigrated_client: TestClient) -> None:
    app_answer = unmigrated_client.get("/api/v1/drugs")
    assert_problem(app_answer, 503, "database_unavailable")

    for template, path in DATABASE_READS:
        response = unmigrated_client.get(path)

        _outcome(response, 503, "transient")
        assert response.headers["retry-after"] == app_answer.headers["retry-after"], path
        assert "SELECT" not in response.text and "published_drug" not in response.text, path
        assert_documented(unmigrated_client, template, response)
    _fhir(unmigrated_client.get("/fhir/metadata"))  # what needs no database still answers


@pytest.mark.parametrize(
    ("break_it", "mend_it", "status", "issue"),
    [
        # A table that is not there: a database not (fully) migrated, the operator's to mend (503).
        (
            "ALTER TABLE published_drug_code RENAME TO published_drug_code_away",
            "ALTER TABLE published_drug_code_away RENAME TO published_drug_code",
            503,
            "transient",
        ),
        # A column that is not there is a bug, for FHIR as for the app's classification: a 500.
        (
            "ALTER TABLE published_drug_code RENAME COLUMN code TO code_away",
            "ALTER TABLE published_drug_code RENAME COLUMN code_away TO code",
            500,
            "exception",
        ),
    ],
)
def test_fhir_classifies_database_errors_as_the_app_does(
    client: TestClient, database_url: str, break_it: str, mend_it: str, status: int, issue: str
) -> None:
    search = "/fhir/MedicationKnowledge"
    assert _fhir(client.get(search, params={"code": "L04AX06"}))["total"] == 0  # statements built, cached
    engine = make_null_pool_engine(normalize_database_url(database_url))
    with engine.begin() as conn:
        conn.execute(sa.text(break_it))
    try:
        # Other values than before: the response cache would answer a repeated search by itself.
        response = client.get(search, params={"code": "L04AX07"})
    finally:
        with engine.begin() as conn:  # the PostgreSQL database is reused by later tests
            conn.execute(sa.text(mend_it))
        engine.dispose()

    _outcome(response, status, issue)
    assert "published_drug_code" not in response.text
    assert ("retry-after" in response.headers) is (status == 503)
    assert _fhir(client.get(search, params={"code": "L04AX08"}))["total"] == 0, "recovered by itself"


@pytest.mark.parametrize("engine_name", ["postgresql"])  # SQLite (WAL): a writer never blocks readers
def test_a_lock_timeout_under_fhir_is_the_apps_busy_503(database_url: str) -> None:
    """A read waiting its whole `lock_timeout` (e.g. behind a migration's exclusive lock)."""
    app = create_app(Settings(database_url=database_url))

    @sa.event.listens_for(app.state.db.engine, "connect")
    def _short_lock_timeout(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        dbapi_connection.commit()  # a SET in a transaction rolled back would be undone with it

    locker = make_null_pool_engine(normalize_database_url(database_url))
    with TestClient(app, raise_server_exceptions=False) as client, locker.connect() as conn:
        app.state.db.engine.dispose()  # every connection from now on has the short timeout
        conn.execute(sa.text("LOCK TABLE published_drug IN ACCESS EXCLUSIVE MODE"))
        response = client.get("/fhir/MedicationKnowledge")
        app_answer = client.get("/api/v1/drugs")
        conn.rollback()
    locker.dispose()

    assert_problem(app_answer, 503, "database_busy")
    _outcome(response, 503, "transient")
    assert response.headers["retry-after"] == app_answer.headers["retry-after"]


def _disk_full(engine_name: str) -> Exception:
    """The driver's own "no space left" error, as the database reports it."""
    if engine_name == "sqlite":
        return sqlite3.OperationalError("database or disk is full")
    return psycopg.errors.DiskFull("could not extend file: No space left on device")


def test_a_full_database_under_fhir_is_the_apps_507(client: TestClient, engine_name: str) -> None:
    """Injected at the driver (a read rarely fills a disk, but a sort spilling to one can)."""
    app: Any = client.app
    engine = app.state.db.engine

    def _full(*_args: Any) -> None:
        raise _disk_full(engine_name)

    sa.event.listen(engine, "before_cursor_execute", _full)
    try:
        response = client.get("/fhir/MedicationKnowledge")
        app_answer = client.get("/api/v1/drugs")
    finally:
        sa.event.remove(engine, "before_cursor_execute", _full)

    assert_problem(app_answer, 507, "insufficient_storage")
    _outcome(response, 507, "exception")
    assert "No space" not in response.text and "disk is full" not in response.text
    assert_documented(client, "/fhir/MedicationKnowledge", response)


def test_a_bug_under_fhir_is_still_a_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the database's state is excused; anything else stays the bug it is."""

    def _broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(fhir_resources, "searchset", _broken)

    response = client.get("/fhir/MedicationKnowledge")

    _outcome(response, 500, "exception")
    assert "a bug" not in response.text and "retry-after" not in response.headers
