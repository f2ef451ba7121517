"""Rate limits: token buckets in memory, per client address and per API key.

The buckets live in each worker process. With N workers (or N instances) a client may get up to N
times the configured rate, depending on which worker the kernel hands its connections to; put a
shared limit in the reverse proxy if that matters. Behind a proxy, set DRUGINFO_FORWARDED_ALLOW_IPS
so the client address is the real client's, not the proxy's.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Hashable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core import metrics
from app.core.errors import problem_response

# Probes and scrapes are never refused: an orchestrator must always learn whether we are alive.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class TokenBuckets:
    """One bucket of `per_minute` tokens per key, refilled continuously at `per_minute` per minute."""

    def __init__(self, per_minute: int, *, sweep_at: int = 10_000) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._sweep_at = sweep_at
        self._min_sweep_at = sweep_at

    def take(self, key: Hashable, now: float) -> float:
        """Spend one token: 0.0 if there was one, else the seconds until there will be."""
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self._sweep_at:
                self._sweep(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.per_second

    def _sweep(self, now: float) -> None:
        # A bucket that has filled up again knows nothing a new one would not: forget it.
        full = self.capacity - 1e-9
        self._buckets = {
            key: (tokens, last)
            for key, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.per_second < full
        }
        self._sweep_at = max(self._min_sweep_at, 2 * len(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)


def bearer_token(scope: Scope) -> bytes | None:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
    return None


class RateLimitMiddleware:
    """429 with `Retry-After` and a problem body once a client address or an API key is over its rate.

    Every request counts against its client address. Requests to the admin API with a bearer
    token also count against that key's bucket; the key is identified by a hash of the token
    itself, so the limit acts before authentication spends any work on the request, and a token
    nobody holds gets no more than the address it comes from.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_address: int,
        per_key: int,
        is_admin_path: Callable[[str], bool],
        explain: Callable[[Scope, Response], Response | None] | None = None,
    ) -> None:
        """`explain`: the answer a path gives instead of the problem, if it has one of its own (an
        embedded widget answers with a page it can show in its frame); None keeps the problem."""
        self.app = app
        self.explain = explain
        self.addresses = TokenBuckets(per_address) if per_address else None
        self.keys = TokenBuckets(per_key) if per_key else None
        self.per_address = per_address
        self.per_key = per_key
        self.is_admin_path = is_admin_path
        self.clock = time.monotonic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        if self.addresses is not None:
            client = scope.get("client")
            wait = self.addresses.take(client[0] if client else "", now)
            if wait:
                await self._refuse(scope, receive, send, wait, "address", self.per_address)
                return
        if self.keys is not None and self.is_admin_path(scope["path"]):
            token = bearer_token(scope)
            if token is not None:
                wait = self.keys.take(hashlib.blake2b(token, digest_size=16).digest(), now)
                if wait:
                    await self._refuse(scope, receive, send, wait, "key", self.per_key)
                    return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, wait: float, limit: str, rate: int
    ) -> None:
        metrics.RATE_LIMITED.labels(limit=limit).inc()
        retry_after = max(1, math.ceil(wait))
        who = "client address" if limit == "address" else "API key"
        response = problem_response(
            429,
            code="rate_limited",
            title="Too many requests",
            detail=f"More than {rate} requests per minute from this {who}; retry in {retry_after} s.",
            instance=scope["path"],
            headers={"Retry-After": str(retry_after)},
        )
        explained = self.explain(scope, response) if self.explain is not None else None
        await (explained or response)(scope, receive, send)
