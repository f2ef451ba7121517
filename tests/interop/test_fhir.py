"""FHIR R5: every resource and error validates with the R5 models of `fhir.resources`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from fhir.resources import get_fhir_model_class

from tests.helpers import assert_documented
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
        ("GET", "/fhir/metadata?_format=xml", 406, "not-supported"),
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
