"""FHIR R5 resources as plain dicts, built from published documents (never from the draft tables).

Mapping decisions (checked against the R5 definitions):
- A drug is a `MedicationKnowledge` (id = slug): `code` carries its codes with the FHIR system URIs,
  `name` its name and brand names, `medicineClassification` its drug class.
- Each indication and each side effect is a `ClinicalUseDefinition` (type `indication` /
  `undesirable-effect`). R5 does not allow `MedicationKnowledge` as `ClinicalUseDefinition.subject`
  (Medication, MedicinalProductDefinition, Substance, … only), so the link is made where R5 puts it:
  `MedicationKnowledge.indicationGuideline.indication` and `MedicationKnowledge.clinicalUseIssue`.
- Approved vs investigational is not a publication status (R5 `status` is about the record), so it is
  a `category` (example binding) from our own code system `indication-status`, served at
  `/fhir/CodeSystem/indication-status`.
- Seriousness (`common` / `serious`) is `undesirableEffect.classification` (example binding) from our
  code system `side-effect-seriousness`. "common" is not turned into a frequency of occurrence: the
  source gives no frequency.
- Free text (indication notes, management tips, when to contact the care team) is in the narrative.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from app import __version__

FHIR_VERSION = "5.0.0"
FHIR_MEDIA_TYPE = "application/fhir+json"
# Our code systems → FHIR system URIs, and back.
SYSTEM_URIS = {
    "atc": "http://www.whocc.no/atc",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "ndc": "http://hl7.org/fhir/sid/ndc",
}
SYSTEMS_BY_URI = {uri: system for system, uri in SYSTEM_URIS.items()}
PUBLICATION_STATUS = "http://hl7.org/fhir/publication-status"
CLINICAL_USE_TYPES = ("indication", "contraindication", "interaction", "undesirable-effect", "warning")
# When this server's conformance (the statement below) last changed.
CAPABILITY_DATE = "2026-11-26"

CODE_SYSTEMS: dict[str, dict[str, Any]] = {
    "indication-status": {
        "name": "IndicationStatus",
        "title": "Indication status",
        "description": "Whether a use of a drug for a condition is approved or under research, "
        "as the content's sources state it.",
        "concept": [
            {
                "code": "approved",
                "display": "Approved",
                "definition": "The drug is approved for this condition.",
            },
            {
                "code": "investigational",
                "display": "Investigational",
                "definition": "The drug is being researched for this condition; this is not an approved use.",
            },
        ],
    },
    "side-effect-seriousness": {
        "name": "SideEffectSeriousness",
        "title": "Side-effect seriousness",
        "description": "How the content's sources class a side effect.",
        "concept": [
            {
                "code": "common",
                "display": "Common",
                "definition": "Named by the sources among the common side effects.",
            },
            {
                "code": "serious",
                "display": "Serious",
                "definition": "Named by the sources as a serious side effect.",
            },
        ],
    },
}

_CLINICAL_USE_ID = re.compile(
    r"^(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<kind>indication|undesirable-effect)-(?P<n>\d+)$"
)


def clinical_use_id(slug: str, kind: str, item_id: int) -> str:
    return f"{slug}-{kind}-{item_id}"


def parse_clinical_use_id(resource_id: str) -> tuple[str, str, int] | None:
    match = _CLINICAL_USE_ID.match(resource_id)
    if match is None:
        return None
    return match["slug"], match["kind"], int(match["n"])


def _narrative(*paragraphs: str) -> dict[str, str]:
    """A generated narrative; every paragraph is already escaped XHTML."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs if p)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _meta(document: dict[str, Any]) -> dict[str, Any]:
    return {"versionId": str(document["revision"]), "lastUpdated": document["published_at"]}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _code_system_url(base: str, name: str) -> str:
    return f"{base}/CodeSystem/{name}"


def _review_paragraphs(document: dict[str, Any]) -> list[str]:
    review = document["review"]
    if review["status"] == "reviewed":
        when = f" on {escape(review['last_reviewed'])}" if review.get("last_reviewed") else ""
        line = f"Medically reviewed by {escape(review['reviewed_by'])}{when}."
    else:
        line = "Not reviewed by a medical reviewer."
    disclaimer = escape(document["disclaimer"]) if document["disclaimer"] else ""
    return [line, disclaimer]


def medication_knowledge(base: str, document: dict[str, Any]) -> dict[str, Any]:
    """`base` is this server's FHIR base URL (…/fhir)."""
    slug = document["slug"]
    codings = [
        {"system": SYSTEM_URIS[system], "code": value}
        for system, value in sorted(document["codes"].items())
        if system in SYSTEM_URIS
    ]
    code: dict[str, Any] = {"text": document["name"]}
    if codings:
        code["coding"] = codings
    names = [document["name"], *[b for b in document["brand_names"] if b != document["name"]]]
    paragraphs = [f"<b>{escape(document['name'])}</b>"]
    if document["brand_names"]:
        paragraphs.append("Brand names: " + escape(", ".join(document["brand_names"])))
    if document["drug_class"]:
        paragraphs.append("Drug class: " + escape(document["drug_class"]))
    if document["summary"]:
        paragraphs.append(escape(document["summary"]))
    resource: dict[str, Any] = {
        "resourceType": "MedicationKnowledge",
        "id": slug,
        "meta": _meta(document),
        "language": document["locale"],
        "text": _narrative(*paragraphs, *_review_paragraphs(document)),
        "code": code,
        "status": "active",
        "name": names,
    }
    if document["drug_class"]:
        resource["medicineClassification"] = [
            {"type": {"text": "Drug class"}, "classification": [{"text": document["drug_class"]}]}
        ]
    if document["indications"]:
        resource["indicationGuideline"] = [
            {
                "indication": [
                    {
                        "reference": {
                            "reference": "ClinicalUseDefinition/"
                            + clinical_use_id(slug, "indication", indication["id"]),
                            "display": indication["condition"]["name"],
                        }
                    }
                ]
            }
            for indication in document["indications"]
        ]
    if document["side_effects"]:
        resource["clinicalUseIssue"] = [
            {
                "reference": "ClinicalUseDefinition/"
                + clinical_use_id(slug, "undesirable-effect", effect["id"]),
                "display": effect["name"],
            }
            for effect in document["side_effects"]
        ]
    return resource


def indication_resource(base: str, document: dict[str, Any], indication: dict[str, Any]) -> dict[str, Any]:
    status = indication["status"]
    condition = indication["condition"]["name"]
    label = "Approved" if status == "approved" else "Investigational"
    return {
        "resourceType": "ClinicalUseDefinition",
        "id": clinical_use_id(document["slug"], "indication", indication["id"]),
        "meta": _meta(document),
        "language": document["locale"],
        "text": _narrative(
            f"<b>{escape(document['name'])}</b> — {label.lower()} use: {escape(condition)}",
            escape(indication["notes"]) if indication["notes"] else "",
            *_review_paragraphs(document),
        ),
        "type": "indication",
        "category": [_concept(_code_system_url(base, "indication-status"), status, label)],
        "status": {"coding": [{"system": PUBLICATION_STATUS, "code": "active", "display": "Active"}]},
        "indication": {"diseaseSymptomProcedure": {"concept": {"text": condition}}},
    }


def undesirable_effect_resource(
    base: str, document: dict[str, Any], effect: dict[str, Any]
) -> dict[str, Any]:
    seriousness = effect["seriousness"]
    label = "Serious" if seriousness == "serious" else "Common"
    paragraphs = [
        f"<b>{escape(document['name'])}</b> — {label.lower()} side effect: {escape(effect['name'])}"
    ]
    if effect["description"]:
        paragraphs.append(escape(effect["description"]))
    if effect["management_tips"]:
        paragraphs.append("What can help: " + " ".join(escape(t) for t in effect["management_tips"]))
    if effect["when_to_contact_care_team"]:
        paragraphs.append("When to contact the care team: " + escape(effect["when_to_contact_care_team"]))
    if effect["urgency"]:
        paragraphs.append("Urgency: " + escape(effect["urgency"]))
    return {
        "resourceType": "ClinicalUseDefinition",
        "id": clinical_use_id(document["slug"], "undesirable-effect", effect["id"]),
        "meta": _meta(document),
        "language": document["locale"],
        "text": _narrative(*paragraphs, *_review_paragraphs(document)),
        "type": "undesirable-effect",
        "status": {"coding": [{"system": PUBLICATION_STATUS, "code": "active", "display": "Active"}]},
        "undesirableEffect": {
            "symptomConditionEffect": {"concept": {"text": effect["name"]}},
            "classification": _concept(_code_system_url(base, "side-effect-seriousness"), seriousness, label),
        },
    }


def clinical_uses(base: str, document: dict[str, Any], types: frozenset[str] | None) -> list[dict[str, Any]]:
    """The drug's indications and undesirable effects (those of `types`, or all), in document order."""
    resources: list[dict[str, Any]] = []
    if types is None or "indication" in types:
        resources += [indication_resource(base, document, i) for i in document["indications"]]
    if types is None or "undesirable-effect" in types:
        resources += [undesirable_effect_resource(base, document, e) for e in document["side_effects"]]
    return resources


def find_clinical_use(base: str, document: dict[str, Any], kind: str, item_id: int) -> dict[str, Any] | None:
    if kind == "indication":
        for indication in document["indications"]:
            if indication["id"] == item_id:
                return indication_resource(base, document, indication)
    else:
        for effect in document["side_effects"]:
            if effect["id"] == item_id:
                return undesirable_effect_resource(base, document, effect)
    return None


def code_system(base: str, name: str) -> dict[str, Any] | None:
    definition = CODE_SYSTEMS.get(name)
    if definition is None:
        return None
    return {
        "resourceType": "CodeSystem",
        "id": name,
        "url": _code_system_url(base, name),
        "name": definition["name"],
        "title": definition["title"],
        "status": "active",
        "experimental": False,
        "publisher": "druginfo",
        "description": definition["description"],
        "caseSensitive": True,
        "content": "complete",
        "count": len(definition["concept"]),
        "concept": definition["concept"],
    }


def searchset(base: str, self_url: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
    }
    if resources:
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return bundle


def operation_outcome(code: str, diagnostics: str, *, expression: list[str] | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def capability_statement(base: str) -> dict[str, Any]:
    read_search = [{"code": "read"}, {"code": "search-type"}]
    return {
        "resourceType": "CapabilityStatement",
        "id": "druginfo",
        "url": f"{base}/metadata",
        "version": __version__,
        "name": "DruginfoCapabilityStatement",
        "title": "druginfo FHIR R5 read-only API",
        "status": "active",
        "experimental": False,
        "date": CAPABILITY_DATE,
        "publisher": "druginfo",
        "description": "Published patient-information content about drugs, read-only: drugs as "
        "MedicationKnowledge, their indications and side effects as ClinicalUseDefinition.",
        "kind": "instance",
        "software": {"name": "druginfo", "version": __version__},
        "implementation": {"description": "druginfo FHIR endpoint", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_MEDIA_TYPE, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only; published content only. Errors are OperationOutcome. "
                "Unknown search parameters are refused (400).",
                "resource": [
                    {
                        "type": "MedicationKnowledge",
                        "profile": "http://hl7.org/fhir/StructureDefinition/MedicationKnowledge",
                        "interaction": read_search,
                        "versioning": "no-version",
                        "readHistory": False,
                        "updateCreate": False,
                        "searchParam": [
                            {
                                "name": "code",
                                "definition": "http://hl7.org/fhir/SearchParameter/MedicationKnowledge-code",
                                "type": "token",
                                "documentation": "`system|code`, `code` or `system|`; systems: "
                                + ", ".join(SYSTEM_URIS.values())
                                + ". Comma-separated values are alternatives; a repeated `code` "
                                "requires each.",
                            }
                        ],
                    },
                    {
                        "type": "ClinicalUseDefinition",
                        "profile": "http://hl7.org/fhir/StructureDefinition/ClinicalUseDefinition",
                        "interaction": read_search,
                        "versioning": "no-version",
                        "readHistory": False,
                        "updateCreate": False,
                        "searchParam": [
                            {
                                "name": "subject",
                                "type": "reference",
                                "documentation": "`MedicationKnowledge/{id}`: the clinical uses that "
                                "MedicationKnowledge lists (indicationGuideline, clinicalUseIssue). R5 does "
                                "not allow MedicationKnowledge as ClinicalUseDefinition.subject, so the "
                                "resources carry the link on the MedicationKnowledge side. Repeated "
                                "subjects match only if they name the same MedicationKnowledge.",
                            },
                            {
                                "name": "type",
                                "definition": "http://hl7.org/fhir/SearchParameter/ClinicalUseDefinition-type",
                                "type": "token",
                                "documentation": "`indication` or `undesirable-effect` (comma-separated); "
                                "a repeated `type` requires each.",
                            },
                        ],
                    },
                    {
                        "type": "CodeSystem",
                        "profile": "http://hl7.org/fhir/StructureDefinition/CodeSystem",
                        "interaction": [{"code": "read"}],
                        "documentation": "This server's own code systems: "
                        + ", ".join(sorted(CODE_SYSTEMS))
                        + ".",
                    },
                ],
            }
        ],
    }
