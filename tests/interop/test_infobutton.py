"""The HL7 Infobutton (URL-based) endpoint, answering like MedlinePlus Connect."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import assert_problem
from tests.interop.bundles import CODED_SLUG, CODES

RXNORM, ATC, NDC = "2.16.840.1.113883.6.88", "2.16.840.1.113883.6.73", "2.16.840.1.113883.6.69"
ATOM = "{http://www.w3.org/2005/Atom}"


def _feed(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/infobutton", params={"knowledgeResponseType": "application/json", **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    feed: dict[str, Any] = response.json()["feed"]
    return feed


def _titles(feed: dict[str, Any]) -> list[str]:
    return [e["title"]["_value"] for e in feed["entry"]]


@pytest.mark.parametrize(
    ("code", "system", "expected"),
    [
        (CODES["rxnorm"], RXNORM, ["Testdrug Coded"]),
        (CODES["atc"], ATC, ["Testdrug Coded", "Testdrug Sibling"]),
        (CODES["ndc"], NDC, ["Testdrug Coded"]),
        (CODES["rxnorm"], ATC, []),
        (CODES["atc"], None, ["Testdrug Coded", "Testdrug Sibling"]),
        ("ZZ99ZZ02", ATC, []),  # the draft's code: drafts never leak
    ],
)
def test_lookup_by_code_and_oid(
    interop_client: TestClient, code: str, system: str | None, expected: list[str]
) -> None:
    params = {"mainSearchCriteria.v.c": code}
    if system:
        params["mainSearchCriteria.v.cs"] = system

    assert _titles(_feed(interop_client, **params)) == expected


def test_entry_looks_like_medlineplus_connect(interop_client: TestClient) -> None:
    feed = _feed(
        interop_client,
        **{
            "mainSearchCriteria.v.c": CODES["rxnorm"],
            "mainSearchCriteria.v.cs": RXNORM,
            "informationRecipient.languageCode.c": "en",
        },
    )

    assert feed["title"] == {"_value": "druginfo", "type": "text"}
    assert feed["subtitle"]["_value"] == f"druginfo results for RXCUI {CODES['rxnorm']}"
    assert feed["lang"] == "en"
    assert {"scheme": "mainSearchCriteria.v.c", "term": CODES["rxnorm"]} in feed["category"]
    assert {"scheme": "mainSearchCriteria.v.cs", "term": RXNORM} in feed["category"]
    [entry] = feed["entry"]
    assert entry["summary"]["type"] == "html"
    summary = entry["summary"]["_value"]
    assert "Testdrug Coded is a synthetic drug used only in tests." in summary
    assert "Also called: Testbrand Alpha, Testbrand Beta" in summary
    assert "Synthetic test content, not medical advice." in summary, "the disclaimer travels with it"
    links = {(link["rel"], link["type"]): link["href"] for link in entry["link"]}
    assert links == {
        ("alternate", "text/html"): f"http://testserver/embed/drugs/{CODED_SLUG}/faqs",
        ("related", "text/html"): f"http://testserver/embed/drugs/{CODED_SLUG}/side-effects",
        ("alternate", "application/json"): f"http://testserver/api/v1/drugs/{CODED_SLUG}",
    }
    for href in links.values():
        assert interop_client.get(href.removeprefix("http://testserver")).status_code == 200


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"mainSearchCriteria.v.dn": "Pomalyst 4 MG Oral Capsule"}, ["Pomalidomide"]),
        ({"mainSearchCriteria.v.dn": "pomalidomide"}, ["Pomalidomide"]),
        ({"mainSearchCriteria.v.dn": "Testbrand Beta 10 MG Tablet"}, ["Testdrug Coded"]),
        ({"mainSearchCriteria.v.dn": "Testbrand"}, []),
        ({"mainSearchCriteria.v.dn": "Pomalidomidex"}, []),
        ({"mainSearchCriteria.v.ot": "pomalidomide capsules"}, ["Pomalidomide"]),
        # A code that finds nothing falls back to the display name, as does an unknown code system.
        (
            {
                "mainSearchCriteria.v.c": "0000",
                "mainSearchCriteria.v.cs": RXNORM,
                "mainSearchCriteria.v.dn": "Pomalyst",
            },
            ["Pomalidomide"],
        ),
        (
            {
                "mainSearchCriteria.v.c": "1",
                "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.96",
                "mainSearchCriteria.v.dn": "Pomalyst",
            },
            ["Pomalidomide"],
        ),
        ({"mainSearchCriteria.v.dn": "Testdrug Draft"}, []),
    ],
)
def test_display_name_fallback(
    interop_client: TestClient, params: dict[str, str], expected: list[str]
) -> None:
    assert _titles(_feed(interop_client, **params)) == expected


def test_atom_xml_is_the_default(interop_client: TestClient) -> None:
    response = interop_client.get(
        "/infobutton", params={"mainSearchCriteria.v.c": CODES["atc"], "mainSearchCriteria.v.cs": ATC}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    titles = [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")]
    assert titles == ["Testdrug Coded", "Testdrug Sibling"]
    first = root.find(f"{ATOM}entry")
    assert first is not None
    assert first.find(f"{ATOM}summary").get("type") == "html"  # type: ignore[union-attr]
    assert [link.get("type") for link in first.findall(f"{ATOM}link")] == [
        "text/html",
        "text/html",
        "application/json",
    ]


def test_standard_context_parameters_are_accepted(interop_client: TestClient) -> None:
    params = {
        "mainSearchCriteria.v.c": CODES["rxnorm"],
        "mainSearchCriteria.v.cs": RXNORM,
        "mainSearchCriteria.v.dn": "Testdrug Coded 5 MG",
        "taskContext.c.c": "MLREV",
        "patientPerson.administrativeGenderCode.c": "F",
        "age.v.v": "67",
        "age.v.u": "a",
        "informationRecipient": "PAT",
        "performer": "PROV",
        "representedOrganization.id.root": "1.3.6.1.4.1.3768",
        "encounter.c.c": "AMB",
    }

    assert _titles(_feed(interop_client, **params)) == ["Testdrug Coded"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "missing_search_criteria"),
        ({"mainSearchCriteria.v.c": "1", "colour": "red"}, 400, "unknown_parameters"),
        ({"mainSearchCriteria.v.c": "1", "mainSearchCriteria.v.cs": "rxnorm"}, 422, "invalid_parameters"),
        (
            {"mainSearchCriteria.v.c": "1", "knowledgeResponseType": "application/pdf"},
            422,
            "invalid_parameters",
        ),
        ({"mainSearchCriteria.v.dn": "x" * 501}, 422, "invalid_parameters"),
    ],
)
def test_bad_requests_are_problems(
    interop_client: TestClient, params: dict[str, str], status: int, code: str
) -> None:
    assert_problem(interop_client.get("/infobutton", params=params), status, code)


def test_no_match_is_an_empty_feed(interop_client: TestClient) -> None:
    feed = _feed(interop_client, **{"mainSearchCriteria.v.c": "0000", "mainSearchCriteria.v.cs": RXNORM})

    assert feed["entry"] == []
    assert feed["updated"]["_value"].endswith("Z")


def test_an_entry_says_who_reviewed_the_drug_and_whether_it_is_overdue() -> None:
    from app.infobutton.feed import entry_for

    document = {
        "slug": "testdrug-r",
        "name": "Testdrug R",
        "summary": None,
        "brand_names": [],
        "disclaimer": None,
        "links": {"self": "/api/v1/drugs/testdrug-r"},
        "published_at": "2026-01-01T00:00:00Z",
        "review": {
            "status": "reviewed",
            "reviewed_by": "Dr <Test>",
            "last_reviewed": "2026-01-01",
            "overdue": True,
        },
    }

    summary = entry_for(document, base_url="http://testserver").summary_html

    assert "Medically reviewed by Dr &lt;Test&gt; on 2026-01-01 (its next review is overdue)." in summary
    assert "Not reviewed" not in summary
