"""API keys: create (token shown once), authenticate, list, revoke. Services flush; the caller commits."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.auth.scopes import ROLE_SCOPES
from app.core.db import PreparedSelect, prepare_select, utcnow
from app.core.errors import NotFound

TOKEN_PATTERN = re.compile(r"^dik_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
PREFIX_PATTERN = r"^[0-9a-f]{8}$"
# Compared against when the prefix is unknown, so a miss costs the same as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"druginfo-no-such-key").hexdigest()


class KeyNotFound(NotFound):
    code, title = "key_not_found", "API key not found"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key (never its token), its role and scopes."""

    key_id: int
    prefix: str
    name: str
    role: str
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key and its token; the token exists only here and in the one response."""

    key: ApiKey
    token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    # 32 random bytes = 256 bits: unguessable, so a plain SHA-256 of it is a safe thing to store.
    return prefix, f"dik_{prefix}_{secrets.token_urlsafe(32)}"


def create_key(session: Session, *, name: str, role: str, created_by: str | None) -> NewKey:
    """A new key with the role's scopes; the returned token is shown once and never stored."""
    if role not in ROLE_SCOPES:
        raise ValueError(f"unknown role {role!r}")
    while True:
        prefix, token = _new_token()
        if session.scalar(sa.select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = ApiKey(
        name=name,
        prefix=prefix,
        hash=hash_token(token),
        role=role,
        scopes=list(ROLE_SCOPES[role]),
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return NewKey(key=key, token=token)


def list_keys(session: Session, *, after_id: int | None = None, limit: int | None = None) -> list[ApiKey]:
    query = sa.select(ApiKey).order_by(ApiKey.id)
    if after_id is not None:
        query = query.where(ApiKey.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def find_key(session: Session, prefix: str) -> ApiKey | None:
    return session.scalars(sa.select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()


def get_key(session: Session, prefix: str) -> ApiKey:
    key = find_key(session, prefix)
    if key is None:
        raise KeyNotFound(f"No API key with prefix {prefix!r}.")
    return key


def revoke_key(session: Session, key: ApiKey) -> ApiKey:
    """Revoke at once (idempotent): the next request with this key is refused."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


@dataclass(frozen=True, slots=True)
class Authenticated:
    principal: Principal
    last_used_at: dt.datetime | None


def authenticate_token(conn: sa.Connection, token: str) -> Authenticated | None:
    """The key a token belongs to, if the token is well-formed, known, matches and is not revoked."""
    prefix = token_prefix(token)
    if prefix is None:
        return None
    return match_key(token, key_query(conn.dialect.name).rows(conn, {"prefix": prefix}))


def token_prefix(token: str) -> str | None:
    """The key prefix of a well-formed token (what its row is found by), else None."""
    match = TOKEN_PATTERN.match(token)
    return match.group(1) if match is not None else None


def match_key(token: str, rows: Sequence[Any]) -> Authenticated | None:
    """The key of `rows` (those of the token's prefix: none or one), if the token is its and live."""
    row = rows[0] if rows else None  # the prefix is unique
    # Constant-time comparison: how long the check takes says nothing about how much of it matched.
    if not hmac.compare_digest(hash_token(token), row.hash if row is not None else _DUMMY_HASH):
        return None
    if row is None or row.revoked_at is not None:
        return None
    principal = Principal(
        key_id=row.id, prefix=row.prefix, name=row.name, role=row.role, scopes=frozenset(row.scopes)
    )
    return Authenticated(principal=principal, last_used_at=row.last_used_at)


@functools.cache
def key_query(dialect: str) -> PreparedSelect:
    """A key's row by its prefix (`:prefix`). Built once (on SQLite run on the driver's cursor, or on
    the event loop's own connection): every authenticated request runs it."""
    table = cast(sa.Table, ApiKey.__table__)
    statement = sa.select(
        table.c.id,
        table.c.prefix,
        table.c.name,
        table.c.role,
        table.c.scopes,
        table.c.hash,
        table.c.revoked_at,
        table.c.last_used_at,
    ).where(table.c.prefix == sa.bindparam("prefix"))
    return prepare_select(statement, dialect)


def record_use(conn: sa.Connection, key_id: int, *, now: dt.datetime) -> None:
    conn.execute(sa.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
