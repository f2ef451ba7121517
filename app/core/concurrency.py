"""Optimistic concurrency for the management API: strong ETags from row versions; `If-Match` required.

A resource's ETag names its table, id and version (`"faq-12-v3"`). The version is the mapper's
`version_id_col`, so the check a client asks for with `If-Match` is also enforced by the database:
the UPDATE runs `... WHERE version = :seen`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Header

from app.core.errors import PreconditionFailed, PreconditionRequired


def row_etag(kind: str, row_id: int, version: int) -> str:
    return f'"{kind}-{row_id}-v{version}"'


def collection_etag(kind: str, owner_id: int, members: Iterable[tuple[int, int]]) -> str:
    """ETag of an ordered collection: changes when a member is added, removed, edited or moved."""
    digest = hashlib.blake2b(digest_size=8)
    for member_id, version in members:
        digest.update(f"{member_id}:{version};".encode())
    return f'"{kind}-{owner_id}-{digest.hexdigest()}"'


def require_if_match(
    if_match: Annotated[
        str | None,
        Header(
            max_length=500,
            description="The `ETag` you last read. Required: without it `428`; when stale `412`.",
        ),
    ] = None,
) -> str:
    """The `If-Match` header of a PATCH, PUT or DELETE; a request without one is refused."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "This change needs an If-Match header holding the ETag you last read, "
            "so that nobody's edit is silently overwritten."
        )
    if if_match.strip() == "*":
        raise PreconditionRequired("If-Match: * is not accepted here; send the ETag you last read.")
    return if_match


IfMatch = Annotated[str, Depends(require_if_match)]


def check_etag(if_match: str, current: str) -> None:
    """Raise 412 (with the current ETag) unless `If-Match` names the current ETag (strong comparison)."""
    candidates = [tag.strip() for tag in if_match.split(",")]
    if current not in candidates:
        raise PreconditionFailed(
            f"The resource has changed since you read it (current ETag {current}); "
            "read it again and reapply your change.",
            current_etag=current,
        )
