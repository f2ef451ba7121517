"""Authentication and scope checks for the management API.

Each admin endpoint declares the scope it needs with one of the aliases below, which also puts that
scope into the operation's OpenAPI security requirement; the scope check depends on `authenticate`.
Including the admin routers refuses a route without one (`app.admin.router`), so no admin endpoint
can be public by accident.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, cast

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.concurrency import run_in_threadpool

from app.auth import scopes
from app.auth import service as auth_service
from app.auth.service import Authenticated, Principal
from app.core.db import Database, DriverSelect, utcnow
from app.core.deps import get_db
from app.core.errors import Forbidden, Unauthorized

log = logging.getLogger("druginfo.auth")

# Writing last_used_at on every request would make every read a write; once a minute is plenty.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)

bearer = HTTPBearer(
    scheme_name="ApiKey",
    bearerFormat="dik_<prefix>_<secret>",
    description="An API key (`druginfo keys create`), sent as `Authorization: Bearer <key>`. "
    "Keys in the URL are never accepted.",
    auto_error=False,
)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """The caller's key, or 401 with `WWW-Authenticate: Bearer`.

    On the event loop: on SQLite the key's row is read there too (`LoopReader`), elsewhere (or when
    SQLite is busy) in a worker thread. Every admin endpoint's scope check depends on it (and so
    do some other dependencies, e.g. `Idempotency-Key`): a second call is answered from
    `request.state`.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None:
        raise Unauthorized(
            "This endpoint needs an API key: send `Authorization: Bearer <key>`.", code="unauthenticated"
        )
    token = credentials.credentials
    db = get_db(request)  # called directly: this runs on every admin route, keep its tree small
    answered, found = _look_up_on_loop(db, token)
    if not answered:
        found = await run_in_threadpool(_look_up, db, token)
    principal = _admit(found)
    if _use_to_record(found):
        await run_in_threadpool(_record_use, db.write_engine, principal.key_id, utcnow())
    request.state.principal = principal
    return principal


def _look_up_on_loop(db: Database, token: str) -> tuple[bool, Authenticated | None]:
    """The token's key read on the loop's own SQLite connection: (False, None) if it could not be."""
    prefix = auth_service.token_prefix(token)
    if prefix is None:
        return True, None
    if db.loop_reader is None:
        return False, None
    rows = db.loop_reader.rows(cast(DriverSelect, auth_service.key_query("sqlite")), {"prefix": prefix})
    if rows is None:
        return False, None
    return True, auth_service.match_key(token, rows)


def _look_up(db: Database, token: str) -> Authenticated | None:
    with db.engine.connect() as conn:
        return auth_service.authenticate_token(conn, token)


def _admit(found: Authenticated | None) -> Principal:
    if found is None:
        raise Unauthorized(
            "The API key is not valid (malformed, unknown or revoked).",
            code="invalid_key",
            error="invalid_token",
        )
    return found.principal


def _use_to_record(found: Authenticated | None) -> bool:
    return found is not None and (
        found.last_used_at is None or utcnow() - found.last_used_at > LAST_USED_RESOLUTION
    )


def _record_use(engine: sa.Engine, key_id: int, now: dt.datetime) -> None:
    """Best effort: a busy database must not turn a valid request into an error."""
    try:
        with engine.begin() as conn:
            auth_service.record_use(conn, key_id, now=now)
    except sa.exc.OperationalError:
        log.warning("could not record last use of key id %s (database busy)", key_id)


async def require_scopes(
    security_scopes: SecurityScopes, principal: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    """The caller, if its key holds every scope the endpoint declares; else 403."""
    missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
    if missing:
        raise Forbidden(
            f"The key {principal.prefix!r} (role {principal.role}) lacks the scope(s): {', '.join(missing)}.",
            scopes=list(security_scopes.scopes),
        )
    return principal


ContentReader = Annotated[Principal, Security(require_scopes, scopes=[scopes.CONTENT_READ])]
ContentWriter = Annotated[Principal, Security(require_scopes, scopes=[scopes.CONTENT_WRITE])]
KeyManager = Annotated[Principal, Security(require_scopes, scopes=[scopes.KEYS_MANAGE])]
Publisher = Annotated[Principal, Security(require_scopes, scopes=[scopes.CONTENT_PUBLISH])]
AuditReader = Annotated[Principal, Security(require_scopes, scopes=[scopes.AUDIT_READ])]
