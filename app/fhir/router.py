"""FHIR R5 endpoints (`/fhir`): read and search, published content only, `application/fhir+json`."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.responses import Response

from app.core.deps import ReadConn, SettingsDep
from app.core.http import public_json
from app.core.routing import GuardedRouter
from app.delivery.dependencies import Locale, Store
from app.delivery.responses import list_pattern
from app.delivery.store import PublishedStore, strong_etag
from app.fhir import resources as fhir
from app.fhir import schemas, service
from app.fhir.errors import (
    FhirInvalid,
    FhirNotAcceptable,
    FhirNotFound,
    FhirRoute,
    outcome_response,
)

FHIR_ID = r"^[A-Za-z0-9\-.]{1,64}$"
# The JSON `_format`s (FHIR R5 §3.1.0.1.9), optionally with MIME parameters (`;fhirVersion=5.0`).
# Checked with the very pattern the OpenAPI documents, so the two cannot disagree.
FORMAT_PATTERN = (
    r"^[ \t]*(?:json|application/json|application/fhir\+json|application/json\+fhir)[ \t]*"
    r"(?:;[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*)?$"
)
_FORMAT = re.compile(FORMAT_PATTERN)
# Search values, as the OpenAPI documents them and the handlers check them (the same patterns). Any
# character but the control characters refused app-wide.
_TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_CODE_VALUE = r"[ \t]*[^, \t\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^,\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*"
# `code`: comma-separated tokens (`system|code`, `code`, `system|`, `|code`), none blank; or no
# value at all (nothing or spaces: ignored, as FHIR ignores a search parameter without a value).
CODE_PATTERN = rf"^(?: *|{_CODE_VALUE}(?:,{_CODE_VALUE})*)$"
_ID = r"[^/\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# `subject`: a bare id, or a reference to a MedicationKnowledge (relative, or absolute on any server).
SUBJECT_PATTERN = rf"^(?:{_ID}*|(?:{_TEXT}*/)?MedicationKnowledge/{_ID}+)$"
TYPES_PATTERN = list_pattern(fhir.CLINICAL_USE_TYPES)
_CODE, _SUBJECT, _TYPES = re.compile(CODE_PATTERN), re.compile(SUBJECT_PATTERN), re.compile(TYPES_PATTERN)
_READ_METHODS = "GET, HEAD"
# How often one search parameter may be repeated: enough for any real search, and a bound on the
# statement (each `code` value can give ~500 tokens).
MAX_REPEATS = 10
# FHIR search: a repeated parameter means AND (every value must match), a comma within one value
# OR. FastAPI would keep only the last value of a repeated parameter, so the answer would depend on
# the order of the values: the search parameters are read as lists.
_REPEAT = (
    f"Repeat the parameter (up to {MAX_REPEATS} times) to require every value; an empty value is ignored."
)
# What an empty value may hold: nothing, or spaces (as `type` reads its lists, see `list_pattern`).
_EMPTY = " "


def _documented_as_one_value(schema: dict[str, Any]) -> None:
    """Document a repeatable search parameter by its value; that it may be repeated is in its text.

    As an array, the OpenAPI would promise requests the server refuses: `MAX_REPEATS` values of up to
    1,000 characters, each up to 12 bytes once percent-encoded, overflow `max_header_bytes` (431). And
    a value given once is a one-element array on the wire, which a fuzzer takes for a wrong type.
    """
    array = next(branch for branch in schema["anyOf"] if branch.get("type") == "array")
    schema["anyOf"] = [array["items"], {"type": "null"}]


def _search_values(description: str, *, alias: str | None = None) -> Any:
    """The `Query` of a search parameter that may be repeated (each value is checked by its handler)."""
    return Query(
        alias=alias,
        max_length=MAX_REPEATS,
        description=f"{description} {_REPEAT}",
        json_schema_extra=_documented_as_one_value,  # pydantic calls it with the finished schema
    )


class FhirResponse(JSONResponse):
    """FHIR JSON; a `JSONResponse` so that the OpenAPI shows the route's response model as its body."""

    media_type = fhir.FHIR_MEDIA_TYPE


def _format(
    format_: Annotated[
        str | None,
        Query(
            alias="_format",
            max_length=100,
            description="`json`, `application/json` or `application/fhir+json` (only JSON); MIME "
            "parameters such as `;fhirVersion=5.0` are allowed. Any other format is refused (406).",
            json_schema_extra={"pattern": FORMAT_PATTERN},
        ),
    ] = None,
    pretty: Annotated[bool | None, Query(alias="_pretty", description="Accepted; output is compact.")] = None,
) -> None:
    if format_ is not None and not _FORMAT.fullmatch(format_):
        raise FhirNotAcceptable(f"_format={format_!r} is not supported: this server speaks JSON only.")


PREFIX = "/fhir"
# `_format` is checked by the read interactions only, so another method is a 405 whatever its query.
router = GuardedRouter(prefix=PREFIX, tags=["fhir"], route_class=FhirRoute, dependencies=[Depends(_format)])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid parameters (OperationOutcome)", "model": schemas.OperationOutcome},
    404: {"description": "Not found (OperationOutcome)", "model": schemas.OperationOutcome},
    406: {"description": "Unsupported `_format` (OperationOutcome)", "model": schemas.OperationOutcome},
    # The database's state (`FhirRoute`): down, busy or not migrated (with `Retry-After`), or full.
    503: {"description": "Database unavailable (OperationOutcome)", "model": schemas.OperationOutcome},
    507: {"description": "Database full (OperationOutcome)", "model": schemas.OperationOutcome},
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
    response_model=schemas.CapabilityStatement,
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
    response_model=schemas.MedicationKnowledge,
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


def _given(values: list[str] | None) -> list[str]:
    """The values of a repeated search parameter that have one (FHIR ignores an empty value)."""
    return [value for value in values or () if value.strip(_EMPTY)]


def parse_code_tokens(raw: str) -> list[service.CodeToken]:
    """FHIR token search values (comma = or): `system|code`, `code`, `system|`, `|code`.

    Systems are FHIR URIs; a value whose system this server does not use cannot match anything.
    """
    if not _CODE.fullmatch(raw) or not raw.strip(_EMPTY):
        raise FhirInvalid("code: give comma-separated tokens, none of them blank.", errors=[])
    tokens = []
    for value in raw.split(","):
        value = value.strip(" \t")
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
    response_model=schemas.MedicationKnowledgeBundle,
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
        list[Annotated[str, Field(max_length=1000, json_schema_extra={"pattern": CODE_PATTERN})]] | None,
        _search_values(
            "Token: `http://www.whocc.no/atc|L04AX06`, `L04AX06`, or "
            "`http://www.nlm.nih.gov/research/umls/rxnorm|`; comma-separated = any of them."
        ),
    ] = None,
) -> Response:
    """Published drugs whose codes match every `code` given (all published drugs without one)."""
    base = _base(request)
    codes = [parse_code_tokens(value) for value in _given(code)]
    rows = service.drugs_with_all_codes(conn, codes) if codes else service.all_drugs(conn)
    found = [fhir.medication_knowledge(base, d) for d in store.documents_for(rows, locale)]
    body = _dumps(fhir.searchset(base, str(request.url), found))
    return _fhir_response(request, settings, body)


def _subject_slug(subject: str, base: str) -> str | None:
    """The id `subject` references: `MedicationKnowledge/{id}`, its absolute form on this server, or a
    bare id; None for a MedicationKnowledge on another server (it matches nothing here)."""
    if not _SUBJECT.fullmatch(subject):
        raise FhirInvalid(
            "subject must reference a MedicationKnowledge, e.g. MedicationKnowledge/pomalidomide.",
            errors=[],
        )
    reference = subject.removeprefix(base + "/")
    if "/" not in reference:
        return reference
    resource_type, _, resource_id = reference.rpartition("/")
    return resource_id if resource_type == "MedicationKnowledge" else None


def _subject_slugs(subjects: list[str] | None, base: str) -> set[str | None] | None:
    """The ids the `subject` values reference (see `_subject_slug`), or None for any subject."""
    given = _given(subjects)
    return {_subject_slug(subject, base) for subject in given} if given else None


def _parse_types(raw: str) -> frozenset[str] | None:
    """The `type` values, or None for all (FHIR ignores a search parameter without a value)."""
    if not _TYPES.fullmatch(raw):
        raise FhirInvalid(
            f"type: use one or more (comma-separated) of {', '.join(fhir.CLINICAL_USE_TYPES)}.", errors=[]
        )
    return frozenset(v.strip(" ") for v in raw.split(",") if v.strip(" ")) or None


def _types_of_all(values: list[str] | None) -> frozenset[str] | None:
    """The types every `type` value allows (empty: none can match), or None for all."""
    allowed = [types for value in values or () if (types := _parse_types(value)) is not None]
    return frozenset.intersection(*allowed) if allowed else None


@router.get(
    "/ClinicalUseDefinition",
    response_class=FhirResponse,
    response_model=schemas.ClinicalUseDefinitionBundle,
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
        list[Annotated[str, Field(max_length=300, json_schema_extra={"pattern": SUBJECT_PATTERN})]] | None,
        _search_values(
            "`MedicationKnowledge/{id}` (the drug's slug), its absolute URL, or the bare id. A clinical "
            "use belongs to one MedicationKnowledge, so repeated subjects match only if they all name it."
        ),
    ] = None,
    type_: Annotated[
        list[Annotated[str, Field(max_length=200, json_schema_extra={"pattern": TYPES_PATTERN})]] | None,
        _search_values("`indication`, `undesirable-effect` (comma = any).", alias="type"),
    ] = None,
) -> Response:
    """Indications (approved / investigational as `category`) and undesirable effects (seriousness
    as `undesirableEffect.classification`) of published drugs."""
    base = _base(request)
    types = _types_of_all(type_)
    slugs = _subject_slugs(subject, base)
    if slugs is None:
        documents = store.documents_for(service.all_drugs(conn), locale)
    else:
        # Each clinical use has one subject: it matches every `subject` only if they name one drug.
        slug = slugs.pop() if len(slugs) == 1 else None
        document = store.find_document(slug, locale) if slug is not None else None
        documents = [document] if document is not None else []
    found = [r for d in documents for r in fhir.clinical_uses(base, d, types)]
    body = _dumps(fhir.searchset(base, str(request.url), found))
    return _fhir_response(request, settings, body)


@router.get(
    "/ClinicalUseDefinition/{id}",
    response_class=FhirResponse,
    response_model=schemas.ClinicalUseDefinition,
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
    response_model=schemas.CodeSystem,
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


def unsupported(request: Request) -> Response:
    """Anything else under /fhir: an OperationOutcome rather than a problem document.

    A plain Starlette route, so no parameter checks run first: a write to a FHIR path is a 405 with
    `Allow` whatever its query, and an unknown path a 404.
    """
    if request.method not in ("GET", "HEAD"):
        response = outcome_response(
            405, "not-supported", f"{request.method} is not supported: this FHIR server is read-only."
        )
        response.headers["Allow"] = _READ_METHODS
        return response
    return outcome_response(404, "not-supported", f"{request.url.path} is not supported by this server.")


_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Plain Starlette routes (full paths: a router's prefix is for its API routes only), after the reads.
router.add_route(PREFIX, unsupported, methods=_ANY_METHOD, include_in_schema=False)
router.add_route(PREFIX + "/{rest:path}", unsupported, methods=_ANY_METHOD, include_in_schema=False)
