"""Request dependencies shared by every router (`Annotated` aliases)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import anyio
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.db import Database


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_read_connection(request: Request) -> Iterator[sa.Connection]:
    """A plain read connection for public queries (no ORM on the hot path)."""
    with get_db(request).engine.connect() as conn:
        yield conn


async def get_write_session(request: Request) -> AsyncIterator[Session]:
    """The unit of work of one write request: commits once when the handler returns, else rolls back.

    Before the commit, the write's revisions and audit entry are recorded in the same transaction
    (`app.audit.service.finish_write`): a write, its revision and its audit entry commit together.

    Opened on the event loop (a session does no I/O before its first statement, which runs in the
    handler's thread). A plain `def` handler finishes it in its own worker thread as it returns
    (`finish_in_handler_thread`); else it is finished here, in one worker thread. Either way it
    cannot be cancelled half-way: a client that goes away mid-commit leaves neither a half-finished
    unit nor an open transaction (on SQLite, the write lock) behind.
    """
    session = get_db(request).write_sessions()
    session.info["request"] = request
    session.info[_OPEN] = True
    session.info[_TRACK] = True
    try:
        yield session
    except BaseException:
        if session.info.get(_OPEN):
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_abandon, session)
        raise
    if session.info.get(_OPEN):
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_finish, session, request)


_OPEN = "druginfo.unit_of_work_open"


# Worker threads of the plain `def` handlers, as many as anyio's default pool (which FastAPI runs
# sync dependencies in): `ThreadSlotsMiddleware` lets one request fewer than this into the app.
HANDLER_THREADS = 40
_handler_threads = ThreadPoolExecutor(max_workers=HANDLER_THREADS, thread_name_prefix="druginfo-handler")


async def in_handler_thread(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a handler thread, in a copy of this context (the request id).

    A plain executor: FastAPI hands a `def` handler to anyio's thread pool, whose checkpoints are
    trips around the event loop (~80 µs of the loop per request; this costs ~20). As with anyio's
    threads, a cancelled caller still waits for the thread to finish before it is cancelled: the
    thread holds the request's session, and its commit or rollback ends before anything else runs.
    """
    call = functools.partial(contextvars.copy_context().run, function, *args)
    future = asyncio.get_running_loop().run_in_executor(_handler_threads, call)
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled = True  # the caller was: wait on for the thread
        except BaseException:
            break  # the thread's own error, raised below
    if cancelled:
        raise asyncio.CancelledError
    return future.result()


def finish_in_handler_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain `def` handler, run in a handler thread (`in_handler_thread`), that once it returns
    finishes its write session (if it has one) in the same thread: the commit costs no second trip
    to a thread (an admin edit was ~10% quicker under load). FastAPI sees a coroutine function, so
    it neither hands it to its own thread pool nor validates its answer in another thread (ours
    return prepared responses). Applied to every route by `GuardedRouter`; async handlers are left
    as they are (their session is finished by `get_write_session`)."""
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    def run(kwargs: dict[str, Any]) -> Any:
        result = endpoint(**kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.info.get(_OPEN):
                _finish(value, value.info["request"])
        return result

    @functools.wraps(endpoint)
    async def handler(**kwargs: Any) -> Any:
        return await in_handler_thread(run, kwargs)

    return handler


_TRACK = "druginfo.track_changes"


@sa.event.listens_for(Session, "before_flush")
def _track_changes(session: Session, _context: Any, _instances: Any) -> None:
    """Before each flush of a request's unit of work, note what changes in shared tables (for its
    audit entry). Listening on the class once: a listener added per session cost ~30 µs a request."""
    if session.info.get(_TRACK):
        from app.audit import service as audit

        audit.track_changes(session)


def _finish(session: Session, request: Request) -> None:
    from app.audit import service as audit

    session.info.pop(_OPEN, None)
    try:
        audit.finish_write(session, request)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _close(session)


def _abandon(session: Session) -> None:
    session.info.pop(_OPEN, None)
    try:
        session.rollback()
    finally:
        _close(session)


def _close(session: Session) -> None:
    from app.audit import service as audit

    audit.clear(session)
    session.info.pop(_TRACK, None)
    session.info.pop("request", None)
    session.close()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ReadConn = Annotated[sa.Connection, Depends(get_read_connection)]
WriteSession = Annotated[Session, Depends(get_write_session, scope="function")]


def get_read_session(request: Request) -> Iterator[Session]:
    """An ORM session on the read engine (admin reads of the working draft); never commits."""
    with get_db(request).read_sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]
