"""Request dependencies shared by every router (`Annotated` aliases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session

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


def get_write_session(request: Request) -> Iterator[Session]:
    """The unit of work of one write request: commits once when the handler returns, else rolls back.

    Before the commit, the write's revisions and audit entry are recorded in the same transaction
    (`app.audit.service.finish_write`): a write, its revision and its audit entry commit together.
    """
    from app.audit import service as audit

    session = get_db(request).write_sessions()
    session.info["request"] = request
    sa.event.listen(session, "before_flush", lambda s, _c, _i: audit.track_changes(s))
    try:
        yield session
        audit.finish_write(session, request)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        audit.clear(session)
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
