"""The change feed's validators (ETag and Last-Modified) and its cursor, which never runs ahead of it."""

from __future__ import annotations

import datetime as dt
import time
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import import_into, synthetic_drug

FEED = "/api/v1/changes"


def _publish(client: TestClient, *slugs: str) -> None:
    import_into(client, {"drugs": [synthetic_drug(slug, slug.replace("-", " ").title()) for slug in slugs]})


def _http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)


@pytest.mark.parametrize(
    "params", [{}, {"since": "1"}, {"since": "2"}, {"since": "2000-01-01"}, {"limit": "1"}]
)
def test_every_page_has_last_modified_and_answers_if_modified_since(
    client: TestClient, params: dict[str, str]
) -> None:
    _publish(client, "testdrug-a", "testdrug-b")

    response = client.get(FEED, params=params)

    assert response.status_code == 200
    last_modified = parsedate_to_datetime(response.headers["last-modified"])
    times = [dt.datetime.fromisoformat(item["occurred_at"]) for item in response.json()["items"]]
    assert all(last_modified >= moment.replace(microsecond=0) for moment in times)
    assert response.headers["etag"].startswith('"')
    unchanged = client.get(
        FEED, params=params, headers={"If-Modified-Since": response.headers["last-modified"]}
    )
    assert unchanged.status_code == 304
    assert unchanged.headers["last-modified"] == response.headers["last-modified"]
    earlier = _http_date(last_modified - dt.timedelta(seconds=1))
    assert client.get(FEED, params=params, headers={"If-Modified-Since": earlier}).status_code == 200


def test_last_modified_moves_when_an_event_is_added(client: TestClient) -> None:
    _publish(client, "testdrug-a")
    first = client.get(FEED, params={"since": "1"})
    assert first.json()["items"] == []
    time.sleep(1.05)  # Last-Modified counts whole seconds

    _publish(client, "testdrug-b")
    again = client.get(
        FEED, params={"since": "1"}, headers={"If-Modified-Since": first.headers["last-modified"]}
    )

    assert again.status_code == 200
    assert [item["drug"]["slug"] for item in again.json()["items"]] == ["testdrug-b"]
    assert parsedate_to_datetime(again.headers["last-modified"]) > parsedate_to_datetime(
        first.headers["last-modified"]
    )


def _page(client: TestClient, since: str) -> dict[str, Any]:
    response = client.get(FEED, params={"since": since})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("since", "expected"),
    [("3", "3"), ("4", "3"), ("100", "3"), ("999999999999999999", "3"), ("2100-01-01T00:00:00Z", "3")],
)
def test_the_cursor_never_runs_ahead_of_the_feed(client: TestClient, since: str, expected: str) -> None:
    _publish(client, "testdrug-a", "testdrug-b", "testdrug-c")

    body = _page(client, since)

    assert body == {"items": [], "next_cursor": expected, "has_more": False}
    _publish(client, "testdrug-d")
    later = _page(client, body["next_cursor"])
    assert [item["drug"]["slug"] for item in later["items"]] == ["testdrug-d"], "nothing is missed"


def test_an_empty_feed_points_at_its_start(client: TestClient) -> None:
    assert _page(client, "100") == {"items": [], "next_cursor": "0", "has_more": False}
    _publish(client, "testdrug-a")
    assert [item["drug"]["slug"] for item in _page(client, "0")["items"]] == ["testdrug-a"]
