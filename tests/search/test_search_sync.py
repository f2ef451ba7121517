"""The index follows the public view in the same transaction: publish, change, unpublish."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import Database, session_scope
from app.publishing.models import PublishedDrug
from app.search import service as search_service
from tests.helpers import see_other_writes
from tests.search.corpus import TESTDRUG_C, bundle, import_corpus


def titles(client: TestClient, q: str) -> list[str]:
    see_other_writes(client)  # the imports run as another process would
    response = client.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [hit["title"] for hit in response.json()["items"]]


def test_publish_change_and_unpublish_show_in_search_at_once(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    import_corpus(settings, tmp_path)
    assert titles(client, "quuxolin") == []

    import_corpus(settings, tmp_path, bundle(testdrug_c={"status": "published"}))
    assert titles(client, "quuxolin") == ["What is quuxolin?", "Testdrug C"]

    changed_faq = [{"question": "What is frobnitz?", "answer": "A made-up word of the test suite."}]
    import_corpus(
        settings,
        tmp_path,
        bundle(testdrug_c={"status": "published", "summary": "A synthetic draft.", "faqs": changed_faq}),
    )
    assert titles(client, "quuxolin") == []
    assert titles(client, "frobnitz") == ["What is frobnitz?"]

    import_corpus(settings, tmp_path, bundle(testdrug_c={**TESTDRUG_C, "faqs": changed_faq}))
    assert titles(client, "frobnitz") == []
    assert client.get("/api/v1/drugs/testdrug-c").status_code == 404


def test_unpublishing_leaves_no_index_rows_behind(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    import_corpus(settings, tmp_path)
    everything_draft = bundle(
        testdrug_a={"status": "draft"}, testdrug_b={"status": "draft"}, testdrug_c={"status": "draft"}
    )

    import_corpus(settings, tmp_path, everything_draft)

    db = Database(settings)
    with db.engine.connect() as conn:
        counts = [conn.scalar(sa.text("SELECT count(*) FROM search_entry"))]
        if conn.dialect.name == "sqlite":
            counts += [
                conn.scalar(sa.text(f"SELECT count(*) FROM {t}"))
                for t in ("search_fts_porter", "search_fts_plain")
            ]
        locales = conn.scalar(sa.text("SELECT count(*) FROM published_drug_locale"))
    db.dispose()
    assert counts == [0] * len(counts)
    assert locales == 0
    assert titles(client, "synthetic") == []


def test_reimporting_the_same_bundle_keeps_one_entry_per_item(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    import_corpus(settings, tmp_path)
    first = client.get("/api/v1/search", params={"q": "synthetic", "limit": 100}).json()

    import_corpus(settings, tmp_path, bundle(testdrug_a={"summary": "A changed synthetic summary."}))
    second = client.get("/api/v1/search", params={"q": "synthetic", "limit": 100}).json()

    assert second["total"] == first["total"]
    keys = [(h["type"], h["id"], h["locale"]) for h in second["items"]]
    assert len(keys) == len(set(keys))


def test_a_bulk_change_compacts_the_index_and_search_finds_the_same(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    import_corpus(settings, tmp_path)
    before = titles(client, "zorb")
    db = Database(settings)
    try:
        for session in session_scope(db.write_sessions):
            published = session.scalar(sa.select(sa.func.count()).select_from(PublishedDrug)) or 0
            small, bulk = (published - 1) // 10, published

            assert not search_service.optimize_after(session, 0)
            assert not search_service.optimize_after(session, small)  # rewriting it all would not pay
            assert search_service.optimize_after(session, bulk)
    finally:
        db.dispose()

    assert before and titles(client, "zorb") == before
