"""A small, clearly synthetic corpus for search and localization tests (no real medical content).

Imported through the bundle import path, like the seed. Words are chosen so each test's expectation
is unambiguous: "zorbium" is Testdrug A's brand name and only a passing mention elsewhere, the
side effect "Constipation" and an FAQ question name it while a section only mentions "constipated".
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from app.cli import seed_database
from app.core.config import Settings

SOURCE = {"title": "Synthetic test record", "publisher": "druginfo tests"}
DISCLAIMER = "Synthetic test content, not medical information."

TESTDRUG_A: dict[str, Any] = {
    "slug": "testdrug-a",
    "name": "Testdrug A",
    "brand_names": ["Zorbium"],
    "drug_class": "Synthetic class one",
    "summary": "A synthetic test drug used only in automated tests.",
    "codes": {"atc": "T01AA01", "rxnorm": "999001"},
    "status": "published",
    "review": {"last_reviewed": "2026-01-10", "reviewed_by": "Test Reviewer"},
    "disclaimer": DISCLAIMER,
    "sources": [SOURCE],
    "translations": {
        "fr": {"summary": "Un médicament de test synthétique, utilisé seulement par les tests."},
        "hi": {"summary": "परीक्षण के लिए एक कृत्रिम दवा।"},
    },
    "sections": [
        {
            "key": "overview",
            "title": "Overview",
            "body": "Testdrug A is a synthetic compound. Some readers of this record felt constipated "
            "while reading it, which is a joke of the test suite. Other medications are not covered.",
        },
        {
            "key": "clotting",
            "title": "About clotting",
            "body": 'The record says blood clots <script>alert(1)</script> & "quotes" appear in this '
            "sentence only to test escaping.",
        },
    ],
    "faqs": [
        {
            "question": "Does Testdrug A cause constipation?",
            "answer": "Constipation is listed for this synthetic record.",
            "translations": {
                "fr": {
                    "question": "Testdrug A provoque-t-il une constipation ?",
                    "answer": "La constipation figure dans cette fiche synthétique.",
                }
            },
        },
        {"question": "How is Testdrug A stored?", "answer": "In a synthetic cupboard."},
    ],
    "side_effects": [
        {
            "name": "Constipation",
            "seriousness": "common",
            "description": "Hard stools, in this synthetic record.",
            "management_tips": ["Drink water"],
            "translations": {"fr": {"description": "Selles dures, dans cette fiche synthétique."}},
        },
        {"name": "Blood clots", "seriousness": "serious", "description": "Clots in a vein."},
    ],
    "indications": [{"condition": "testcondition-alpha", "status": "approved", "notes": "Synthetic use."}],
    "combinations": [
        {
            "name": "Testdrug A with Testcomponent X",
            "components": [{"name": "Testdrug A", "drug": "testdrug-a"}, {"name": "Testcomponent X"}],
            "rationale": "A synthetic regimen.",
        }
    ],
    "support_resources": ["test-helpline"],
}

TESTDRUG_B: dict[str, Any] = {
    "slug": "testdrug-b",
    "name": "Testdrug B",
    "brand_names": [],
    "drug_class": "Synthetic class two",
    "summary": "Another synthetic test drug.",
    "codes": {"atc": "T01AA02"},
    "status": "published",
    "review": {"last_reviewed": "2025-06-01", "reviewed_by": "Test Reviewer"},
    "disclaimer": DISCLAIMER,
    "sources": [SOURCE],
    "sections": [
        {
            "key": "overview",
            "title": "Overview",
            "body": "Testdrug B is a synthetic compound described at some length so that a passing "
            "mention stays a passing mention: unlike Zorbium it is stored in a blue box, it is taken "
            "with water, it has a long synthetic history of tests, and this sentence goes on for a "
            "while to make the paragraph longer than a name. Constipation is not listed for it.",
        }
    ],
    "faqs": [{"question": "Is Testdrug B blue?", "answer": "Its synthetic box is blue."}],
    "combinations": [
        {
            "name": "Testdrug B with Testdrug A",
            "components": [
                {"name": "Testdrug B", "drug": "testdrug-b"},
                {"name": "Testdrug A", "drug": "testdrug-a"},
            ],
        }
    ],
}

TESTDRUG_C: dict[str, Any] = {
    "slug": "testdrug-c",
    "name": "Testdrug C",
    "summary": "A synthetic draft that mentions quuxolin.",
    "status": "draft",
    "disclaimer": DISCLAIMER,
    "sources": [SOURCE],
    "faqs": [{"question": "What is quuxolin?", "answer": "A made-up word of the test suite."}],
}

BUNDLE: dict[str, Any] = {
    "format": "druginfo-bundle",
    "version": 1,
    "conditions": [
        {
            "slug": "testcondition-alpha",
            "name": "Testcondition Alpha",
            "description": "A synthetic condition.",
            "translations": {"fr": {"name": "Condition de test Alpha"}},
        }
    ],
    "support_resources": [
        {
            "slug": "test-helpline",
            "category": "support-group",
            "title": "Test helpline",
            "description": "A synthetic helpline for tests.",
            "translations": {"fr": {"title": "Ligne d'aide de test"}},
        }
    ],
    "drugs": [TESTDRUG_A, TESTDRUG_B, TESTDRUG_C],
}


def bundle(**drug_changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of the corpus, with some drugs' fields replaced: `bundle(testdrug_c={"status": ...})`."""
    data = copy.deepcopy(BUNDLE)
    for key, changes in drug_changes.items():
        drug = next(d for d in data["drugs"] if d["slug"] == key.replace("_", "-"))
        drug.update(copy.deepcopy(changes))
    return data


def import_corpus(settings: Settings, tmp_path: Path, data: dict[str, Any] | None = None) -> str:
    """Import a bundle through the same path as `druginfo seed` (validation, revisions, publishing)."""
    path = tmp_path / f"bundle-{abs(hash(json.dumps(data, sort_keys=True)))}.json"
    path.write_text(json.dumps(data if data is not None else BUNDLE), encoding="utf-8")
    return seed_database(settings, path)
