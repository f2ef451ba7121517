"""Synthetic content for tests: clearly fake drugs, never medical facts."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.bundle.service import import_bundle, parse_bundle
from app.core.config import Settings
from app.core.db import Database, session_scope


def synthetic_drug(slug: str, name: str, **overrides: Any) -> dict[str, Any]:
    """A small, complete, obviously synthetic drug document."""
    drug: dict[str, Any] = {
        "slug": slug,
        "name": name,
        "brand_names": [f"{name} Brand"],
        "drug_class": "Synthetic test class",
        "summary": f"{name} is a synthetic drug used only in tests.",
        "codes": {},
        "status": "published",
        "review": {"note": "Synthetic test content."},
        "disclaimer": "Synthetic test content, not medical advice.",
        "sources": [{"title": "Test fixture"}],
        "sections": [{"key": "introduction", "title": "Introduction", "body": f"About {name}."}],
        "faqs": [{"question": f"What is {name}?", "answer": f"{name} is synthetic.", "tags": ["basics"]}],
        "side_effects": [{"name": "Test effect", "seriousness": "common", "management_tips": ["Rest."]}],
        "monitoring": [{"name": "Test check", "purpose": "To test."}],
        "indications": [],
        "combinations": [],
        "stories": [],
        "support_resources": [],
    }
    drug.update(overrides)
    return drug


def import_into(target: Settings | TestClient, bundle: dict[str, Any]) -> None:
    """Import a bundle through the same path as the seed and CLI.

    Given a client, the import runs through that app's own database, so the app sees it at once
    (as a write in the same process); given settings, it is another process's write, which the app
    learns of within the cache poll interval.
    """
    if isinstance(target, TestClient):
        db: Database = target.app.state.db  # type: ignore[attr-defined]
        for session in session_scope(db.write_sessions):
            import_bundle(session, parse_bundle(bundle), author="test")
        return
    db = Database(target)
    try:
        for session in session_scope(db.write_sessions):
            import_bundle(session, parse_bundle(bundle), author="test")
    finally:
        db.dispose()
