"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105  (a format prefix, not a secret)


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes, base64 (the Standard Webhooks format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
