"""Each engine's full-text machinery, behind the same few functions (chosen by dialect name).

SQLite: two FTS5 tables keyed by `search_entry.id`, one with the Porter stemmer (English) and one
that folds case and diacritics (every other language); bm25 with column weights, snippet().
PostgreSQL: `search_entry.document`, a tsvector weighted A/B/C in the entry's own text search
configuration, with a GIN index; ts_rank_cd, ts_headline. Both are created by the migration.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG, TSVECTOR

from app.core.db import CoreSelect, DriverSelect, PreparedSelect
from app.search.models import SearchEntry
from app.search.query import ParsedQuery, fts5_match, tsquery_text

entry = cast(sa.Table, SearchEntry.__table__)
FTS_TABLES = ("search_fts_porter", "search_fts_plain")

# Markers the engines put around matches; control characters never occur in stored text (every
# text field refuses them), so after HTML-escaping the snippet they can only be ours.
MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_COLUMNS = ("a_text", "b_text", "c_text")
_ANGLES = "\x04\x05"

HIT_COLUMNS = (
    entry.c.id,
    entry.c.drug_id,
    entry.c.drug_slug,
    entry.c.drug_name,
    entry.c.type,
    entry.c.item_id,
    entry.c.locale,
    entry.c.analyzer,
    entry.c.title,
    entry.c.link,
    entry.c.position,
)


DRUG_PARAMETER = "drug_slug"
IDS_PARAMETER = "ids"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which entries a search looks at: a locale chain (most specific first), types, one drug."""

    chain: tuple[str, ...]
    analyzers: tuple[str, ...]
    types: frozenset[str] | None = None
    drug_slug: str | None = None


def one_of(column: sa.ColumnElement[Any], values: Iterable[str]) -> sa.ColumnElement[bool]:
    """`column IN (...)` of values fixed when the statement is built: plain bound literals, so the
    statement compiles once, completely (an ordinary `in_` list is re-rendered at every execution)."""
    return column.in_([sa.literal(v, sa.String) for v in values])


def scope_filters(scope: Scope) -> list[sa.ColumnElement[bool]]:
    """Each item once, in the first locale of the chain it has an entry in; then types and drug."""
    shadow = entry.alias("more_specific")
    per_locale: list[sa.ColumnElement[bool]] = []
    for i, locale in enumerate(scope.chain):
        condition = entry.c.locale == locale
        if i:
            condition = sa.and_(
                condition,
                ~sa.exists().where(
                    shadow.c.drug_id == entry.c.drug_id,
                    shadow.c.type == entry.c.type,
                    shadow.c.item_id == entry.c.item_id,
                    one_of(shadow.c.locale, scope.chain[:i]),
                ),
            )
        per_locale.append(condition)
    filters = [sa.or_(*per_locale)]
    if scope.types:
        filters.append(one_of(entry.c.type, sorted(scope.types)))
    if scope.drug_slug:
        # Bound at execution (`DRUG_PARAMETER`), so one cached statement serves every drug.
        filters.append(entry.c.drug_slug == sa.bindparam(DRUG_PARAMETER, type_=sa.String))
    return filters


class Backend(Protocol):
    """Statements are built once per shape (see `app.search.service`); query texts are bound."""

    def write(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None: ...

    def delete(self, conn: sa.Connection, drug_id: int) -> None: ...

    def optimize(self, conn: sa.Connection) -> None:
        """Bring the index into its quickest shape to read, after a bulk change (import, rebuild)."""
        ...

    def match_texts(self, conn: sa.Connection, query: ParsedQuery, scope: Scope) -> dict[str, str]:
        """Per index the scope touches (an FTS table; a text search configuration), the engine's
        query text; an index where the query has nothing to look for is left out."""
        ...

    def branch(self, index: str, scope: Scope, match: sa.BindParameter[str]) -> sa.Select[Any]:
        """The SELECT of the index's matching entries (HIT_COLUMNS + `score`)."""
        ...

    def index_of(self, analyzer: str) -> str:
        """The index an entry of this (stored) analyzer is in."""
        ...

    def snippets_statement(self, index: str, match: sa.BindParameter[str]) -> sa.Select[Any]:
        """Id and three text columns as snippets (MARK_START/MARK_END around matches) of the
        entries of the index whose ids are bound as `IDS_PARAMETER` (see `ids_value`)."""
        ...

    def ids_value(self, ids: Sequence[int]) -> Any:
        """The value of `IDS_PARAMETER` for these ids."""
        ...

    def prepare(self, statement: sa.Select[Any]) -> PreparedSelect:
        """The statement ready to run (built once per shape, run at every search)."""
        ...


class SqliteBackend:
    # bm25 column weights for a_text, b_text, c_text: a name or question match outweighs a mention.
    WEIGHTS = (10.0, 4.0, 1.0)
    SNIPPET_TOKENS = 16

    @staticmethod
    def table_for(analyzer: str) -> str:
        return "search_fts_porter" if analyzer == "english" else "search_fts_plain"

    @staticmethod
    def _query_analyzer(table: str) -> str:
        """How the table's tokenizer treats words: Porter-stemmed English, or plain folding."""
        return "english" if table == "search_fts_porter" else "simple"

    def write(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        ids = conn.execute(
            sa.insert(entry).returning(entry.c.id, sort_by_parameter_order=True), list(rows)
        ).scalars()
        by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row_id, row in zip(ids, rows, strict=True):
            by_table[self.table_for(row["analyzer"])].append(
                {"rowid": row_id, **{c: row[c] for c in SNIPPET_COLUMNS}}
            )
        for table, fts_rows in by_table.items():
            # `table` is one of FTS_TABLES, never input.
            insert = f"INSERT INTO {table} (rowid, a_text, b_text, c_text) "
            conn.execute(sa.text(insert + "VALUES (:rowid, :a_text, :b_text, :c_text)"), fts_rows)

    def delete(self, conn: sa.Connection, drug_id: int) -> None:
        for table in FTS_TABLES:
            delete = f"DELETE FROM {table} "  # noqa: S608  (a constant of FTS_TABLES)
            in_drug = "WHERE rowid IN (SELECT id FROM search_entry WHERE drug_id = :d)"
            conn.execute(sa.text(delete + in_drug), {"d": drug_id})
        conn.execute(sa.delete(entry).where(entry.c.drug_id == drug_id))

    def optimize(self, conn: sa.Connection) -> None:
        # Every segment merged into one: a bulk import leaves dozens, and each MATCH reads them all.
        for table in FTS_TABLES:
            optimize = f"INSERT INTO {table} ({table}) VALUES ('optimize')"  # noqa: S608  (a constant)
            conn.execute(sa.text(optimize))

    def match_texts(self, conn: sa.Connection, query: ParsedQuery, scope: Scope) -> dict[str, str]:
        texts = {}
        for table in dict.fromkeys(self.table_for(a) for a in scope.analyzers):
            match = fts5_match(query, self._query_analyzer(table))
            if match is not None:
                texts[table] = match
        return texts

    def branch(self, index: str, scope: Scope, match: sa.BindParameter[str]) -> sa.Select[Any]:
        analyzers = [a for a in scope.analyzers if self.table_for(a) == index]
        fts = sa.table(index, sa.column("rowid"))
        fts_name: sa.ColumnClause[Any] = sa.literal_column(index)
        score = -sa.func.bm25(fts_name, *self.WEIGHTS)
        return (
            sa.select(*HIT_COLUMNS, sa.cast(score, sa.Float).label("score"))
            .select_from(fts.join(entry, entry.c.id == fts.c.rowid))
            .where(fts_name.op("MATCH")(match), one_of(entry.c.analyzer, analyzers), *scope_filters(scope))
        )

    def index_of(self, analyzer: str) -> str:
        return self.table_for(analyzer)

    def snippets_statement(self, index: str, match: sa.BindParameter[str]) -> sa.Select[Any]:
        fts_name: sa.ColumnClause[Any] = sa.literal_column(index)
        snippets = [
            sa.func.snippet(fts_name, column, MARK_START, MARK_END, "…", self.SNIPPET_TOKENS)
            for column in range(len(SNIPPET_COLUMNS))
        ]
        rowid: sa.ColumnClause[Any] = sa.literal_column("rowid")
        # `+rowid`: the ids filter the matches, they are no lookup. Offered `rowid IN (...)`, SQLite
        # hands FTS5 one id at a time and FTS5 evaluates the whole MATCH again for each.
        unindexed: sa.ColumnClause[Any] = sa.literal_column("+rowid")
        ids: sa.Select[Any] = sa.select(sa.literal_column("value")).select_from(
            sa.func.json_each(sa.bindparam(IDS_PARAMETER, type_=sa.String))
        )
        return (
            sa.select(rowid, *snippets)
            .select_from(sa.table(index))
            .where(fts_name.op("MATCH")(match), unindexed.in_(ids.scalar_subquery()))
        )

    def ids_value(self, ids: Sequence[int]) -> Any:
        return json.dumps(list(ids))

    def prepare(self, statement: sa.Select[Any]) -> PreparedSelect:
        # On SQLAlchemy's execution path the three statements of a search cost as much as SQLite's work.
        return DriverSelect(statement)


class PostgresBackend:
    # ts_rank_cd weights for D, C, B, A (A = names and questions).
    WEIGHTS = "{0.05, 0.2, 0.5, 1.0}"
    HEADLINE_OPTIONS = (
        f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, ShortWord=2, "
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
    document = sa.literal_column("search_entry.document", TSVECTOR)

    def __init__(self) -> None:
        self._configurations: dict[str, frozenset[str]] = {}

    def _resolve(self, conn: sa.Connection, analyzer: str) -> str:
        """The analyzer if the server has that text search configuration (old ones lack some), else simple."""
        server = conn.engine.url.render_as_string(hide_password=True)
        known = self._configurations.get(server)
        if known is None:
            known = frozenset(conn.scalars(sa.text("SELECT cfgname FROM pg_ts_config")))
            self._configurations[server] = known
        return analyzer if analyzer in known else "simple"

    def write(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        conn.execute(
            sa.insert(entry), [{**row, "analyzer": self._resolve(conn, row["analyzer"])} for row in rows]
        )
        # Each entry in its own language's configuration; weights A/B/C by column.
        conn.execute(
            sa.text(
                "UPDATE search_entry SET document = "
                "setweight(to_tsvector(analyzer::regconfig, a_text), 'A') || "
                "setweight(to_tsvector(analyzer::regconfig, b_text), 'B') || "
                "setweight(to_tsvector(analyzer::regconfig, c_text), 'C') "
                "WHERE drug_id = :d AND document IS NULL"
            ),
            {"d": rows[0]["drug_id"]},
        )

    def delete(self, conn: sa.Connection, drug_id: int) -> None:
        conn.execute(sa.delete(entry).where(entry.c.drug_id == drug_id))

    def optimize(self, conn: sa.Connection) -> None:
        """Nothing to do: the GIN index stays merged (its pending list is flushed by autovacuum)."""

    @staticmethod
    def _tsquery(analyzer: str, text: sa.BindParameter[str]) -> Any:
        # A constant configuration per branch, so the planner can use the GIN index.
        return sa.func.to_tsquery(sa.cast(sa.literal(analyzer), REGCONFIG), text)

    def match_texts(self, conn: sa.Connection, query: ParsedQuery, scope: Scope) -> dict[str, str]:
        texts = {}
        for analyzer in dict.fromkeys(self._resolve(conn, a) for a in scope.analyzers):
            text = tsquery_text(query, analyzer)
            if text is not None:
                texts[analyzer] = text
        return texts

    def branch(self, index: str, scope: Scope, match: sa.BindParameter[str]) -> sa.Select[Any]:
        tsquery = self._tsquery(index, match)
        score = sa.func.ts_rank_cd(
            sa.literal_column(f"'{self.WEIGHTS}'::float4[]"), self.document, tsquery, 1
        )
        return sa.select(*HIT_COLUMNS, sa.cast(score, sa.Float).label("score")).where(
            entry.c.analyzer == index, self.document.op("@@")(tsquery), *scope_filters(scope)
        )

    def index_of(self, analyzer: str) -> str:
        return analyzer  # entries are stored with the configuration they were indexed in

    def snippets_statement(self, index: str, match: sa.BindParameter[str]) -> sa.Select[Any]:
        tsquery = self._tsquery(index, match)
        config = sa.cast(sa.literal(index), REGCONFIG)
        # ts_headline drops whatever looks like an HTML tag; hide < and > from it and put them
        # back after (`unhide`), so the snippet shows the text as it is (it is escaped later anyway).
        headlines = [
            sa.func.ts_headline(
                config, sa.func.translate(entry.c[column], "<>", _ANGLES), tsquery, self.HEADLINE_OPTIONS
            )
            for column in SNIPPET_COLUMNS
        ]
        ids = sa.bindparam(IDS_PARAMETER, type_=ARRAY(sa.BigInteger))
        return sa.select(entry.c.id, *headlines).where(entry.c.id == sa.any_(ids))

    def ids_value(self, ids: Sequence[int]) -> Any:
        return list(ids)

    def prepare(self, statement: sa.Select[Any]) -> PreparedSelect:
        # A round trip to the server dwarfs SQLAlchemy's part, which also handles disconnects.
        return CoreSelect(statement)


def unhide(text: str) -> str:
    """A snippet's < and > back from where `PostgresBackend.snippets_statement` hid them (stored
    text never holds those control characters: every text field refuses them). Two `replace`s:
    `str.translate` with a table goes through Python per character, ten times slower here."""
    return text.replace(_ANGLES[0], "<").replace(_ANGLES[1], ">")


_BACKENDS: dict[str, Backend] = {"sqlite": SqliteBackend(), "postgresql": PostgresBackend()}


def backend_for(conn: sa.Connection) -> Backend:
    """The backend of the connection's engine."""
    return _BACKENDS[conn.dialect.name]


def backend_named(dialect: str) -> Backend:
    return _BACKENDS[dialect]


def dialects() -> Iterable[str]:
    return _BACKENDS.keys()
