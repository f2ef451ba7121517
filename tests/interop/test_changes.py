"""The change feed: published, updated and unpublished drugs, in commit order, resumable by cursor."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.bundle.service import import_bundle, parse_bundle
from app.core.config import Settings
from app.core.db import Database, session_scope
from tests.factories import import_into, synthetic_drug
from tests.helpers import assert_problem, see_other_writes


def _bundle(slug: str, name: str, **overrides: Any) -> dict[str, Any]:
    return {"drugs": [synthetic_drug(slug, name, **overrides)]}


def _events(client: TestClient, **params: Any) -> list[tuple[str, str, int | None]]:
    body = client.get("/api/v1/changes", params=params).json()
    return [(i["event"], i["drug"]["slug"], i["revision"]) for i in body["items"]]


def test_publish_update_unpublish_in_order(client: TestClient, settings: Settings) -> None:
    assert client.get("/api/v1/changes").json() == {"items": [], "next_cursor": "0", "has_more": False}

    import_into(client, _bundle("testdrug-a", "Testdrug A"))
    import_into(client, _bundle("testdrug-b", "Testdrug B"))
    import_into(client, _bundle("testdrug-a", "Testdrug A", summary="Testdrug A, edited synthetic summary."))
    import_into(client, _bundle("testdrug-a", "Testdrug A", summary="Testdrug A, edited synthetic summary."))
    import_into(client, _bundle("testdrug-b", "Testdrug B", status="draft"))

    assert _events(client) == [
        ("published", "testdrug-a", 1),
        ("published", "testdrug-b", 1),
        ("updated", "testdrug-a", 2),
        ("unpublished", "testdrug-b", None),
    ], "re-importing an unchanged drug records nothing"
    items = client.get("/api/v1/changes").json()["items"]
    assert items[0]["drug"]["links"] == {"self": "/api/v1/drugs/testdrug-a"}
    assert items[3]["drug"]["links"] is None
    assert [int(i["id"]) for i in items] == sorted(int(i["id"]) for i in items)
    times = [dt.datetime.fromisoformat(i["occurred_at"]) for i in items]
    assert times == sorted(times)


def test_cursor_pages_resume_without_gaps_or_repeats(client: TestClient, settings: Settings) -> None:
    for i in range(5):
        import_into(client, _bundle(f"testdrug-{i}", f"Testdrug {i}"))

    first = client.get("/api/v1/changes", params={"limit": 2})
    body = first.json()
    assert body["has_more"] is True
    assert 'rel="next"' in first.headers["link"]
    seen = [i["drug"]["slug"] for i in body["items"]]
    while body["has_more"]:
        body = client.get("/api/v1/changes", params={"limit": 2, "since": body["next_cursor"]}).json()
        seen += [i["drug"]["slug"] for i in body["items"]]

    assert seen == [f"testdrug-{i}" for i in range(5)]
    # Polling from the last cursor: nothing new, the same cursor back; then only the new event.
    cursor = body["next_cursor"]
    assert client.get("/api/v1/changes", params={"since": cursor}).json()["next_cursor"] == cursor
    import_into(client, _bundle("testdrug-new", "Testdrug New"))
    assert _events(client, since=cursor) == [("published", "testdrug-new", 1)]


def test_since_a_timestamp(client: TestClient, settings: Settings) -> None:
    import_into(client, _bundle("testdrug-old", "Testdrug Old"))
    time.sleep(0.01)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    import_into(client, _bundle("testdrug-recent", "Testdrug Recent"))

    assert _events(client, since=moment.isoformat()) == [("published", "testdrug-recent", 1)]
    assert _events(client, since=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == [
        ("published", "testdrug-recent", 1)
    ]
    later = (moment + dt.timedelta(days=1)).isoformat()
    body = client.get("/api/v1/changes", params={"since": later}).json()
    assert body["items"] == []
    assert body["next_cursor"] == client.get("/api/v1/changes").json()["next_cursor"], "resume from the end"


def test_feed_is_revalidated_every_time(client: TestClient, settings: Settings) -> None:
    import_into(client, _bundle("testdrug-a", "Testdrug A"))
    first = client.get("/api/v1/changes")

    assert first.headers["cache-control"] == "public, no-cache"
    assert client.get("/api/v1/changes", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    import_into(client, _bundle("testdrug-b", "Testdrug B"))
    assert client.get("/api/v1/changes", headers={"If-None-Match": first.headers["etag"]}).status_code == 200


@pytest.mark.parametrize(
    "since", ["", "0", "2026-01-31", "2026-01-31t12:00:00.123456789z", "0001-01-01T00:00:00+23:59"]
)
def test_every_documented_since_is_accepted(public_client: TestClient, since: str) -> None:
    """A cursor, an RFC 3339 timestamp (any offset, even one before year 1 in UTC) or a date."""
    response = public_client.get("/api/v1/changes", params={"since": since})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"since": "yesterday"}, 422),
        ({"since": "-5"}, 422),
        ({"since": "9" * 30}, 422),
        ({"since": "²"}, 422),  # a digit to str.isdigit(), not to int()
        ({"since": "0.5"}, 422),
        ({"since": "2026-02-30"}, 422),
        ({"since": "2026-01-31T12:00:00"}, 422),  # RFC 3339 needs the offset
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
        ({"from": "1"}, 400),
    ],
)
def test_bad_feed_parameters_are_problems(
    public_client: TestClient, params: dict[str, Any], status: int
) -> None:
    assert_problem(public_client.get("/api/v1/changes", params=params), status)


def test_ids_follow_commit_order_when_publishers_overlap(client: TestClient, settings: Settings) -> None:
    """A publisher that starts while another is mid-transaction waits for it, so a reader that has
    seen the later id can never afterwards find an earlier one appear."""
    db = Database(settings)
    second_done = threading.Event()
    errors: list[BaseException] = []

    def second_publisher() -> None:
        try:
            for session in session_scope(db.write_sessions):
                import_bundle(
                    session, parse_bundle(_bundle("testdrug-second", "Testdrug Second")), author="test"
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            second_done.set()

    try:
        sessions = session_scope(db.write_sessions)
        first = next(sessions)
        import_bundle(first, parse_bundle(_bundle("testdrug-first", "Testdrug First")), author="test")
        thread = threading.Thread(target=second_publisher)
        thread.start()
        time.sleep(0.5)
        assert not second_done.is_set(), "the second publisher waits for the first to commit"
        assert _events(client) == [], "nothing uncommitted is visible"
        with pytest.raises(StopIteration):
            next(sessions)  # commits the first transaction
        thread.join(timeout=10)
    finally:
        db.dispose()

    assert not errors, errors
    see_other_writes(client)  # the publishers above wrote as other processes
    assert [slug for _, slug, _ in _events(client)] == ["testdrug-first", "testdrug-second"]
