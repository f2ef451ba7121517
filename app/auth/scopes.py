"""Scopes and the role presets that bundle them."""

from __future__ import annotations

from typing import Literal

CONTENT_READ = "content:read"
CONTENT_WRITE = "content:write"
CONTENT_PUBLISH = "content:publish"
AUDIT_READ = "audit:read"
KEYS_MANAGE = "keys:manage"

ALL_SCOPES = (CONTENT_READ, CONTENT_WRITE, CONTENT_PUBLISH, AUDIT_READ, KEYS_MANAGE)

Role = Literal["viewer", "editor", "publisher", "admin"]

ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    # Reads drafts and revisions.
    "viewer": (CONTENT_READ,),
    # Edits the working draft; cannot make anything public.
    "editor": (CONTENT_READ, CONTENT_WRITE),
    # A reviewer who signs off: publishes, and reads the audit log to see what changed and by whom.
    "publisher": (CONTENT_READ, CONTENT_WRITE, CONTENT_PUBLISH, AUDIT_READ),
    # Everything, including managing keys.
    "admin": ALL_SCOPES,
}
ROLES: tuple[str, ...] = tuple(ROLE_SCOPES)
