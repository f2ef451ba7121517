"""Content-Language names the locales an answer is served in, and equal ETags mean equal headers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ReadOnlyDatabases
from tests.factories import synthetic_drug

# French text exists (so French is negotiated), but only in Testdrug Fr, and only in part of it.
TRANSLATED = synthetic_drug(
    "testdrug-fr",
    "Testdrug Fr",
    translations={"fr": {"summary": "Un médicament synthétique, pour les tests seulement."}},
    faqs=[
        {
            "question": "Is Testdrug Fr synthetic?",
            "answer": "Yes, synthetic.",
            "tags": [],
            "translations": {"fr": {"question": "Testdrug Fr est-il synthétique ?", "answer": "Oui."}},
        },
        {"question": "Is Testdrug Fr blue?", "answer": "Only in tests.", "tags": []},
    ],
)

POMALIDOMIDE_READS = [
    ("/api/v1/drugs/pomalidomide", {}),
    ("/api/v1/drugs/pomalidomide/faqs", {}),
    ("/api/v1/drugs/pomalidomide/sections/mechanism", {}),
    ("/api/v1/drugs/pomalidomide/support-resources", {}),
    ("/api/v1/conditions/multiple-myeloma", {}),
    ("/api/v1/support-resources", {}),
    ("/api/v1/faqs", {"drug": "pomalidomide"}),
    # One page (no cursor: a cursor is tied to the locale asked for).
    ("/api/v1/search", {"q": "pomalidomide", "limit": "100"}),
]


@pytest.fixture
def translated_client(read_only_databases: ReadOnlyDatabases, engine_name: str) -> TestClient:
    """The seed (English only) and Testdrug Fr (partly French); read-only."""
    return read_only_databases.client(engine_name, "translated", [{"drugs": [TRANSLATED]}])


def _french(
    client: TestClient, url: str, how: str, params: dict[str, str] | None = None, **headers: str
) -> Any:
    """French asked for in `Accept-Language` or with `?locale=`."""
    if how == "query":
        return client.get(url, params={**(params or {}), "locale": "fr"}, headers=headers)
    return client.get(url, params=params, headers={"Accept-Language": "fr", **headers})


@pytest.mark.parametrize("how", ["header", "query"])
@pytest.mark.parametrize(("url", "params"), POMALIDOMIDE_READS)
def test_a_locale_that_is_not_served_is_not_named(
    translated_client: TestClient, url: str, params: dict[str, str], how: str
) -> None:
    english = translated_client.get(url, params=params)
    french = _french(translated_client, url, how, params)

    assert french.status_code == english.status_code == 200
    assert french.headers["content-language"] == "en"
    assert french.content == english.content
    assert french.headers["etag"] == english.headers["etag"], "the same representation"
    assert "Accept-Language" in french.headers["vary"]


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("", "fr, en"),  # the drug's summary and one FAQ are French, the rest is not
        ("/faqs", "fr, en"),
        ("/faqs/{translated}", "fr"),
        ("/faqs/{untranslated}", "fr, en"),
        ("/side-effects", "fr, en"),  # the envelope's drug text is French, the items are not
    ],
)
def test_a_partly_translated_answer_names_each_locale_it_serves(
    translated_client: TestClient, path: str, served: str
) -> None:
    faqs = translated_client.get("/api/v1/drugs/testdrug-fr/faqs").json()["items"]
    ids = {"translated": faqs[0]["id"], "untranslated": faqs[1]["id"]}
    url = f"/api/v1/drugs/testdrug-fr{path.format(**ids)}"

    response = translated_client.get(url, params={"locale": "fr"})

    assert response.status_code == 200
    assert response.headers["content-language"] == served, "most specific first, the default last"


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_304_is_only_for_the_same_content_language(translated_client: TestClient, encoding: str) -> None:
    url = "/api/v1/drugs/testdrug-fr"
    english = translated_client.get(url, headers={"Accept-Encoding": encoding})
    french = _french(translated_client, url, "header", **{"Accept-Encoding": encoding})
    assert english.headers["etag"] != french.headers["etag"]

    def revalidate(etag: str) -> Any:
        headers = {"Accept-Encoding": encoding, "If-None-Match": etag}
        return _french(translated_client, url, "header", **headers)

    crossed, again = revalidate(english.headers["etag"]), revalidate(french.headers["etag"])

    assert crossed.status_code == 200 and crossed.headers["content-language"] == "fr, en"
    assert again.status_code == 304
    assert again.headers["content-language"] == "fr, en"
    assert "Accept-Language" in again.headers["vary"]


def test_json_ld_names_the_locale_it_is_in(translated_client: TestClient) -> None:
    response = translated_client.get("/api/v1/drugs/pomalidomide/jsonld", params={"locale": "fr"})

    in_language = {node["inLanguage"] for node in response.json()["@graph"] if "inLanguage" in node}
    assert in_language == {"en"}
    assert response.headers["content-language"] == "en"
