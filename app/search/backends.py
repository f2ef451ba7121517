"""Each engine's full-text machinery, behind the same few functions (chosen by dialect name).

SQLite: two FTS5 tables keyed by `search_entry.id`, one with the Porter stemmer (English) and one
that folds case and diacritics (every other language); bm25 with column weights, snippet().
PostgreSQL: `search_entry.document`, a tsvector weighted A/B/C in the entry's own text search
configuration, with a GIN index; ts_rank_cd, ts_headline. Both are created by the migration.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, REGCONFIG, TSVECTOR

from app.core.db import CoreSelect, DriverSelect, PreparedSelect
from app.search.models import SearchEntry
from app.search.query import ParsedQuery, fts5_item, fts5_items, fts5_match, tsquery_items, tsquery_text

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


@dataclass(frozen=True, slots=True)
class Split:
    """A query whose rows are found through its rare items only (see each backend's `split`).

    `rank_text` (the rare items) selects the rows through the index. SQLite: it also gives their
    engine score, and each common item must match a row too: `common` holds, per item, its phrases,
    each with its IDF and its query text per column of SNIPPET_COLUMNS (what adds to the row's
    score). PostgreSQL: `common` is empty, the whole query is tested on those rows and ranks them.
    """

    rank_text: str
    common: tuple[tuple[tuple[float, tuple[str, ...]], ...], ...] = ()
    average: float = 1.0  # the index's average entry length in tokens


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

    def branch(
        self,
        index: str,
        scope: Scope,
        match: sa.BindParameter[str],
        rows: sa.BindParameter[str] | None = None,
    ) -> sa.Select[Any]:
        """The SELECT of the index's matching entries (HIT_COLUMNS + `score`); with `rows` (a
        `Split`'s `rank_text`), the index finds those rows and `match` is tested on them only."""
        ...

    def split(self, conn: sa.Connection, index: str, query: ParsedQuery) -> Split | None:
        """How to rank the query in this index when the engine's own ranking of the whole query
        costs what the commonest item does (see `SqliteBackend.split`); None: rank it whole."""
        ...

    def common_score(
        self, conn: sa.Connection, index: str, split: Split
    ) -> Callable[[int, float], float | None]:
        """(entry id, its engine score by the rare items) → its score by the whole query, or None
        when a common item does not match it."""
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

    def branch(
        self,
        index: str,
        scope: Scope,
        match: sa.BindParameter[str],
        rows: sa.BindParameter[str] | None = None,
    ) -> sa.Select[Any]:
        if rows is not None:
            raise ValueError("SQLite ranks a split query itself (`common_score`)")
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

    # An item matching at least this many entries is common: what it costs bm25 grows with the catalog.
    COMMON_ROWS = 1000
    # Split only when the common phrases have more postings than this per row of the rare items.
    SPLIT_RATIO = 200
    # bm25's constants in FTS5 (term frequency saturates with k1; b weighs the length normalisation).
    K1 = 1.2
    B = 0.75

    def split(self, conn: sa.Connection, index: str, query: ParsedQuery) -> Split | None:
        """Rank by the rare items when the query also has common ones.

        FTS5's bm25 counts, for every phrase of the query, the entries that contain it (its IDF): a
        scan of the phrase's whole posting list, at every search. For "<drug name> fatigue" on 10,000
        drugs that is 50,000 entries twice (the word and its prefix), 1.4 ms of a search whose
        matching takes 0.01 ms, and it grows with the catalog. When some items match fewer than
        COMMON_ROWS entries and others more, the engine finds and ranks the rows of the rare items
        (their bm25: exact, and cheap), and each phrase of a common item adds bm25's term for it:
        its IDF (counted once per state of the index), the row's length against the average, and,
        for its frequency, the weights of the columns it is in (a name, question or heading
        outweighs a mention). The rows found are exactly the whole query's; the scores differ from
        the engine's only where a common phrase occurs more than once in a column.

        Ranking here costs ~4.5 µs per row of the rare items, bm25's count ~0.013 µs per posting of
        a common phrase (measured on the bench's catalogue): the split is taken when the common
        phrases have more than SPLIT_RATIO postings per rare row, else the engine ranks the whole
        query (`rank_text` is all of it, `common` empty). None when every item is common (ranking
        then costs what finding the rows does) or the query has one item.
        """
        phrases_of = fts5_items(query, self._query_analyzer(index))
        if len(phrases_of) < 2:
            return None
        items = [fts5_item(phrases) for phrases in phrases_of]
        state = self._state(conn, index)
        counts = {item: self._count(conn, index, item, state, capped=True) for item in items}
        rare = [item for item in items if counts[item] < self.COMMON_ROWS]
        if not rare:
            return None
        whole = Split(rank_text=" AND ".join(items))
        if len(rare) == len(items):
            return whole
        rank_text = " AND ".join(rare)
        total, average = _averages(state)
        common, postings = [], 0
        for item, phrases in zip(items, phrases_of, strict=True):
            if item not in rare:
                scored = []
                for phrase in phrases:
                    found = self._count(conn, index, phrase, state, capped=False)
                    postings += found
                    idf = max(math.log(max(total - found + 0.5, 0.5) / (found + 0.5)), 1e-6)
                    scored.append(
                        (idf, tuple(f"({rank_text}) AND {{{c}}} : ({phrase})" for c in SNIPPET_COLUMNS))
                    )
                common.append(tuple(scored))
        if postings <= self.SPLIT_RATIO * min(counts[item] for item in rare):
            return whole
        return Split(rank_text=rank_text, common=tuple(common), average=average)

    def common_score(
        self, conn: sa.Connection, index: str, split: Split
    ) -> Callable[[int, float], float | None]:
        if not split.common:
            return lambda _entry_id, rare_score: rare_score
        texts = [text for phrases in split.common for _, columns in phrases for text in columns]
        matching = _fts_rowids(index, len(texts)).rows(conn, {f"match_{n}": t for n, t in enumerate(texts)})
        # Per query text (a phrase of a common item in one column), the entries it matches.
        found: list[set[int]] = [set() for _ in texts]
        for n, entry_id in matching:
            found[n].add(entry_id)
        sizes = self._sizes(conn, index, set().union(*found))
        weights = self.WEIGHTS
        # Per common item, per phrase: its IDF and, per column, the column's weight and its entries.
        items, n = [], 0
        for phrases in split.common:
            scored = []
            for idf, columns in phrases:
                scored.append((idf, list(zip(weights, found[n : n + len(columns)], strict=True))))
                n += len(columns)
            items.append(scored)
        k1, b, average = self.K1, self.B, split.average

        def score(entry_id: int, rare_score: float) -> float | None:
            total = rare_score
            length = k1 * (1 - b + b * sizes.get(entry_id, average) / average)
            for phrases in items:
                matched = False
                for idf, columns in phrases:
                    weight = sum(w for w, ids in columns if entry_id in ids)
                    if weight:
                        matched = True
                        total += idf * weight * (k1 + 1) / (weight + length)
                if not matched:
                    return None
            return total

        return score

    @staticmethod
    def _state(conn: sa.Connection, index: str) -> bytes:
        """FTS5's averages record of the index (a varint row count, then a varint token total per
        column): what bm25 reads for its averages, and a cheap mark of the index's state (a draft
        edit changes the content generation, not the index)."""
        rows = _fts_averages(index).rows(conn, {})
        return bytes(rows[0][0]) if rows and rows[0][0] else b""

    @staticmethod
    def _count(conn: sa.Connection, index: str, text: str, state: bytes, *, capped: bool) -> int:
        """How many entries of the index match `text` (`capped`: up to COMMON_ROWS), remembered per
        database file and state of the index. Only ranking depends on it: the rows found are always
        matched against every item of the query."""
        cap = SqliteBackend.COMMON_ROWS if capped else None
        key = (conn.engine.url.database, index, state, text, cap)
        with _COUNTS_LOCK:
            found = _COUNTS.get(key)
            if found is not None:
                _COUNTS.move_to_end(key)
                return found
        found = int(_fts_count(index, cap).rows(conn, {"match": text})[0][0])
        with _COUNTS_LOCK:
            _COUNTS[key] = found
            while len(_COUNTS) > _COUNTS_SIZE:
                _COUNTS.popitem(last=False)
        return found

    @staticmethod
    def _sizes(conn: sa.Connection, index: str, ids: set[int]) -> dict[int, int]:
        """Each entry's length in tokens (FTS5's docsize: a varint per column)."""
        if not ids:
            return {}
        rows = _fts_sizes(index).rows(conn, {IDS_PARAMETER: json.dumps(sorted(ids))})
        return {row[0]: sum(_varints(row[1])) for row in rows}

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

    def branch(
        self,
        index: str,
        scope: Scope,
        match: sa.BindParameter[str],
        rows: sa.BindParameter[str] | None = None,
    ) -> sa.Select[Any]:
        tsquery = self._tsquery(index, match)
        score = sa.func.ts_rank_cd(
            sa.literal_column(f"'{self.WEIGHTS}'::float4[]"), self.document, tsquery, 1
        )
        if rows is None:
            found = [self.document.op("@@")(tsquery)]
        else:
            # The GIN index finds the rare items' rows; the whole query is a filter on them (the
            # planner cannot use the index for `coalesce(document, …)`, which is the same vector).
            unindexed = sa.func.coalesce(self.document, sa.cast(sa.literal(""), TSVECTOR))
            found = [self.document.op("@@")(self._tsquery(index, rows)), unindexed.op("@@")(tsquery)]
        return sa.select(*HIT_COLUMNS, sa.cast(score, sa.Float).label("score")).where(
            entry.c.analyzer == index, *found, *scope_filters(scope)
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

    # An item matching at least this many entries is common; counts are kept this many seconds.
    COMMON_ROWS = 1000
    COUNTS_TTL = 60.0

    def split(self, conn: sa.Connection, index: str, query: ParsedQuery) -> Split | None:
        """Find the rows through the rare items when a prefix in the query is common.

        The GIN index answers `'0042' & 'fatigue'` by skipping through the common word's postings
        with the rare one's, but a prefix (type-ahead's `'fati':*`) is a partial match it reads
        whole: ~8 ms for `0042 fatigue` at 10,000 drugs (1.8 ms at 1,000), growing with the catalog.
        When a prefix item matches at least COMMON_ROWS entries and another item fewer, the index
        looks up the rare items and the whole query is tested on the rows it finds (`branch` with
        `rows`): the same rows and, as ts_rank_cd ranks an entry by its own text, the same scores.
        Only the prefix items are counted first, so a query with none common pays no count.
        """
        items = tsquery_items(query, index)
        if len(items) < 2 or not any(self._common(conn, index, item) for item in items if ":*" in item):
            return None
        rare = [item for item in items if not self._common(conn, index, item)]
        return Split(rank_text=" & ".join(rare)) if rare else None

    def _common(self, conn: sa.Connection, index: str, text: str) -> bool:
        """Whether `text` matches at least COMMON_ROWS entries, remembered for COUNTS_TTL seconds per
        database: a count only decides how the rows are found, never which (a stale one costs time)."""
        url = conn.engine.url
        key = (url.host, url.port, url.database, index, text, self.COMMON_ROWS)
        now = time.monotonic()
        with _COUNTS_LOCK:
            known = _COMMON.get(key)
            if known is not None and now - known[1] < self.COUNTS_TTL:
                _COMMON.move_to_end(key)
                return known[0]
        matching = (
            sa.select(sa.literal(1))
            .where(entry.c.analyzer == index, self.document.op("@@")(self._tsquery(index, sa.bindparam("q"))))
            .limit(self.COMMON_ROWS)
        )
        count = conn.scalar(sa.select(sa.func.count()).select_from(matching.subquery()), {"q": text}) or 0
        common = count >= self.COMMON_ROWS
        with _COUNTS_LOCK:
            _COMMON[key] = (common, now)
            _COMMON.move_to_end(key)
            while len(_COMMON) > _COUNTS_SIZE:
                _COMMON.popitem(last=False)
        return common

    def common_score(
        self, conn: sa.Connection, index: str, split: Split
    ) -> Callable[[int, float], float | None]:
        raise NotImplementedError("PostgreSQL never splits a query")

    def prepare(self, statement: sa.Select[Any]) -> PreparedSelect:
        # A round trip to the server dwarfs SQLAlchemy's part, which also handles disconnects.
        return CoreSelect(statement)


# Counts of matching entries (`SqliteBackend._count`), most recently used last.
_COUNTS: OrderedDict[tuple[Any, ...], int] = OrderedDict()
_COUNTS_SIZE = 4096
# PostgreSQL: whether a query text is common, and when that was counted (`PostgresBackend._common`).
_COMMON: OrderedDict[tuple[Any, ...], tuple[bool, float]] = OrderedDict()
_COUNTS_LOCK = threading.Lock()


def _averages(state: bytes) -> tuple[int, float]:
    """The number of entries and their average length in tokens, from FTS5's averages record."""
    numbers = _varints(state) or [0]
    return numbers[0], (sum(numbers[1:]) / numbers[0]) if numbers[0] else 1.0


@functools.lru_cache(maxsize=16)
def _fts_count(index: str, cap: int | None) -> PreparedSelect:
    fts_name: sa.ColumnClause[Any] = sa.literal_column(index)
    rows: sa.Select[Any] = (
        sa.select(sa.literal_column("rowid"))
        .select_from(sa.table(index))
        .where(fts_name.op("MATCH")(sa.bindparam("match", type_=sa.String)))
    )
    if cap is not None:
        rows = rows.limit(sa.literal(cap, sa.Integer))
    return DriverSelect(sa.select(sa.func.count()).select_from(rows.subquery()))


@functools.lru_cache(maxsize=64)
def _fts_rowids(index: str, texts: int) -> PreparedSelect:
    """(n, rowid) of the entries matching each of `texts` query texts (`match_<n>`), in one statement."""
    fts_name: sa.ColumnClause[Any] = sa.literal_column(index)
    branches: list[Any] = [
        sa.select(sa.literal(n, sa.Integer), sa.literal_column("rowid"))
        .select_from(sa.table(index))
        .where(fts_name.op("MATCH")(sa.bindparam(f"match_{n}", type_=sa.String)))
        for n in range(texts)
    ]
    return DriverSelect(branches[0] if texts == 1 else sa.union_all(*branches))  # type: ignore[arg-type]


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (7 bits a byte, high bit set on all but the last; a ninth byte is whole)."""
    numbers: list[int] = []
    value = length = 0
    for byte in blob:
        length += 1
        if length == 9:
            numbers.append((value << 8) | byte)
            value, length = 0, 0
        elif byte & 0x80:
            value = (value << 7) | (byte & 0x7F)
        else:
            numbers.append((value << 7) | byte)
            value, length = 0, 0
    return numbers


@functools.lru_cache(maxsize=16)
def _fts_averages(index: str) -> PreparedSelect:
    data = sa.table(f"{index}_data", sa.column("id"), sa.column("block"))
    return DriverSelect(sa.select(data.c.block).where(data.c.id == sa.literal(1)))


@functools.lru_cache(maxsize=16)
def _fts_sizes(index: str) -> PreparedSelect:
    sizes = sa.table(f"{index}_docsize", sa.column("id"), sa.column("sz"))
    ids: sa.Select[Any] = sa.select(sa.literal_column("value")).select_from(
        sa.func.json_each(sa.bindparam(IDS_PARAMETER, type_=sa.String))
    )
    return DriverSelect(sa.select(sizes.c.id, sizes.c.sz).where(sizes.c.id.in_(ids.scalar_subquery())))


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
