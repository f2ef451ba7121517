"""The embeddable widgets over HTTP: markup, accessibility hooks, CSP, caching, structured data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import ReadOnlyDatabases, catalog_bundle
from tests.factories import synthetic_drug
from tests.helpers import assert_problem
from tests.interop.html import EVENT_HANDLER_ATTRIBUTE, Page, csp_directives, csp_hash, parse

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


# Failures of a widget URL, as `embed.js` requests them: each keeps its status but is a page a frame
# can show (a problem+json answer carries `frame-ancestors 'none'`: Chromium draws its error box).
WIDGET_ERRORS = [
    ("/embed/drugs/no-such-drug/faqs", 404),
    ("/embed/drugs/no-such-drug/side-effects", 404),
    ("/embed/drugs/zz-draft/faqs", 404),
    ("/embed/drugs/testdrug-archived/side-effects", 404),
    ("/embed/drugs/UPPER/faqs", 422),
    ("/embed/drugs/" + "a" * 101 + "/faqs", 422),
    (FAQS_URL + "?theme=purple", 422),
    (FAQS_URL + "?locale=not a locale", 422),
    (FAQS_URL + "?colour=red", 400),
]


def archived_bundles() -> list[dict[str, Any]]:
    """A drug published, then archived by a second import (it had a live revision once)."""
    drug = synthetic_drug("testdrug-archived", "Testdrug Archived")
    return [{"drugs": [drug]}, {"drugs": [{**drug, "status": "archived"}]}]


@pytest.fixture
def gone_client(read_only_databases: ReadOnlyDatabases, engine_name: str) -> TestClient:
    """The seed plus the synthetic catalog (with its draft) and an archived drug."""
    return read_only_databases.client(engine_name, "embed-gone", [catalog_bundle(), *archived_bundles()])


@pytest.fixture
def unreachable_client(
    request: pytest.FixtureRequest, engine_name: str, tmp_path: Path
) -> Iterator[TestClient]:
    """An app whose database cannot be reached (SQLite: a folder; PostgreSQL: no such database)."""
    if engine_name == "sqlite":
        folder = tmp_path / "a-folder-not-a-file.db"
        folder.mkdir()
        url = f"sqlite:///{folder}"
    else:
        admin_url = sa.make_url(request.getfixturevalue("postgres_server").admin_url)
        url = admin_url.set(database=f"druginfo_missing_{uuid.uuid4().hex[:10]}").render_as_string(
            hide_password=False
        )
    with TestClient(create_app(Settings(database_url=url)), raise_server_exceptions=False) as client:
        yield client


def _part_title(path: str) -> str:
    return ("Side effects" if "/side-effects" in path else "Questions and answers") + ": not available"


def assert_unavailable_page(response: httpx.Response, status: int, *, frame_ancestors: list[str]) -> Page:
    """A small page a frame can show: the status, the widget's own CSP, nothing to run but by hash."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "x-frame-options" not in response.headers, "framing is governed by frame-ancestors"
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page = parse(response.text)
    csp = csp_directives(response.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == frame_ancestors
    assert csp["style-src"] == [csp_hash(page.one("style").raw)]
    assert csp["script-src"] == [csp_hash(page.one("script").raw)], "only the resize script, by hash"
    assert "druginfo:resize" in page.one("script").raw, "it reports its height like a widget"
    assert page.one("html").attrs["lang"] == "en"
    assert page.one("title").text == page.one("h1").text
    assert "This information is not available" in page.one("main").text
    assert not EVENT_HANDLER_ATTRIBUTE.search(response.text)
    assert len(response.content) < 4096, "small"
    return page


@pytest.mark.parametrize(("path", "status"), WIDGET_ERRORS)
def test_widget_errors_are_small_frameable_pages(gone_client: TestClient, path: str, status: int) -> None:
    response = gone_client.get(path)

    page = assert_unavailable_page(response, status, frame_ancestors=["*"])
    assert page.one("title").text == _part_title(path)
    assert page.one("html").attrs["data-theme"] == "auto"
    assert (
        response.headers["content-security-policy"]
        == gone_client.get(FAQS_URL).headers["content-security-policy"]
    ), "the same policy as the widget itself"
    assert response.headers["content-language"] == "en"


def test_widget_error_pages_take_frame_ancestors_from_settings(public_client: TestClient) -> None:
    url = public_client.app.state.settings.database_url  # type: ignore[attr-defined]
    settings = Settings(database_url=url, embed_frame_ancestors=["https://portal.example.org"])
    with TestClient(create_app(settings)) as client:
        response = client.get("/embed/drugs/no-such-drug/faqs")

    assert_unavailable_page(response, 404, frame_ancestors=["https://portal.example.org"])


@pytest.mark.parametrize(
    ("query", "theme", "color_scheme"),
    [
        ("?theme=dark", "dark", "dark"),
        ("?theme=light&locale=fr", "light", "light"),
        ("", "auto", "light dark"),
    ],
)
def test_widget_error_pages_keep_the_theme(
    catalog_client: TestClient, query: str, theme: str, color_scheme: str
) -> None:
    page = parse(catalog_client.get("/embed/drugs/no-such-drug/faqs" + query).text)

    assert page.one("html").attrs["data-theme"] == theme
    meta = next(m for m in page.all("meta") if m.attrs.get("name") == "color-scheme")
    assert meta.attrs["content"] == color_scheme


@pytest.mark.parametrize(
    "path",
    [
        "/embed/drugs/no-such-drug-xss/faqs?theme=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        FAQS_URL + "?locale=%3Cscript%3Ealert(1)%3C/script%3E",
        FAQS_URL + "?%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E=1",
        "/embed/drugs/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E/faqs",
        "/embed/drugs/no-such-drug-xss/faqs",
    ],
)
def test_widget_error_pages_reflect_nothing_from_the_request(catalog_client: TestClient, path: str) -> None:
    response = catalog_client.get(path)

    assert response.status_code in (400, 404, 422)
    for reflected in ("alert", "onerror", "no-such-drug-xss", "&lt;script", "%3C"):
        assert reflected not in response.text
    assert len(parse(response.text).all("script")) == 1


def test_a_widget_answers_503_as_a_page_when_the_database_is_down(unreachable_client: TestClient) -> None:
    response = unreachable_client.get(SIDE_EFFECTS_URL, params={"theme": "dark"})

    page = assert_unavailable_page(response, 503, frame_ancestors=["*"])
    assert response.headers["retry-after"] == "5"
    assert page.one("html").attrs["data-theme"] == "dark"
    assert page.one("title").text == "Side effects: not available"
    assert "try again later" in page.one("main").text
    for leak in ("sqlite", "psycopg", "druginfo_missing", "SELECT", "Traceback"):
        assert leak not in response.text


def test_a_widget_over_the_rate_limit_is_a_page_that_says_when_to_retry(public_client: TestClient) -> None:
    """The rate limit refuses before routing: a widget's refusal is still its notice page (inside a
    portal's frame a problem+json answer is refused, and the browser draws its error box)."""
    url = public_client.app.state.settings.database_url  # type: ignore[attr-defined]
    with TestClient(create_app(Settings(database_url=url, rate_limit_per_minute=2))) as client:
        assert client.get(FAQS_URL).status_code == 200
        assert client.get(SIDE_EFFECTS_URL).status_code == 200
        refused = client.get(SIDE_EFFECTS_URL, params={"theme": "dark"})
        api = client.get("/api/v1/drugs")
        script = client.get("/embed.js")

    page = assert_unavailable_page(refused, 429, frame_ancestors=["*"])
    assert int(refused.headers["retry-after"]) >= 1
    assert page.one("html").attrs["data-theme"] == "dark"
    assert page.one("title").text == "Side effects: not available"
    assert "try again later" in page.one("main").text
    # Everything else over the limit is still the problem it was.
    assert_problem(api, 429, "rate_limited")
    assert_problem(script, 429, "rate_limited")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/embed/drugs/pomalidomide/stories", 404),
        ("/embed.js?colour=red", 400),
        ("/api/v1/drugs/no-such-drug", 404),
        ("/api/v1/drugs/UPPER", 422),
    ],
)
def test_errors_outside_the_widget_pages_stay_problems(
    catalog_client: TestClient, path: str, status: int
) -> None:
    assert_problem(catalog_client.get(path), status)


def test_openapi_documents_widget_errors_as_pages(public_client: TestClient) -> None:
    spec = public_client.get("/openapi.json").json()

    for path in ("/embed/drugs/{slug}/faqs", "/embed/drugs/{slug}/side-effects"):
        responses = spec["paths"][path]["get"]["responses"]
        for status in ("400", "404", "422", "429", "503"):
            assert list(responses[status]["content"]) == ["text/html"], (path, status)
    assert list(spec["paths"]["/embed.js"]["get"]["responses"]["400"]["content"]) == [
        "application/problem+json"
    ]


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
