"""`GET /infobutton`: HL7 Context-Aware Knowledge Retrieval (Infobutton), URL-based, as MedlinePlus
Connect implements it — so an EHR configured for MedlinePlus Connect can be pointed here.
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from starlette.responses import Response

from app.core.db import utcnow
from app.core.deps import ReadConn, SettingsDep
from app.core.errors import AppError, problem_responses
from app.core.http import public_json
from app.core.routing import GuardedRouter
from app.core.types import QUERY_TEXT_PATTERN
from app.delivery.dependencies import Store
from app.delivery.store import PublishedStore, strong_etag
from app.fhir import service as code_search
from app.infobutton import feed as atom
from app.publishing.models import ContentState

router = GuardedRouter(tags=["infobutton"])

# Code systems by HL7 OID → our code system names.
CODE_SYSTEM_OIDS = {
    "2.16.840.1.113883.6.88": "rxnorm",
    "2.16.840.1.113883.6.73": "atc",
    "2.16.840.1.113883.6.69": "ndc",
}
SYSTEM_LABELS = {"rxnorm": "RXCUI", "atc": "ATC", "ndc": "NDC"}

# The other standard parameters of the URL-based Infobutton implementation guide (patient,
# task, recipient, performer, encounter, location, organization context). EHRs send them
# routinely; they do not change what this server returns, but they must not be refused as unknown
# parameters, so they are declared (and documented) here. Anything else is still a 400.
CONTEXT_PARAMETERS = (
    "taskContext.c.c",
    "taskContext.c.cs",
    "taskContext.c.dn",
    "subTopic.v.c",
    "subTopic.v.cs",
    "subTopic.v.dn",
    "subTopic.v.ot",
    "mainSearchCriteria.v.csn",
    "patientPerson.administrativeGenderCode.c",
    "patientPerson.administrativeGenderCode.cs",
    "patientPerson.administrativeGenderCode.dn",
    "age.v.v",
    "age.v.u",
    "ageGroup.v.c",
    "ageGroup.v.cs",
    "ageGroup.v.dn",
    "severityObservation.interpretationCode.c",
    "severityObservation.interpretationCode.cs",
    "severityObservation.interpretationCode.dn",
    "informationRecipient",
    "informationRecipient.healthCareProvider.c.c",
    "informationRecipient.healthCareProvider.c.cs",
    "informationRecipient.healthCareProvider.c.dn",
    "performer",
    "performer.languageCode.c",
    "performer.healthCareProvider.c.c",
    "performer.healthCareProvider.c.cs",
    "performer.healthCareProvider.c.dn",
    "encounter.c.c",
    "encounter.c.cs",
    "encounter.c.dn",
    "serviceDeliveryLocation.id.root",
    "representedOrganization.id.root",
    "locationOfInterest.addr.ZIP",
    "locationOfInterest.addr.CTY",
    "locationOfInterest.addr.STA",
    "locationOfInterest.addr.CNT",
    "holder.assignedEntity.n",
    "holder.assignedEntity.certificateText",
)


def _accept_context_parameters() -> Any:
    """A dependency declaring every context parameter (so the unknown-parameter rule lets them in)."""

    def accept(**_: str | None) -> None:
        return None

    accept.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                f"p{i}",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    str | None,
                    Query(
                        alias=name,
                        max_length=500,
                        pattern=QUERY_TEXT_PATTERN,
                        description="Infobutton context: accepted, not used.",
                    ),
                ],
            )
            for i, name in enumerate(CONTEXT_PARAMETERS)
        ]
    )
    return accept


class MissingSearchCriteria(AppError):
    status, code, title = 400, "missing_search_criteria", "Missing search criteria"


_WORDS = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def _phrases(text: str, longest: int = 5) -> set[str]:
    """Every run of up to `longest` consecutive words, case-folded ("Pomalyst 4 MG Oral Capsule")."""
    words = _WORDS.findall(text.casefold())
    return {" ".join(words[i : i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}


def _by_name(conn: sa.Connection, store: PublishedStore, text: str, locale: str) -> list[dict[str, Any]]:
    """Published drugs whose name or a brand name appears, as whole words, in the display name."""
    phrases = _phrases(text)
    if not phrases:
        return []
    rows = code_search.all_drugs(conn)
    documents = store.documents_for(rows, locale)
    return [
        d
        for d in documents
        if d["name"].casefold() in phrases or any(b.casefold() in phrases for b in d["brand_names"])
    ]


@router.get(
    "/infobutton",
    summary="HL7 Infobutton knowledge request (MedlinePlus Connect compatible)",
    responses={
        200: {
            "description": "An Atom feed of matching drugs: JSON (MedlinePlus Connect's shape) or XML.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/xml": {"schema": {"type": "string"}},
            },
        },
        **problem_responses(400, 422),
    },
    dependencies=[Depends(_accept_context_parameters())],
)
def infobutton(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    code: Annotated[
        str | None,
        Query(
            alias="mainSearchCriteria.v.c",
            max_length=100,
            pattern=QUERY_TEXT_PATTERN,
            description="The drug's code.",
        ),
    ] = None,
    code_system: Annotated[
        str | None,
        Query(
            alias="mainSearchCriteria.v.cs",
            pattern=r"^[0-2](\.(0|[1-9][0-9]*))+$",
            description="Code system OID: RxNorm 2.16.840.1.113883.6.88, ATC 2.16.840.1.113883.6.73, "
            "NDC 2.16.840.1.113883.6.69.",
        ),
    ] = None,
    display_name: Annotated[
        str | None,
        Query(
            alias="mainSearchCriteria.v.dn",
            max_length=500,
            pattern=QUERY_TEXT_PATTERN,
            description="Display name, used when the code finds nothing (e.g. `Pomalyst 4 MG Oral Capsule`).",
        ),
    ] = None,
    original_text: Annotated[
        str | None,
        Query(
            alias="mainSearchCriteria.v.ot",
            max_length=500,
            pattern=QUERY_TEXT_PATTERN,
            description="Original text; like `.dn`.",
        ),
    ] = None,
    response_type: Annotated[
        Literal["text/xml", "application/json"],
        Query(
            alias="knowledgeResponseType", description="`text/xml` (Atom, the default) or `application/json`."
        ),
    ] = "text/xml",
    language: Annotated[
        str | None,
        Query(
            alias="informationRecipient.languageCode.c",
            pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$",
            description="Language wanted; content not available in it comes in the default locale.",
        ),
    ] = None,
) -> Response:
    """Matches the code (with its system OID, or in any system without one), then falls back to the
    display name / original text matched against drug and brand names. Each entry links to the
    drug's FAQ and side-effect pages and its JSON document, with a summary and the disclaimer."""
    if not code and not display_name and not original_text:
        raise MissingSearchCriteria(
            "Give mainSearchCriteria.v.c (with mainSearchCriteria.v.cs) or mainSearchCriteria.v.dn."
        )
    locale = settings.default_locale
    documents: list[dict[str, Any]] = []
    if code:
        system = CODE_SYSTEM_OIDS.get(code_system) if code_system else None
        if code_system is None or system is not None:
            rows = code_search.drugs_with_codes(conn, [code_search.CodeToken(system=system, code=code)])
            documents = store.documents_for(rows, locale)
    for text in (display_name, original_text):
        if not documents and text:
            documents = _by_name(conn, store, text, locale)
    base = str(request.base_url)
    if code:
        system = CODE_SYSTEM_OIDS.get(code_system or "")
        subtitle = f"druginfo results for {SYSTEM_LABELS.get(system or '', 'code')} {code}"
    else:
        subtitle = f"druginfo results for {display_name or original_text}"
    categories = [
        (name, value)
        for name, value in (
            ("mainSearchCriteria.v.c", code),
            ("mainSearchCriteria.v.cs", code_system),
            ("mainSearchCriteria.v.dn", display_name),
            ("mainSearchCriteria.v.ot", original_text),
            ("informationRecipient.languageCode.c", language),
            ("informationRecipient", request.query_params.get("informationRecipient")),
        )
        if value
    ]
    updated = conn.execute(
        sa.select(ContentState.updated_at).where(ContentState.id == 1)
    ).scalar_one_or_none()
    entries = [atom.entry_for(d, base_url=base) for d in documents]
    if updated is None:  # the single content_state row is made by the first migration
        updated = utcnow()
    result = atom.Feed(
        base=base,
        lang=locale,
        subtitle=subtitle,
        id=str(request.url),
        updated=updated,
        categories=categories,
        entries=entries,
    )
    if response_type == "application/json":
        body, media_type = atom.to_json(result), "application/json"
    else:
        body, media_type = atom.to_atom(result), "text/xml; charset=utf-8"
    return public_json(
        request, settings, body, strong_etag(body), None, content_language=locale, media_type=media_type
    )
