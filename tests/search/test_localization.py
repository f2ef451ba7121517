"""A second locale: imported with the bundle, negotiated, served per item with fallback, searched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from app.bundle.service import BundleInvalid, parse_bundle
from app.core.db import Database, session_scope
from app.core.locale import LOCALE_SCHEMA, fallback_chain, negotiate, normalize_tag, parse_accept_language
from app.drugs import service as drug_service
from app.drugs.service import PartNotFound, TranslationInvalid
from app.publishing import service as publishing
from tests.helpers import assert_problem
from tests.search.corpus import bundle, import_corpus


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("pt-br", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de-CH-1996", "de-CH-1996"),
        ("hi-IN", "hi-IN"),
        ("", None),
        ("e", None),
        ("english", None),
        ("en-", None),
        ("en--us", None),
        ("en us", None),
        ("*", None),
        ("x-private", None),
        ("en-US;q=1", None),
        ("a" * 36, None),
        (" en", None),
        ("en\n", None),
        ("\u212an", None),  # KELVIN SIGN, a `k` to a case-insensitive Python regex
    ],
)
def test_language_tags_are_checked_and_canonical(tag: str, canonical: str | None) -> None:
    documented = jsonschema_rs.validator_for({"type": "string", **LOCALE_SCHEMA})

    assert normalize_tag(tag) == canonical
    assert documented.is_valid(tag) == (canonical is not None), "the OpenAPI says what is accepted"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", ()),
        ("fr", ("fr",)),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ("fr-CH", "fr", "en", "de")),
        ("de;q=0.5, hi-IN", ("hi-IN", "de")),
        ("fr;q=0, de", ("de",)),
        ("fr;q=abc, de;q=0.1", ("de",)),
        ("fr;level=1, de", ("de",)),
        ("en-us, EN-US;q=0.5", ("en-US",)),
        ("!!!, ,,, fr", ("fr",)),
        ("fr;q=1.5, de", ("de",)),
    ],
)
def test_accept_language_is_parsed_with_q_values(header: str, expected: tuple[str, ...]) -> None:
    assert parse_accept_language(header) == expected


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        (("hi-IN",), {"hi"}, "hi"),  # region fallback
        (("hi-IN",), {"hi-IN", "hi"}, "hi-IN"),
        (("de",), {"fr"}, "en"),  # nothing of it: the default
        (("de", "fr"), {"fr"}, "fr"),  # the next choice
        (("en-GB", "fr"), {"fr"}, "en"),  # en-GB → en is the default: stop there
        ((), {"fr"}, "en"),
    ],
)
def test_lookup_falls_back_by_region_then_default(
    requested: tuple[str, ...], available: set[str], expected: str
) -> None:
    assert negotiate(requested, lambda: available, "en") == expected


def test_fallback_chain_ends_with_the_default() -> None:
    assert fallback_chain("zh-Hant-TW", "en") == ("zh-Hant-TW", "zh-Hant", "zh", "en")
    assert fallback_chain("en", "en") == ("en",)


@pytest.fixture
def localized_client(corpus_client: TestClient) -> TestClient:
    """The shared corpus (read-only): Testdrug A has French and Hindi text."""
    return corpus_client


@pytest.fixture
def writable_client(client: TestClient, settings: Any, tmp_path: Path) -> TestClient:
    """A private copy of the corpus, for tests that change it."""
    import_corpus(settings, tmp_path)
    return client


def get(client: TestClient, path: str, language: str | None = None, **params: Any) -> Any:
    headers = {"Accept-Language": language} if language else {}
    return client.get(path, params=params, headers=headers)


def test_second_locale_is_served_with_per_item_fallback(localized_client: TestClient) -> None:
    response = get(localized_client, "/api/v1/drugs/testdrug-a", "fr-CA, fr;q=0.9, en;q=0.5")

    assert response.status_code == 200
    assert response.headers["content-language"] == "fr, en"  # what is served: partly translated
    assert "Accept-Language" in response.headers["vary"]
    document = response.json()
    assert document["locale"] == "fr"
    assert document["available_locales"] == ["en", "fr", "hi"]
    assert document["summary"].startswith("Un médicament de test")
    assert document["name"] == "Testdrug A"  # not translated: the default text
    faq, untranslated_faq = document["faqs"]
    assert (faq["locale"], faq["question"]) == ("fr", "Testdrug A provoque-t-il une constipation ?")
    assert "figure dans cette fiche" in faq["answer_html"]
    assert (untranslated_faq["locale"], untranslated_faq["question"]) == ("en", "How is Testdrug A stored?")
    constipation = document["side_effects"][0]
    assert constipation["locale"] == "fr"
    assert constipation["name"] == "Constipation"  # field not translated: default text, same item
    assert constipation["description"].startswith("Selles dures")
    assert {s["locale"] for s in document["sections"]} == {"en"}
    assert document["indications"][0]["condition"]["name"] == "Condition de test Alpha"
    assert document["support_resources"][0]["title"] == "Ligne d'aide de test"


@pytest.mark.parametrize(
    ("params", "language", "expected"),
    [
        ({}, None, "en"),
        ({}, "hi-IN", "hi"),  # region fallback: hi-IN → hi
        ({}, "de", "en"),  # no German anywhere: the default
        ({}, "de, fr;q=0.4", "fr"),
        ({}, "fr;q=0.2, hi;q=0.8", "hi"),
        ({"locale": "fr"}, "hi", "fr"),  # ?locale= wins over Accept-Language
        ({"locale": "FR-ca"}, None, "fr"),
        ({"locale": "en"}, "fr", "en"),
    ],
)
def test_locale_is_negotiated(
    localized_client: TestClient, params: dict[str, str], language: str | None, expected: str
) -> None:
    response = get(localized_client, "/api/v1/drugs/testdrug-a", language, **params)

    assert response.json()["locale"] == expected
    # Only some of Testdrug A's text is translated: the rest is served in the default locale.
    assert response.headers["content-language"] == (expected if expected == "en" else f"{expected}, en")


def _locales(body: Any) -> set[str]:
    """Every `locale` an object of the body states."""
    if isinstance(body, list):
        return {tag for value in body for tag in _locales(value)}
    if not isinstance(body, dict):
        return set()
    found = {tag for key, value in body.items() if key != "codes" for tag in _locales(value)}
    return found | ({body["locale"]} if isinstance(body.get("locale"), str) else set())


@pytest.mark.parametrize(
    ("path", "in_french"),
    [
        ("/api/v1/drugs", "fr, en"),
        ("/api/v1/drugs/testdrug-a/faqs", "fr, en"),
        ("/api/v1/drugs/testdrug-a/sections/overview", "fr, en"),
        ("/api/v1/faqs", "fr, en"),
        ("/api/v1/side-effects", "fr, en"),
        ("/api/v1/combinations", "en"),  # no regimen is translated: no French is served
        ("/api/v1/conditions", "fr"),
        ("/api/v1/conditions/testcondition-alpha", "fr, en"),
        ("/api/v1/support-resources", "fr"),
        ("/api/v1/drugs/testdrug-a/support-resources", "fr"),
        ("/api/v1/search", "fr, en"),
    ],
)
def test_every_localized_read_names_the_locales_it_serves(
    localized_client: TestClient, path: str, in_french: str
) -> None:
    params = {"q": "testdrug"} if path.endswith("/search") else {}
    french = get(localized_client, path, "fr", **params)
    default = get(localized_client, path, **params)

    assert french.status_code == default.status_code == 200
    assert french.headers["content-language"] == in_french
    assert set(in_french.split(", ")) == _locales(french.json()), "exactly the locales the items state"
    assert default.headers["content-language"] == "en"
    assert "Accept-Language" in french.headers["vary"]
    assert "Accept-Language" in default.headers["vary"]


def test_lists_mark_each_item_with_its_locale(localized_client: TestClient) -> None:
    faqs = get(localized_client, "/api/v1/faqs", "fr", drug="testdrug-a").json()["items"]
    drugs = get(localized_client, "/api/v1/drugs", "hi").json()["items"]
    conditions = get(localized_client, "/api/v1/conditions", "fr").json()["items"]

    assert [f["locale"] for f in faqs] == ["fr", "en"]
    assert {d["slug"]: d["locale"] for d in drugs} == {"testdrug-a": "hi", "testdrug-b": "en"}
    assert conditions[0]["name"] == "Condition de test Alpha" and conditions[0]["locale"] == "fr"


def test_conditional_get_is_per_locale(localized_client: TestClient) -> None:
    french = get(localized_client, "/api/v1/drugs/testdrug-a", "fr")

    same = localized_client.get(
        "/api/v1/drugs/testdrug-a", headers={"Accept-Language": "fr", "If-None-Match": french.headers["etag"]}
    )
    other = localized_client.get(
        "/api/v1/drugs/testdrug-a", headers={"Accept-Language": "hi", "If-None-Match": french.headers["etag"]}
    )

    assert same.status_code == 304
    assert other.status_code == 200


@pytest.mark.parametrize("locale", ["not a tag", "e", "en_US_POSIX_x", "x" * 101])
def test_a_malformed_locale_parameter_is_a_problem(localized_client: TestClient, locale: str) -> None:
    assert_problem(
        get(localized_client, "/api/v1/drugs/testdrug-a", locale=locale), 422, "invalid_parameters"
    )


def test_a_malformed_accept_language_is_ignored(localized_client: TestClient) -> None:
    response = localized_client.get(
        "/api/v1/drugs/testdrug-a", headers={"Accept-Language": "💊;q=x, ,;;, *, ü".encode()}
    )

    assert response.status_code == 200
    assert response.headers["content-language"] == "en"


def test_search_is_per_locale_with_fallback(localized_client: TestClient) -> None:
    french = get(localized_client, "/api/v1/search", q="selles").json()
    in_french = get(localized_client, "/api/v1/search", "fr", q="selles").json()
    mixed = get(localized_client, "/api/v1/search", "fr", q="constipation", limit=100).json()["items"]

    assert french["total"] == 0
    assert [(h["type"], h["locale"]) for h in in_french["items"]] == [("side_effect", "fr")]
    assert "<mark>Selles</mark>" in in_french["items"][0]["snippet"]
    by_item = {(h["type"], h["id"]): h["locale"] for h in mixed}
    assert len(by_item) == len(mixed)  # each item once, in its best locale
    assert by_item[("faq", next(h["id"] for h in mixed if h["type"] == "faq"))] == "fr"
    assert "en" in by_item.values()  # untranslated items are still found in the default text
    assert any(h["title"] == "Testdrug A provoque-t-il une constipation ?" for h in mixed)


def test_hindi_text_is_searchable_in_hindi(localized_client: TestClient) -> None:
    hits = get(localized_client, "/api/v1/search", "hi-IN", q="कृत्रिम दवा").json()["items"]

    assert [(h["type"], h["locale"], h["drug"]["slug"]) for h in hits] == [("drug", "hi", "testdrug-a")]


@pytest.mark.parametrize(
    ("translations", "pointer"),
    [
        ({"not a tag!": {"question": "x"}}, "/drugs/0/faqs/0/translations/not a tag!/[key]"),
        ({"fr": {"tags": ["x"]}}, "/drugs/0/faqs/0/translations/fr/tags"),
        ({"fr": {}}, "/drugs/0/faqs/0/translations/fr"),
        ({"fr": {"question": "x" * 501}}, "/drugs/0/faqs/0/translations/fr/question"),
        ({"fr": {"question": "bad\x07"}}, "/drugs/0/faqs/0/translations/fr/question"),
        ({"fr": {"question": "a"}, "FR": {"question": "b"}}, "/drugs/0/faqs/0/translations"),
    ],
)
def test_bundle_translations_are_validated(translations: dict[str, Any], pointer: str) -> None:
    data = bundle()
    data["drugs"][0]["faqs"][0]["translations"] = translations

    with pytest.raises(BundleInvalid) as raised:
        parse_bundle(data)

    assert pointer in [e.pointer for e in raised.value.errors or []]


def test_translations_round_trip_through_revisions(
    writable_client: TestClient, settings: Any, tmp_path: Path
) -> None:
    report = import_corpus(settings, tmp_path)

    assert report == "seed: nothing to change"


def test_set_translation_is_served_after_publishing(writable_client: TestClient, settings: Any) -> None:
    db = Database(settings)
    try:
        for session in session_scope(db.write_sessions):
            drug = drug_service.get_drug(session, "testdrug-a")
            faq = drug.faqs[1]
            drug_service.set_translation(
                session, drug, "faqs", faq.id, "de", {"question": "Wie lagert man es?"}
            )
            drug_service.set_translation(session, drug, "drug", None, "de", {"summary": "Ein Testmittel."})
            drug_service.set_translation(session, drug, "faqs", drug.faqs[0].id, "fr", {})  # removes fr
            revision = publishing.record_revision(session, drug, message="German added", author="test")
            publishing.publish_revision(session, drug, revision)
    finally:
        db.dispose()

    document = get(writable_client, "/api/v1/drugs/testdrug-a", "de").json()
    hits = get(writable_client, "/api/v1/search", "de", q="lagert").json()["items"]
    french = get(writable_client, "/api/v1/drugs/testdrug-a", "fr").json()

    assert document["locale"] == "de" and document["summary"] == "Ein Testmittel."
    assert [(f["locale"], f["question"]) for f in document["faqs"]] == [
        ("en", "Does Testdrug A cause constipation?"),
        ("de", "Wie lagert man es?"),
    ]
    assert [(h["type"], h["locale"]) for h in hits] == [("faq", "de")]
    assert french["faqs"][0]["locale"] == "en"


@pytest.mark.parametrize(
    ("part", "item", "locale", "fields", "error"),
    [
        ("faqs", 0, "not a tag", {"question": "x"}, TranslationInvalid),
        ("faqs", 0, "de", {"tags": ["x"]}, TranslationInvalid),
        ("faqs", 0, "de", {"question": ""}, TranslationInvalid),
        ("faqs", None, "de", {"question": "x"}, PartNotFound),
        ("sources", 0, "de", {"title": "x"}, PartNotFound),
        ("conditions", 0, "de", {"name": "x"}, PartNotFound),
    ],
)
def test_set_translation_refuses_bad_input(
    localized_client: TestClient, part: str, item: int | None, locale: str, fields: Any, error: type
) -> None:
    # Refused before anything is written (and rolled back), so the shared corpus will do.
    db = Database(localized_client.app.state.settings)
    try:
        with pytest.raises(error) as raised:
            for session in session_scope(db.write_sessions):
                drug = drug_service.get_drug(session, "testdrug-a")
                item_id = drug.faqs[item].id if item is not None else 10**9
                drug_service.set_translation(session, drug, part, item_id, locale, fields)
    finally:
        db.dispose()
    assert raised.value.status in (404, 422)
    if error is TranslationInvalid and locale == "de":
        assert raised.value.errors and raised.value.errors[0].pointer.startswith("/")
