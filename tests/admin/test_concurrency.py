"""Real concurrency: editors racing on one FAQ, creates racing on one slug, a database that stays locked."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.core.config import Settings
from app.core.db import Database, make_null_pool_engine, write_row
from app.core.deps import in_handler_thread
from app.drugs.models import Faq
from app.main import create_app
from tests.admin.conftest import Admin, create_tokens
from tests.admin.test_drugs import count_rows
from tests.conftest import new_database
from tests.helpers import assert_problem

EDITORS = 20


def race(count: int, request: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """Run `count` requests at once from as many threads (a barrier releases them together)."""
    barrier = threading.Barrier(count)
    results: list[httpx.Response | BaseException | None] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = request(i)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert len(responses) == count, [r for r in results if not isinstance(r, httpx.Response)]
    return responses


def test_twenty_editors_racing_on_one_faq_exactly_one_wins(admin: Admin, drug: dict[str, Any]) -> None:
    faq = admin.created("/drugs/testdrug-a/faqs", {"question": "Q?", "answer": "Original."})
    url = f"/drugs/testdrug-a/faqs/{faq['id']}"
    admin.get(url, role="editor")  # the key's first use is recorded before the race, not during it

    responses = race(
        EDITORS, lambda i: admin.patch(url, {"answer": f"Answer from editor {i}."}, etag=faq["etag"])
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 412: EDITORS - 1}, statuses
    (winner,) = [r for r in responses if r.status_code == 200]
    for loser in (r for r in responses if r.status_code == 412):
        problem = assert_problem(loser, 412, "precondition_failed")
        assert problem["current_etag"] == loser.headers["ETag"] == winner.headers["ETag"]
    final = admin.get(url).json()
    assert final["answer"] == winner.json()["answer"]
    assert final["version"] == 2
    assert admin.get("/drugs/testdrug-a").json()["version"] == drug["version"] + 2  # create + one edit


def test_racing_editors_of_different_faqs_all_win(admin: Admin, drug: dict[str, Any]) -> None:
    faqs = [admin.created("/drugs/testdrug-a/faqs", {"question": f"Q{i}?", "answer": "A."}) for i in range(6)]

    responses = race(
        len(faqs),
        lambda i: admin.patch(
            f"/drugs/testdrug-a/faqs/{faqs[i]['id']}", {"answer": f"New {i}."}, etag=faqs[i]["etag"]
        ),
    )

    assert [r.status_code for r in responses] == [200] * len(faqs), [r.text for r in responses]
    answers = [f["answer"] for f in admin.get("/drugs/testdrug-a/faqs").json()["items"]]
    assert answers == [f"New {i}." for i in range(len(faqs))]
    assert admin.get("/drugs/testdrug-a").json()["version"] == drug["version"] + 2 * len(faqs)


def test_racing_creates_of_one_slug_make_one_drug(admin: Admin, settings: Settings) -> None:
    responses = race(8, lambda i: admin.post("/drugs", {"slug": "testdrug-race", "name": f"Racer {i}"}))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 7}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "conflict")
    assert count_rows(settings, "drug") == 1


def _through_the_unit_of_work(session: Session, faq: Faq, answer: str) -> None:
    faq.answer = answer
    session.flush()


def _past_the_unit_of_work(session: Session, faq: Faq, answer: str) -> None:
    write_row(session, faq, {"answer": answer})  # a part edit's own UPDATE (SQLite: `DriverWrite`)


@pytest.mark.parametrize("write", [_through_the_unit_of_work, _past_the_unit_of_work])
def test_version_column_makes_every_update_a_compare_and_set(
    settings: Settings, admin: Admin, drug: dict[str, Any], write: Callable[[Session, Faq, str], None]
) -> None:
    """Even without the row lock, a stale writer cannot overwrite: UPDATE ... WHERE version = :seen,
    whether the mapper writes it or a part edit does itself (`write_row`)."""
    faq = admin.created("/drugs/testdrug-a/faqs", {"question": "Q?", "answer": "A."})
    db = Database(settings)
    try:
        with db.write_sessions() as stale, db.write_sessions() as fresh:
            stale_faq = stale.get(Faq, faq["id"])
            stale.commit()  # keeps the loaded state (version 1), holds no lock
            write(fresh, fresh.get(Faq, faq["id"]), "Fresh.")
            fresh.commit()
            with pytest.raises(StaleDataError):
                write(stale, stale_faq, "Stale.")
            stale.rollback()
    finally:
        db.dispose()
    final = admin.get(f"/drugs/testdrug-a/faqs/{faq['id']}").json()
    assert (final["answer"], final["version"]) == ("Fresh.", 2)


def test_an_edit_whose_audit_entry_cannot_be_written_changes_nothing(
    admin: Admin, drug: dict[str, Any], database_url: str
) -> None:
    """The edit, the drug's version, its revision and the audit entry commit together or not at all:
    a failure at the last statement (the audit entry's, run past SQLAlchemy's execution on SQLite)
    is a 503 problem, and every row written before it in the request is rolled back."""
    faq = admin.created("/drugs/testdrug-a/faqs", {"question": "Q?", "answer": "Before."})
    before = admin.get("/drugs/testdrug-a").json()
    revisions = admin.get("/drugs/testdrug-a/revisions").json()
    engine = make_null_pool_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_entry RENAME TO audit_entry_away"))
    try:
        failed = admin.patch(f"/drugs/testdrug-a/faqs/{faq['id']}", {"answer": "After."}, etag=faq["etag"])
    finally:
        with engine.begin() as conn:  # the PostgreSQL database is reused by later tests
            conn.execute(sa.text("ALTER TABLE audit_entry_away RENAME TO audit_entry"))
        engine.dispose()

    assert_problem(failed, 503, "database_unavailable")
    after = admin.get(f"/drugs/testdrug-a/faqs/{faq['id']}").json()
    assert (after["answer"], after["etag"]) == ("Before.", faq["etag"])
    assert admin.get("/drugs/testdrug-a").json()["version"] == before["version"]
    assert admin.get("/drugs/testdrug-a/revisions").json() == revisions
    retried = admin.patch(f"/drugs/testdrug-a/faqs/{faq['id']}", {"answer": "After."}, etag=faq["etag"])
    assert retried.status_code == 200, retried.text


def test_a_write_that_cannot_get_the_lock_is_503_not_500(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # SQLite only: one writer at a time. (PostgreSQL writers lock rows and wait; see the races above.)
    settings = Settings(database_url=new_database(request, "sqlite", tmp_path), sqlite_busy_timeout_ms=200)
    tokens = create_tokens(settings)
    path = sa.make_url(settings.database_url).database
    assert path
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = Admin(client, tokens)
        admin.get("/drugs", role="editor")  # record the key's first use while the database is free

        blocker = sqlite3.connect(path, isolation_level=None, timeout=5)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            blocked = admin.post("/drugs", {"slug": "testdrug-a", "name": "Testdrug A"})
            reads_still_work = admin.get("/drugs")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        assert_problem(blocked, 503, "database_busy")
        assert blocked.headers["Retry-After"] == "1"
        assert reads_still_work.status_code == 200
        retried = admin.post("/drugs", {"slug": "testdrug-a", "name": "Testdrug A"})
        assert retried.status_code == 201, retried.text


def test_this_process_writers_share_one_connection_and_a_long_wait_is_503(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SQLite: an app's writers take its one writer connection in turn (its page cache stays warm
    across their commits); one that waits longer than the busy timeout is the same 503 as a writer
    of another process holding the lock, and writes nothing."""
    settings = Settings(database_url=new_database(request, "sqlite", tmp_path), sqlite_busy_timeout_ms=300)
    tokens = create_tokens(settings)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = Admin(client, tokens)
        admin.get("/drugs", role="editor")  # record the key's first use while the database is free
        db: Database = app.state.db
        used: set[int] = set()
        sa.event.listen(db.write_engine, "checkout", lambda dbapi, *_: used.add(id(dbapi)))
        created = race(8, lambda i: admin.post("/drugs", {"slug": f"testdrug-{i}", "name": f"Testdrug {i}"}))
        assert [r.status_code for r in created] == [201] * 8
        assert len(used) == 1

        with db.write_engine.begin():  # this process's writer connection, held by someone else
            blocked = admin.post("/drugs", {"slug": "testdrug-late", "name": "Testdrug Late"})
            reads_still_work = admin.get("/drugs")
        assert_problem(blocked, 503, "database_busy")
        assert blocked.headers["Retry-After"] == "1"
        assert reads_still_work.status_code == 200
        assert admin.get("/drugs/testdrug-late").status_code == 404
        retried = admin.post("/drugs", {"slug": "testdrug-late", "name": "Testdrug Late"})
        assert retried.status_code == 201, retried.text


def test_racing_idempotent_creates_wait_for_each_other(admin: Admin, settings: Settings) -> None:
    """Writers with an `Idempotency-Key` queue for the lock; none fails with 503 or hangs.

    The key is checked against the database before the handler runs; done on the event loop, one
    request waiting for the lock (SQLite) or for another's uncommitted key (PostgreSQL) stalled
    every request of the process, including the one holding what it waited for.
    """
    admin.get("/drugs", role="editor")  # the key's first use is recorded before the race

    distinct = race(
        8,
        lambda i: admin.post(
            "/drugs", {"slug": f"testdrug-k{i}", "name": f"K {i}"}, headers={"Idempotency-Key": f"k-{i}"}
        ),
    )
    same = race(
        8,
        lambda i: admin.post(
            "/drugs", {"slug": "testdrug-same", "name": "Same"}, headers={"Idempotency-Key": "same"}
        ),
    )

    assert [r.status_code for r in distinct] == [201] * 8, [r.text for r in distinct]
    statuses = Counter(r.status_code for r in same)
    # One creates; the others either see it in progress (409) or get its response replayed (201).
    assert set(statuses) <= {201, 409} and statuses[201] >= 1, [r.text for r in same]
    assert sum(r.headers.get("Idempotent-Replayed") != "true" for r in same if r.status_code == 201) == 1
    assert count_rows(settings, "drug") == 9


def test_an_etag_read_before_a_delete_never_matches_the_next_record(
    admin: Admin, drug: dict[str, Any]
) -> None:
    """SQLite handed the newest deleted id out again at version 1: an old ETag named a new FAQ."""
    gone = admin.created("/drugs/testdrug-a/faqs", {"question": "Old?", "answer": "Old."})
    assert admin.delete(f"/drugs/testdrug-a/faqs/{gone['id']}", etag=gone["etag"]).status_code == 204

    new = admin.created("/drugs/testdrug-a/faqs", {"question": "New?", "answer": "New."})

    assert new["id"] != gone["id"] and new["etag"] != gone["etag"]
    stale = admin.patch(f"/drugs/testdrug-a/faqs/{gone['id']}", {"answer": "Lost?"}, etag=gone["etag"])
    assert_problem(stale, 404)
    assert admin.get(f"/drugs/testdrug-a/faqs/{new['id']}").json()["answer"] == "New."

    condition = admin.created("/conditions", {"slug": "test-gone", "name": "Gone"})
    assert admin.delete("/conditions/test-gone", etag=condition["etag"]).status_code == 204
    again = admin.created("/conditions", {"slug": "test-again", "name": "Again"})
    assert again["etag"] != condition["etag"]


def test_an_etag_read_before_a_restore_is_refused_after_it(admin: Admin, drug: dict[str, Any]) -> None:
    """A restore re-creates the drug's parts: an ETag from before it must not match what it made."""
    faq = admin.created("/drugs/testdrug-a/faqs", {"question": "Q?", "answer": "X, as first written."})
    url = f"/drugs/testdrug-a/faqs/{faq['id']}"
    edited = admin.patch(url, {"answer": "Y, by B."}, etag=faq["etag"])
    assert edited.status_code == 200, edited.text
    revision = admin.get("/drugs/testdrug-a").json()["latest_revision"]
    assert admin.patch(url, {"answer": "Z, by B."}, etag=edited.headers["ETag"]).status_code == 200

    assert admin.post(f"/drugs/testdrug-a/revisions/{revision}/restore").status_code == 200

    (restored,) = admin.get("/drugs/testdrug-a/faqs").json()["items"]
    assert restored["answer"] == "Y, by B."
    assert restored["etag"] not in (faq["etag"], edited.headers["ETag"])
    for old in (faq, restored):  # the old URL is gone; the restored item keeps its own ETag
        stale = admin.patch(
            f"/drugs/testdrug-a/faqs/{old['id']}", {"answer": "A's edit, from X."}, etag=faq["etag"]
        )
        assert stale.status_code in (404, 412), stale.text
    assert admin.get(f"/drugs/testdrug-a/faqs/{restored['id']}").json()["answer"] == "Y, by B."


def test_a_cancelled_request_waits_for_its_handler_thread() -> None:
    """The handler thread holds the request's session: a cancelled caller is cancelled only once
    the thread is done (its commit or rollback over), as with anyio's threads."""
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def handler() -> int:
        started.set()
        release.wait(5)
        finished.append(True)
        return 1

    async def scenario() -> None:
        task = asyncio.create_task(in_handler_thread(handler))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.1)
        assert not task.done()  # still waiting for the thread
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished == [True]

    asyncio.run(scenario())


def test_a_handler_thread_sees_the_request_context_and_raises_its_errors() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    def handler(suffix: str) -> str:
        return request_id.get() + suffix

    def failing() -> None:
        raise LookupError("not found")

    async def scenario() -> None:
        request_id.set("req-1")
        assert await in_handler_thread(handler, "/a") == "req-1/a"
        with pytest.raises(LookupError, match="not found"):
            await in_handler_thread(failing)

    asyncio.run(scenario())
