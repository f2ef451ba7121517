"""`GET /api/v1/search` and `q` on the lists, on both engines, over the synthetic corpus."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.db import make_null_pool_engine
from app.main import create_app
from app.search.router import UNQUEUED_THREADS
from tests.helpers import assert_problem


def search(client: TestClient, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def found(client: TestClient, q: str, **params: Any) -> list[tuple[str, str]]:
    """(type, title) of every hit, best first."""
    return [(hit["type"], hit["title"]) for hit in search(client, q, limit=100, **params)["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("constipated", ("side_effect", "Constipation")),  # stemming: constipated → constipation
        ("clots", ("side_effect", "Blood clots")),
        ("clot ", ("side_effect", "Blood clots")),  # singular finds the plural
        ("storing", ("faq", "How is Testdrug A stored?")),
        ("compounds", ("section", "Overview")),
    ],
)
def test_stemming(corpus_client: TestClient, q: str, expected: tuple[str, str]) -> None:
    assert expected in found(corpus_client, q)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("zorb", ("drug", "Testdrug A")),  # type-ahead: the last word is a prefix
        ("constip", ("side_effect", "Constipation")),
        ("medicati", ("section", "Overview")),  # typed past the stem ("medic") of "medications"
        # Longer than the longest prefix searched (8): the whole word still matches its stem.
        ("medications", ("section", "Overview")),
        ("synthet* cupboard", ("faq", "How is Testdrug A stored?")),  # explicit * on any word
    ],
)
def test_prefix(corpus_client: TestClient, q: str, expected: tuple[str, str]) -> None:
    assert expected in found(corpus_client, q)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("medications", ("section", "Overview")),  # stem "medic": "medicatio" is 4 past it
        ("constipation", ("side_effect", "Constipation")),  # stem "constip"
    ],
)
def test_type_ahead_finds_the_word_at_every_keystroke(
    corpus_client: TestClient, word: str, expected: tuple[str, str]
) -> None:
    missed = [word[:n] for n in range(4, len(word) + 1) if expected not in found(corpus_client, word[:n])]
    assert missed == []


def test_a_finished_word_is_not_a_prefix(corpus_client: TestClient) -> None:
    assert found(corpus_client, "zorb ") == []


def test_phrase_needs_the_words_in_order(corpus_client: TestClient) -> None:
    in_order = found(corpus_client, '"blood clots"')
    reversed_phrase = found(corpus_client, '"clots blood"')
    any_order = found(corpus_client, "clots blood")

    assert ("side_effect", "Blood clots") in in_order
    assert ("section", "About clotting") in in_order
    assert reversed_phrase == []
    assert ("side_effect", "Blood clots") in any_order


def test_every_word_must_match(corpus_client: TestClient) -> None:
    assert found(corpus_client, "constipation cupboard ") == []


def test_a_name_match_ranks_above_a_passing_mention(corpus_client: TestClient) -> None:
    hits = search(corpus_client, "zorbium")["items"]

    assert [(h["type"], h["drug"]["slug"]) for h in hits] == [
        ("drug", "testdrug-a"),
        ("section", "testdrug-b"),
    ]
    assert hits[0]["score"] > hits[1]["score"] > 0


def test_side_effect_name_and_faq_question_rank_above_mentions(corpus_client: TestClient) -> None:
    hits = found(corpus_client, "constipation")

    assert set(hits[:2]) == {("side_effect", "Constipation"), ("faq", "Does Testdrug A cause constipation?")}
    assert ("section", "Overview") in hits[2:]


def test_hit_shape_and_links(corpus_client: TestClient) -> None:
    body = search(corpus_client, "cupboard")

    assert body["total"] == 1 and body["next_cursor"] is None
    (hit,) = body["items"]
    assert hit["type"] == "faq"
    assert isinstance(hit["id"], int)
    assert hit["drug"] == {
        "slug": "testdrug-a",
        "name": "Testdrug A",
        "links": {"self": "/api/v1/drugs/testdrug-a"},
    }
    assert hit["title"] == "How is Testdrug A stored?"
    assert hit["locale"] == "en"
    assert hit["link"] == f"/api/v1/drugs/testdrug-a/faqs/{hit['id']}"
    item = corpus_client.get(hit["link"])
    assert item.status_code == 200
    assert item.json()["item"]["question"] == hit["title"]


@pytest.mark.parametrize(
    ("q", "link"),
    [
        ("zorbium", "/api/v1/drugs/testdrug-a"),
        ("escaping", "/api/v1/drugs/testdrug-a/sections/clotting"),
        ("helpline", "/api/v1/drugs/testdrug-a/support-resources"),
        ("testcondition", "/api/v1/drugs/testdrug-a/indications/"),
        ("testcomponent", "/api/v1/drugs/testdrug-a/combinations/"),
        ("stools", "/api/v1/drugs/testdrug-a/side-effects/"),
    ],
)
def test_every_hit_links_to_its_item(corpus_client: TestClient, q: str, link: str) -> None:
    hit = search(corpus_client, q)["items"][0]

    assert hit["link"].startswith(link)
    assert corpus_client.get(hit["link"]).status_code == 200


def test_snippet_is_highlighted_and_safe_html(corpus_client: TestClient) -> None:
    hit = next(h for h in search(corpus_client, "blood clots")["items"] if h["title"] == "About clotting")

    snippet = hit["snippet"]
    assert "<mark>" in snippet and "</mark>" in snippet
    assert "clots</mark>" in snippet
    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "&amp;" in snippet and "&quot;quotes&quot;" in snippet
    # Nothing but <mark> is markup: take the marks away and no tag is left.
    assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")


def test_filters_by_type_and_drug(corpus_client: TestClient) -> None:
    only_faqs = search(corpus_client, "testdrug", type="faq", limit=100)["items"]
    only_b = search(corpus_client, "synthetic", drug="testdrug-b", limit=100)["items"]
    two_types = search(corpus_client, "constipation", type="faq,side-effect")["items"]

    assert only_faqs and {h["type"] for h in only_faqs} == {"faq"}
    assert only_b and {h["drug"]["slug"] for h in only_b} == {"testdrug-b"}
    assert {h["type"] for h in two_types} == {"faq", "side_effect"}


def test_drafts_are_never_found(corpus_client: TestClient) -> None:
    assert search(corpus_client, "quuxolin")["total"] == 0
    assert search(corpus_client, "Testdrug C")["total"] == 0


def test_pages_follow_the_cursor(corpus_client: TestClient) -> None:
    everything = search(corpus_client, "synthetic", limit=100)
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "synthetic", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = corpus_client.get("/api/v1/search", params=params)
        body = response.json()
        pages.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert 'rel="next"' in response.headers["link"]

    assert everything["total"] > 6
    assert len(pages) == everything["total"]
    assert [(h["type"], h["id"]) for h in pages] == [(h["type"], h["id"]) for h in everything["items"]]


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjoic2VhcmNoIiwibyI6MywiZiI6IngifQ"])
def test_a_foreign_or_tampered_cursor_is_refused(corpus_client: TestClient, cursor: str) -> None:
    response = corpus_client.get("/api/v1/search", params={"q": "synthetic", "cursor": cursor})

    # Well-formed but not issued for this list: it names no page (a malformed one is a 422).
    assert_problem(response, 404, "cursor_not_found")


def test_a_cursor_is_bound_to_its_query(corpus_client: TestClient) -> None:
    cursor = search(corpus_client, "synthetic", limit=1)["next_cursor"]

    response = corpus_client.get("/api/v1/search", params={"q": "testdrug", "cursor": cursor})

    assert_problem(response, 404, "cursor_not_found")


@pytest.mark.parametrize(
    ("params", "status", "code", "pointer"),
    [
        ({}, 422, "invalid_parameters", "#/query/q"),
        ({"q": ""}, 422, "invalid_parameters", "#/query/q"),
        ({"q": "x" * 10_000}, 422, "invalid_parameters", "#/query/q"),
        ({"q": "blood", "type": "nonsense"}, 422, "invalid_parameters", "#/query/type"),
        ({"q": "blood", "limit": 0}, 422, "invalid_parameters", "#/query/limit"),
        ({"q": "blood", "limit": 101}, 422, "invalid_parameters", "#/query/limit"),
        ({"q": "blood", "limit": "ten"}, 422, "invalid_parameters", "#/query/limit"),
        ({"q": "blood", "drug": "Not A Slug"}, 422, "invalid_parameters", "#/query/drug"),
        ({"q": "blood", "locale": "not a locale"}, 422, "invalid_parameters", "#/query/locale"),
        ({"q": "blood", "cursor": "not a cursor!"}, 422, "invalid_parameters", "#/query/cursor"),
        ({"q": "blood", "unknown": "1"}, 400, "unknown_parameters", "#/query/unknown"),
    ],
)
def test_bad_parameters_are_problems(
    corpus_client: TestClient, params: dict[str, Any], status: int, code: str, pointer: str
) -> None:
    response = corpus_client.get("/api/v1/search", params=params)

    body = assert_problem(response, status, code)
    assert [error["pointer"] for error in body["errors"]] == [pointer]


def test_every_documented_parameter_is_accepted(corpus_client: TestClient) -> None:
    """The query is read as one model (`SearchQuery`): what the OpenAPI lists is what is accepted."""
    operation = corpus_client.get("/openapi.json").json()["paths"]["/api/v1/search"]["get"]
    documented = {p["name"]: p for p in operation["parameters"]}
    assert set(documented) == {"q", "type", "drug", "limit", "cursor", "locale"}
    assert documented["q"]["required"] is True
    assert documented["limit"]["schema"] == {
        "default": 20,
        "description": documented["limit"]["description"],
        "maximum": 100,
        "minimum": 1,
        "title": "Limit",
        "type": "integer",
    }

    body = search(corpus_client, "blood", type="side_effect", drug="testdrug-a", limit=1, locale="en")
    assert [hit["title"] for hit in body["items"]] == ["Blood clots"]


HOSTILE_QUERIES = [
    '"',
    '"""',
    '"blood',
    'blood"',
    '"blood" "clots',
    "*",
    "**",
    "blood*clots",
    "^blood",
    "blood^2",
    "NEAR(blood clots)",
    "NEAR(blood clots, 2",
    "NEAR(",
    "section_key:overview",
    "title:zorbium",
    "{a_text b_text}: zorbium",
    "a_text:zorbium",
    "-zorbium",
    "+zorbium",
    "AND",
    "OR",
    "NOT",
    "AND OR NOT",
    "blood AND",
    "NOT blood",
    "blood OR",
    "(blood",
    "blood)",
    "()",
    "&",
    "|",
    "!",
    "!!blood",
    "blood & clots",
    "blood | clots",
    "blood <-> clots",
    "blood <2> clots",
    "blood:*",
    ":*",
    "blood:A",
    "'blood'",
    "''",
    "\\",
    "blood\\",
    "%",
    "_",
    "' OR 1=1 --",
    "'; DROP TABLE search_entry; --",
    '" OR ""="',
    "1; SELECT pg_sleep(1)",
    "\x00",
    "blood\x00clots",
    "\x01\x02\x03\x1f\x7f",
    "blood\u200bclots",
    "\u202eblood",
    "\ufeff",
    "💊",
    "💊 blood 🩸",
    "𝔟𝔩𝔬𝔬𝔡",
    "ｂｌｏｏｄ",
    "दवा",
    "薬",
    "a" * 61,
    "the of and",
    "the",
    " ",
    "\t\n",
    "x" * 500,
    " ".join(["blood"] * 100),
    " ".join(f"w{i}" for i in range(100)),
    '"' + "blood " * 60 + '"',
    "blood*" * 50,
]


@pytest.mark.parametrize("q", HOSTILE_QUERIES)
def test_hostile_queries_never_fail(corpus_client: TestClient, q: str) -> None:
    response = corpus_client.get("/api/v1/search", params={"q": q})

    if response.status_code == 200:
        body = response.json()
        assert body["total"] >= len(body["items"])
    else:
        assert_problem(response, 422)
    for path in ("/api/v1/drugs", "/api/v1/faqs", "/api/v1/side-effects"):
        assert corpus_client.get(path, params={"q": q}).status_code in (200, 422)


@pytest.mark.parametrize("q", ["the of and", "*", '"', "💊", "   "])
def test_queries_with_nothing_to_search_are_empty(corpus_client: TestClient, q: str) -> None:
    body = search(corpus_client, q)

    assert body == {"items": [], "next_cursor": None, "total": 0}


def test_drugs_q_ranks_by_the_same_engine(corpus_client: TestClient) -> None:
    by_relevance = corpus_client.get("/api/v1/drugs", params={"q": "zorbium"}).json()
    by_name = corpus_client.get("/api/v1/drugs", params={"q": "zorbium", "sort": "-name"}).json()
    none = corpus_client.get("/api/v1/drugs", params={"q": "quuxolin"}).json()

    assert [d["slug"] for d in by_relevance["items"]] == ["testdrug-a", "testdrug-b"]
    assert by_relevance["total"] == 2
    assert [d["slug"] for d in by_name["items"]] == ["testdrug-b", "testdrug-a"]
    assert none == {"items": [], "next_cursor": None, "total": 0}


def test_drugs_q_combines_with_filters(corpus_client: TestClient) -> None:
    body = corpus_client.get("/api/v1/drugs", params={"q": "synthetic", "code": "atc|T01AA02"}).json()

    assert [d["slug"] for d in body["items"]] == ["testdrug-b"]


def test_relevance_sort_needs_a_query(corpus_client: TestClient) -> None:
    assert_problem(
        corpus_client.get("/api/v1/drugs", params={"sort": "relevance"}), 422, "invalid_parameters"
    )


def test_faqs_q_uses_the_same_engine(corpus_client: TestClient) -> None:
    body = corpus_client.get("/api/v1/faqs", params={"q": "constipated"}).json()

    assert [f["question"] for f in body["items"]] == ["Does Testdrug A cause constipation?"]
    assert body["items"][0]["drug"]["slug"] == "testdrug-a"
    assert body["total"] == 1


def test_drugs_q_pages_by_relevance(corpus_client: TestClient) -> None:
    first = corpus_client.get("/api/v1/drugs", params={"q": "zorbium", "limit": 1}).json()
    second = corpus_client.get(
        "/api/v1/drugs", params={"q": "zorbium", "limit": 1, "cursor": first["next_cursor"]}
    ).json()

    assert [d["slug"] for d in first["items"] + second["items"]] == ["testdrug-a", "testdrug-b"]
    assert first["total"] == second["total"] == 2
    assert second["next_cursor"] is None


@pytest.mark.parametrize("concurrency", [1, 0, None])
def test_queued_searches_answer_as_unqueued_ones(corpus_client: TestClient, concurrency: int | None) -> None:
    """`search_concurrency` queues searches (0: no queue; unset: the engine's default, one at a time
    on SQLite, four on PostgreSQL); every answer is still the same."""
    settings = corpus_client.app.state.settings.model_copy(update={"search_concurrency": concurrency})
    queries = ["constipated", "blood clots", "medicati", "storing", "zorb", "clot ", "compounds"] * 3
    expected = {q: search(corpus_client, q)["items"] for q in queries}

    before = set(threading.enumerate())
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda q: (q, search(client, q)["items"]), queries))
        queue = client.app.state.search_queue  # type: ignore[attr-defined]
        searching = {t for t in set(threading.enumerate()) - before if t.name.startswith("druginfo-search")}

    assert answers == [(q, expected[q]) for q in queries]
    engine_default = 1 if corpus_client.app.state.db.dialect == "sqlite" else 4  # type: ignore[attr-defined]
    assert queue.size == (engine_default if concurrency is None else concurrency or UNQUEUED_THREADS)
    # The queue's own threads did the database work: no more of them than it lets run at once.
    assert 1 <= len(searching) <= queue.size
    if queue.size == 1:
        assert len(searching) == 1
    # Closed with the app: its threads are gone.
    for _ in range(100):
        if not any(t.is_alive() for t in searching):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the search queue's threads outlived the app")


def test_a_search_without_its_index_is_a_503_not_a_500(client: TestClient, database_url: str) -> None:
    """The search's statements run past SQLAlchemy's execution on SQLite (`DriverSelect`): a driver
    error still reaches the database error handling as SQLAlchemy's, so a broken database answers
    503 with a problem, never a 500 with a traceback."""
    assert search(client, "fatigue")["total"] == 0  # the statements are built and cached
    engine = make_null_pool_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE search_entry RENAME TO search_entry_away"))
    try:
        response = client.get("/api/v1/search", params={"q": "nausea"})
    finally:
        with engine.begin() as conn:  # the PostgreSQL database is reused by later tests
            conn.execute(sa.text("ALTER TABLE search_entry_away RENAME TO search_entry"))
        engine.dispose()

    assert_problem(response, 503, "database_unavailable")
    assert search(client, "nausea")["total"] == 0
