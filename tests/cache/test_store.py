"""The in-process cache: no stale answer after a write, bounded memory, and no caching when unsure."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from starlette.responses import Response

from app.core.config import Settings
from app.core.http import public_json
from app.main import create_app
from tests.cache.conftest import edited, import_elsewhere, import_with

FAQ_URL = "/api/v1/drugs/testdrug-a/faqs"
AFFECTED_URLS = [
    "/api/v1/drugs/testdrug-a",
    FAQ_URL,
    "/api/v1/faqs?drug=testdrug-a",
    "/api/v1/faqs",
]


def _first_answer(client: TestClient, url: str) -> str:
    body = client.get(url).json()
    if "faqs" in body:
        return str(body["faqs"][0]["answer"])
    return str(body["items"][0]["answer"])


def _warm(client: TestClient) -> dict[str, str]:
    etags = {}
    for url in AFFECTED_URLS:
        client.get(url)
        etags[url] = client.get(url).headers["etag"]
    return etags


def test_an_edit_published_through_the_apps_own_writer_is_served_at_once(
    synthetic_client: TestClient, bundle: dict[str, Any]
) -> None:
    etags = _warm(synthetic_client)

    import_with(synthetic_client.app.state.db, edited(bundle, "Edited answer, published."))  # type: ignore[attr-defined]

    # No waiting: the writer's own process re-read the generation right after its commit.
    for url in AFFECTED_URLS:
        assert _first_answer(synthetic_client, url) == "Edited answer, published."
        response = synthetic_client.get(url, headers={"If-None-Match": etags[url]})
        assert response.status_code == 200
        assert response.headers["etag"] != etags[url]


def test_unchanged_drugs_keep_their_validators_across_a_publish(
    synthetic_client: TestClient, bundle: dict[str, Any]
) -> None:
    url = "/api/v1/drugs/testdrug-b"
    before = synthetic_client.get(url)

    import_with(synthetic_client.app.state.db, edited(bundle, "Only A changes."))  # type: ignore[attr-defined]

    after = synthetic_client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 304


@pytest.fixture
def fast_poll_client(synthetic: Settings) -> Any:
    settings = synthetic.model_copy(update={"cache_poll_interval": 0.1})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_an_edit_published_elsewhere_is_served_within_the_poll_interval(
    fast_poll_client: TestClient, synthetic: Settings, bundle: dict[str, Any]
) -> None:
    _warm(fast_poll_client)
    assert _first_answer(fast_poll_client, FAQ_URL) != "Edited elsewhere."

    import_elsewhere(synthetic, edited(bundle, "Edited elsewhere."))
    published = time.monotonic()

    deadline = published + 5
    while _first_answer(fast_poll_client, FAQ_URL) != "Edited elsewhere." and time.monotonic() < deadline:
        time.sleep(0.02)
    elapsed = time.monotonic() - published
    assert elapsed < 1.0, f"took {elapsed:.2f}s with a 0.1s poll interval"
    for url in AFFECTED_URLS:
        assert _first_answer(fast_poll_client, url) == "Edited elsewhere."


def test_an_unpublish_stops_the_drug_being_served(
    synthetic_client: TestClient, bundle: dict[str, Any]
) -> None:
    _warm(synthetic_client)
    draft = dict(bundle, drugs=[{**bundle["drugs"][0], "status": "draft"}])

    import_with(synthetic_client.app.state.db, draft)  # type: ignore[attr-defined]

    assert synthetic_client.get("/api/v1/drugs/testdrug-a").status_code == 404
    assert synthetic_client.get(FAQ_URL).status_code == 404
    slugs = [item["slug"] for item in synthetic_client.get("/api/v1/drugs").json()["items"]]
    assert "testdrug-a" not in slugs


@pytest.fixture
def small_cache_client(synthetic: Settings) -> Any:
    settings = synthetic.model_copy(update={"cache_max_entries": 3, "cache_max_documents": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_caches_stay_within_their_bounds_and_answers_stay_right(
    small_cache_client: TestClient, synthetic_client: TestClient
) -> None:
    store = small_cache_client.app.state.store  # type: ignore[attr-defined]
    urls = [
        f"/api/v1/drugs/{slug}{suffix}"
        for slug in ("testdrug-a", "testdrug-b", "testdrug-c")
        for suffix in ("", "/faqs", "/sections")
    ] + ["/api/v1/drugs", "/api/v1/faqs", "/api/v1/conditions"]

    for _ in range(2):
        for url in urls:
            response = small_cache_client.get(url)
            reference = synthetic_client.get(url)
            assert response.status_code == 200
            assert response.content == reference.content
            assert response.headers["etag"] == reference.headers["etag"]
            stats = store.stats()
            assert stats["responses_entries"] <= 3
            assert stats["bodies_entries"] <= 3
            assert stats["documents_entries"] <= 2
            assert stats["live_entries"] <= 3

    stats = store.stats()
    assert stats["bodies_evictions"] > 0
    assert stats["documents_evictions"] > 0
    assert 0 < stats["responses_bytes"] <= 3 * max(len(synthetic_client.get(u).content) for u in urls) * 2


def test_metrics_report_the_cache(app_client: TestClient) -> None:
    app_client.get("/api/v1/drugs/testdrug-c")
    app_client.get("/api/v1/drugs/testdrug-c")

    text = app_client.get("/metrics").text

    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line[:1] != "#"}
    assert lines['druginfo_cache_hits_total{cache="responses"}'] >= 1
    assert lines['druginfo_cache_misses_total{cache="responses"}'] >= 1
    assert lines['druginfo_cache_entries{cache="responses"}'] >= 1
    assert lines['druginfo_cache_bytes{cache="bodies"}'] > 10_000
    assert lines["druginfo_content_generation"] >= 1


def test_without_a_known_generation_nothing_is_served_from_memory(synthetic: Settings) -> None:
    # Without its lifespan the app has no watcher, so it cannot know the content is current.
    client = TestClient(create_app(synthetic), raise_server_exceptions=False)
    store = client.app.state.store  # type: ignore[attr-defined]

    try:
        for _ in range(3):
            assert client.get(FAQ_URL).status_code == 200
    finally:
        client.app.state.db.dispose()  # type: ignore[attr-defined]

    assert store.response_hits == 0
    assert store.stats()["responses_entries"] == 0
    assert store.stats()["live_entries"] == 0


def test_a_new_day_starts_a_new_view(app_client: TestClient) -> None:
    # Documents say whether their review is overdue, which depends on the date.
    store = app_client.app.state.store  # type: ignore[attr-defined]
    app_client.get(FAQ_URL)
    view = store.view()
    assert view.responses.get((FAQ_URL, b"", None, b"testserver", "http")) is not None

    view.expires_at = time.time() - 1

    assert store.view() is not view
    before = store.response_hits
    app_client.get(FAQ_URL)
    assert store.response_hits == before


def test_answers_made_with_public_json_are_kept_for_the_generation(synthetic: Settings) -> None:
    # How a public endpoint from elsewhere (e.g. search) gets cached per generation and query.
    app = create_app(synthetic)
    built = []

    @app.get("/api/v1/echo")
    def echo(request: Request, q: str) -> Response:
        built.append(q)
        return public_json(request, synthetic, f'{{"q": "{q}"}}'.encode())

    with TestClient(app) as client:
        answers = [client.get("/api/v1/echo", params={"q": q}) for q in ("a", "a", "b", "a")]

    assert [r.json().get("q") for r in answers] == ["a", "a", "b", "a"], answers[0].text
    assert built == ["a", "b"]
    assert answers[1].headers["etag"] == answers[0].headers["etag"] != answers[2].headers["etag"]
