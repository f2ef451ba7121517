"""`Idempotency-Key` on POST create, publish and import.

The first request with a key inserts an `in_progress` record in its own write transaction (so it
commits with the write, or not at all; concurrent duplicates collide on the unique key). When the
response is ready, `IdempotencyMiddleware` stores it on the record. A retry with the same key and
the same request (method, path, query, body) gets the stored response back, marked
`Idempotent-Replayed: true`, without acting again; the same key with a different request → 422;
a retry while the first is still running → 409. A failed request stores nothing (its transaction
rolled back), so it can be retried with the same key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.dependencies import authenticate
from app.auth.service import Principal
from app.core.db import Database
from app.core.deps import WriteSession
from app.core.errors import AppError, Conflict, ProblemField
from app.idempotency.models import IdempotencyRecord

HEADER = "idempotency-key"
# Visible ASCII (the OpenAPI documents this very pattern).
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
_KEY = re.compile(KEY_PATTERN)
STATE = "idempotency_record_id"
REPLAYED_HEADERS = ("content-type", "location", "etag", "content-location")


class IdempotencyKeyReused(AppError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency key reused with a different request"


class IdempotencyInProgress(Conflict):
    code, title = "idempotency_in_progress", "A request with this idempotency key is still in progress"


class InvalidIdempotencyKey(AppError):
    status, code, title = 400, "invalid_idempotency_key", "Invalid Idempotency-Key"


class Replay(Exception):
    """The stored response of an earlier request with the same key."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__("idempotent replay")
        # Copied now: the session is rolled back (and the record expired) before the handler runs.
        self.status = record.response_status or 200
        self.body = (record.response_body or "").encode()
        self.headers = dict(record.response_headers or {})


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """The client's key and a digest of what it asked (method, path, query, body)."""

    key: str
    digest: str


async def idempotent_request(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string (e.g. a UUID): a retry with the same key and body returns the "
            "first response without acting twice; the same key with another body is refused (422).",
            json_schema_extra={"pattern": KEY_PATTERN},
        ),
    ] = None,
) -> IdempotentRequest | None:
    """The key and request digest; async only to read the body (no database work on the event loop)."""
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey(
            "Idempotency-Key must be 1-200 visible ASCII characters.",
            errors=[ProblemField(pointer="#/header/Idempotency-Key", detail="invalid", code="invalid")],
        )
    body = await request.body()
    digest = hashlib.sha256(
        b"\n".join([request.method.encode(), request.url.path.encode(), request.url.query.encode(), body])
    ).hexdigest()
    return IdempotentRequest(key=key, digest=digest)


def idempotent(
    request: Request,
    session: WriteSession,
    principal: Annotated[Principal, Depends(authenticate)],
    asked: Annotated[IdempotentRequest | None, Depends(idempotent_request)],
) -> None:
    """Claim the key, replay its stored response, or refuse a reuse.

    A plain `def`, so FastAPI runs it in the thread pool: it waits for the write lock (SQLite) or for
    another request's uncommitted row with the same key (PostgreSQL), and a wait on the event loop
    would stall every request of the process, including the one holding what it waits for.
    """
    if asked is None:
        return
    found = session.scalars(
        sa.select(IdempotencyRecord).where(
            IdempotencyRecord.holder_key_id == principal.key_id, IdempotencyRecord.key == asked.key
        )
    ).one_or_none()
    if found is not None:
        if found.request_hash != asked.digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request; use a new key.",
                errors=[ProblemField(pointer="#/header/Idempotency-Key", detail="reused", code="reused")],
            )
        if found.status != "done":
            raise IdempotencyInProgress("Retry once the first request with this key has finished.")
        raise Replay(found)
    record = IdempotencyRecord(
        holder_key_id=principal.key_id, key=asked.key, request_hash=asked.digest, status="in_progress"
    )
    session.add(record)
    try:
        with session.begin_nested():
            session.flush()
    except sa.exc.IntegrityError as exc:
        raise IdempotencyInProgress("Retry once the first request with this key has finished.") from exc
    setattr(request.state, STATE, record.id)


Idempotent = Depends(idempotent)


def replay_response(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    headers = {**exc.headers, "Idempotent-Replayed": "true"}
    return Response(content=exc.body, status_code=exc.status, headers=headers)


class IdempotencyMiddleware:
    """Stores the response of a request that created an idempotency record (after its commit)."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not any(k.lower() == HEADER.encode() for k, _ in scope.get("headers", []))
        ):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        record_id = scope.get("state", {}).get(STATE)
        if record_id is None or not start:
            return
        headers = {
            k.decode().lower(): v.decode()
            for k, v in start.get("headers", [])
            if k.decode().lower() in REPLAYED_HEADERS
        }
        values = {
            "status": "done",
            "response_status": start["status"],
            "response_body": b"".join(chunks).decode("utf-8", "replace"),
            "response_headers": headers,
        }
        # In the thread pool: on SQLite this waits for the write lock, never on the event loop.
        await run_in_threadpool(self._store, record_id, values)

    def _store(self, record_id: int, values: dict[str, Any]) -> None:
        with self.db.write_engine.begin() as conn:
            # 0 rows when the request failed: its transaction (and the record) rolled back.
            conn.execute(
                sa.update(IdempotencyRecord).where(IdempotencyRecord.id == record_id).values(**values)
            )
