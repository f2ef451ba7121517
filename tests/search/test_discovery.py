"""Discovery across drugs: regimens by component, side effects, A–Z, ordering, lookup by code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import assert_problem


def items(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["total"] == len(body["items"]) or body["next_cursor"]
    return list(body["items"])


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ("testcomponent x", [("testdrug-a", "Testdrug A with Testcomponent X")]),
        ("TESTCOMPONENT X", [("testdrug-a", "Testdrug A with Testcomponent X")]),
        ("  Testcomponent X ", [("testdrug-a", "Testdrug A with Testcomponent X")]),
        (
            "testdrug-a",  # the component's drug slug
            [("testdrug-a", "Testdrug A with Testcomponent X"), ("testdrug-b", "Testdrug B with Testdrug A")],
        ),
        (
            "Testdrug A",  # the component's name
            [("testdrug-a", "Testdrug A with Testcomponent X"), ("testdrug-b", "Testdrug B with Testdrug A")],
        ),
        ("testcomponent", []),  # a name, not a search: no partial match
        ("quuxolin", []),
    ],
)
def test_regimens_by_component(
    corpus_client: TestClient, component: str, expected: list[tuple[str, str]]
) -> None:
    found = items(corpus_client, "/api/v1/combinations", component=component)

    assert [(c["drug"]["slug"], c["name"]) for c in found] == expected


def test_regimen_items_carry_their_drug_and_link(corpus_client: TestClient) -> None:
    (regimen,) = items(corpus_client, "/api/v1/combinations", component="testcomponent x")

    assert [c["name"] for c in regimen["components"]] == ["Testdrug A", "Testcomponent X"]
    assert regimen["drug"]["links"]["self"] == "/api/v1/drugs/testdrug-a"
    assert regimen["locale"] == "en"
    one = corpus_client.get(f"/api/v1/drugs/testdrug-a/combinations/{regimen['id']}")
    assert one.status_code == 200 and one.json()["item"]["name"] == regimen["name"]


def test_all_regimens_and_one_drugs(corpus_client: TestClient) -> None:
    assert len(items(corpus_client, "/api/v1/combinations")) == 2
    assert [c["drug"]["slug"] for c in items(corpus_client, "/api/v1/combinations", drug="testdrug-b")] == [
        "testdrug-b"
    ]


def test_the_seed_regimens_that_include_dexamethasone(seeded_client: TestClient) -> None:
    found = items(seeded_client, "/api/v1/combinations", component="Dexamethasone")

    assert [c["name"] for c in found] == [
        "Pomalidomide and dexamethasone",
        "Pomalidomide, dexamethasone and a proteasome inhibitor",
    ]
    assert {c["drug"]["slug"] for c in found} == {"pomalidomide"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "constipated"}, [("testdrug-a", "Constipation")]),
        ({"q": "clots"}, [("testdrug-a", "Blood clots")]),
        ({"q": "clots", "seriousness": "common"}, []),
        ({"q": "clots", "seriousness": "serious"}, [("testdrug-a", "Blood clots")]),
        ({"q": "constipation", "drug": "testdrug-b"}, []),
        ({"seriousness": "serious"}, [("testdrug-a", "Blood clots")]),
        ({}, [("testdrug-a", "Constipation"), ("testdrug-a", "Blood clots")]),
    ],
)
def test_which_drugs_list_a_side_effect(
    corpus_client: TestClient, params: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    found = items(corpus_client, "/api/v1/side-effects", **params)

    assert [(e["drug"]["slug"], e["name"]) for e in found] == expected


def test_side_effects_across_drugs_on_the_seed(seeded_client: TestClient) -> None:
    found = items(seeded_client, "/api/v1/side-effects", q="neutropenia")

    assert [(e["drug"]["slug"], e["name"], e["seriousness"]) for e in found] == [
        ("pomalidomide", "Neutropenia", "serious")
    ]
    assert found[0]["management_tips"] is not None and found[0]["disclaimer"]


@pytest.mark.parametrize(
    ("letter", "expected"),
    [("t", ["testdrug-a", "testdrug-b"]), ("T", ["testdrug-a", "testdrug-b"]), ("p", []), ("#", [])],
)
def test_a_to_z_browse(corpus_client: TestClient, letter: str, expected: list[str]) -> None:
    assert [d["slug"] for d in items(corpus_client, "/api/v1/drugs", letter=letter)] == expected


def test_a_to_z_on_the_seed(seeded_client: TestClient) -> None:
    assert [d["slug"] for d in items(seeded_client, "/api/v1/drugs", letter="p")] == ["pomalidomide"]
    assert items(seeded_client, "/api/v1/drugs", letter="q") == []


@pytest.mark.parametrize("letter", ["pp", "1", "", "é"])
def test_a_letter_is_one_letter(corpus_client: TestClient, letter: str) -> None:
    assert_problem(corpus_client.get("/api/v1/drugs", params={"letter": letter}), 422)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["testdrug-a", "testdrug-b"]),
        ("-name", ["testdrug-b", "testdrug-a"]),
        ("last_reviewed", ["testdrug-b", "testdrug-a"]),  # 2025-06-01, then 2026-01-10
        ("-last_reviewed", ["testdrug-a", "testdrug-b"]),
    ],
)
def test_sort_orders(corpus_client: TestClient, sort: str, expected: list[str]) -> None:
    found = items(corpus_client, "/api/v1/drugs", sort=sort)

    assert [d["slug"] for d in found] == expected
    assert [d["last_reviewed"] for d in found] == [
        {"testdrug-a": "2026-01-10", "testdrug-b": "2025-06-01"}[slug] for slug in expected
    ]


@pytest.mark.parametrize("sort", ["updated_at", "-updated_at"])
def test_sort_by_updated_at(corpus_client: TestClient, sort: str) -> None:
    stamps = [d["updated_at"] for d in items(corpus_client, "/api/v1/drugs", sort=sort)]

    assert stamps == sorted(stamps, reverse=sort.startswith("-"))


def test_sorted_pages_follow_the_cursor(corpus_client: TestClient) -> None:
    first = corpus_client.get("/api/v1/drugs", params={"sort": "-last_reviewed", "limit": 1}).json()
    second = corpus_client.get(
        "/api/v1/drugs", params={"sort": "-last_reviewed", "limit": 1, "cursor": first["next_cursor"]}
    ).json()

    assert [d["slug"] for d in first["items"] + second["items"]] == ["testdrug-a", "testdrug-b"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("atc|T01AA01", ["testdrug-a"]),
        ("ATC|T01AA01", ["testdrug-a"]),  # the system is case-insensitive
        ("Atc|T01AA02", ["testdrug-b"]),
        ("rxnorm|999001", ["testdrug-a"]),
        (" atc | T01AA01 ", ["testdrug-a"]),
        ("atc|t01aa01", []),  # the code itself is exact
        ("atc|T01AA0", []),
        ("atc|T01AA011", []),
        ("snomed|T01AA01", []),  # unknown system: empty, not an error
        ("rxnorm|T01AA01", []),
    ],
)
def test_lookup_by_code(corpus_client: TestClient, code: str, expected: list[str]) -> None:
    assert [d["slug"] for d in items(corpus_client, "/api/v1/drugs", code=code)] == expected


def test_codes_are_in_the_summary(corpus_client: TestClient) -> None:
    (drug,) = items(corpus_client, "/api/v1/drugs", code="atc|T01AA01")

    assert drug["codes"] == {"atc": "T01AA01", "rxnorm": "999001"}


@pytest.mark.parametrize("code", ["atc", "atc|", "|T01AA01", "|", "x" * 161])
def test_a_malformed_code_is_a_problem(corpus_client: TestClient, code: str) -> None:
    assert_problem(corpus_client.get("/api/v1/drugs", params={"code": code}), 422)


def test_drafts_are_not_found_by_code(corpus_client: TestClient) -> None:
    assert items(corpus_client, "/api/v1/drugs", letter="t", code="atc|T01AA03") == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/drugs/testdrug-a/faqs/999999",
        "/api/v1/drugs/testdrug-a/side-effects/999999",
        "/api/v1/drugs/testdrug-c/faqs/1",
        "/api/v1/drugs/unknown/stories/1",
    ],
)
def test_unknown_items_are_404(corpus_client: TestClient, path: str) -> None:
    assert_problem(corpus_client.get(path), 404)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/combinations?component=%00",
        "/api/v1/drugs?code=atc|%00",
        "/api/v1/drugs?code=%00|T01AA01",
        "/api/v1/drugs?drug_class=a%00b",
        "/api/v1/side-effects?q=%01",
        "/api/v1/search?q=blood%00",
        "/api/v1/faqs?q=%7F",
    ],
)
def test_control_characters_in_parameters_are_problems(corpus_client: TestClient, url: str) -> None:
    body = assert_problem(corpus_client.get(url), 422, "invalid_parameters")

    assert body["errors"][0]["code"] == "control_character"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/combinations?component=%FF",
        "/api/v1/drugs?code=%FF|%FE",
        "/api/v1/search?q=%ED%B3%BF",
        "/api/v1/side-effects?q=%C3",
    ],
)
def test_malformed_utf8_in_parameters_is_harmless(corpus_client: TestClient, url: str) -> None:
    response = corpus_client.get(url)

    assert response.status_code == 200
    assert response.json()["total"] == 0
