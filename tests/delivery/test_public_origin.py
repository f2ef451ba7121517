"""`DRUGINFO_PUBLIC_URL`: absolute links name the configured origin whatever `Host` a request sends
(the seed has one drug, so JSON-LD and FHIR ids stand for every absolute link: all are built from
the request's scheme and `Host`, which the middleware rewrites before anything reads them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.main import create_app

ORIGIN = "https://drugs.example.org"
HOSTILE = {"Host": "evil.example"}


@pytest.fixture
def pinned_client(seeded: Settings) -> Iterator[TestClient]:
    settings = Settings(database_url=seeded.database_url, public_url=ORIGIN + "/")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def links_of(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    jsonld = client.get("/api/v1/drugs/pomalidomide/jsonld", headers=headers).json()
    drug = next(node for node in jsonld["@graph"] if node["@type"] == "Drug")
    fhir = client.get("/fhir/MedicationKnowledge", params={"code": "nomatch"}, headers=headers).json()
    return {
        "jsonld": drug["@id"],
        "fhir": next(link["url"] for link in fhir["link"] if link["relation"] == "self"),
    }


def test_links_name_the_public_origin_whatever_host_is_sent(pinned_client: TestClient) -> None:
    hostile = links_of(pinned_client, HOSTILE)
    plain = links_of(pinned_client, {})

    assert hostile == plain  # the response cache keeps one answer for both
    assert hostile["jsonld"] == f"{ORIGIN}/api/v1/drugs/pomalidomide#drug"
    assert hostile["fhir"].startswith(f"{ORIGIN}/fhir/MedicationKnowledge")
    assert "evil.example" not in str(hostile)


def test_without_a_public_origin_links_follow_the_request(seeded_client: TestClient) -> None:
    links = links_of(seeded_client, HOSTILE)

    assert links["jsonld"] == "http://evil.example/api/v1/drugs/pomalidomide#drug"
    assert links["fhir"].startswith("http://evil.example/fhir/MedicationKnowledge")


@pytest.mark.parametrize(
    "value", ["drugs.example.org", "ftp://drugs.example.org", "https://drugs.example.org/api", "https://:80"]
)
def test_a_public_url_must_be_an_origin(value: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=value)


def test_a_public_url_loses_its_trailing_slash() -> None:
    assert (
        Settings(public_url=" https://drugs.example.org:8443/ ").public_url
        == "https://drugs.example.org:8443"
    )
    assert Settings(public_url="").public_url == ""
