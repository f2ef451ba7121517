"""Recording writes: one revision per changed drug and one audit entry per write, in the write's transaction.

Every drug write ends in `editing.drug_changed`, which only registers the drug on the session.
`finish_write` runs once per write request, after the handler and before the commit: it records
a revision of each changed drug (author = the calling key) and an audit entry with the diff. A
write that recorded no audit entry of its own (keys, conditions, resources) still gets a generic
one, so no write can go unaudited. Handlers that record their own revision (publish, restore)
mark the drug as revised so it is not recorded twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.core.db import PreparedWrite, prepare_write, utcnow
from app.drugs import service as drug_service
from app.drugs.models import Drug
from app.revisions.diff import diff_documents
from app.revisions.models import DrugRevision

REASON_HEADER = "x-change-reason"
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Actor:
    key_id: int | None
    prefix: str | None
    request_id: str | None
    reason: str | None


def request_id_of(request: Request) -> str:
    """The request's id (one place: switch to the logging contextvar at merge)."""
    found = getattr(request.state, "request_id", None) or request.headers.get("x-request-id")
    if not found:
        found = uuid.uuid4().hex
        request.state.request_id = found
    return str(found)[:100]


def actor_of(session: Session) -> Actor:
    """Who is writing in this session (the request's key), or the CLI/system."""
    actor: Actor | None = session.info.get("actor")
    if actor is not None:
        return actor
    request: Request | None = session.info.get("request")
    if request is None:
        return Actor(key_id=None, prefix=session.info.get("cli_author", "cli"), request_id=None, reason=None)
    principal = getattr(request.state, "principal", None)
    reason = (request.headers.get(REASON_HEADER) or "").strip()[:MAX_REASON] or None
    actor = Actor(
        key_id=principal.key_id if principal else None,
        prefix=principal.prefix if principal else None,
        request_id=request_id_of(request),
        reason=reason,
    )
    session.info["actor"] = actor
    return actor


@dataclass(slots=True)
class Change:
    """What one unit of work changed in a drug's document."""

    version: int  # the drug's version before the change
    pieces: set[str]  # part lists ("faqs", ...), "drug" (its own fields), or EVERYTHING


EVERYTHING = "*"
# Sessions' info key of a dict shared by the sessions of one `Database`: drug id → number of the
# latest revision this process recorded from the tables (bounded: cleared past RECORDED_MAX).
RECORDED = "druginfo.revisions_recorded"
RECORDED_MAX = 10_000


def register_change(session: Session, drug: Drug, piece: str = EVERYTHING, *, version: int) -> None:
    """Remember that the drug's document changed in this unit of work (see `finish_write`): in
    `piece` (a part list, "drug" for its own fields, or EVERYTHING), from the drug's `version`."""
    changed: dict[Drug, Change] = session.info.setdefault("changed_drugs", {})
    change = changed.get(drug)
    if change is None:
        changed[drug] = Change(version=version, pieces={piece})
    else:
        change.pieces.add(piece)


def mark_revised(session: Session, drug: Drug) -> None:
    session.info.setdefault("revised_drugs", set()).add(drug.id)


def record(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: str | int | None,
    changes: Any = None,
) -> None:
    """Append an audit entry to the session's transaction.

    An INSERT on the session's connection (`prepare_write`): the entry is written once and never
    read back in the request, and the ORM's unit of work costs several times the INSERT itself on
    every write."""
    actor = actor_of(session)
    conn = session.connection()
    _insert_entry(conn.dialect.name).run(
        conn,
        {
            "occurred_at": utcnow(),
            "actor_key_id": actor.key_id,
            "actor_prefix": actor.prefix,
            "action": action,
            "entity": entity,
            "entity_id": None if entity_id is None else str(entity_id),
            "request_id": actor.request_id,
            "changes": changes,
        },
    )
    session.info["wrote"] = True  # what a flush would have noted: the write bumps the generation
    session.info["audited"] = True


_ENTRY_COLUMNS = (
    "occurred_at", "actor_key_id", "actor_prefix", "action", "entity", "entity_id", "request_id", "changes",
)  # fmt: skip


@functools.cache
def _insert_entry(dialect: str) -> PreparedWrite:
    return prepare_write(sa.insert(cast(sa.Table, AuditEntry.__table__)), dialect, _ENTRY_COLUMNS)


SECRET_COLUMNS = frozenset({"token_hash", "key_hash", "secret_hash", "hash"})
# Drugs are audited with their revision diff; these shared records with their field before/after.
TRACKED_TABLES = frozenset({"condition", "support_resource", "api_key"})


def track_changes(session: Session) -> None:
    """Before each flush, note what changes in shared tables (the `changes` of generic audit entries)."""
    tracked: list[dict[str, Any]] = session.info.setdefault("tracked", [])
    for op, objects in (("created", session.new), ("changed", session.dirty), ("deleted", session.deleted)):
        for obj in objects:
            table = getattr(obj, "__tablename__", "")
            if table not in TRACKED_TABLES:
                continue
            state = sa.inspect(obj)
            fields: dict[str, Any] = {}
            for attr in state.mapper.column_attrs:
                if attr.key in SECRET_COLUMNS:
                    continue
                history = state.attrs[attr.key].history
                if op == "changed" and not history.has_changes():
                    continue
                before = history.deleted[0] if history.deleted else None
                after = history.added[0] if history.added else (history.unchanged or [None])[0]
                if op == "deleted":
                    before, after = (history.unchanged or history.deleted or [None])[0], None
                fields[attr.key] = {"before": _plain(before), "after": _plain(after)}
            if fields:
                tracked.append({"table": table, "op": op, "fields": fields})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def action_of(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "name", None) or f"{request.method} {request.url.path}")


def _entity_of(request: Request) -> tuple[str, str | None]:
    path = request.url.path.split("/api/v1/admin/", 1)[-1]
    entity = (path.split("/", 1)[0] or "admin").removesuffix("s")  # "keys" → "key", "conditions" → …
    params = request.path_params
    return entity, next((str(v) for k, v in params.items() if k in ("slug", "prefix")), None)


def _created_key(changes: list[dict[str, Any]] | None) -> str | None:
    """The slug (or key prefix) of the record a write created, from its tracked fields."""
    for change in changes or ():
        if change["op"] == "created":
            for field in ("slug", "prefix"):
                value = change["fields"].get(field, {}).get("after")
                if value is not None:
                    return str(value)
    return None


def revise(
    session: Session,
    drug: Drug,
    *,
    message: str,
    action: str,
    change: Change | None = None,
    expire: bool = True,
) -> DrugRevision:
    """Record the drug's current document as a revision, with an audit entry holding the diff.

    The document is read from the tables (`snapshot_of`). When `change` says which of its pieces
    this unit of work changed, and the latest revision holds the rest as it still is (recorded by
    this process, so in this code's format, at the version the drug had before the change), only
    those pieces and what other records contribute are read again: an edit of one FAQ reads 5 of
    the 12 tables.
    """
    from app.publishing import service as publishing

    session.flush()
    previous = publishing.latest_document(session, drug.id)
    number, before = (previous.number, previous.document) if previous is not None else (0, {})
    recorded: dict[int, int] | None = session.info.get(RECORDED)
    reuse = (
        before
        if change is not None
        and EVERYTHING not in change.pieces
        and previous is not None
        and previous.drug_version == change.version
        and recorded is not None
        and recorded.get(drug.id) == number
        else None
    )
    document = drug_service.snapshot_of(
        session, drug.id, reuse=reuse, changed=change.pieces if change else ()
    )
    actor = actor_of(session)
    revision = publishing.record_revision(
        session, drug, message=message, author=actor.prefix, number=number + 1, document=document
    )
    if recorded is not None:
        if len(recorded) >= RECORDED_MAX:
            recorded.clear()
        recorded[drug.id] = revision.number
    record(
        session,
        action=action,
        entity="drug",
        entity_id=drug.slug,
        changes={"revision": revision.number, "diff": diff_documents(before, revision.document)},
    )
    mark_revised(session, drug)
    if expire:
        # The drug's loaded collections may not match its rows any more (parts added or removed by
        # id): whoever reads the aggregate after this reloads it (`app.revisions.router.drug_read`).
        session.expire(drug)
    return revision


def record_pending(session: Session, *, expire: bool = True) -> None:
    """Record the revisions of the drugs changed so far (a handler may call it to answer with them;
    `expire=False` when nothing reads the drugs after, as at the end of the request)."""
    request: Request | None = session.info.get("request")
    changed: dict[Drug, Change] = session.info.pop("changed_drugs", {})
    if request is None or not changed:
        return
    revised: set[int] = session.info.get("revised_drugs", set())
    action = action_of(request)
    reason = actor_of(session).reason
    for drug, change in changed.items():
        if drug.id in revised:
            continue
        revise(
            session,
            drug,
            message=reason or f"Edited ({action})",
            action=f"drug.{action}",
            change=change,
            expire=expire,
        )


def finish_write(session: Session, request: Request) -> None:
    """Revisions for changed drugs, and at least one audit entry, before the request commits."""
    record_pending(session, expire=False)  # the handler has answered: nothing reads the drugs again
    session.flush()
    action = action_of(request)
    if session.info.get("wrote") and not session.info.get("audited"):
        entity, entity_id = _entity_of(request)
        changes = session.info.pop("tracked", None) or None
        if entity_id is None:  # a create (`POST /conditions`): the new record's own slug or prefix
            entity_id = _created_key(changes)
        record(session, action=f"{entity}.{action}", entity=entity, entity_id=entity_id, changes=changes)


def clear(session: Session) -> None:
    for key in ("changed_drugs", "revised_drugs", "audited", "actor", "tracked"):
        session.info.pop(key, None)


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)
