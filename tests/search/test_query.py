"""Query parsing: user text becomes tokens, and the engine query built from them is always valid."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.config import normalize_database_url
from app.core.db import make_null_pool_engine
from app.search.query import Phrase, Term, fts5_match, parse_query, tsquery_text
from tests.conftest import PostgresServer


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("constipated", (Term("constipated", prefix=True),)),
        ("constipated ", (Term("constipated"),)),
        ("Blood CLOTS ", (Term("blood"), Term("clots"))),
        ('"blood clots"', (Phrase(("blood", "clots")),)),
        ('"blood clots" fat', (Phrase(("blood", "clots")), Term("fat", prefix=True))),
        ('"blood', (Term("blood", prefix=True),)),  # an unbalanced quote is ignored
        ('"single"', (Term("single"),)),  # a one-word phrase is a word (and no prefix)
        ("pom* dex", (Term("pom", prefix=True), Term("dex", prefix=True))),
        ("p*", (Term("p"),)),  # one letter is too short a prefix
        ("NEAR(a, b) OR cd:*", (Term("near"), Term("a"), Term("b"), Term("or"), Term("cd", prefix=True))),
        ("a&b|!c<->d", (Term("a"), Term("b"), Term("c"), Term("d"))),
        ("x\x00y\u202ez", (Term("x"), Term("y"), Term("z"))),
        ("दवा की", (Term("दवा"), Term("की", prefix=True))),
        ("ｂｌｏｏｄ ", (Term("blood"),)),  # NFKC folds full-width letters
        ("blood blood blood ", (Term("blood"),)),
        ("💊 *** \"\" ''", ()),
    ],
)
def test_tokens(text: str, items: tuple[Term | Phrase, ...]) -> None:
    assert parse_query(text).items == items


def test_the_number_of_tokens_is_bounded() -> None:
    assert len(parse_query(" ".join(f"w{i}" for i in range(200))).items) == 12


@pytest.mark.parametrize(
    ("text", "analyzer", "fts5", "tsquery"),
    [
        ("blood clots ", "english", '"blood" AND "clots"', "'blood' & 'clots'"),
        ('"loss of appetite"', "english", '"loss of appetite"', "('loss' <-> 'of' <-> 'appetite')"),
        ("the of and ", "english", None, None),  # only stop-words: nothing to search
        ("the of and ", "simple", '"the" AND "of" AND "and"', "'the' & 'of' & 'and'"),
        (
            "medicati",
            "english",
            '("medicati" OR "medic"*)',
            "('medicati' | 'medic':*)",
        ),
        ("medicati", "simple", '("medicati" OR "medicati"*)', "('medicati' | 'medicati':*)"),
        # Typed into an ending the English stemmer cuts: cut before it (stem "medic"), not 3 back.
        ("medicatio", "english", '("medicatio" OR "medic"*)', "('medicatio' | 'medic':*)"),
        ("generalizatio", "english", '("generalizatio" OR "gener"*)', "('generalizatio' | 'gener':*)"),
        # A whole ending: the word itself reaches the stem; its prefix stays long (fewer postings).
        ("medication", "english", '("medication" OR "medicat"*)', "('medication' | 'medicat':*)"),
        # Other stemmers cut other endings: three characters back, as before.
        ("medicatio", "german", '("medicatio" OR "medica"*)', "('medicatio' | 'medica':*)"),
        # A prefix is at most 8 characters (the longest with a prefix index in SQLite).
        (
            "dexamethasone",
            "english",
            '("dexamethasone" OR "dexameth"*)',
            "('dexamethasone' | 'dexameth':*)",
        ),
        (
            "schläfrigkeit",
            "simple",
            '("schläfrigkeit" OR "schläfri"*)',
            "('schläfrigkeit' | 'schläfri':*)",
        ),
    ],
)
def test_engine_queries(text: str, analyzer: str, fts5: str | None, tsquery: str | None) -> None:
    query = parse_query(text)

    assert fts5_match(query, analyzer) == fts5
    assert tsquery_text(query, analyzer) == tsquery


@pytest.fixture(scope="module")
def fts5() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(a, b, c, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.execute("INSERT INTO t VALUES ('blood clots', 'constipation', 'दवा की खुराक')")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def postgres(postgres_server: PostgresServer) -> Iterator[sa.Connection]:
    engine = make_null_pool_engine(normalize_database_url(postgres_server.admin_url))
    with engine.connect() as conn:
        yield conn
    engine.dispose()


ANY_TEXT = st.text(max_size=200) | st.text(alphabet=" \"*()^:&|!<>-+{}\\'abcAND OR NOT NEAR\x00", max_size=80)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
def test_any_text_makes_a_valid_fts5_query(fts5: sqlite3.Connection, text: str) -> None:
    for analyzer in ("english", "simple"):
        match = fts5_match(parse_query(text), analyzer)
        if match is not None:
            fts5.execute("SELECT count(*) FROM t WHERE t MATCH ?", (match,)).fetchone()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ANY_TEXT)
def test_any_text_makes_a_valid_tsquery(postgres: sa.Connection, text: str) -> None:
    for analyzer in ("english", "french", "simple"):
        tsquery = tsquery_text(parse_query(text), analyzer)
        if tsquery is not None:
            postgres.execute(
                sa.text("SELECT to_tsquery(CAST(:c AS regconfig), :q)"), {"c": analyzer, "q": tsquery}
            )
