"""API keys: only a hash of each token is stored, never the token itself."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.scopes import ROLES
from app.core.db import Base, JsonType, UTCDateTime, utcnow


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # Short, random and not secret: names the key in lists and logs, and finds its row.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    # SHA-256 of the whole token, hex. The token carries 256 random bits, so a fast hash is enough:
    # there is nothing to brute-force, unlike a password.
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    scopes: Mapped[list[str]] = mapped_column(JsonType)
    created_by: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint("role IN ({})".format(", ".join(repr(r) for r in ROLES)), name="role"),
    )
