"""`/api/v1/admin/export` and `/api/v1/admin/import`: the whole content as one bundle."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Body, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from app.audit import service as audit
from app.auth.dependencies import ContentReader, Publisher
from app.bundle.export import iter_bundle
from app.bundle.schemas import Bundle
from app.bundle.service import import_bundle, parse_bundle
from app.core.db import utcnow
from app.core.deps import WriteSession, get_db
from app.core.errors import problem_responses
from app.core.routing import GuardedRouter
from app.core.types import ReadModel
from app.idempotency.service import Idempotent

router = GuardedRouter(tags=["admin: import and export"])


class ExportedBundle(Bundle):
    """A bundle as exported: the import format, plus the history when asked for."""

    revisions: dict[str, list[dict[str, Any]]] | None = Field(
        default=None,
        description="Per drug slug, its revisions (with `include_revisions`); ignored by import.",
    )


def _items(schema: str, limit: int) -> dict[str, Any]:
    return {"type": "array", "maxItems": limit, "items": {"type": "object"}, "description": f"`{schema}`s."}


# The import body, documented at its top level: each item is validated as the named schema says (as in
# `GET /export`'s `ExportedBundle`), with every problem reported by JSON pointer (422 bundle_invalid).
# The whole nested schema here would make a fuzzer spend minutes on this one operation.
IMPORT_BODY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "format": {"const": "druginfo-bundle"},
        "version": {"const": 1},
        "conditions": _items("ConditionIn", 10_000),
        "support_resources": _items("SupportResourceIn", 10_000),
        "drugs": _items("DrugIn", 20_000),
        "revisions": {"description": "An export's history; ignored."},
    },
}


class ImportResult(ReadModel):
    dry_run: bool
    changed: bool
    created: dict[str, list[str]]
    updated: dict[str, list[str]]
    unchanged: dict[str, list[str]]
    published: list[str]
    unpublished: list[str]


@router.get(
    "/export",
    summary="Export the content as a bundle",
    responses={200: {"model": ExportedBundle}, **problem_responses(401, 403, 422)},
    response_class=StreamingResponse,
)
def export(
    request: Request,
    _: ContentReader,
    include_drafts: Annotated[
        bool, Query(description="The working drafts of all drugs instead of what the public sees.")
    ] = False,
    include_revisions: Annotated[bool, Query(description="Add each drug's revision history.")] = False,
) -> StreamingResponse:
    """Streams the bundle (the seed/import format), sorted by slug."""
    db = get_db(request)

    def chunks() -> Iterator[bytes]:
        with db.read_sessions() as session:
            for chunk in iter_bundle(
                session, include_drafts=include_drafts, include_revisions=include_revisions
            ):
                yield chunk.encode()

    return StreamingResponse(
        chunks(),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="druginfo-bundle.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/import",
    response_model=ImportResult,
    summary="Import a bundle (all or nothing)",
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 413, 422, 503),
)
def import_(
    _: Publisher,
    session: WriteSession,
    bundle: Annotated[
        dict[str, Any],
        Body(description="A bundle, as `GET /export` produces.", json_schema_extra=IMPORT_BODY),
    ],
    dry_run: Annotated[
        bool, Query(description="Validate and report what would change; change nothing.")
    ] = False,
) -> ImportResult:
    """Validates the whole bundle first (every problem with a JSON pointer into it), then applies it in
    one transaction: drugs are upserted by slug, a revision is recorded for each changed drug, and the
    public view follows each drug's `status`. A `revisions` member (export history) is ignored.
    """
    bundle = {k: v for k, v in bundle.items() if k != "revisions"}
    parsed = parse_bundle(bundle)
    actor = audit.actor_of(session)
    report = import_bundle(session, parsed, author=actor.prefix, dry_run=dry_run, gate=utcnow().date())
    result = ImportResult(**dataclasses.asdict(report), changed=report.changed)
    if dry_run:
        session.info["audited"] = True  # nothing was applied (the savepoint rolled back): nothing to audit
    else:
        audit.record(
            session, action="bundle.import", entity="bundle", entity_id=None, changes=result.model_dump()
        )
    return result
