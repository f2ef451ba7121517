"""`/api/v1/admin/keys`: manage API keys over HTTP (scope `keys:manage`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response

from app.auth import service as auth_service
from app.auth.dependencies import KeyManager
from app.auth.schemas import KeyCreate, KeyCreated, KeyPage, KeyRead, key_url
from app.auth.service import PREFIX_PATTERN
from app.core.deps import ReadSession, WriteSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_id, encode_cursor
from app.core.routing import GuardedRouter

router = GuardedRouter(prefix="/keys", tags=["admin: keys"])

PrefixPath = Annotated[str, Path(pattern=PREFIX_PATTERN, description="The key's prefix.")]
AUTH_PROBLEMS = (401, 403)


@router.get(
    "", response_model=KeyPage, summary="List API keys", responses=problem_responses(*AUTH_PROBLEMS, 422)
)
def list_keys(
    _: KeyManager,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> KeyPage:
    """Every key, oldest first, revoked ones included (tokens are never shown)."""
    after = cursor_id(cursor, kind="keys", key="after") if cursor else None
    keys = auth_service.list_keys(session, after_id=after, limit=limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    return KeyPage(
        items=[KeyRead.of(k) for k in keys],
        next_cursor=encode_cursor({"k": "keys", "after": keys[-1].id}) if more else None,
    )


@router.post(
    "",
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key",
    responses=problem_responses(*AUTH_PROBLEMS, 413, 422, 503),
)
def create_key(
    principal: KeyManager, body: KeyCreate, session: WriteSession, response: Response
) -> KeyCreated:
    """Create a key for a role; the response holds the token, shown this once."""
    new = auth_service.create_key(session, name=body.name, role=body.role, created_by=principal.prefix)
    response.headers["Location"] = key_url(new.key.prefix)
    return KeyCreated(**KeyRead.of(new.key).model_dump(), token=new.token)


@router.get(
    "/{prefix}",
    response_model=KeyRead,
    summary="Show an API key",
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422),
)
def get_key(_: KeyManager, prefix: PrefixPath, session: ReadSession) -> KeyRead:
    return KeyRead.of(auth_service.get_key(session, prefix))


@router.post(
    "/{prefix}/revoke",
    response_model=KeyRead,
    summary="Revoke an API key",
    responses=problem_responses(*AUTH_PROBLEMS, 404, 422, 503),
)
def revoke_key(_: KeyManager, prefix: PrefixPath, session: WriteSession) -> KeyRead:
    """Revoke at once; idempotent. Revocation is one-way, so it needs no `If-Match`."""
    return KeyRead.of(auth_service.revoke_key(session, auth_service.get_key(session, prefix)))
