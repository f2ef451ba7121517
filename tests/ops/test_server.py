"""The real server (uvicorn as `druginfo serve` runs it) against oversized heads and slow clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from app.core.config import Settings
from app.core.server import HeadWithBody
from tests.ops.live import LiveServer, serve


def _raw_request(server: LiveServer, head: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):  # these answers close the connection: read to the end
            answer += chunk
        return answer


@pytest.mark.parametrize("size", [100_000, 1_000_000])
@pytest.mark.parametrize("where", ["header", "url"])
def test_an_oversized_request_head_gets_431(live_server: LiveServer, size: int, where: str) -> None:
    if where == "header":
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    else:
        head = b"GET /healthz?" + b"a" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n"

    answer = _raw_request(live_server, head)

    status_line, _, rest = answer.partition(b"\r\n")
    head, _, body = rest.partition(b"\r\n\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert b"content-type: application/problem+json" in head.lower()
    assert orjson.loads(body) == {
        "type": "/problems/request-headers-too-large",
        "title": "Request header fields too large",
        "status": 431,
        "code": "request_headers_too_large",
    }


def test_a_head_within_the_limit_is_served(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/healthz", headers={"X-Big": "a" * 20_000})

    assert response.status_code == 200


def test_head_sends_the_get_headers_and_no_body_on_a_kept_alive_connection(live_server: LiveServer) -> None:
    url = f"{live_server.url}/api/v1/drugs/pomalidomide"
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        get = client.get(url)
        head = client.head(url)
        after = client.get(url)  # the same connection: nothing of a body was left on it

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]
    assert after.status_code == 200 and after.content == get.content


def test_a_client_that_never_finishes_its_head_is_cut_off(live_server: LiveServer) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout")
    assert 1.5 <= elapsed <= 6  # DRUGINFO_HEADER_TIMEOUT=2 in the live server


def test_a_silent_connection_is_closed_after_the_head_timeout(live_server: LiveServer) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        assert sock.recv(4096) == b""  # closed without a word: browsers pre-connect like this

    assert time.monotonic() - started <= 6


@pytest.mark.fault
def test_slow_clients_do_not_stop_normal_requests(live_server: LiveServer) -> None:
    """300 connections trickling their headers a few bytes at a time, while normal requests go on."""
    slow = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=5)
        sock.sendall(b"GET /api/v1/drugs HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"X")
            time.sleep(0.25)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    latencies = []
    try:
        with httpx.Client(base_url=live_server.url, timeout=10) as http:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                started = time.monotonic()
                response = http.get("/api/v1/drugs/pomalidomide/faqs", headers={"Connection": "close"})
                latencies.append(time.monotonic() - started)
                assert response.status_code == 200
    finally:
        stop.set()
        trickler.join()

    # The server dropped the trickling clients at the head deadline (2 s here), freeing their sockets.
    time.sleep(1.5)
    cut_off = 0
    for sock in slow:
        sock.settimeout(3)
        try:
            answer = sock.recv(4096)
            cut_off += answer == b"" or answer.startswith(b"HTTP/1.1 408")
        except OSError:
            cut_off += 1  # reset by the server: cut off too
        sock.close()

    assert len(latencies) >= 5
    assert max(latencies) < 2.0, latencies
    assert cut_off == len(slow)


def _read_responses(sock: socket.socket, count: int, *, heads: set[int]) -> list[tuple[bytes, bytes]]:
    """`count` responses (status line + headers, body) read off a kept-alive connection; the
    responses numbered in `heads` answer HEAD requests (headers only)."""
    buffer, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
        # A 304 has no body and no Content-Length.
        length = 0 if len(answers) in heads else int(fields.get(b"content-length", b"0"))
        while len(buffer) < length:
            buffer += sock.recv(65536)
        answers.append((head, buffer[:length]))
        buffer = buffer[length:]
    assert buffer == b""
    return answers


def test_pipelined_requests_get_their_answers_in_order(live_server: LiveServer) -> None:
    """Heads and bodies go out together (`HeadWithBody`); HEAD and 304 answers, which have no body
    to wait for, are not held back, and nothing crosses from one answer into the next."""
    document = httpx.get(
        f"{live_server.url}/api/v1/drugs/pomalidomide", headers={"Accept-Encoding": "identity"}
    )
    etag = document.headers["etag"]
    requests = [
        b"GET /api/v1/drugs/pomalidomide HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /api/v1/drugs/pomalidomide HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /api/v1/drugs/pomalidomide HTTP/1.1\r\nHost: x\r\nIf-None-Match: "
        + etag.encode()
        + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(b"".join(requests))  # all at once: uvicorn queues them and answers in turn
        answers = _read_responses(sock, len(requests), heads={1})
        # The connection is still good for another request.
        sock.sendall(requests[3])
        [(last_head, last_body)] = _read_responses(sock, 1, heads=set())

    (get_head, get_body), (head_head, head_body), (not_modified, empty), (health_head, health_body) = answers
    assert get_head.startswith(b"HTTP/1.1 200") and get_body == document.content
    assert head_head.startswith(b"HTTP/1.1 200") and head_body == b""
    assert f"content-length: {len(document.content)}".encode() in head_head
    assert not_modified.startswith(b"HTTP/1.1 304") and empty == b""
    assert health_head.startswith(b"HTTP/1.1 200") and orjson.loads(health_body)["status"] == "ok"
    assert last_head.startswith(b"HTTP/1.1 200") and last_body == health_body


class _Recorder(asyncio.Transport):
    """A transport that notes each call that sends bytes (one entry per syscall the loop would make)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))

    def writelines(self, list_of_data: object) -> None:
        self.sent.append(b"".join(list_of_data))  # type: ignore[arg-type]

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def _view() -> tuple[HeadWithBody, _Recorder, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    recorder = _Recorder()
    return HeadWithBody(recorder, loop), recorder, loop


def test_a_head_goes_out_with_the_body_in_one_write() -> None:
    view, recorder, loop = _view()
    try:
        view.write(HEAD)
        assert recorder.sent == []
        view.write(b"{}")
        view.write(b"more")  # only the head is ever held
        view.writelines([b"and ", b"more"])
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()

    assert recorder.sent == [HEAD + b"{}", b"more", b"and more"]


def test_a_head_without_a_body_write_goes_out_at_the_end_of_the_round() -> None:
    view, recorder, loop = _view()
    try:
        view.write(HEAD)
        loop.run_until_complete(asyncio.sleep(0))
        assert recorder.sent == [HEAD]
        view.write(b"{}")
    finally:
        loop.close()

    assert recorder.sent == [HEAD, b"{}"]


def test_an_interim_response_is_not_held_and_closing_sends_a_held_head() -> None:
    view, recorder, loop = _view()
    try:
        view.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert recorder.sent == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        view.write(HEAD)
        view.close()
        loop.run_until_complete(asyncio.sleep(0))  # the scheduled flush finds nothing left
    finally:
        loop.close()

    assert recorder.sent == [b"HTTP/1.1 100 Continue\r\n\r\n", HEAD]
    assert recorder.closed


def test_a_held_head_is_dropped_when_the_client_is_gone() -> None:
    view, recorder, loop = _view()
    try:
        view.write(HEAD)
        recorder.closed = True  # the client disconnected meanwhile
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()

    assert recorder.sent == []


def test_past_the_concurrency_limit_the_answer_is_a_problem_document(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """`DRUGINFO_LIMIT_CONCURRENCY` counts a worker's connections: past it uvicorn itself answers a
    plain-text 503; ours is the problem document every other error is, with `Retry-After`."""
    server = serve(sqlite_settings.database_url, tmp_path / "server.log", DRUGINFO_LIMIT_CONCURRENCY="2")
    try:
        server.wait_until_up()
        with httpx.Client(base_url=server.url) as held:
            assert held.get("/healthz").status_code == 200  # one connection, kept alive
            head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as other:
                other.sendall(head)  # a second connection: the cap of 2 is reached
                answer = b""
                while chunk := other.recv(65536):  # closed after the answer
                    answer += chunk
        after = httpx.get(f"{server.url}/healthz")  # the held connection is gone: served again
    finally:
        server.stop()

    status_line, _, rest = answer.partition(b"\r\n")
    head_lines, _, body = rest.partition(b"\r\n\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in head_lines.split(b"\r\n"))
    assert status_line == b"HTTP/1.1 503 Service Unavailable"
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"retry-after"] == b"1"
    assert headers[b"connection"] == b"close"
    problem = orjson.loads(body)
    assert problem["status"] == 503 and problem["code"] == "server_overloaded"
    assert "DRUGINFO_LIMIT_CONCURRENCY" in problem["detail"]
    assert after.status_code == 200
    assert "Exceeded concurrency limit." in server.output()
