"""Engine, metadata naming convention, SQLite pragmas and the request-scoped session."""

from __future__ import annotations

import collections
import datetime as dt
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol
from urllib.request import pathname2url

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, QueuePool

from app.core.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# JSON everywhere; JSONB on PostgreSQL so documents are stored compactly and can be indexed.
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")

# The table option of every record edited by id with an ETag (`"faq-9-v2"`): SQLite never hands the
# id of a deleted row out again (as PostgreSQL's sequences never do), so an old ETag can never name
# a new record. Migration 0008.
IDS_NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both engines (SQLite stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    """Now, in UTC, with microseconds (ordering of revisions and the audit log relies on them)."""
    return dt.datetime.now(dt.UTC)


def json_dumps(value: Any) -> str:
    """JSON columns (revision documents of ~30 kB on every write) with orjson: ~10× the stdlib's speed."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _install_sqlite_pragmas(engine: Engine, settings: Settings, *, immediate: bool) -> None:
    """WAL, foreign keys, busy timeout and FULL sync on every connection; writers BEGIN IMMEDIATE.

    pysqlite's own transaction handling defers BEGIN until the first write and cannot take the
    write lock up front; SQLAlchemy's documented recipe turns it off and emits BEGIN ourselves, so a
    writer waits for the lock (busy timeout) instead of failing half-way with "database is locked".
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    if not immediate:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            _begin(conn, "BEGIN")

        return

    writer = _writer_lock(engine.url.database or ":memory:")
    timeout = settings.sqlite_busy_timeout_ms / 1000

    @event.listens_for(engine, "begin")
    def _on_begin_write(conn: sa.Connection) -> None:
        # SQLite lets one writer in at a time, and a writer that finds the lock taken sleeps and
        # polls (1, 2, 5 … 100 ms) until it is free, so under contention the lock sits idle for
        # much of that sleep and waits turn into timeouts. Writers of this process queue on a lock
        # of their own instead and go the moment the previous one is done (an app's writers have
        # already queued for its one writer connection, `_WriterQueue`: this lock is for the other
        # engines on the same file, e.g. the CLI's); other processes still meet at SQLite's lock
        # (busy timeout). Released when the connection returns to the pool, after its commit or
        # rollback.
        if not writer.acquire(timeout=timeout):
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked (writer queue)")
            )
        record_info = conn.connection.record_info
        if record_info is not None:
            record_info[_HOLDS_WRITER] = True
        try:
            _begin(conn, "BEGIN IMMEDIATE")
        except BaseException:
            if record_info is not None:
                record_info.pop(_HOLDS_WRITER, None)
            writer.release()
            raise

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.record_info.pop(_HOLDS_WRITER, False):
            writer.release()


def _begin(conn: sa.Connection, statement: str) -> None:
    """Start the transaction on the driver's connection: every request opens one, and a statement
    through SQLAlchemy (events, compiled cache, result) costs several times SQLite's own BEGIN."""
    try:
        conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise sa.exc.OperationalError(statement, None, exc) from exc


class PreparedSelect(Protocol):
    """A SELECT built once, run many times: `rows` of one execution with these bound values."""

    def rows(self, conn: sa.Connection, params: dict[str, Any]) -> Sequence[Any]: ...


class CoreSelect:
    """A SELECT run through SQLAlchemy (rows are `Row`s, which are tuples too)."""

    __slots__ = ("statement",)

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement

    def rows(self, conn: sa.Connection, params: dict[str, Any]) -> Sequence[Any]:
        return conn.execute(self.statement, params).all()


class DriverSelect:
    """A SELECT compiled once (SQLite) and run on the driver's own cursor.

    For the statements of a hot path, where SQLAlchemy's execution and result objects cost more
    than SQLite's work: a cache-missing search runs three, and they took ~0.6 ms of its 1.5 through
    `Connection.execute`; every revision's snapshot runs twelve (2.2 → 1.1 ms). Rows are the
    driver's tuples in the statement's column order (search: plain text and numbers), or `typed`
    ones, converted by each column's type as SQLAlchemy would. Runs in the connection's
    transaction (begun here if need be: one snapshot for all the statements of a request); a driver
    error is raised as SQLAlchemy's, like any other statement's.
    """

    __slots__ = ("names", "row", "sql", "values")

    def __init__(self, statement: sa.Select[Any], *, typed: bool = False) -> None:
        """`typed`: rows as SQLAlchemy gives them, each column through its type's result processor
        (dates, JSON, …) and with attribute access; else the driver's plain tuples."""
        dialect = _SQLITE_DIALECT
        self.row = _typed_row(statement, dialect) if typed else None
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError("DriverSelect takes statements with positional (qmark) parameters")
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        # Values bound when the statement was built (literals, weights), converted for the driver
        # now; the others are bound at each call, as they are, so they must need no conversion.
        self.values: dict[str, Any] = {}
        for name in self.names:
            bind = compiled.binds[name]
            value = bind.effective_value
            processor = bind.type.bind_processor(dialect)
            if bind.expanding or (value is None and processor is not None):
                raise ValueError(f"DriverSelect cannot bind {name!r} ({bind.type}) as it is")
            if value is not None:
                self.values[name] = processor(value) if processor else value

    def rows(self, conn: sa.Connection, params: dict[str, Any]) -> list[Any]:
        if not conn.in_transaction():
            conn.begin()
        try:
            return self.rows_on(conn.connection.driver_connection, params)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, self._args(params), exc, sqlite3.Error) from exc

    def rows_on(self, driver: sqlite3.Connection, params: dict[str, Any]) -> list[Any]:
        """The rows on a driver connection of one's own (`LoopReader`); driver errors as they are."""
        rows = driver.execute(self.sql, self._args(params)).fetchall()
        return rows if self.row is None else [self.row(row) for row in rows]

    def _args(self, params: dict[str, Any]) -> list[Any]:
        values = self.values
        return [params[name] if name in params else values[name] for name in self.names]


def _typed_row(
    statement: sa.Select[Any] | sa.Insert | sa.Update, dialect: Dialect
) -> Callable[[tuple[Any, ...]], Any]:
    """A driver row → a named tuple of the statement's (RETURNING's) columns, each converted by its type."""
    columns = list(statement.exported_columns)
    row_type = collections.namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
    processors = [
        (i, processor)
        for i, column in enumerate(columns)
        if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
    ]

    def convert(raw: tuple[Any, ...]) -> Any:
        values = list(raw)
        for i, processor in processors:
            values[i] = processor(values[i])
        return row_type._make(values)

    return convert


def prepare_select(statement: sa.Select[Any], dialect: str) -> PreparedSelect:
    """The statement ready to run many times on this engine: on SQLite on the driver's cursor
    (`DriverSelect`, typed rows), elsewhere through SQLAlchemy, where a round trip dwarfs its part."""
    return DriverSelect(statement, typed=True) if dialect == "sqlite" else CoreSelect(statement)


class Written(NamedTuple):
    """What one INSERT or UPDATE did: the rows an UPDATE matched, and what RETURNING gave."""

    rowcount: int
    rows: Sequence[Any]


class PreparedWrite(Protocol):
    """An INSERT or UPDATE built once, run many times: `run` it with these bound values."""

    def run(self, conn: sa.Connection, params: dict[str, Any]) -> Written: ...


class CoreWrite:
    """An INSERT or UPDATE run through SQLAlchemy."""

    __slots__ = ("statement",)

    def __init__(self, statement: sa.Insert | sa.Update) -> None:
        self.statement = statement

    def run(self, conn: sa.Connection, params: dict[str, Any]) -> Written:
        result = conn.execute(self.statement, params)
        rows = result.all() if result.returns_rows else []
        return Written(result.rowcount, rows)


class DriverWrite:
    """An INSERT or UPDATE compiled once (SQLite) and run on the driver's own cursor.

    Every write request runs a handful (the edited row, the drug's version, its revision, the audit
    entry, the content generation), and SQLAlchemy's execution around each cost ~5 times SQLite's
    own work. Values are converted by each column's type at every call (timestamps, JSON), as
    SQLAlchemy would; `keys` are the columns an INSERT is given (`Connection.execute` takes them
    from the parameters). A statement that would need SQLAlchemy at execution time (a Python-side
    default or `onupdate` of a column it leaves out, an expanding parameter) is refused when built.
    RETURNING rows are typed as `DriverSelect`'s. Runs in the connection's transaction (begun
    here if need be); a driver error is raised as SQLAlchemy's, like any other statement's.
    """

    __slots__ = ("names", "processors", "row", "sql", "values")

    def __init__(self, statement: sa.Insert | sa.Update, keys: Sequence[str] | None = None) -> None:
        dialect = _SQLITE_DIALECT
        compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
        if compiled.positiontup is None:
            raise ValueError("DriverWrite takes statements with positional (qmark) parameters")
        prefetch = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if prefetch:
            raise ValueError(f"DriverWrite cannot run defaults of {', '.join(c.name for c in prefetch)}")
        self.sql: str = compiled.string
        self.names = tuple(compiled.positiontup)
        self.processors: dict[str, Callable[[Any], Any]] = {}
        self.values: dict[str, Any] = {}  # bound when the statement was built (`id = 1`), converted
        for name in self.names:
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"DriverWrite cannot bind {name!r} (expanding)")
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:
                value = bind.effective_value
                self.values[name] = processor(value) if processor else value
            elif processor is not None:
                self.processors[name] = processor
        self.row = _typed_row(statement, dialect) if compiled.effective_returning else None

    def run(self, conn: sa.Connection, params: dict[str, Any]) -> Written:
        if not conn.in_transaction():
            conn.begin()
        processors, values = self.processors, self.values
        args = [
            values[name]
            if name not in params
            else processors[name](params[name])
            if name in processors
            else params[name]
            for name in self.names
        ]
        try:
            cursor = conn.connection.driver_connection.execute(self.sql, args)  # type: ignore[union-attr]
            rows = [self.row(row) for row in cursor.fetchall()] if self.row is not None else []
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(self.sql, args, exc, sqlite3.Error) from exc
        return Written(cursor.rowcount, rows)


def prepare_write(
    statement: sa.Insert | sa.Update, dialect: str, keys: Sequence[str] | None = None
) -> PreparedWrite:
    """The INSERT or UPDATE ready to run many times on this engine: on SQLite on the driver's cursor
    (`DriverWrite`), elsewhere through SQLAlchemy (`keys`: the columns an INSERT is given)."""
    return DriverWrite(statement, keys) if dialect == "sqlite" else CoreWrite(statement)


def write_row(session: Session, obj: Any, values: dict[str, Any]) -> None:
    """Write new values of a loaded row's columns as the ORM's flush would, with one Core UPDATE.

    `UPDATE ... SET <values>, version = version + 1 WHERE id = :id AND version = :seen` (the
    mapper's `version_id_col`, so a lost update is as impossible as through the ORM: no row is a
    `StaleDataError`), after which the object holds the new values as loaded and has nothing left
    to flush. For the hot edits (one part of a drug, and the drug's own version): the unit of work
    goes through every relationship of the object's mapper to find what changed, ~0.4 ms of an
    edit where the UPDATE costs 0.05. The caller gives every column that changes (no `onupdate`:
    on SQLite, `DriverWrite` refuses a statement that would need one).
    """
    mapper = sa.inspect(obj).mapper
    version_key = mapper.get_property_by_column(mapper.version_id_col).key
    seen = getattr(obj, version_key)
    params = {f"v_{key}": value for key, value in values.items()}
    conn = session.connection()
    written = _row_update(mapper, tuple(values), conn.dialect.name).run(
        conn, {**params, "b_id": obj.id, "b_seen": seen}
    )
    if written.rowcount != 1:
        raise StaleDataError(
            f"UPDATE of {mapper.local_table.name} id {obj.id} (version {seen}) "
            f"matched {written.rowcount} rows"
        )
    for key, value in values.items():
        set_committed_value(obj, key, value)
    set_committed_value(obj, version_key, seen + 1)
    session.info["wrote"] = True  # what a flush would have noted: the write bumps the generation


@functools.cache
def _row_update(mapper: Any, keys: tuple[str, ...], dialect: str) -> PreparedWrite:
    table = mapper.local_table
    version = mapper.version_id_col
    (key_column,) = mapper.primary_key
    columns: dict[str, Any] = {mapper.attrs[key].columns[0].name: sa.bindparam(f"v_{key}") for key in keys}
    statement = (
        sa.update(table)
        .where(key_column == sa.bindparam("b_id"), version == sa.bindparam("b_seen"))
        .values({**columns, version.name: version + 1})
    )
    return prepare_write(statement, dialect)


# JSON read as the engines read it (orjson): revision documents are ~30 kB.
_SQLITE_DIALECT = SQLiteDialect_pysqlite(json_serializer=json_dumps, json_deserializer=orjson.loads)
_HOLDS_WRITER = "druginfo_holds_writer_lock"
_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(database: str) -> threading.Lock:
    """One lock per SQLite file in this process, shared by every engine writing to it."""
    key = database if database == ":memory:" else str(Path(database).resolve())
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(key, threading.Lock())


class _WriterQueue(QueuePool):
    """The writer engine's pool on SQLite: one connection, which this process's writers take in turn.

    In WAL mode a connection drops its whole page cache when it begins a transaction after another
    connection has written. With a pool of several, writers took turns on different ones and each
    started cold: ~60 page reads per admin edit under 32 connections, ~22 with one connection that
    keeps its cache across their commits (~10% less CPU per edit in `make bench`). Writers queue
    here for as long as they would wait for SQLite's lock (the busy timeout); one that waits longer
    gets the same error as when another process holds the lock ("database is locked": a 503
    `database_busy`, retry soon).
    """

    def __init__(self, creator: Any, **kw: Any) -> None:
        super().__init__(creator, **{**kw, "pool_size": 1, "max_overflow": 0})

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except sa.exc.TimeoutError as exc:
            locked = sqlite3.OperationalError("database is locked (writer queue)")
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, locked) from exc


def _make_engine(settings: Settings, *, immediate: bool = False) -> Engine:
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        on_disk = bool(url.database) and url.database != ":memory:"
        if on_disk:
            Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
        busy_timeout = settings.sqlite_busy_timeout_ms / 1000
        engine = sa.create_engine(
            url,
            connect_args={"timeout": busy_timeout, "check_same_thread": False},
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
            **({"poolclass": _WriterQueue, "pool_timeout": busy_timeout} if immediate and on_disk else {}),
        )
        _install_sqlite_pragmas(engine, settings, immediate=immediate)
        return engine
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"connect_timeout": settings.db_connect_timeout},
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
    )
    _install_postgres_settings(engine)
    return engine


def _install_postgres_settings(engine: Engine) -> None:
    """No parallel plans on the app's connections: every query of a request reads a page or a few
    rows, and a parallel plan's workers take milliseconds to start. The planner picked one for a
    drug-name search on 10,000 drugs (its row estimate for a prefix is rough): 2.8 → 9.5 ms."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        dbapi_connection.commit()


def _bump_generation_on_every_write(sessions: sessionmaker[Session]) -> None:
    """Every committed write advances the content generation in its own transaction.

    Caches (in this process and others) compare against the generation, so a write path that forgot
    to bump it would leave public answers stale; doing it here makes that impossible.
    """

    @event.listens_for(sessions, "after_flush")
    def _wrote(session: Session, _context: Any) -> None:
        session.info["wrote"] = True

    @event.listens_for(sessions, "before_commit")
    def _bump(session: Session) -> None:
        # Imported here: the publishing package depends on the models, which depend on this module.
        from app.publishing.service import bump_generation

        session.flush()
        if session.info.get("wrote") and not session.info.get("bumped"):
            bump_generation(session)

    @event.listens_for(sessions, "after_commit")
    @event.listens_for(sessions, "after_rollback")
    def _reset(session: Session) -> None:
        session.info.pop("wrote", None)
        session.info.pop("bumped", None)


class LoopReader:
    """SQLite: read-only connections of one's own (one per thread) for point lookups on the event loop.

    The API key of every admin request is one indexed row: SQLite finds it in microseconds, while a
    worker thread hop, a pooled connection and SQLAlchemy's execution around it cost ~10 times that.
    Reading it on the loop cannot stall the loop: WAL readers never wait for the writer, and these
    connections wait for no lock at all (busy timeout 0), so the rare lock they meet (a checkpoint
    resetting the WAL) answers None and the caller takes its worker-thread path. Each statement is
    its own transaction, which sees every commit before it: a key revoked is refused at once.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._guard = threading.Lock()

    def rows(self, select: DriverSelect, params: dict[str, Any]) -> list[Any] | None:
        """The rows, or None when SQLite could not answer at once (busy, locked, unavailable)."""
        try:
            return select.rows_on(self._connection(), params)
        except sqlite3.Error:
            self.close_own()  # a broken connection is not reused; the next call opens another
            return None

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # `mode=rw`: a missing file is an error here, never a new empty database.
            uri = f"file:{pathname2url(str(Path(self.path).resolve()))}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            with self._guard:
                self._opened.append(conn)
            self._local.conn = conn
        return conn

    def close_own(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._guard:
                self._opened.remove(conn)
            conn.close()

    def close(self) -> None:
        with self._guard:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


class Database:
    """The engines of one app instance: reads, and (on SQLite) a writer that takes the lock first."""

    def __init__(self, settings: Settings) -> None:
        # Every mapper must be registered before the first session uses any of them (relationships
        # name other models by string), whichever entry point (app, CLI, script) made the database.
        import app.models  # noqa: F401

        self.settings = settings
        self.engine = _make_engine(settings)
        self.write_engine = (
            _make_engine(settings, immediate=True) if self.engine.dialect.name == "sqlite" else self.engine
        )
        # Sessions carry the default locale: the search index needs the language of the base text.
        # And the revisions this process recorded from the tables (`app.audit.service.RECORDED`).
        info = {"default_locale": settings.default_locale, "druginfo.revisions_recorded": {}}
        self.read_sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self.write_sessions = sessionmaker(self.write_engine, expire_on_commit=False, info=info)
        database = self.engine.url.database
        self.loop_reader = (
            LoopReader(database)
            if self.engine.dialect.name == "sqlite" and database and database != ":memory:"
            else None
        )
        _bump_generation_on_every_write(self.write_sessions)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def read_session(self) -> Session:
        return self.read_sessions()

    def write_session(self) -> Session:
        return self.write_sessions()

    def dispose(self) -> None:
        if self.loop_reader is not None:
            self.loop_reader.close()
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()


def session_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit once at the end, or roll back on any error."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DatabaseErrorKind = Literal["full", "unavailable"]

# SQLSTATEs (PostgreSQL) that mean "the database cannot serve now", not "this request is wrong".
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")  # connection, resources, operator intervention
_UNAVAILABLE_SQLSTATES = {"3D000", "42P01"}  # database does not exist (yet), schema not migrated
_FULL_SQLSTATES = {"53100"}  # disk_full
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database",
    "disk i/o error",
    "no such table",
    "attempt to write a readonly database",
)


def classify_database_error(exc: BaseException) -> DatabaseErrorKind | None:
    """`full` (no space), `unavailable` (down, unreachable, busy, not migrated) or None (a bug)."""
    if isinstance(exc, sa.exc.TimeoutError):  # every pooled connection busy for pool_timeout seconds
        return "unavailable"
    if not isinstance(exc, sa.exc.DBAPIError):
        return None
    sqlstate = getattr(exc.orig, "sqlstate", None)
    message = str(exc.orig).lower()
    if sqlstate in _FULL_SQLSTATES or "database or disk is full" in message:
        return "full"
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return "unavailable"
    if sqlstate is not None:
        if sqlstate in _UNAVAILABLE_SQLSTATES or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return "unavailable"
        return None
    if isinstance(exc, sa.exc.OperationalError):
        # psycopg reports a refused or failed connection without a SQLSTATE; SQLite says it in words.
        is_sqlite = type(exc.orig).__module__.startswith("sqlite3")
        return "unavailable" if not is_sqlite or message.startswith(_SQLITE_UNAVAILABLE) else None
    return None


def make_null_pool_engine(url: str) -> Engine:
    """An engine for one-off admin work (migrations, creating/dropping test databases)."""
    return sa.create_engine(url, poolclass=NullPool)
