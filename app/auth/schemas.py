"""Request and response shapes for API keys (a token appears only in `KeyCreated`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, StringConstraints

from app.auth.models import ApiKey
from app.auth.scopes import Role
from app.core.types import Name, ReadModel, WriteModel


class KeyCreate(WriteModel):
    name: Annotated[Name, StringConstraints(max_length=100)] = Field(
        description="Who or what holds the key.", examples=["Dr Reviewer"]
    )
    role: Role = Field(description="viewer, editor, publisher or admin (sets the scopes).")


class KeyRead(ReadModel):
    prefix: str = Field(description="Non-secret identifier of the key (also in the token).")
    name: str
    role: str
    scopes: list[str]
    created_by: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    active: bool
    links: dict[str, str]

    @classmethod
    def of(cls, key: ApiKey) -> KeyRead:
        return cls(
            prefix=key.prefix,
            name=key.name,
            role=key.role,
            scopes=list(key.scopes),
            created_by=key.created_by,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            active=key.revoked_at is None,
            links={"self": key_url(key.prefix), "revoke": key_url(key.prefix) + "/revoke"},
        )


class KeyCreated(KeyRead):
    token: str = Field(
        description="The bearer token. Shown this once: only its hash is stored, it cannot be shown again."
    )


class KeyPage(ReadModel):
    items: list[KeyRead]
    next_cursor: str | None


def key_url(prefix: str) -> str:
    return f"/api/v1/admin/keys/{prefix}"
