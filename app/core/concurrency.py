"""Optimistic concurrency for the management API: strong ETags from row versions; `If-Match` required.

A resource's ETag names its table, id and version (`"faq-12-v3"`). The version is the mapper's
`version_id_col`, so the check a client asks for with `If-Match` is also enforced by the database:
the UPDATE runs `... WHERE version = :seen`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request

from app.core.errors import PreconditionFailed, PreconditionRequired

IF_MATCH = "If-Match"
# RFC 9110 §13.1.1 `If-Match: #entity-tag` (ASCII `etagc`; our ETags are ASCII). `*` is refused: a
# change must name the version it was made from. The OpenAPI documents this very pattern.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
IF_MATCH_PATTERN = rf"^[ \t]*{_ENTITY_TAG}(?:[ \t]*,[ \t]*{_ENTITY_TAG})*[ \t]*$"
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def row_etag(kind: str, row_id: int, version: int) -> str:
    return f'"{kind}-{row_id}-v{version}"'


def collection_etag(kind: str, owner_id: int, members: Iterable[tuple[int, int]]) -> str:
    """ETag of an ordered collection: changes when a member is added, removed, edited or moved."""
    digest = hashlib.blake2b(digest_size=8)
    for member_id, version in members:
        digest.update(f"{member_id}:{version};".encode())
    return f'"{kind}-{owner_id}-{digest.hexdigest()}"'


async def require_if_match(
    if_match: Annotated[
        str | None,
        # No max_length: the server bounds request heads, and a fuzzer folds a length bound into the
        # pattern's repetitions (slow to compile, for every change it tests).
        Header(
            alias=IF_MATCH,
            description="The `ETag` you last read (or several, comma-separated). Required: without "
            "one `428`; when none is current `412`.",
            json_schema_extra={"pattern": IF_MATCH_PATTERN},
        ),
    ] = None,
) -> str:
    """The `If-Match` header of a PATCH, PUT or DELETE; a request without a usable one is refused.

    Declared optional so that a missing header is the 428 of RFC 6585, not a validation error; the
    OpenAPI marks it required (`document_required_if_match`).
    """
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "This change needs an If-Match header holding the ETag you last read, "
            "so that nobody's edit is silently overwritten."
        )
    if if_match.strip() == "*":
        raise PreconditionRequired("If-Match: * is not accepted here; send the ETag you last read.")
    if not _IF_MATCH.fullmatch(if_match):
        raise PreconditionRequired(
            'If-Match must hold the ETag you last read, as sent (quoted), e.g. "faq-12-v3".'
        )
    return if_match


IfMatch = Annotated[str, Depends(require_if_match)]


async def sent_if_match(request: Request) -> str | None:
    """The `If-Match` of a request that does not require one (the workflow actions), if sent.

    RFC 9110 §13.1.1: a server that receives `If-Match` evaluates it before acting, so a reviewer
    can publish exactly the draft they read (and a restore cannot undo edits made since). `*` asks
    only that the resource exists. Not declared as a header parameter: the OpenAPI marks every
    declared `If-Match` required (`document_required_if_match`); the operations' texts say it.
    """
    value = request.headers.get(IF_MATCH)
    if value is None or value.strip() == "*":
        return None
    return value  # compared with the current ETag by `check_etag`: anything else is a 412


SentIfMatch = Annotated[str | None, Depends(sent_if_match)]


def check_etag(if_match: str, current: str) -> None:
    """Raise 412 (with the current ETag) unless `If-Match` names the current ETag (strong comparison)."""
    candidates = [tag.strip() for tag in if_match.split(",")]
    if current not in candidates:
        raise PreconditionFailed(
            f"The resource has changed since you read it (current ETag {current}); "
            "read it again and reapply your change.",
            current_etag=current,
        )


def document_required_if_match(app: FastAPI) -> None:
    """Mark `If-Match` as required in the OpenAPI of every operation that reads it.

    `require_if_match` declares the header optional so that its absence is answered with 428; the
    contract is still that the header must be sent, and the OpenAPI says so.
    """
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_openapi()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for parameter in operation.get("parameters", ()):
                        if parameter.get("in") == "header" and parameter.get("name") == IF_MATCH:
                            parameter["required"] = True
                            parameter["schema"] = _without_null(parameter["schema"])
        return app.openapi_schema or build_openapi()

    app.openapi = openapi  # type: ignore[method-assign]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [{string}, {null}]` (the optional declaration) → the string schema alone."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) != 1:
        return schema
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, **branches[0]}
