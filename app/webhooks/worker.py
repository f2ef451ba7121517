"""The delivery worker: turns publication events into signed webhook requests, outside any request.

A background thread per process (started with the app) repeats `run_once` every
`webhook_poll_interval` seconds:

1. **Fan out**: for each active endpoint, the publication events after its cursor (`last_event_id`)
   become delivery rows (one per endpoint and event; the unique key makes a repeat harmless). Events
   exist only once their publishing transaction committed, so nothing is ever sent for a rolled-back
   publish, and ids are handed out in commit order, so the cursor never skips one.
2. **Claim** due deliveries: in one short transaction the rows are leased (their `next_attempt_at`
   moved past the longest possible attempt), so another process, or this one after a crash, takes
   them again only if the attempt never reported back. On PostgreSQL the claim uses
   `FOR UPDATE SKIP LOCKED`, so several instances share the work without waiting on each other.
3. **Send** each outside any transaction, then record the outcome: 2xx is success; anything else is
   retried with exponential backoff until `webhook_max_attempts`, then marked failed.

The worker writes with Core on the write engine, not through the ORM session factory: its
bookkeeping is not content, so it must not bump the content generation (and empty every cache).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from app.core.config import Settings
from app.core.db import Database, utcnow
from app.publishing.models import PublicationEvent
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.signing import sign
from app.webhooks.targets import Target, TargetRefused, check_target

log = logging.getLogger("druginfo.webhooks")

# Delay before retry n (n = 1, 2, ...) in units of `webhook_retry_base_seconds`: with the default
# 5 s base that is 5 s, 30 s, 2 min, 10 min, 1 h, then 6 h for every later retry.
BACKOFF_STEPS = (1, 6, 24, 120, 720, 4320)
CONNECT_TIMEOUT = 2.0
TIMEOUT = 5.0
# Longer than one attempt can take (connect + write + read + body), so a lease only lapses if the
# process died mid-attempt.
LEASE = dt.timedelta(seconds=60)
MAX_RESPONSE_BYTES = 64 * 1024
FAN_OUT_BATCH = 500
SEND_BATCH = 50
USER_AGENT = "druginfo-webhooks/1"


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed delivery with what is needed to send it."""

    id: int
    attempts: int
    url: str
    secret: str
    event_id: int
    event: str
    slug: str
    name: str
    revision_number: int | None
    occurred_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def event_type(event: str) -> str:
    return f"drug.{event}"


def payload(due: Due) -> bytes:
    """The request body: the same bytes on every attempt of a message."""
    return orjson.dumps(
        {
            "type": event_type(due.event),
            "timestamp": due.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": {
                "event_id": due.event_id,
                "slug": due.slug,
                "name": due.name,
                "revision": due.revision_number,
                "links": {"self": f"/api/v1/drugs/{due.slug}"},
            },
        }
    )


def retry_delay(settings: Settings, attempts: int) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    step = BACKOFF_STEPS[min(attempts, len(BACKOFF_STEPS)) - 1]
    return dt.timedelta(seconds=settings.webhook_retry_base_seconds * step)


def _lock_for_claim(query: Any, dialect: str) -> Any:
    """PostgreSQL: lock the claimed delivery rows, skipping rows another instance is claiming.

    SQLite has no row locks; its writer takes the database lock first (`BEGIN IMMEDIATE`), so two
    claims never overlap there anyway.
    """
    if dialect == "postgresql":
        return query.with_for_update(skip_locked=True, of=WebhookDelivery.__table__)
    return query


def _insert_ignoring_duplicates(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])


def send(due: Due, *, allowed_hosts: list[str], now: dt.datetime | None = None) -> Outcome:
    """One attempt: check the target again, POST the signed message, never raise."""
    started = time.monotonic()

    def outcome(status_code: int | None, error: str | None) -> Outcome:
        return Outcome(status_code, error, int((time.monotonic() - started) * 1000))

    try:
        target = check_target(due.url, allowed_hosts=allowed_hosts)
    except TargetRefused as exc:
        return outcome(None, f"target refused: {exc}")
    body = payload(due)
    message_id = f"msg_{due.event_id}"
    timestamp = int((now or utcnow()).timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(due.secret, message_id, timestamp, body),
    }
    try:
        status = post_to_target(target, headers, body)
    except httpx.TimeoutException:
        return outcome(None, "timed out")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    return outcome(status, None if 200 <= status < 300 else f"HTTP {status}")


def post_to_target(target: Target, headers: dict[str, str], body: bytes) -> int:
    """POST to the checked address (not a fresh DNS answer); no redirects; read at most 64 KiB."""
    url = httpx.URL(target.url)
    extensions: dict[str, Any] = {}
    if target.address is not None:
        # Connect to the address that passed the check; Host and TLS SNI still name the host, so
        # virtual hosting and certificate verification work as usual.
        headers = {**headers, "host": url.netloc.decode("ascii")}
        url = url.copy_with(host=target.address)
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
    deadline = time.monotonic() + TIMEOUT
    client = _client()
    request = client.build_request("POST", url, headers=headers, content=body, extensions=extensions)
    response = client.send(request, stream=True)
    try:
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                break
    finally:
        response.close()
    return response.status_code


_local = threading.local()


def _client() -> httpx.Client:
    """One HTTP client per thread (building one loads the CA bundle, ~40 ms), no redirects followed."""
    client: httpx.Client | None = getattr(_local, "client", None)
    if client is None:
        # trust_env=False: an HTTP(S)_PROXY in the environment must not reroute (or unpin) requests.
        client = httpx.Client(
            timeout=httpx.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
            trust_env=False,
            # No keep-alive: each attempt connects afresh to the address just checked.
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        _local.client = client
    return client


class WebhookWorker:
    """Fans out publication events to endpoints and sends due deliveries (see the module docstring)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="druginfo-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT + CONNECT_TIMEOUT + 1)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.settings.webhook_poll_interval):
            try:
                self.run_once()
            except Exception:
                log.warning("webhook worker round failed; retrying", exc_info=True)

    def run_once(self) -> int:
        """One round: fan out new events, then send what is due. Returns the number of attempts made."""
        self.fan_out()
        # Only what was due when the round began: a retry scheduled during the round waits for a
        # later one, however short the backoff.
        round_start = utcnow()
        attempts = 0
        while not self._stop.is_set():
            claimed = self.claim(due_by=round_start)
            for due in claimed:
                self.record(due, send(due, allowed_hosts=self.settings.webhook_allowed_hosts))
                attempts += 1
            if len(claimed) < SEND_BATCH:
                break
        return attempts

    # -- steps --------------------------------------------------------------------------------------

    def fan_out(self) -> int:
        """Create deliveries for events after each active endpoint's cursor. Returns how many."""
        newest = sa.select(sa.func.coalesce(sa.func.max(PublicationEvent.id), 0)).scalar_subquery()
        behind = sa.select(WebhookEndpoint.id).where(
            WebhookEndpoint.active.is_(True), WebhookEndpoint.last_event_id < newest
        )
        # A cheap read first: an idle worker must not take SQLite's write lock every round.
        with self.db.engine.connect() as conn:
            if not conn.execute(behind.limit(1)).first():
                return 0
        created = 0
        dialect = self.db.dialect
        with self.db.write_engine.begin() as conn:
            query = sa.select(
                WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.last_event_id
            ).where(WebhookEndpoint.id.in_(behind))
            if dialect == "postgresql":
                # Another instance fanning out the same endpoint would only insert duplicates (ignored),
                # but skipping it saves the work; an admin editing it is also skipped until next round.
                query = query.with_for_update(skip_locked=True, of=WebhookEndpoint.__table__)
            endpoints = conn.execute(query).all()
            now = utcnow()
            for endpoint in endpoints:
                events = conn.execute(
                    sa.select(PublicationEvent.id, PublicationEvent.event)
                    .where(PublicationEvent.id > endpoint.last_event_id)
                    .order_by(PublicationEvent.id)
                    .limit(FAN_OUT_BATCH)
                ).all()
                if not events:
                    continue
                wanted = set(endpoint.events)
                rows = [
                    {
                        "endpoint_id": endpoint.id,
                        "event_id": e.id,
                        "event_type": event_type(e.event),
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for e in events
                    if event_type(e.event) in wanted
                ]
                if rows:
                    conn.execute(_insert_ignoring_duplicates(dialect), rows)
                    created += len(rows)
                conn.execute(
                    sa.update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == endpoint.id)
                    # updated_at kept: it tells admins when the endpoint was last edited.
                    .values(last_event_id=events[-1].id, updated_at=WebhookEndpoint.updated_at)
                )
        return created

    def claim(self, *, due_by: dt.datetime | None = None) -> list[Due]:
        """Lease up to a batch of deliveries due by `due_by` (default now) of active endpoints."""
        now = utcnow()
        due_filter = sa.and_(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= (due_by or now),
            WebhookEndpoint.active.is_(True),
        )
        with self.db.engine.connect() as conn:
            exists = conn.execute(
                sa.select(WebhookDelivery.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(due_filter)
                .limit(1)
            ).first()
            if exists is None:
                return []
        query = (
            sa.select(
                WebhookDelivery.id,
                WebhookDelivery.attempts,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                PublicationEvent.id.label("event_id"),
                PublicationEvent.event,
                PublicationEvent.slug,
                PublicationEvent.name,
                PublicationEvent.revision_number,
                PublicationEvent.occurred_at,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(PublicationEvent, PublicationEvent.id == WebhookDelivery.event_id)
            .where(due_filter)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(SEND_BATCH)
        )
        with self.db.write_engine.begin() as conn:
            rows = conn.execute(_lock_for_claim(query, self.db.dialect)).all()
            if rows:
                conn.execute(
                    sa.update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=now + LEASE)
                )
        return [Due(**row._asdict()) for row in rows]

    def record(self, due: Due, outcome: Outcome) -> None:
        """Store an attempt's outcome and schedule the next one (or give up)."""
        now = utcnow()
        attempts = due.attempts + 1
        if outcome.ok:
            status, next_at = "succeeded", None
        elif attempts >= self.settings.webhook_max_attempts:
            status, next_at = "failed", None
        else:
            status, next_at = "pending", now + retry_delay(self.settings, attempts)
        if not outcome.ok:
            log.info("webhook delivery %s attempt %s failed: %s", due.id, attempts, outcome.error)
        with self.db.write_engine.begin() as conn:
            conn.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id == due.id)
                .values(
                    status=status,
                    attempts=attempts,
                    next_attempt_at=next_at,
                    last_attempt_at=now,
                    last_status_code=outcome.status_code,
                    last_error=outcome.error,
                    last_duration_ms=outcome.duration_ms,
                    updated_at=now,
                )
            )
