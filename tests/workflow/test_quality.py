"""Reading grades on the admin side, and the reviews dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.quality.readability import reading_grade
from tests.admin.conftest import Admin
from tests.workflow.conftest import PUBLISHABLE, future


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("Take one pill. Drink water. Rest well.", 0.0, 3.0),
        ("Rest.", 0.0, 0.0),  # the formula says -3.4: no grade is below zero
        (
            "Immunomodulatory pharmacotherapeutic administration necessitates comprehensive "
            "haematological surveillance throughout consecutive treatment cycles.",
            16.0,
            60.0,
        ),
    ],
)
def test_reading_grade_orders_plain_and_technical_text(text: str, low: float, high: float) -> None:
    grade = reading_grade(text)
    assert grade is not None and low <= grade <= high


@pytest.mark.parametrize("text", [None, "", "   ", "**  **", "https://example.org"])
def test_no_words_no_grade(text: str | None) -> None:
    assert reading_grade(text) is None


def test_admin_reads_show_grades_and_a_summary(admin: Admin, drug: dict[str, Any]) -> None:
    hard = "Immunomodulatory pharmacotherapeutic administration necessitates haematological surveillance."
    admin.created("/drugs/testdrug-a/faqs", {"question": "Synthetic question?", "answer": hard})
    admin.created(
        "/drugs/testdrug-a/side-effects",
        {"name": "Synthetic effect", "seriousness": "common", "description": "You may feel tired."},
    )
    read = admin.get("/drugs/testdrug-a").json()
    assert read["sections"][0]["reading_grade"] == reading_grade("Old synthetic text.")
    faq_grade = read["faqs"][0]["reading_grade"]
    assert faq_grade > read["side_effects"][0]["reading_grade"]
    summary = read["readability"]
    assert summary["texts"] == 3 and summary["hardest"] == faq_grade
    assert summary["above_target"] == [f"faqs/{read['faqs'][0]['id']}"]
    assert admin.get(f"/drugs/testdrug-a/faqs/{read['faqs'][0]['id']}").json()["reading_grade"] == faq_grade


def test_reviews_dashboard(admin: Admin) -> None:
    today = dt.date.today()
    reviewed = {"reviewed_by": "Test Reviewer", "last_reviewed": (today - dt.timedelta(days=400)).isoformat()}
    drugs = [
        {**PUBLISHABLE, "slug": "testdrug-a", "name": "Testdrug A", "status": "published",
         "review": {**reviewed, "next_review_due": (today - dt.timedelta(days=1)).isoformat()}},
        {**PUBLISHABLE, "slug": "testdrug-b", "name": "Testdrug B", "status": "published",
         "review": {**reviewed, "next_review_due": future(10)}},
        {**PUBLISHABLE, "slug": "testdrug-c", "name": "Testdrug C", "status": "published",
         "review": {**reviewed, "next_review_due": future(100)}},
        {**PUBLISHABLE, "slug": "testdrug-d", "name": "Testdrug D", "status": "in_review"},
        {"slug": "testdrug-e", "name": "Testdrug E"},
        {**PUBLISHABLE, "slug": "testdrug-f", "name": "Testdrug F", "status": "published"},
    ]  # fmt: skip
    bundle = {"format": "druginfo-bundle", "version": 1, "drugs": drugs}
    assert admin.post("/import", bundle, role="publisher").status_code == 200

    def slugs(board: dict[str, Any], key: str) -> list[str]:
        return [item["slug"] for item in board[key]]

    board = admin.get("/reviews?due_within_days=30").json()
    assert slugs(board, "overdue") == ["testdrug-a"]
    assert slugs(board, "due_soon") == ["testdrug-b"]
    assert slugs(board, "never_reviewed") == ["testdrug-f"]
    assert slugs(board, "waiting_for_review") == ["testdrug-d"]
    assert slugs(board, "missing_sources") == ["testdrug-e"]
    wider = admin.get("/reviews?due_within_days=365").json()
    assert slugs(wider, "due_soon") == ["testdrug-b", "testdrug-c"]
