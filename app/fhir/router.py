"""FHIR R5 endpoints (`/fhir`): read and search, published content only, `application/fhir+json`."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.core.deps import ReadConn, SettingsDep
from app.core.http import public_json
from app.delivery.dependencies import Locale, Store
from app.delivery.store import PublishedStore, strong_etag
from app.fhir import resources as fhir
from app.fhir import service
from app.fhir.errors import (
    FhirInvalid,
    FhirMethodNotAllowed,
    FhirNotAcceptable,
    FhirNotFound,
    FhirNotSupported,
    FhirRoute,
)

FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
_JSON_FORMATS = {"json", "application/json", "application/fhir+json", "application/json+fhir"}


class FhirResponse(Response):
    media_type = fhir.FHIR_MEDIA_TYPE


class FhirResource(BaseModel):
    """A FHIR R5 resource (documentation only; see the FHIR specification for each type)."""

    model_config = ConfigDict(extra="allow")

    resourceType: str = Field(examples=["MedicationKnowledge"])  # noqa: N815 (FHIR's name)


def _format(
    format_: Annotated[
        str | None,
        Query(alias="_format", max_length=100, description="`json` or `application/fhir+json` (only JSON)."),
    ] = None,
    pretty: Annotated[bool | None, Query(alias="_pretty", description="Accepted; output is compact.")] = None,
) -> None:
    if format_ is not None and format_.split(";")[0].strip() not in _JSON_FORMATS:
        raise FhirNotAcceptable(f"_format={format_!r} is not supported: this server speaks JSON only.")


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute, dependencies=[Depends(_format)])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid parameters (OperationOutcome)", "model": FhirResource},
    404: {"description": "Not found (OperationOutcome)", "model": FhirResource},
    406: {"description": "Unsupported `_format` (OperationOutcome)", "model": FhirResource},
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _fhir_response(
    request: Request, settings: SettingsDep, body: bytes, last_modified: Any = None
) -> Response:
    return public_json(
        request, settings, body, strong_etag(body), last_modified, media_type=fhir.FHIR_MEDIA_TYPE
    )


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


@router.get(
    "/metadata",
    response_class=FhirResponse,
    response_model=FhirResource,
    summary="FHIR CapabilityStatement",
    responses=_RESPONSES,
)
def metadata(request: Request, settings: SettingsDep) -> Response:
    """What this FHIR server supports (R5, read-only)."""
    return _fhir_response(request, settings, _dumps(fhir.capability_statement(_base(request))))


def _document(store: PublishedStore, slug: str, locale: str) -> dict[str, Any]:
    document = store.find_document(slug, locale)
    if document is None:
        raise FhirNotFound(f"MedicationKnowledge/{slug} is not known.")
    return document


@router.get(
    "/MedicationKnowledge/{id}",
    response_class=FhirResponse,
    response_model=FhirResource,
    summary="Read a MedicationKnowledge (id = drug slug)",
    responses=_RESPONSES,
)
def read_medication_knowledge(
    request: Request,
    id_: Annotated[str, Path(alias="id", pattern=FHIR_ID, description="The drug's slug.")],
    store: Store,
    settings: SettingsDep,
    locale: Locale,
) -> Response:
    """A published drug as a MedicationKnowledge; its indications and side effects are referenced
    ClinicalUseDefinitions."""
    base = _base(request)
    rendered = store.find_rendered(
        id_, locale, ("fhir", "MedicationKnowledge", base), lambda d: fhir.medication_knowledge(base, d)
    )
    if rendered is None:
        raise FhirNotFound(f"MedicationKnowledge/{id_} is not known.")
    return public_json(
        request,
        settings,
        rendered.body,
        rendered.etag,
        rendered.last_modified,
        media_type=fhir.FHIR_MEDIA_TYPE,
    )


def parse_code_tokens(raw: str) -> list[service.CodeToken]:
    """FHIR token search values (comma = or): `system|code`, `code`, `system|`, `|code`.

    Systems are FHIR URIs; a value whose system this server does not use cannot match anything.
    """
    tokens = []
    for value in raw.split(","):
        value = value.strip()
        if not value:
            raise FhirInvalid("code: empty value.", errors=[])
        if "|" not in value:
            tokens.append(service.CodeToken(system=None, code=value))
            continue
        system_uri, _, code = value.partition("|")
        if not system_uri:
            continue  # `|code`: codes without a system; every code here has one
        system = fhir.SYSTEMS_BY_URI.get(system_uri)
        if system is None:
            continue
        tokens.append(service.CodeToken(system=system, code=code or None))
    return tokens


@router.get(
    "/MedicationKnowledge",
    response_class=FhirResponse,
    response_model=FhirResource,
    summary="Search MedicationKnowledge by code (Bundle, searchset)",
    responses=_RESPONSES,
)
def search_medication_knowledge(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    code: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="Token: `http://www.whocc.no/atc|L04AX06`, `L04AX06`, or "
            "`http://www.nlm.nih.gov/research/umls/rxnorm|`; comma-separated = any of them.",
        ),
    ] = None,
) -> Response:
    """Published drugs whose code matches (all published drugs without `code`)."""
    base = _base(request)
    rows = (
        service.all_drugs(conn) if code is None else service.drugs_with_codes(conn, parse_code_tokens(code))
    )
    found = [fhir.medication_knowledge(base, d) for d in store.documents_for(rows, locale)]
    body = _dumps(fhir.searchset(base, str(request.url), found))
    return _fhir_response(request, settings, body)


def _subject_slug(subject: str, base: str) -> str:
    """`MedicationKnowledge/{id}`, its absolute form on this server, or a bare id → the id."""
    reference = subject.removeprefix(base + "/")
    if "/" not in reference:
        return reference
    resource_type, _, resource_id = reference.partition("/")
    if resource_type != "MedicationKnowledge" or not resource_id or "/" in resource_id:
        raise FhirInvalid(
            "subject must reference a MedicationKnowledge on this server, "
            "e.g. MedicationKnowledge/pomalidomide.",
            errors=[],
        )
    return resource_id


def _parse_types(raw: str | None) -> frozenset[str] | None:
    if raw is None:
        return None
    values = frozenset(v.strip() for v in raw.split(","))
    unknown = sorted(values - set(fhir.CLINICAL_USE_TYPES))
    if unknown:
        raise FhirInvalid(
            f"type: unknown value(s) {', '.join(unknown)}; use one of {', '.join(fhir.CLINICAL_USE_TYPES)}.",
            errors=[],
        )
    return values


@router.get(
    "/ClinicalUseDefinition",
    response_class=FhirResponse,
    response_model=FhirResource,
    summary="Search ClinicalUseDefinition by subject and type (Bundle, searchset)",
    responses=_RESPONSES,
)
def search_clinical_use_definitions(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    subject: Annotated[
        str | None, Query(max_length=300, description="`MedicationKnowledge/{id}` (the drug's slug).")
    ] = None,
    type_: Annotated[
        str | None,
        Query(alias="type", max_length=200, description="`indication`, `undesirable-effect` (comma = any)."),
    ] = None,
) -> Response:
    """Indications (approved / investigational as `category`) and undesirable effects (seriousness
    as `undesirableEffect.classification`) of published drugs."""
    base = _base(request)
    types = _parse_types(type_)
    if subject is None:
        documents = store.documents_for(service.all_drugs(conn), locale)
    else:
        document = store.find_document(_subject_slug(subject, base), locale)
        documents = [document] if document is not None else []
    found = [r for d in documents for r in fhir.clinical_uses(base, d, types)]
    body = _dumps(fhir.searchset(base, str(request.url), found))
    return _fhir_response(request, settings, body)


@router.get(
    "/ClinicalUseDefinition/{id}",
    response_class=FhirResponse,
    response_model=FhirResource,
    summary="Read a ClinicalUseDefinition",
    responses=_RESPONSES,
)
def read_clinical_use_definition(
    request: Request,
    id_: Annotated[str, Path(alias="id", pattern=FHIR_ID)],
    store: Store,
    settings: SettingsDep,
    locale: Locale,
) -> Response:
    """One indication or undesirable effect, as referenced from a MedicationKnowledge."""
    base = _base(request)
    parsed = fhir.parse_clinical_use_id(id_)
    resource = None
    if parsed is not None:
        slug, kind, item_id = parsed
        document = store.find_document(slug, locale)
        if document is not None:
            resource = fhir.find_clinical_use(base, document, kind, item_id)
    if resource is None:
        raise FhirNotFound(f"ClinicalUseDefinition/{id_} is not known.")
    return _fhir_response(request, settings, _dumps(resource))


@router.get(
    "/CodeSystem/{id}",
    response_class=FhirResponse,
    response_model=FhirResource,
    summary="Read one of this server's CodeSystems",
    responses=_RESPONSES,
)
def read_code_system(
    request: Request, id_: Annotated[str, Path(alias="id", pattern=FHIR_ID)], settings: SettingsDep
) -> Response:
    """`indication-status` and `side-effect-seriousness`, the systems our codings use."""
    resource = fhir.code_system(_base(request), id_)
    if resource is None:
        raise FhirNotFound(f"CodeSystem/{id_} is not known.")
    return _fhir_response(request, settings, _dumps(resource))


_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


@router.api_route("", methods=_ANY_METHOD, include_in_schema=False)
@router.api_route("/{rest:path}", methods=_ANY_METHOD, include_in_schema=False)
def unsupported(request: Request) -> Response:
    """Anything else under /fhir: an OperationOutcome rather than a problem document."""
    if request.method not in ("GET", "HEAD"):
        raise FhirMethodNotAllowed(f"{request.method} is not supported: this FHIR server is read-only.")
    raise FhirNotSupported(f"{request.url.path} is not supported by this server.")
