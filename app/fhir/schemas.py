"""The FHIR resources this server answers, as OpenAPI documentation (responses are built as dicts).

Each model names the elements this server always fills and lets the others through
(`extra="allow"`): the FHIR R5 specification is the full definition of every resource type.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FhirElement(BaseModel):
    model_config = ConfigDict(extra="allow")


class Meta(FhirElement):
    versionId: str = Field(description="The drug's published revision.")  # noqa: N815 (FHIR's names)
    lastUpdated: str = Field(description="When that revision was published (ISO 8601).")  # noqa: N815


class Narrative(FhirElement):
    status: Literal["generated"]
    div: str = Field(description="Escaped XHTML.")


class CapabilityStatement(FhirElement):
    """What this server supports: FHIR R5, read and search only, JSON only."""

    resourceType: Literal["CapabilityStatement"]  # noqa: N815
    fhirVersion: str = Field(examples=["5.0.0"])  # noqa: N815
    status: str
    kind: str
    format: list[str]
    rest: list[FhirElement]


class MedicationKnowledge(FhirElement):
    """A published drug (id = its slug)."""

    resourceType: Literal["MedicationKnowledge"]  # noqa: N815
    id: str = Field(examples=["pomalidomide"])
    meta: Meta
    language: str
    text: Narrative
    code: FhirElement
    status: str
    name: list[str]


class ClinicalUseDefinition(FhirElement):
    """One indication or undesirable effect of a published drug."""

    resourceType: Literal["ClinicalUseDefinition"]  # noqa: N815
    id: str = Field(examples=["pomalidomide-indication-1"])
    meta: Meta
    language: str
    text: Narrative
    type: Literal["indication", "undesirable-effect"]
    status: FhirElement


class CodeSystemConcept(FhirElement):
    code: str
    display: str
    definition: str


class CodeSystem(FhirElement):
    """One of this server's own code systems."""

    resourceType: Literal["CodeSystem"]  # noqa: N815
    id: str = Field(examples=["indication-status"])
    url: str
    status: str
    content: str
    concept: list[CodeSystemConcept]


class BundleLink(FhirElement):
    relation: str
    url: str


class BundleSearch(FhirElement):
    mode: Literal["match"]


class MedicationKnowledgeEntry(FhirElement):
    fullUrl: str  # noqa: N815
    resource: MedicationKnowledge
    search: BundleSearch


class ClinicalUseDefinitionEntry(FhirElement):
    fullUrl: str  # noqa: N815
    resource: ClinicalUseDefinition
    search: BundleSearch


class MedicationKnowledgeBundle(FhirElement):
    """A searchset of MedicationKnowledge (no `entry` when nothing matched)."""

    resourceType: Literal["Bundle"]  # noqa: N815
    type: Literal["searchset"]
    total: int
    link: list[BundleLink]
    entry: list[MedicationKnowledgeEntry] = []


class ClinicalUseDefinitionBundle(FhirElement):
    """A searchset of ClinicalUseDefinition (no `entry` when nothing matched)."""

    resourceType: Literal["Bundle"]  # noqa: N815
    type: Literal["searchset"]
    total: int
    link: list[BundleLink]
    entry: list[ClinicalUseDefinitionEntry] = []


class OperationOutcomeIssue(FhirElement):
    severity: Literal["error"]
    code: str = Field(examples=["not-found"])
    diagnostics: str
    expression: list[str] = []


class OperationOutcome(FhirElement):
    """Every error under `/fhir`."""

    resourceType: Literal["OperationOutcome"]  # noqa: N815
    issue: list[OperationOutcomeIssue]
