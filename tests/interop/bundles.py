"""Synthetic drugs for the embed and interoperability tests (clearly fake: never medical facts)."""

from __future__ import annotations

from typing import Any

from tests.factories import synthetic_drug

XSS_FLAG = "__druginfoXss"
# Every payload tries to set a window flag (or open a dialog) if it ever ran.
XSS_QUESTION = f"Does </script><script>window.{XSS_FLAG}='question'</script> stay text?"
XSS_ANSWER = (
    f"Plain words. <script>window.{XSS_FLAG}='script';alert('script')</script>\n\n"
    f"<img src=x onerror=\"window.{XSS_FLAG}='img';alert('img')\">\n\n"
    f"[a markdown link](javascript:window.{XSS_FLAG}='md-link') and "
    f"<a href=\"javascript:window.{XSS_FLAG}='raw-link'\">a raw link</a> and "
    f"<svg onload=\"window.{XSS_FLAG}='svg'\"></svg> <!-- comment --> ]]> &amp; done."
)


def xss_bundle() -> dict[str, Any]:
    """A published synthetic drug whose FAQ and side effect carry stored-XSS payloads."""
    return {
        "drugs": [
            synthetic_drug(
                "testdrug-xss",
                "Testdrug XSS <img src=x onerror=alert('name')>",
                faqs=[
                    {"question": XSS_QUESTION, "answer": XSS_ANSWER, "tags": []},
                    {"question": "Is this a synthetic test drug?", "answer": "Yes, **only** for tests."},
                ],
                side_effects=[
                    {
                        "name": f"<b onmouseover=\"window.{XSS_FLAG}='effect'\">Test effect</b>",
                        "seriousness": "serious",
                        "description": XSS_ANSWER,
                        "management_tips": [f"<script>window.{XSS_FLAG}='tip'</script>"],
                    }
                ],
            )
        ]
    }


CODED_SLUG = "testdrug-coded"
CODES = {"atc": "ZZ99ZZ01", "rxnorm": "9999901", "ndc": "99999-0001-01", "testcode": "T-CODED"}


def coded_bundle() -> dict[str, Any]:
    """A reviewed synthetic drug with codes in every system, indications of both kinds, side effects
    of both seriousness levels, and a synthetic sibling sharing its ATC code."""
    return {
        "conditions": [
            {"slug": "test-condition-a", "name": "Test condition A", "description": "Synthetic condition A."},
            {"slug": "test-condition-b", "name": "Test condition B"},
        ],
        "drugs": [
            synthetic_drug(
                CODED_SLUG,
                "Testdrug Coded",
                brand_names=["Testbrand Alpha", "Testbrand Beta"],
                drug_class="Synthetic test class",
                codes=CODES,
                review={
                    "last_reviewed": "2026-01-15",
                    "next_review_due": "2099-01-15",
                    "reviewed_by": "Test Reviewer",
                    "note": "Synthetic review for tests.",
                },
                indications=[
                    {"condition": "test-condition-a", "status": "approved", "notes": "Synthetic notes."},
                    {"condition": "test-condition-b", "status": "investigational"},
                ],
                side_effects=[
                    {
                        "name": "Test tiredness",
                        "seriousness": "common",
                        "description": "Synthetic description.",
                        "management_tips": ["Synthetic tip one.", "Synthetic tip two."],
                        "urgency": "self-care",
                    },
                    {
                        "name": "Test fever",
                        "seriousness": "serious",
                        "when_to_contact_care_team": "Synthetic: right away.",
                        "urgency": "contact-care-team",
                    },
                ],
            ),
            synthetic_drug("testdrug-sibling", "Testdrug Sibling", codes={"atc": "ZZ99ZZ01"}),
            synthetic_drug("testdrug-draft", "Testdrug Draft", codes={"atc": "ZZ99ZZ02"}, status="draft"),
        ],
    }
