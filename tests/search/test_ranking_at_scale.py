"""A query with common and rare words: found and ranked as the engine ranks the whole query, at a
cost set by the rare words (each backend's `split`), on both engines.

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
# PostgreSQL splits a query only when its prefix (the word typed last) is common: a whole word, however
# common, the GIN index skips through.
COMMON_PREFIX = {
    ("water constipation", "en"),
    ("water testdrug", "en"),
    ("zorbium synthetic", "fr"),
    ("water constipation", "fr"),
}


def common_from(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """An item matching at least `rows` entries is common, on both engines; and SQLite splits a
    query whatever the ratio of common postings to rare rows (a small corpus has few of either)."""
    for backend in (backends.SqliteBackend, backends.PostgresBackend):
        monkeypatch.setattr(backend, "COMMON_ROWS", rows)
    monkeypatch.setattr(backends.SqliteBackend, "SPLIT_RATIO", 0)


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
    common_from(monkeypatch, 10**9)
    whole, whole_total = hits(corpus_client, q, locale, limit=100)
    common_from(monkeypatch, COMMON)
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
    common_from(monkeypatch, COMMON)
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
    """The engines split these queries (so the tests above compare two ways to the same answer):
    SQLite ranks the common words itself; PostgreSQL finds the rows by the rare words only."""
    common_from(monkeypatch, COMMON)
    db = corpus_client.app.state.db  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        backend = backends.backend_for(conn)
        for q, locale in MIXED_QUERIES:
            texts = backend.match_texts(conn, parse_query(q), scope_for(locale, "en"))
            splits = {index: backend.split(conn, index, parse_query(q)) for index in texts}
            if db.dialect == "sqlite":
                assert any(s is not None and s.common for s in splits.values()), q
            else:
                narrowed = [s for index, s in splits.items() if s is not None and s.rank_text != texts[index]]
                assert all(not s.common for s in narrowed), q
                assert bool(narrowed) == ((q, locale) in COMMON_PREFIX), q
        # One word, or every word rare, or every word common: the engine takes the whole query.
        for q, common in [("synthetic", COMMON), ("zorbium cupboard", COMMON), ("synthetic record", 1)]:
            common_from(monkeypatch, common)
            for index, text in backend.match_texts(conn, parse_query(q), scope_for("en", "en")).items():
                split = backend.split(conn, index, parse_query(q))
                assert split is None or (not split.common and split.rank_text == text), q


@pytest.mark.parametrize("corpus_client", ["sqlite"], indirect=True)  # bm25's cost is SQLite's
def test_sqlite_splits_only_when_the_common_words_outweigh_the_rare_rows(
    corpus_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranking a split query costs per row of its rare words, bm25 per posting of its common ones:
    with few postings per rare row (this small corpus), the engine ranks the whole query."""
    common_from(monkeypatch, COMMON)
    monkeypatch.setattr(backends.SqliteBackend, "SPLIT_RATIO", 200)
    db = corpus_client.app.state.db  # type: ignore[attr-defined]
    with db.engine.connect() as conn:
        backend = backends.backend_for(conn)
        for q, locale in MIXED_QUERIES:
            for index, text in backend.match_texts(conn, parse_query(q), scope_for(locale, "en")).items():
                split = backend.split(conn, index, parse_query(q))
                assert split is not None and not split.common and split.rank_text == text, q
