"""Webhooks: registration (admin only, If-Match, SSRF refusals) and signed deliveries to real receivers.

Receivers are real HTTP servers on 127.0.0.1 (allowed by `DRUGINFO_WEBHOOK_ALLOWED_HOSTS` in these
tests). The background worker is off in most tests, which drive it with `run_once()`; the tests that
need it running say so. Refused targets are only ever parsed or resolved, never connected to.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.server
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.webhooks.targets import Target, TargetRefused, check_target, is_public
from app.webhooks.worker import WebhookWorker, post_to_target, retry_delay
from tests.admin.conftest import ADMIN, Admin
from tests.factories import import_into, synthetic_drug
from tests.helpers import assert_problem

ALL_EVENTS = ["drug.published", "drug.updated", "drug.unpublished"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the queued statuses (then 200), records requests."""

    statuses: list[int] = field(default_factory=list)
    hang: threading.Event | None = None
    requests: list[Received] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/druginfo"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.hang is not None:
                    receiver.hang.wait(timeout=15)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        if self.hang is not None:
            self.hang.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def hook_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "webhooks_enabled": False,
        "webhook_allowed_hosts": ["127.0.0.1"],
        "webhook_retry_base_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """These tests' settings: worker off (driven by hand), 127.0.0.1 allowed, tiny backoff."""
    return hook_settings(database_url)


def worker(admin: Admin) -> WebhookWorker:
    found: WebhookWorker = admin.client.app.state.webhook_worker  # type: ignore[attr-defined]
    return found


def register(admin: Admin, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    response = admin.post("/webhooks", body, role="admin")
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def publish(client: TestClient, slug: str = "testdrug-a", name: str = "Testdrug A", **overrides: Any) -> None:
    import_into(client, {"drugs": [synthetic_drug(slug, name, **overrides)]})


def deliveries(admin: Admin, webhook_id: int, **params: Any) -> list[dict[str, Any]]:
    response = admin.get(f"/webhooks/{webhook_id}/deliveries", role="admin", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def verify(secret: str, received: Received) -> dict[str, Any]:
    """Check a request as a Standard Webhooks receiver would; the parsed body."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id, timestamp = received.headers["webhook-id"], received.headers["webhook-timestamp"]
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + received.body, hashlib.sha256).digest()
    ).decode()
    signatures = [
        s.split(",", 1)[1] for s in received.headers["webhook-signature"].split() if s.startswith("v1,")
    ]
    assert any(hmac.compare_digest(expected, s) for s in signatures), "bad signature"
    assert abs(time.time() - int(timestamp)) < 60
    body: dict[str, Any] = json.loads(received.body)
    return body


def test_publish_sends_a_signed_delivery(admin: Admin, receiver: Receiver) -> None:
    response = admin.post("/webhooks", {"url": receiver.url, "events": ["drug.published"]}, role="admin")

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"{ADMIN}/webhooks/{created['id']}"
    assert response.headers["ETag"] == created["etag"]
    assert "no-store" in response.headers["Cache-Control"]
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    # The secret is shown once, never again.
    assert secret not in admin.get(f"/webhooks/{created['id']}", role="admin").text
    assert secret not in admin.get("/webhooks", role="admin").text

    publish(admin.client)
    assert receiver.requests == []  # nothing is sent inside the publishing transaction
    assert worker(admin).run_once() == 1

    (received,) = receiver.requests
    body = verify(secret, received)
    event_id = body["data"]["event_id"]
    assert received.headers["webhook-id"] == f"msg_{event_id}"
    assert received.headers["content-type"] == "application/json"
    assert body["type"] == "drug.published"
    assert dt.datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert body["data"] == {
        "event_id": event_id,
        "slug": "testdrug-a",
        "name": "Testdrug A",
        "revision": 1,
        "links": {"self": "/api/v1/drugs/testdrug-a"},
    }
    assert admin.client.get("/api/v1/changes").json()["next_cursor"] == str(event_id)
    (log,) = deliveries(admin, created["id"])
    assert log["status"] == "succeeded" and log["attempts"] == 1 and log["last_status_code"] == 200
    assert log["message_id"] == f"msg_{event_id}" and log["event_type"] == "drug.published"
    assert log["next_attempt_at"] is None and log["last_duration_ms"] >= 0
    # Nothing is sent twice.
    assert worker(admin).run_once() == 0 and len(receiver.requests) == 1
    # The worker's bookkeeping is not an edit: the endpoint's ETag and updated_at stay.
    shown = admin.get(f"/webhooks/{created['id']}", role="admin").json()
    assert (shown["etag"], shown["updated_at"]) == (created["etag"], created["updated_at"])


def test_each_endpoint_gets_the_events_it_asked_for_once(admin: Admin, receiver: Receiver) -> None:
    everything = register(admin, receiver.url)
    only_unpublish = register(admin, receiver.url + "?only=unpublished", ["drug.unpublished"])

    publish(admin.client)
    publish(admin.client, summary="Testdrug A, edited synthetic summary.")
    worker(admin).run_once()
    worker(admin).fan_out()  # a repeat (as by a second instance) creates nothing new
    worker(admin).run_once()

    types = [verify(everything["secret"], r)["type"] for r in receiver.requests]
    assert types == ["drug.published", "drug.updated"]
    assert deliveries(admin, only_unpublish["id"]) == []

    publish(admin.client, status="draft", summary="Testdrug A, edited synthetic summary.")
    worker(admin).run_once()

    last = receiver.requests[-1]
    assert last.headers["webhook-id"] != receiver.requests[0].headers["webhook-id"]
    assert verify(only_unpublish["secret"], last)["type"] == "drug.unpublished"
    assert [d["event_type"] for d in deliveries(admin, everything["id"])] == [
        "drug.unpublished",
        "drug.updated",
        "drug.published",
    ]


def test_an_endpoint_gets_only_events_after_it_was_registered(admin: Admin, receiver: Receiver) -> None:
    publish(admin.client)
    hook = register(admin, receiver.url)

    worker(admin).run_once()

    assert receiver.requests == [] and deliveries(admin, hook["id"]) == []


def _wait_until_due(delivery: dict[str, Any]) -> None:
    """Sleep until the delivery's next attempt is due (by the clock the worker reads)."""
    due = dt.datetime.fromisoformat(delivery["next_attempt_at"])
    while (left := (due - dt.datetime.now(dt.UTC)).total_seconds()) > 0:
        time.sleep(left + 0.01)


def test_failing_receiver_is_retried_with_backoff_until_it_succeeds(admin: Admin, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    hook = register(admin, receiver.url)
    publish(admin.client)
    run = worker(admin).run_once

    assert run() == 1
    (first,) = deliveries(admin, hook["id"])
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
    assert first["last_error"] == "HTTP 500"
    waited = dt.datetime.fromisoformat(first["next_attempt_at"]) - dt.datetime.fromisoformat(
        first["last_attempt_at"]
    )
    assert waited == dt.timedelta(seconds=0.2)  # base 0.2 s x 1
    # Not due yet: the backoff is respected (unless this machine stalled past the due time).
    if dt.datetime.now(dt.UTC) < dt.datetime.fromisoformat(first["next_attempt_at"]):
        assert run() == 0

    _wait_until_due(first)
    assert run() == 1
    (second,) = deliveries(admin, hook["id"])
    assert (second["status"], second["attempts"], second["last_status_code"]) == ("pending", 2, 503)
    waited = dt.datetime.fromisoformat(second["next_attempt_at"]) - dt.datetime.fromisoformat(
        second["last_attempt_at"]
    )
    assert waited == dt.timedelta(seconds=1.2)  # base 0.2 s x 6
    assert run() == 0  # 1.2 s away: due only after the wait below

    _wait_until_due(second)
    assert run() == 1
    (done,) = deliveries(admin, hook["id"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("succeeded", 3, 200)
    assert done["last_error"] is None and done["next_attempt_at"] is None
    # Every attempt is the same message: same id and body, each freshly signed.
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    for received in receiver.requests:
        verify(hook["secret"], received)


def test_a_delivery_is_marked_failed_after_the_last_attempt(
    database_url: str, tokens: dict[str, str], receiver: Receiver
) -> None:
    receiver.statuses = [500, 404, 500]
    settings = hook_settings(database_url, webhook_max_attempts=2, webhook_retry_base_seconds=0.01)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = Admin(client, tokens)
        hook = register(admin, receiver.url)
        publish(client)

        worker(admin).run_once()
        time.sleep(0.03)
        worker(admin).run_once()
        time.sleep(0.1)
        assert worker(admin).run_once() == 0

        (log,) = deliveries(admin, hook["id"])
        assert (log["status"], log["attempts"], log["last_status_code"]) == ("failed", 2, 404)
        assert log["next_attempt_at"] is None and len(receiver.requests) == 2


def test_unreachable_receiver_is_an_error_not_a_crash(admin: Admin, receiver: Receiver) -> None:
    hook = register(admin, receiver.url)
    receiver.stop()  # the port is closed now
    publish(admin.client)

    assert worker(admin).run_once() == 1

    (log,) = deliveries(admin, hook["id"])
    assert log["status"] == "pending" and log["last_status_code"] is None and log["last_error"]


def test_retry_schedule_grows_exponentially() -> None:
    settings = Settings(database_url="sqlite:///unused.db")

    delays = [retry_delay(settings, n).total_seconds() for n in range(1, 9)]

    assert delays == [5, 30, 120, 600, 3600, 21600, 21600, 21600]


REFUSED_URLS = [
    ("http://10.0.0.1/hook", "non-public"),
    ("http://169.254.169.254/latest/meta-data/", "non-public"),
    ("http://[::1]/hook", "non-public"),
    ("http://localhost/hook", "non-public"),
    ("http://127.0.0.1/hook", "non-public"),
    ("http://100.64.0.1/hook", "non-public"),
    ("http://[::ffff:192.168.1.1]/hook", "non-public"),
    ("http://0.0.0.0/hook", "non-public"),
    ("ftp://example.org/hook", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("http://user:pw@example.org/hook", "credentials"),
    ("http:///no-host", "no host"),
]


def test_non_public_targets_are_refused_naming_the_url_field(
    database_url: str, tokens: dict[str, str]
) -> None:
    # No allow-list here: 127.0.0.1 is refused like any other loopback address.
    settings = hook_settings(database_url, webhook_allowed_hosts=[])
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = Admin(client, tokens)
        for url, reason in REFUSED_URLS:
            response = admin.post("/webhooks", {"url": url}, role="admin")

            problem = assert_problem(response, 422, "webhook_target_refused")
            (error,) = problem["errors"]
            assert error["pointer"] == "/url", url
            assert reason in error["detail"], (url, error)
        assert admin.get("/webhooks", role="admin").json()["items"] == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:0a00:0001::1", False),  # 6to4 wrapping 10.0.0.1
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_allowed_hosts_skip_only_the_address_check() -> None:
    assert check_target("http://127.0.0.1:9/x", allowed_hosts=["127.0.0.1"]).address is None
    with pytest.raises(TargetRefused):
        check_target("http://user@127.0.0.1/x", allowed_hosts=["127.0.0.1"])
    with pytest.raises(TargetRefused):
        check_target("http://10.0.0.1/x", allowed_hosts=["127.0.0.1"])


def test_a_target_that_became_private_is_refused_at_send_time(admin: Admin, receiver: Receiver) -> None:
    hook = register(admin, receiver.url)
    publish(admin.client)
    # As if DNS now pointed the host at a private address: the check before each send refuses it.
    admin.client.app.state.settings.webhook_allowed_hosts = []  # type: ignore[attr-defined]

    assert worker(admin).run_once() == 1

    (log,) = deliveries(admin, hook["id"])
    assert log["status"] == "pending" and "target refused" in log["last_error"]
    assert receiver.requests == []


def test_only_admins_manage_webhooks(admin: Admin, receiver: Receiver) -> None:
    hook = register(admin, receiver.url)

    for role in ("viewer", "editor", "publisher"):
        assert_problem(admin.post("/webhooks", {"url": receiver.url}, role=role), 403, "insufficient_scope")
        assert_problem(admin.get("/webhooks", role=role), 403, "insufficient_scope")
        assert_problem(admin.get(f"/webhooks/{hook['id']}/deliveries", role=role), 403, "insufficient_scope")
        assert_problem(
            admin.delete(f"/webhooks/{hook['id']}", etag=hook["etag"], role=role), 403, "insufficient_scope"
        )
    assert_problem(admin.client.get(f"{ADMIN}/webhooks"), 401, "unauthenticated")


def test_edits_and_deletes_need_the_current_etag(admin: Admin, receiver: Receiver) -> None:
    hook = register(admin, receiver.url)
    path = f"/webhooks/{hook['id']}"

    assert_problem(admin.patch(path, {"active": False}, etag=None, role="admin"), 428)
    assert_problem(admin.patch(path, {"active": False}, etag='"stale"', role="admin"), 412)
    assert_problem(admin.patch(path, {"url": "http://10.0.0.1/"}, etag=hook["etag"], role="admin"), 422)
    assert_problem(admin.patch(path, {"events": []}, etag=hook["etag"], role="admin"), 422)
    assert_problem(admin.patch(path, {"url": None}, etag=hook["etag"], role="admin"), 422)
    edited = admin.patch(path, {"events": ["drug.updated"], "active": False}, etag=hook["etag"], role="admin")
    assert edited.status_code == 200, edited.text
    assert edited.json()["events"] == ["drug.updated"] and edited.json()["active"] is False
    assert edited.headers["ETag"] == edited.json()["etag"] != hook["etag"]
    assert_problem(admin.patch(path, {"active": True}, etag=hook["etag"], role="admin"), 412)

    assert_problem(admin.delete(path, etag=None, role="admin"), 428)
    assert_problem(admin.delete(path, etag=hook["etag"], role="admin"), 412)
    assert admin.delete(path, etag=edited.headers["ETag"], role="admin").status_code == 204
    assert_problem(admin.get(path, role="admin"), 404, "webhook_not_found")


def test_an_inactive_endpoint_gets_nothing_and_is_not_replayed(admin: Admin, receiver: Receiver) -> None:
    hook = register(admin, receiver.url)
    path = f"/webhooks/{hook['id']}"
    off = admin.patch(path, {"active": False}, etag=hook["etag"], role="admin").json()

    publish(admin.client)
    worker(admin).run_once()
    admin.patch(path, {"active": True}, etag=off["etag"], role="admin")
    worker(admin).run_once()
    assert receiver.requests == []

    publish(admin.client, summary="Testdrug A, edited synthetic summary.")
    worker(admin).run_once()
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["drug.updated"]


def test_bad_registrations_are_422(admin: Admin) -> None:
    for body in (
        {},
        {"url": "https://example.org/hook", "events": ["drug.deleted"]},
        {"url": "https://example.org/hook", "events": []},
        {"url": "https://example.org/" + "x" * 2000},
        {"url": "https://example.org/hook", "secret": "whsec_mine"},
    ):
        assert_problem(admin.post("/webhooks", body, role="admin"), 422)


def test_lists_are_cursor_paged(admin: Admin, receiver: Receiver) -> None:
    hooks = [register(admin, f"{receiver.url}?n={n}") for n in range(3)]
    for n in range(3):
        publish(admin.client, f"testdrug-{n}", f"Testdrug {n}")
    worker(admin).run_once()

    first = admin.get("/webhooks", role="admin", params={"limit": 2}).json()
    second = admin.get("/webhooks", role="admin", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [h["id"] for h in first["items"] + second["items"]] == [h["id"] for h in hooks]
    assert second["next_cursor"] is None

    path = f"/webhooks/{hooks[0]['id']}/deliveries"
    page = admin.get(path, role="admin", params={"limit": 2}).json()
    rest = admin.get(path, role="admin", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    event_ids = [d["event_id"] for d in page["items"] + rest["items"]]
    assert event_ids == sorted(event_ids, reverse=True) and len(event_ids) == 3
    # A cursor of another list names no page here (404); a malformed one is a 422.
    assert_problem(admin.get(path, role="admin", params={"cursor": first["next_cursor"]}), 404)
    assert_problem(admin.get("/webhooks/999/deliveries", role="admin"), 404, "webhook_not_found")


def test_a_hanging_receiver_never_delays_publishing_or_admin_requests(
    database_url: str, tokens: dict[str, str], receiver: Receiver
) -> None:
    """With the worker running in the background, as in production."""
    receiver.hang = threading.Event()
    settings = hook_settings(database_url, webhooks_enabled=True, webhook_poll_interval=0.05)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = Admin(client, tokens)
        hook = register(admin, receiver.url)
        publish(client)
        deadline = time.monotonic() + 5
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.requests, "the background worker did not send"

        # The receiver is now hanging on the worker's request.
        started = time.monotonic()
        publish(client, summary="Testdrug A, edited synthetic summary.")
        assert admin.get(f"/webhooks/{hook['id']}", role="admin").status_code == 200
        assert admin.client.get("/api/v1/drugs/testdrug-a").status_code == 200
        assert time.monotonic() - started < 2.0  # the receiver hangs until released below

        receiver.hang.set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            statuses = [d["status"] for d in deliveries(admin, hook["id"])]
            if statuses == ["succeeded", "succeeded"]:
                break
            time.sleep(0.05)
        assert statuses == ["succeeded", "succeeded"]


def test_requests_go_to_the_checked_address_with_the_original_host(receiver: Receiver) -> None:
    """DNS rebinding: the connection goes to the address that passed the check, not a fresh lookup."""
    port = receiver.server.server_address[1]  # type: ignore[union-attr]
    target = Target(
        url=f"http://hooks.invalid:{port}/hooks",
        scheme="http",
        host="hooks.invalid",
        port=port,
        address="127.0.0.1",
    )

    status = post_to_target(target, {"webhook-id": "msg_1"}, b"{}")

    assert status == 200
    (received,) = receiver.requests
    assert received.headers["host"] == f"hooks.invalid:{port}" and received.headers["webhook-id"] == "msg_1"


def test_two_workers_never_send_the_same_delivery(admin: Admin, receiver: Receiver) -> None:
    """Two instances sharing the database (PostgreSQL: SKIP LOCKED; SQLite: the write lock) split the work."""
    hook = register(admin, receiver.url)
    import_into(admin.client, {"drugs": [synthetic_drug(f"testdrug-{n}", f"Testdrug {n}") for n in range(6)]})
    app_state = admin.client.app.state  # type: ignore[attr-defined]
    workers = [WebhookWorker(app_state.db, app_state.settings) for _ in range(2)]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run(w: WebhookWorker) -> None:
        barrier.wait()
        counts.append(w.run_once())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sum(counts) == 6
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 6
    assert {d["status"] for d in deliveries(admin, hook["id"])} == {"succeeded"}
