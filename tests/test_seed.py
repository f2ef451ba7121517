"""The curated seed: complete, traceable to the article, free of scraping artefacts, idempotent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.bundle.schemas import Bundle
from app.cli import DEFAULT_SEED, seed_database
from app.core.config import Settings

ARTICLE = (Path(__file__).parent.parent / "seed_data" / "sources" / "pomalidomide-article.txt").read_text()
BUNDLE = json.loads(DEFAULT_SEED.read_text())
DRUG = BUNDLE["drugs"][0]

ARTICLE_FAQS = [
    "What is Pomalidomide?",
    "How is Pomalidomide administered?",
    "Are there any side effects?",
    "Is Pomalidomide suitable for all patients?",
    "Can I eat anything while on Pomalidomide?",
    "Where can I find support during my treatment?",
]


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_bundle_validates_with_the_api_schemas() -> None:
    bundle = Bundle.model_validate(BUNDLE)

    assert [d.slug for d in bundle.drugs] == ["pomalidomide"]


def test_exactly_the_six_faqs_of_the_article_in_order() -> None:
    assert [f["question"] for f in DRUG["faqs"]] == ARTICLE_FAQS
    for faq in DRUG["faqs"]:
        assert _normalized(faq["answer"]) in _normalized(ARTICLE)


@pytest.mark.parametrize(
    "key",
    [
        "introduction",
        "mechanism",
        "why-this-drug",
        "benefits",
        "side-effects-overview",
        "administration",
        "monitoring",
        "combination-therapy",
        "research",
        "nutrition",
        "support",
    ],
)
def test_every_article_part_has_a_section(key: str) -> None:
    assert key in {s["key"] for s in DRUG["sections"]}


def test_conditions_and_indications_as_the_article_states() -> None:
    indications = {i["condition"]: i for i in DRUG["indications"]}

    assert indications["multiple-myeloma"]["status"] == "approved"
    assert "at least two prior therapies" in indications["multiple-myeloma"]["notes"]
    assert "lenalidomide and a proteasome inhibitor" in indications["multiple-myeloma"]["notes"]
    assert indications["kaposi-sarcoma"]["status"] == "investigational"
    assert indications["lymphoma"]["status"] == "investigational"


def test_side_effects_named_in_the_article_with_its_seriousness() -> None:
    seriousness = {e["name"]: e["seriousness"] for e in DRUG["side_effects"]}

    for name in ("Fatigue", "Constipation", "Nausea", "Fever"):
        assert seriousness[name] == "common"
    for name in ("Blood clots", "Neutropenia", "Increased risk of infections"):
        assert seriousness[name] == "serious"
    assert all(e["urgency"] is None for e in DRUG["side_effects"]), "the article states no urgency levels"
    tips = {e["name"]: e["management_tips"] for e in DRUG["side_effects"]}
    assert any("hydrated" in t.lower() for t in tips["Nausea"])
    assert any("fiber" in t.lower() for t in tips["Constipation"])


def test_monitoring_combinations_stories_and_resources() -> None:
    assert {m["name"] for m in DRUG["monitoring"]} >= {
        "Blood cell counts",
        "Kidney function",
        "Liver function",
    }
    assert any("imaging" in m["name"].lower() for m in DRUG["monitoring"])
    # The article gives no intervals ("regular appointments", "periodic"): no numbers may appear.
    assert not any(re.search(r"\d", m["frequency"] or "") for m in DRUG["monitoring"])
    components = [{c["name"] for c in combo["components"]} for combo in DRUG["combinations"]]
    assert {"Pomalidomide", "Dexamethasone", "Proteasome inhibitor"} in components
    assert [(s["person"]["name"], s["person"]["age"]) for s in DRUG["stories"]] == [
        ("Mark", 58),
        ("Sophia", 45),
    ]
    categories = {r["category"] for r in BUNDLE["support_resources"]}
    assert categories == {"support-group", "financial-assistance", "educational", "nutrition"}


def test_source_disclaimer_and_honest_review_metadata() -> None:
    assert DRUG["sources"] and DRUG["sources"][0]["title"]
    assert "not be considered as medical advice" in DRUG["disclaimer"]
    assert DRUG["review"]["reviewed_by"] is None, "nobody here has clinically reviewed it"
    assert "not been clinically reviewed" in DRUG["review"]["note"]


def test_no_invented_codes_and_no_scraping_artefacts() -> None:
    text = json.dumps(BUNDLE)

    assert DRUG["codes"] == {}
    for artefact in ("Assistant has stopped", "WhatsApp", "Book Free Consult", "+91", "Related Articles",
                     "email protected", "chat icon"):  # fmt: skip
        assert artefact not in text


def test_seed_is_idempotent(settings: Settings) -> None:
    first = seed_database(settings, DEFAULT_SEED)
    second = seed_database(settings, DEFAULT_SEED)

    assert "published: pomalidomide" in first
    assert second == "seed: nothing to change"


def test_seed_if_empty_leaves_existing_content_alone(seeded: Settings) -> None:
    assert seed_database(seeded, DEFAULT_SEED, if_empty=True) == "database already has content; seed skipped"
