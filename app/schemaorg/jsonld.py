"""schema.org JSON-LD built from a published document (never from the draft tables).

Vocabulary choices, checked against schema.org (health-lifesci):
- the document is a `MedicalWebPage` whose `about`/`mainEntity` is the `Drug`;
- brand names are the drug's `alternateName`s and `brand`s (`Drug` is a `Product`);
- the class is a `DrugClass` in `drugClass`; codes are `MedicalCode`s (`codeValue`, `codingSystem`),
  and an RxNorm code is also `rxcui`;
- `indication`, `adverseOutcome` and `seriousAdverseOutcome` are not properties of `Drug` (their
  domain is `TherapeuticProcedure`/`MedicalTherapy`), so they hang off a `MedicalTherapy` whose `drug`
  is the drug: approved uses are `ApprovedIndication`s, investigational ones plain
  `MedicalIndication`s (schema.org distinguishes exactly these two). The conditions themselves are
  `MedicalCondition` nodes the page `mentions`;
- the FAQs are a `FAQPage` of `Question`s with an `acceptedAnswer`;
- `lastReviewed` / `reviewedBy` only when the document records a review (never invented).
"""

from __future__ import annotations

from typing import Any

import orjson

CONTEXT = "https://schema.org"
CODING_SYSTEMS = {"atc": "ATC", "rxnorm": "RxNorm", "ndc": "NDC"}


def _absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def drug_id(base_url: str, document: dict[str, Any]) -> str:
    return _absolute(base_url, document["links"]["self"]) + "#drug"


def review_properties(document: dict[str, Any]) -> dict[str, Any]:
    """`lastReviewed` and `reviewedBy`, only as far as the document records them."""
    review = document["review"]
    out: dict[str, Any] = {}
    if review.get("last_reviewed"):
        out["lastReviewed"] = review["last_reviewed"]
    if review.get("reviewed_by"):
        out["reviewedBy"] = {"@type": "Person", "name": review["reviewed_by"]}
    return out


def drug_node(base_url: str, document: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": drug_id(base_url, document),
        "@type": "Drug",
        "name": document["name"],
        "url": _absolute(base_url, document["links"]["self"]),
    }
    if document["brand_names"]:
        node["alternateName"] = list(document["brand_names"])
        node["brand"] = [{"@type": "Brand", "name": brand} for brand in document["brand_names"]]
    if document["summary"]:
        node["description"] = document["summary"]
    if document["drug_class"]:
        node["drugClass"] = {"@type": "DrugClass", "name": document["drug_class"]}
    codes = document["codes"]
    if codes:
        node["code"] = [
            {"@type": "MedicalCode", "codeValue": value, "codingSystem": CODING_SYSTEMS.get(system, system)}
            for system, value in sorted(codes.items())
        ]
    if "rxnorm" in codes:
        node["rxcui"] = codes["rxnorm"]
    return node


def _condition_id(base_url: str, indication: dict[str, Any]) -> str:
    return _absolute(base_url, indication["condition"]["links"]["self"]) + "#condition"


def condition_nodes(base_url: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = []
    for indication in document["indications"]:
        condition = indication["condition"]
        node: dict[str, Any] = {
            "@id": _condition_id(base_url, indication),
            "@type": "MedicalCondition",
            "name": condition["name"],
            "url": _absolute(base_url, condition["links"]["self"]),
        }
        if condition["description"]:
            node["description"] = condition["description"]
        nodes.append(node)
    return nodes


def _adverse_outcome(effect: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "MedicalEntity", "name": effect["name"]}
    if effect["description"]:
        node["description"] = effect["description"]
    return node


def therapy_node(base_url: str, document: dict[str, Any]) -> dict[str, Any]:
    """Treatment with the drug: its indications and side effects (see the module docstring)."""
    node: dict[str, Any] = {
        "@id": _absolute(base_url, document["links"]["self"]) + "#therapy",
        "@type": "MedicalTherapy",
        "name": f"Treatment with {document['name']}",
        "drug": {"@id": drug_id(base_url, document)},
    }
    indications = []
    for indication in document["indications"]:
        item: dict[str, Any] = {
            "@type": "ApprovedIndication" if indication["status"] == "approved" else "MedicalIndication",
            "name": indication["condition"]["name"],
        }
        if indication["notes"]:
            item["description"] = indication["notes"]
        indications.append(item)
    if indications:
        node["indication"] = indications
    common = [_adverse_outcome(e) for e in document["side_effects"] if e["seriousness"] != "serious"]
    serious = [_adverse_outcome(e) for e in document["side_effects"] if e["seriousness"] == "serious"]
    if common:
        node["adverseOutcome"] = common
    if serious:
        node["seriousAdverseOutcome"] = serious
    return node


def questions(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "@type": "Question",
            "name": faq["question"],
            "acceptedAnswer": {"@type": "Answer", "text": faq["answer_html"]},
        }
        for faq in document["faqs"]
    ]


def faq_page(base_url: str, document: dict[str, Any], *, page_id: str, url: str) -> dict[str, Any]:
    return {
        "@id": page_id,
        "@type": "FAQPage",
        "url": url,
        "name": f"{document['name']}: questions and answers",
        "inLanguage": document["locale"],
        "about": {"@id": drug_id(base_url, document)},
        **review_properties(document),
        "mainEntity": questions(document),
    }


def drug_graph(base_url: str, document: dict[str, Any]) -> dict[str, Any]:
    """The whole JSON-LD document of `/api/v1/drugs/{slug}/jsonld`."""
    self_url = _absolute(base_url, document["links"]["self"])
    page_id = self_url + "#page"
    faq_id = self_url + "#faq"
    page: dict[str, Any] = {
        "@id": page_id,
        "@type": "MedicalWebPage",
        "url": self_url,
        "name": f"{document['name']}: information for patients",
        "inLanguage": document["locale"],
        "about": {"@id": drug_id(base_url, document)},
        "mainEntity": {"@id": drug_id(base_url, document)},
        "dateModified": _iso(document["updated_at"]),
        **review_properties(document),
        "hasPart": [
            {"@id": faq_id},
            *(
                [{"@type": "WebPageElement", "name": "Disclaimer", "text": document["disclaimer"]}]
                if document["disclaimer"]
                else []
            ),
        ],
    }
    conditions = condition_nodes(base_url, document)
    if conditions:
        page["mentions"] = [{"@id": c["@id"]} for c in conditions]
    sources = [_source(s) for s in document["sources"]]
    if sources:
        page["isBasedOn"] = sources
    faq = faq_page(base_url, document, page_id=faq_id, url=self_url + "/faqs")
    faq["isPartOf"] = {"@id": page_id}
    return {
        "@context": CONTEXT,
        "@graph": [page, drug_node(base_url, document), therapy_node(base_url, document), *conditions, faq],
    }


def _source(source: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "CreativeWork", "name": source["title"]}
    if source.get("url"):
        node["url"] = source["url"]
    if source.get("publisher"):
        node["publisher"] = {"@type": "Organization", "name": source["publisher"]}
    return node


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def script_json(value: Any) -> str:
    """JSON safe inside `<script type="application/ld+json">`: no `</script>`, `<!--` or `]]>` can form.

    `<`, `>` and `&` become `\\u003c`-style escapes, which JSON parsers read back unchanged.
    """
    text = orjson.dumps(value, option=orjson.OPT_UTC_Z).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
