"""schema.org JSON-LD, read back by a JSON-LD processor (pyld) with a local context: no network."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyld import jsonld

from tests.helpers import assert_documented, assert_problem
from tests.interop.bundles import CODED_SLUG, CODES
from tests.interop.html import parse

S = "http://schema.org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
# What https://schema.org serves as its JSON-LD context boils down to `@vocab`: every term is a
# schema.org IRI. Served locally so the tests never touch the network.
LOCAL_CONTEXTS = {"https://schema.org": {"@context": {"@vocab": S}}}


def _load_document(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    key = url.rstrip("/")
    if key not in LOCAL_CONTEXTS:
        raise AssertionError(f"the document tried to load {url}")
    return {"contextUrl": None, "documentUrl": url, "document": LOCAL_CONTEXTS[key]}


class Graph:
    """The RDF triples of a JSON-LD document, with small queries."""

    def __init__(self, document: dict[str, Any]) -> None:
        dataset = jsonld.to_rdf(document, {"documentLoader": _load_document})
        self.triples = [
            (t["subject"]["value"], t["predicate"]["value"], t["object"]["value"])
            for t in dataset["@default"]
        ]

    def objects(self, subject: str, predicate: str) -> list[str]:
        return [o for s, p, o in self.triples if s == subject and p == S + predicate]

    def one(self, subject: str, predicate: str) -> str:
        values = self.objects(subject, predicate)
        assert len(values) == 1, (subject, predicate, values)
        return values[0]

    def of_type(self, type_name: str) -> list[str]:
        return [s for s, p, o in self.triples if p == RDF_TYPE and o == S + type_name]

    def types(self, subject: str) -> set[str]:
        return {o.removeprefix(S) for s, p, o in self.triples if s == subject and p == RDF_TYPE}


def _graph(client: TestClient, slug: str) -> tuple[Graph, dict[str, Any]]:
    response = client.get(f"/api/v1/drugs/{slug}/jsonld")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    document = response.json()
    return Graph(document), document


def test_seed_drug_as_linked_data(public_client: TestClient) -> None:
    graph, document = _graph(public_client, "pomalidomide")

    assert document["@context"] == "https://schema.org"
    [drug] = graph.of_type("Drug")
    assert drug == "http://testserver/api/v1/drugs/pomalidomide#drug"
    assert graph.one(drug, "name") == "Pomalidomide"
    assert graph.objects(drug, "alternateName") == ["Pomalyst"]
    brand = graph.one(drug, "brand")
    assert graph.types(brand) == {"Brand"} and graph.one(brand, "name") == "Pomalyst"
    drug_class = graph.one(drug, "drugClass")
    assert graph.types(drug_class) == {"DrugClass"}
    assert graph.one(drug_class, "name") == "Immunomodulatory drug (IMiD)"
    assert graph.objects(drug, "code") == [], "the seed records no codes, so none are made up"

    [page] = graph.of_type("MedicalWebPage")
    assert graph.one(page, "about") == drug
    assert graph.one(page, "mainEntity") == drug
    assert graph.objects(page, "reviewedBy") == [] and graph.objects(page, "lastReviewed") == []
    disclaimer = [p for p in graph.objects(page, "hasPart") if graph.types(p) == {"WebPageElement"}]
    assert graph.one(disclaimer[0], "text").startswith(
        "The content provided here is for informational purposes"
    )

    conditions = graph.of_type("MedicalCondition")
    assert sorted(graph.one(c, "name") for c in conditions) == [
        "Kaposi sarcoma",
        "Lymphoma",
        "Multiple myeloma",
    ]
    assert set(graph.objects(page, "mentions")) == set(conditions)


def test_indications_and_side_effects_hang_off_the_therapy(public_client: TestClient) -> None:
    graph, _ = _graph(public_client, "pomalidomide")

    [therapy] = graph.of_type("MedicalTherapy")
    [drug] = graph.of_type("Drug")
    assert graph.one(therapy, "drug") == drug
    indications = {graph.one(i, "name"): graph.types(i) for i in graph.objects(therapy, "indication")}
    assert indications == {
        "Multiple myeloma": {"ApprovedIndication"},
        "Kaposi sarcoma": {"MedicalIndication"},
        "Lymphoma": {"MedicalIndication"},
    }
    common = sorted(graph.one(o, "name") for o in graph.objects(therapy, "adverseOutcome"))
    serious = sorted(graph.one(o, "name") for o in graph.objects(therapy, "seriousAdverseOutcome"))
    assert common == ["Constipation", "Fatigue", "Fever", "Nausea"]
    assert serious == ["Birth defects", "Blood clots", "Increased risk of infections", "Neutropenia"]


def test_faq_page_has_every_question_and_answer(public_client: TestClient) -> None:
    graph, _ = _graph(public_client, "pomalidomide")
    faqs = public_client.get("/api/v1/drugs/pomalidomide/faqs").json()["items"]

    [faq_page] = graph.of_type("FAQPage")
    [page] = graph.of_type("MedicalWebPage")
    assert faq_page in graph.objects(page, "hasPart")
    assert graph.one(faq_page, "isPartOf") == page
    questions = graph.objects(faq_page, "mainEntity")
    assert len(questions) == 6
    pairs = {graph.one(q, "name"): graph.one(graph.one(q, "acceptedAnswer"), "text") for q in questions}
    assert pairs == {f["question"]: f["answer_html"] for f in faqs}
    assert all(graph.types(q) == {"Question"} for q in questions)


def test_review_codes_and_brands_when_the_document_has_them(interop_client: TestClient) -> None:
    graph, _ = _graph(interop_client, CODED_SLUG)

    [drug] = graph.of_type("Drug")
    assert sorted(graph.objects(drug, "alternateName")) == ["Testbrand Alpha", "Testbrand Beta"]
    codes = {graph.one(c, "codingSystem"): graph.one(c, "codeValue") for c in graph.objects(drug, "code")}
    assert codes == {
        "ATC": CODES["atc"],
        "RxNorm": CODES["rxnorm"],
        "NDC": CODES["ndc"],
        "testcode": CODES["testcode"],
    }
    assert graph.one(drug, "rxcui") == CODES["rxnorm"]
    for page in graph.of_type("MedicalWebPage") + graph.of_type("FAQPage"):
        assert graph.one(page, "lastReviewed") == "2026-01-15"
        reviewer = graph.one(page, "reviewedBy")
        assert graph.one(reviewer, "name") == "Test Reviewer"


def test_embedded_faq_page_json_ld_expands(public_client: TestClient) -> None:
    page = parse(public_client.get("/embed/drugs/pomalidomide/faqs").text)
    block = next(s for s in page.all("script") if s.attrs.get("type") == "application/ld+json")

    graph = Graph(json.loads(block.raw))

    [faq_page] = graph.of_type("FAQPage")
    assert faq_page == "http://testserver/embed/drugs/pomalidomide/faqs"
    assert len(graph.objects(faq_page, "mainEntity")) == 6
    assert graph.types(graph.one(faq_page, "about")) == {"Drug"}


def test_jsonld_is_cacheable(public_client: TestClient) -> None:
    first = public_client.get("/api/v1/drugs/pomalidomide/jsonld")
    again = public_client.get(
        "/api/v1/drugs/pomalidomide/jsonld", headers={"If-None-Match": first.headers["etag"]}
    )

    assert again.status_code == 304
    assert "last-modified" in first.headers


@pytest.mark.parametrize(("slug", "status"), [("no-such-drug", 404), ("testdrug-draft", 404), ("Bad!", 422)])
def test_jsonld_of_what_is_not_published_is_a_problem(
    interop_client: TestClient, slug: str, status: int
) -> None:
    assert_problem(interop_client.get(f"/api/v1/drugs/{slug}/jsonld"), status)


@pytest.mark.parametrize(
    ("slug", "status"), [("pomalidomide", 200), (CODED_SLUG, 200), ("no-such-drug", 404)]
)
def test_jsonld_answers_match_their_openapi_schemas(
    interop_client: TestClient, slug: str, status: int
) -> None:
    response = interop_client.get(f"/api/v1/drugs/{slug}/jsonld")

    assert response.status_code == status, response.text
    assert_documented(interop_client, "/api/v1/drugs/{slug}/jsonld", response)
