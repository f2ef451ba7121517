"""Authentication and scope checks for the management API.

`authenticate` is applied once to the whole admin router, so no admin endpoint can be public by
accident; each endpoint then declares the scope it needs with one of the aliases below, which also
puts that scope into the operation's OpenAPI security requirement.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from starlette.concurrency import run_in_threadpool

from app.auth import scopes
from app.auth import service as auth_service
from app.auth.service import Principal
from app.core.db import utcnow
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

    On the event loop, with the database lookup in a worker thread: the admin router and each
    endpoint's scope check both depend on it, and the second call is answered from `request.state`.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None:
        raise Unauthorized(
            "This endpoint needs an API key: send `Authorization: Bearer <key>`.", code="unauthenticated"
        )
    principal = await run_in_threadpool(_look_up, request, credentials.credentials)
    request.state.principal = principal
    return principal


def _look_up(request: Request, token: str) -> Principal:
    db = get_db(request)  # called directly: this runs on every admin route, keep its tree small
    with db.engine.connect() as conn:
        found = auth_service.authenticate_token(conn, token)
    if found is None:
        raise Unauthorized(
            "The API key is not valid (malformed, unknown or revoked).",
            code="invalid_key",
            error="invalid_token",
        )
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
        _record_use(db.write_engine, found.principal.key_id, now)
    return found.principal


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
