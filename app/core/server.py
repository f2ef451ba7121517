"""How `druginfo serve` runs uvicorn, and the limits it puts on clients before the app sees them.

uvicorn's httptools parser accepts request heads of any size and waits for them forever (its
`timeout_keep_alive` only runs between requests, and `h11_max_incomplete_event_size` only applies to
the slower h11 parser). `BoundedHttpToolsProtocol` adds two limits at the connection level:

- a request line plus headers larger than `DRUGINFO_MAX_HEADER_BYTES` gets a 431 and the
  connection is closed, before the rest is buffered;
- a client that has not sent a complete request head within `DRUGINFO_HEADER_TIMEOUT` seconds of
  connecting (or of starting the next request) is disconnected (408 if it had sent anything).

So a slow client costs one socket and a timer until the timeout, never a worker. Past
`DRUGINFO_LIMIT_CONCURRENCY` (off by default) a request gets a 503 problem document with
`Retry-After`, where uvicorn itself answers in plain text.

It also sends each response's head and the start of its body in one write (`HeadWithBody`):
uvicorn writes them separately, and on this machine the second segment cost the server another
wakeup of the client (a tenth of a cache-missing search's CPU in `make bench`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.config import Settings, get_settings


def _raw_problem(status: int, reason: str, code: str, title: str) -> bytes:
    body = orjson.dumps(
        {"type": f"/problems/{code.replace('_', '-')}", "title": title, "status": status, "code": code}
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "x-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


HEADERS_TOO_LARGE = _raw_problem(
    431, "Request Header Fields Too Large", "request_headers_too_large", "Request header fields too large"
)
REQUEST_TIMEOUT = _raw_problem(408, "Request Timeout", "request_timeout", "Request timeout")

OVERLOADED_BODY = orjson.dumps(
    {
        "type": "/problems/server-overloaded",
        "title": "Service unavailable",
        "status": 503,
        "code": "server_overloaded",
        "detail": "This worker is at its connection limit (DRUGINFO_LIMIT_CONCURRENCY); retry shortly.",
    }
)


async def overloaded(scope: Any, receive: Any, send: Any) -> None:
    """The answer past `DRUGINFO_LIMIT_CONCURRENCY`: uvicorn's own is a plain-text 503, this is the
    problem document every other error is, with `Retry-After`; the connection is closed after it."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(OVERLOADED_BODY)).encode()),
                (b"retry-after", b"1"),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": OVERLOADED_BODY})


LINGER_SECONDS = 2.0


class HeadWithBody:
    """A request's view of the connection's transport that sends its response head with the body.

    uvicorn writes a response's status line and headers as soon as the app starts the response,
    then each part of the body: two writes (two TCP segments, two wakeups of the reader) for the
    usual one-part answer. The head is held here until the next write, which sends both at once
    (`writelines`: one syscall, no copy). A response with no body write (HEAD, or an app that
    stops after starting) gets its head at the end of the loop's current round, or when the
    connection closes, whichever is first. An interim `100 Continue` is never held.
    """

    __slots__ = ("_held", "_loop", "_transport", "_waiting")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._waiting = True  # for this response's head

    def write(self, data: bytes) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.writelines((held, data))
        elif self._waiting and data.startswith(b"HTTP/1.1 ") and data[9:10] != b"1":
            self._waiting = False
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes]) -> None:
        self.write(b"".join(list_of_data))

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on each request head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The concurrency cap is checked here (`on_headers_complete`), to answer with `overloaded`.
        self.cap: int | None = self.limit_concurrency
        self.limit_concurrency = None
        settings = get_settings()
        self.max_head_bytes = settings.max_header_bytes
        self.head_timeout = settings.header_timeout
        self._awaiting_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._rejected = False
        self._tail = b""  # last bytes of the head so far: its end may straddle two reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return  # lingering after a 431/408: read and drop until the client closes
        if self._awaiting_head:
            if self._head_timer is None:
                self._arm_head_timer()
            # Measure the head before the parser sees it, so an oversized one is never parsed at all.
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            head_part = len(data) if end < 0 else end + 4 - len(self._tail)
            if self._head_bytes + head_part > self.max_head_bytes:
                self.logger.warning("Request head over %d bytes refused (431).", self.max_head_bytes)
                self._reject(HEADERS_TOO_LARGE)
                return
            self._head_bytes += head_part
            self._tail = seen[-3:]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        self._tail = b""
        self._cancel_head_timer()
        previous = self.cycle
        cap = self.cap
        if cap is not None and (len(self.connections) >= cap or len(self.tasks) >= cap):
            # uvicorn's own test, answered by `overloaded` instead of its plain-text 503.
            self.logger.warning("Exceeded concurrency limit.")
            app, self.app = self.app, overloaded
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        else:
            super().on_headers_complete()
        if self.cycle is not None and self.cycle is not previous:
            # Its task is created but not started: it writes only through this view.
            self.cycle.transport = HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request on this connection starts its own head (and its own deadline on its first byte).
        self._awaiting_head = True
        self._head_bytes = 0
        self._tail = b""

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._awaiting_head or self.transport.is_closing():
            return
        if self._head_bytes:
            self.logger.warning(
                "Request head not complete after %s s; connection closed (408).", self.head_timeout
            )
            self._reject(REQUEST_TIMEOUT)
        else:
            self.transport.close()

    def _reject(self, response: bytes) -> None:
        # Answer, stop writing, then keep draining for a moment: closing a socket with unread input
        # makes the kernel send a reset, which can destroy the answer before the client reads it.
        self._cancel_head_timer()
        self._rejected = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` (besides the app, host, port and workers)."""
    forwarded = settings.forwarded_allow_ips.strip()
    return {
        "loop": "uvloop",
        "http": BoundedHttpToolsProtocol,
        "server_header": False,
        "date_header": True,
        "access_log": False,  # druginfo.access writes one JSON line per request instead
        "proxy_headers": bool(forwarded),
        "forwarded_allow_ips": forwarded or None,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "timeout_graceful_shutdown": settings.timeout_graceful_shutdown,
        "limit_concurrency": settings.limit_concurrency or None,
        "backlog": settings.backlog,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
