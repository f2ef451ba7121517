"""HTTP caching of the public API: validators, 304s, Cache-Control, gzip variants and Vary."""

from __future__ import annotations

import datetime as dt
import gzip
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.http import accepts_gzip, prepare

PUBLIC_URLS = [
    "/api/v1/drugs/testdrug-a",
    "/api/v1/drugs/testdrug-a?include=faqs,sections",
    "/api/v1/drugs/testdrug-a/faqs",
    "/api/v1/drugs/testdrug-a/sections",
    "/api/v1/drugs/testdrug-a/sections/introduction",
    "/api/v1/drugs/testdrug-a/side-effects?seriousness=serious",
    "/api/v1/drugs/testdrug-a/indications",
    "/api/v1/drugs/testdrug-a/monitoring",
    "/api/v1/drugs/testdrug-a/combinations",
    "/api/v1/drugs/testdrug-a/stories",
    "/api/v1/drugs/testdrug-a/support-resources",
    "/api/v1/drugs?limit=2",
    "/api/v1/drugs?letter=t&sort=-name",
    "/api/v1/conditions",
    "/api/v1/conditions/multiple-myeloma",
    "/api/v1/faqs?drug=testdrug-b",
    "/api/v1/faqs",
    "/api/v1/support-resources?category=educational",
]

# Whether the answer is the first for its URL (built by the route) or a repeat (from the cache).
TEMPERATURES = ["cold", "warm"]


def _set_temperature(client: TestClient, url: str, temperature: str) -> None:
    """Cold: the next answer is built by the route; warm: it comes from the response cache."""
    client.app.state.store.view().responses.clear()  # type: ignore[attr-defined]
    if temperature == "warm":
        client.get(url)


def _get(client: TestClient, url: str, temperature: str, **headers: str) -> httpx.Response:
    _set_temperature(client, url, temperature)
    before = client.app.state.store.response_hits  # type: ignore[attr-defined]
    response = client.get(url, headers=headers)
    assert client.app.state.store.response_hits - before == (temperature == "warm")  # type: ignore[attr-defined]
    return response


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_every_public_get_has_validators_and_cache_headers(app_client: TestClient, url: str) -> None:
    first = app_client.get(url)
    second = app_client.get(url)

    for response in (first, second):
        assert response.status_code == 200, response.text
        assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith("W/")
        assert parsedate_to_datetime(response.headers["last-modified"]).tzinfo is not None
        assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=300"
        assert {"Accept-Encoding", "Accept-Language"} <= {
            v.strip() for v in response.headers["vary"].split(",")
        }
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["last-modified"] == second.headers["last-modified"]


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("url", PUBLIC_URLS[:3] + PUBLIC_URLS[11:])
def test_if_none_match_gives_304_without_a_body(app_client: TestClient, url: str, temperature: str) -> None:
    etag = app_client.get(url).headers["etag"]

    response = _get(app_client, url, temperature, **{"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"
    assert response.headers["cache-control"].startswith("public")


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("url", PUBLIC_URLS[:3] + PUBLIC_URLS[11:])
def test_head_is_get_without_the_body(app_client: TestClient, url: str, temperature: str) -> None:
    get = app_client.get(url)

    head = _get_head(app_client, url, temperature)
    revalidated = app_client.head(url, headers={"If-None-Match": get.headers["etag"]})

    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "cache-control", "vary"):
        assert head.headers[name] == get.headers[name], name
    assert revalidated.status_code == 304
    assert revalidated.content == b""


def _get_head(client: TestClient, url: str, temperature: str) -> httpx.Response:
    _set_temperature(client, url, temperature)
    before = client.app.state.store.response_hits  # type: ignore[attr-defined]
    response = client.head(url)
    assert client.app.state.store.response_hits - before == (temperature == "warm")  # type: ignore[attr-defined]
    return response


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("accept_encoding", ["identity", "gzip"])
def test_vary_names_each_header_once(app_client: TestClient, temperature: str, accept_encoding: str) -> None:
    url = "/api/v1/drugs/testdrug-a"  # over 1 kB: gzip looks at it (and would add its own Vary)

    response = _get(app_client, url, temperature, **{"Accept-Encoding": accept_encoding})

    names = [name.strip().lower() for name in response.headers["vary"].split(",")]
    assert sorted(names) == sorted(set(names)) and "accept-encoding" in names


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize(
    "if_none_match, status",
    [
        ("{etag}", 304),
        ("W/{etag}", 304),
        ('"other", {etag}', 304),
        ("*", 304),
        ('"stale"', 200),
        ('W/"stale", "other"', 200),
    ],
)
def test_if_none_match_forms(
    app_client: TestClient, temperature: str, if_none_match: str, status: int
) -> None:
    url = "/api/v1/drugs/testdrug-a"
    etag = app_client.get(url).headers["etag"]

    response = _get(app_client, url, temperature, **{"If-None-Match": if_none_match.format(etag=etag)})

    assert response.status_code == status
    if status == 200:
        assert response.json()["slug"] == "testdrug-a"


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize(
    "url", ["/api/v1/drugs/testdrug-a", "/api/v1/drugs/testdrug-a/faqs", "/api/v1/drugs"]
)
@pytest.mark.parametrize(
    "offset, status", [(dt.timedelta(0), 304), (dt.timedelta(days=1), 304), (dt.timedelta(seconds=-1), 200)]
)
def test_if_modified_since(
    app_client: TestClient, url: str, temperature: str, offset: dt.timedelta, status: int
) -> None:
    last_modified = parsedate_to_datetime(app_client.get(url).headers["last-modified"])
    since = format_datetime(last_modified + offset, usegmt=True)

    response = _get(app_client, url, temperature, **{"If-Modified-Since": since})

    assert response.status_code == status
    assert (response.content == b"") is (status == 304)


@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_if_none_match_wins_over_if_modified_since(app_client: TestClient, temperature: str) -> None:
    url = "/api/v1/drugs/testdrug-a"
    first = app_client.get(url)
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": first.headers["last-modified"]}

    response = _get(app_client, url, temperature, **headers)

    assert response.status_code == 200


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("value", ["Sunday, 06-Nov-94", "yesterday", "", "Wed, 99 Foo 2026 00:00:00 GMT"])
def test_unparseable_if_modified_since_is_ignored(
    app_client: TestClient, temperature: str, value: str
) -> None:
    response = _get(app_client, "/api/v1/drugs/testdrug-a", temperature, **{"If-Modified-Since": value})

    assert response.status_code == 200


def _raw(client: TestClient, url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        return dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_gzip_and_plain_variants_hold_the_same_json(
    app_client: TestClient, url: str, temperature: str
) -> None:
    _set_temperature(app_client, url, temperature)
    plain_headers, plain = _raw(app_client, url, **{"Accept-Encoding": "identity"})
    gzip_headers, compressed = _raw(app_client, url, **{"Accept-Encoding": "gzip, deflate, br"})

    assert "content-encoding" not in plain_headers
    assert int(plain_headers["content-length"]) == len(plain)
    if len(plain) < 1024:
        assert "content-encoding" not in gzip_headers
        assert compressed == plain
        return
    assert gzip_headers["content-encoding"] == "gzip"
    assert int(gzip_headers["content-length"]) == len(compressed) < len(plain)
    assert gzip.decompress(compressed) == plain
    # Different bytes, different strong validators; each revalidates only itself.
    assert gzip_headers["etag"] != plain_headers["etag"]
    for encoding, etag in (("gzip", gzip_headers["etag"]), ("identity", plain_headers["etag"])):
        again = app_client.get(url, headers={"Accept-Encoding": encoding, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.headers["etag"] == etag


def test_the_gzip_variant_is_made_when_first_asked_for_then_kept() -> None:
    body = b'{"text": "' + b"patient information " * 200 + b'"}'
    representation = prepare(body, Settings(), last_modified=None)
    assert representation.size == len(body)  # a client that never asks for gzip costs no compression

    status, plain_headers, plain = representation.choose("identity", None, None)
    assert (status, plain) == (200, body)
    assert representation.size == len(body)

    status, headers, compressed = representation.choose("gzip, br", None, None)
    assert status == 200 and gzip.decompress(compressed) == body
    assert (b"content-encoding", b"gzip") in headers
    assert representation.size == len(body) + len(compressed)
    # Made once: later requests get the very same bytes, and revalidate against its own ETag.
    assert representation.choose("gzip", None, None)[2] is compressed
    etag = dict(headers)[b"etag"].decode()
    assert representation.choose("gzip", etag, None)[0] == 304
    assert representation.choose("identity", etag, None)[0] == 200
    assert dict(plain_headers)[b"etag"].decode() != etag


def test_a_small_body_has_no_gzip_variant() -> None:
    representation = prepare(b'{"a": 1}', Settings(), last_modified=None)

    status, headers, body = representation.choose("gzip", None, None)

    assert (status, body) == (200, b'{"a": 1}')
    assert b"content-encoding" not in dict(headers)
    assert representation.gzipped is None


@pytest.mark.parametrize(
    "accept_encoding, expected",
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *;q=1", False),
        ("*;q=0", False),
        ("identity", False),
        ("br", False),
        ("gzip;q=nonsense", False),
        ("", False),
    ],
)
def test_accept_encoding_negotiation(accept_encoding: str, expected: bool) -> None:
    assert accepts_gzip(accept_encoding) is expected


def test_refused_gzip_gets_plain_bytes(app_client: TestClient) -> None:
    url = "/api/v1/drugs/testdrug-a"
    app_client.get(url)

    headers, body = _raw(app_client, url, **{"Accept-Encoding": "gzip;q=0, identity"})

    assert "content-encoding" not in headers
    assert body.startswith(b"{")


@pytest.mark.parametrize("url", ["/api/v1/drugs/testdrug-a", "/api/v1/drugs"])
def test_cors_headers_do_not_accumulate_in_cached_answers(app_client: TestClient, url: str) -> None:
    for _ in range(3):
        response = app_client.get(url, headers={"Origin": "https://portal.example"})
        assert response.headers["access-control-allow-origin"] == "*"

    response = app_client.get(url)

    assert "access-control-allow-origin" not in response.headers
    assert len(response.headers.get_list("vary")) == 1


def test_unknown_drug_is_404_problem_every_time(app_client: TestClient) -> None:
    for _ in range(2):
        response = app_client.get("/api/v1/drugs/testdrug-zzz")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "etag" not in response.headers


def test_bad_parameters_are_never_answered_from_cache(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/drugs?limit=2").status_code == 200

    assert app_client.get("/api/v1/drugs?limit=2&colour=red").status_code == 400
    assert app_client.get("/api/v1/drugs?limit=0").status_code == 422
    assert app_client.get("/api/v1/drugs/testdrug-a?include=nonsense").status_code == 422


def test_absolute_links_follow_the_host_asked_for(app_client: TestClient) -> None:
    for host in ("one.example", "two.example", "one.example"):
        response = app_client.get("/api/v1/drugs?limit=1", headers={"Host": host})
        assert response.headers["link"].startswith(f"<http://{host}/api/v1/drugs?")
