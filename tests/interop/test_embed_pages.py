"""The embeddable widgets over HTTP: markup, accessibility hooks, CSP, caching, structured data."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.helpers import assert_problem
from tests.interop.html import EVENT_HANDLER_ATTRIBUTE, csp_directives, csp_hash, parse

SEED = json.loads((Path(__file__).parents[2] / "seed_data" / "bundle.json").read_text())
POMALIDOMIDE = next(d for d in SEED["drugs"] if d["slug"] == "pomalidomide")
FAQS_URL = "/embed/drugs/pomalidomide/faqs"
SIDE_EFFECTS_URL = "/embed/drugs/pomalidomide/side-effects"


def test_faq_widget_lists_every_question_in_order(public_client: TestClient) -> None:
    response = public_client.get(FAQS_URL)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = parse(response.text)
    questions = [s.text for s in page.all("summary")]
    assert questions == [f["question"] for f in POMALIDOMIDE["faqs"]]
    assert len(questions) == 6
    assert len(page.all("details")) == 6
    assert not any("open" in d.attrs for d in page.all("details")), "answers start collapsed"


def test_widget_is_a_complete_accessible_document(public_client: TestClient) -> None:
    page = parse(public_client.get(FAQS_URL).text)

    html = page.one("html")
    assert html.attrs["lang"] == "en"
    assert page.one("title").text == "Pomalidomide: questions and answers"
    assert page.one("h1").text == "Pomalidomide: questions and answers"
    assert page.one("main")
    footer = page.one("footer")
    assert "About this information" in footer.text
    assert POMALIDOMIDE["disclaimer"] in footer.text
    assert "has not been reviewed by a medical reviewer" in footer.text
    assert page.all("time"), "the update date is machine-readable"
    assert any(m.attrs.get("name") == "viewport" for m in page.all("meta"))
    # The first answer's sanitized HTML is there, readable without JavaScript.
    assert "immunomodulatory imide drug" in page.all("details")[0].text


def test_side_effect_widget_groups_by_seriousness(public_client: TestClient) -> None:
    page = parse(public_client.get(SIDE_EFFECTS_URL).text)

    assert [h.text for h in page.all("h2")] == [
        "Common side effects",
        "Serious side effects",
        "About this information",
    ]
    names = [s.text.replace(" (Serious)", "") for s in page.all("summary")]
    expected = [e["name"] for e in POMALIDOMIDE["side_effects"] if e["seriousness"] == "common"] + [
        e["name"] for e in POMALIDOMIDE["side_effects"] if e["seriousness"] == "serious"
    ]
    assert names == expected
    fatigue = page.all("details")[0]
    assert "What can help" in fatigue.text
    assert POMALIDOMIDE["side_effects"][0]["management_tips"][0] in unescape(fatigue.text)
    assert page.one("title").text == "Pomalidomide: side effects"


@pytest.mark.parametrize("url", [FAQS_URL, SIDE_EFFECTS_URL])
def test_csp_allows_only_the_hashed_inline_style_and_script(public_client: TestClient, url: str) -> None:
    response = public_client.get(url)
    page = parse(response.text)

    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["style-src"] == [csp_hash(page.one("style").raw)]
    executable = [s for s in page.all("script") if s.attrs.get("type") != "application/ld+json"]
    assert len(executable) == 1
    assert csp["script-src"] == [csp_hash(executable[0].raw)]
    assert csp["frame-ancestors"] == ["*"]
    assert csp["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-frame-options" not in response.headers, "framing is governed by frame-ancestors"


def test_frame_ancestors_come_from_settings(public_client: TestClient) -> None:
    url = public_client.app.state.settings.database_url  # type: ignore[attr-defined]
    settings = Settings(
        database_url=url, embed_frame_ancestors=["https://portal.example.org", "https://*.clinic.example"]
    )
    with TestClient(create_app(settings)) as client:
        response = client.get(FAQS_URL)

    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["https://portal.example.org", "https://*.clinic.example"]


@pytest.mark.parametrize(
    "value",
    [
        ["https://ok.example; script-src *"],
        ["https://a.example https://b.example"],
        [],
        ["'none'", "https://a.example"],
        ["javascript:alert(1)//x y"],
    ],
)
def test_frame_ancestors_setting_refuses_what_could_inject_into_the_header(value: list[str]) -> None:
    with pytest.raises(ValueError, match=r"frame-ancestors|at least one|'none'"):
        Settings(embed_frame_ancestors=value)


@pytest.mark.parametrize(
    ("theme", "color_scheme"), [("auto", "light dark"), ("light", "light"), ("dark", "dark")]
)
def test_theme_parameter(public_client: TestClient, theme: str, color_scheme: str) -> None:
    page = parse(public_client.get(FAQS_URL, params={"theme": theme}).text)

    assert page.one("html").attrs["data-theme"] == theme
    meta = next(m for m in page.all("meta") if m.attrs.get("name") == "color-scheme")
    assert meta.attrs["content"] == color_scheme
    assert "prefers-color-scheme:dark" in page.one("style").raw


@pytest.mark.parametrize("locale", ["en", "fr", "pt-BR"])
def test_locale_falls_back_to_the_default_and_says_so(public_client: TestClient, locale: str) -> None:
    response = public_client.get(FAQS_URL, params={"locale": locale})

    assert response.status_code == 200
    assert response.headers["content-language"] == "en"
    assert parse(response.text).one("html").attrs["lang"] == "en"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/embed/drugs/no-such-drug/faqs", 404),
        ("/embed/drugs/zz-draft/faqs", 404),
        ("/embed/drugs/UPPER/faqs", 422),
        (FAQS_URL + "?theme=purple", 422),
        (FAQS_URL + "?locale=not a locale", 422),
        (FAQS_URL + "?colour=red", 400),
        ("/embed/drugs/pomalidomide/stories", 404),
    ],
)
def test_widget_errors_are_problems(catalog_client: TestClient, path: str, status: int) -> None:
    assert_problem(catalog_client.get(path), status)


def test_widget_is_cacheable_with_validators(public_client: TestClient) -> None:
    first = public_client.get(FAQS_URL)
    again = public_client.get(FAQS_URL, headers={"If-None-Match": first.headers["etag"]})

    assert first.headers["etag"].startswith('"')
    assert "last-modified" in first.headers
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert again.status_code == 304
    assert again.content == b""
    assert public_client.get(FAQS_URL, params={"theme": "dark"}).headers["etag"] != first.headers["etag"]


def test_faq_page_json_ld_describes_every_question(public_client: TestClient) -> None:
    page = parse(public_client.get(FAQS_URL).text)

    block = next(s for s in page.all("script") if s.attrs.get("type") == "application/ld+json")
    data = json.loads(block.raw)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "FAQPage"
    assert data["about"]["@type"] == "Drug"
    assert data["about"]["name"] == "Pomalidomide"
    assert [q["name"] for q in data["mainEntity"]] == [f["question"] for f in POMALIDOMIDE["faqs"]]
    assert all(
        q["@type"] == "Question" and q["acceptedAnswer"]["@type"] == "Answer" for q in data["mainEntity"]
    )
    assert "reviewedBy" not in data and "lastReviewed" not in data, "the seed was never reviewed"


def test_stored_xss_payloads_stay_inert_text(interop_client: TestClient) -> None:
    for part in ("faqs", "side-effects"):
        html = interop_client.get(f"/embed/drugs/testdrug-xss/{part}").text
        page = parse(html)

        scripts = page.all("script")
        assert len(scripts) == 2, "only the JSON-LD block and our resize script"
        assert not EVENT_HANDLER_ATTRIBUTE.search(html), "no element carries an on* handler"
        assert "javascript:" not in " ".join(str(a.attrs.get("href")) for a in page.all("a"))
        assert not page.all("img") and not page.all("svg")
        json_ld = next(s for s in scripts if s.attrs.get("type") == "application/ld+json").raw
        assert "</" not in json_ld and "<!--" not in json_ld and "<script" not in json_ld
        json.loads(json_ld)  # still valid JSON
    faq_page = parse(interop_client.get("/embed/drugs/testdrug-xss/faqs").text)
    assert "</script><script>" in faq_page.all("summary")[0].text, "shown as text, not run"


def test_embed_script_is_served_cacheable(public_client: TestClient) -> None:
    response = public_client.get("/embed.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "data-druginfo" in response.text
    assert "druginfo:resize" in response.text
    again = public_client.get("/embed.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
