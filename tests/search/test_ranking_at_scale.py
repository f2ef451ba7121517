"""A query with common and rare words (SQLite): found and ranked as the engine's bm25 would, at a
cost set by the rare words (`SqliteBackend.split`), on both engines' corpus.

The corpus is small, so "common" is made small here (COMMON_ROWS): some words of each query below
then match more entries than that, while the others match fewer.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.search import backends
from app.search.query import parse_query
from app.search.service import scope_for

MIXED_QUERIES = [
    ("water constipation", "en"),  # "constipation" is common, "water" rare: a short and a long entry
    ("constipation water", "en"),  # the common word typed last: the word or a prefix of it
    ("water testdrug", "en"),  # an entry with "water" but no "testdrug" is no hit
    ("synthetic zorbium", "en"),
    ("zorbium synthetic", "fr"),  # French entries, with the English ones as the fallback
    ("water constipation", "fr"),  # every word rare in the French entries, one common in the English
]
COMMON = 3


def hits(client: TestClient, q: str, locale: str, **params: Any) -> tuple[list[tuple[Any, ...]], int]:
    response = client.get("/api/v1/search", params={"q": q, "locale": locale, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return [(h["type"], h["drug"]["slug"], h["id"], h["score"], h["snippet"]) for h in body["items"]], body[
        "total"
    ]


@pytest.mark.parametrize(("q", "locale"), MIXED_QUERIES)
def test_a_query_with_common_words_finds_and_ranks_what_the_engine_does(
    corpus_client: TestClient, monkeypatch: pytest.MonkeyPatch, q: str, locale: str
) -> None:
    # The engine ranking the whole query (nothing is common), then the split one. Different page
    # sizes: each is a search of its own, not an answer from the response cache.
    monkeypatch.setattr(backends.SqliteBackend, "COMMON_ROWS", 10**9)
    whole, whole_total = hits(corpus_client, q, locale, limit=100)
    monkeypatch.setattr(backends.SqliteBackend, "COMMON_ROWS", COMMON)
    split, split_total = hits(corpus_client, q, locale, limit=99)

    assert whole_total == split_total == len(whole) > 0
    # The same hits in the same order, with the same snippets and scores: bm25 counts each
    # occurrence of a common word, the split ranking the columns it is in, which is the same here,
    # where no common word occurs twice in one column.
    assert split == whole


@pytest.mark.parametrize(("q", "locale"), MIXED_QUERIES)
def test_the_split_ranking_pages_like_any_other(
    corpus_client: TestClient, monkeypatch: pytest.MonkeyPatch, q: str, locale: str
) -> None:
    monkeypatch.setattr(backends.SqliteBackend, "COMMON_ROWS", COMMON)
    everything, total = hits(corpus_client, q, locale, limit=98)
    paged, cursor = [], None
    while True:
        params = {"q": q, "locale": locale, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = corpus_client.get("/api/v1/search", params=params).json()
        assert body["total"] == total
        paged += [(h["type"], h["drug"]["slug"], h["id"]) for h in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert paged == [h[:3] for h in everything]


def test_the_split_is_taken_only_with_common_and_rare_words(
    corpus_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite splits these queries (so the tests above compare two rankings); PostgreSQL never does."""
    monkeypatch.setattr(backends.SqliteBackend, "COMMON_ROWS", COMMON)
    db = corpus_client.app.state.db  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        backend = backends.backend_for(conn)
        for q, locale in MIXED_QUERIES:
            scope = scope_for(locale, "en")
            texts = backend.match_texts(conn, parse_query(q), scope)
            splits = [backend.split(conn, index, parse_query(q)) for index in texts]
            if db.dialect == "sqlite":
                assert any(s is not None and s.common for s in splits), q
            else:
                assert splits == [None] * len(texts)
        if db.dialect != "sqlite":
            return
        # One word, or every word rare, or every word common: the engine ranks the whole query.
        for q, common in [("synthetic", COMMON), ("zorbium cupboard", COMMON), ("synthetic record", 1)]:
            monkeypatch.setattr(backends.SqliteBackend, "COMMON_ROWS", common)
            for index in backend.match_texts(conn, parse_query(q), scope_for("en", "en")):
                split = backend.split(conn, index, parse_query(q))
                assert split is None or not split.common, q
