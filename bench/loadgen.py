"""A small HTTP/1.1 keep-alive load generator (asyncio, raw sockets): the fallback when `wrk` is absent,
and the driver of workloads whose next request depends on the last answer (If-Match edits).

Each of `connections` tasks sends a request, reads the whole answer, records the latency and asks
`next_request` for the next one, until `duration` seconds have passed. It is slower than wrk (one
Python core manages roughly 5,000-10,000 small requests/s), so for very fast endpoints the numbers
it gives are a floor; the bench says which generator measured each row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


# (connection index, previous answer or None) → the next call
NextCall = Callable[[int, Answer | None], Call]


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    status = int(status_line.split(" ", 2)[1])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status=status, headers=headers, body=body)


async def _connection(
    index: int, host: str, port: int, next_call: NextCall, stop_at: float, result: Result
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    last: Answer | None = None
    try:
        while time.perf_counter() < stop_at:
            call = next_call(index, last)
            started = time.perf_counter()
            writer.write(call.encode(f"{host}:{port}"))
            try:
                last = await _read_answer(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                last = None
                continue
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            result.statuses[last.status] = result.statuses.get(last.status, 0) + 1
    finally:
        writer.close()


async def run(host: str, port: int, *, connections: int, duration: float, next_call: NextCall) -> Result:
    result = Result(requests=0, seconds=0.0, latencies=[], statuses={}, errors=0)
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(i, host, port, next_call, started + duration, result) for i in range(connections))
    )
    result.seconds = time.perf_counter() - started
    return result


def run_sync(host: str, port: int, *, connections: int, duration: float, next_call: NextCall) -> Result:
    coroutine = run(host, port, connections=connections, duration=duration, next_call=next_call)
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def cycling(calls: list[Call]) -> NextCall:
    """Every connection walks the list from its own starting point."""
    positions: dict[int, int] = {}

    def next_call(index: int, _last: Answer | None) -> Call:
        position = positions.get(index, index * 7)
        positions[index] = position + 1
        return calls[position % len(calls)]

    return next_call
