"""`GET /api/v1/drugs/{slug}/jsonld`: schema.org `MedicalWebPage` + `Drug` + `FAQPage` as one `@graph`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.core.errors import problem_responses
from app.core.routing import GuardedRouter
from app.delivery.dependencies import Locale, Store
from app.delivery.router import DrugNotPublished, SlugPath
from app.schemaorg.jsonld import drug_graph

JSONLD_MEDIA_TYPE = "application/ld+json"

router = GuardedRouter(prefix="/api/v1", tags=["delivery"])


class JsonLdResponse(JSONResponse):
    """JSON-LD; a `JSONResponse` so that the OpenAPI shows the response model as its body."""

    media_type = JSONLD_MEDIA_TYPE


class JsonLdDocument(BaseModel):
    """A JSON-LD document in the schema.org context (documentation only)."""

    model_config = ConfigDict(populate_by_name=True)

    context: str = Field(alias="@context", examples=["https://schema.org"])
    graph: list[dict[str, Any]] = Field(
        alias="@graph",
        description="`MedicalWebPage`, `Drug`, `MedicalTherapy`, `MedicalCondition`s, `FAQPage`.",
    )


@router.get(
    "/drugs/{slug}/jsonld",
    response_class=JsonLdResponse,
    response_model=JsonLdDocument,
    summary="schema.org JSON-LD for a drug (MedicalWebPage, Drug, FAQPage)",
    responses=problem_responses(400, 404, 422),
)
def get_drug_jsonld(request: Request, slug: SlugPath, store: Store, locale: Locale) -> Response:
    """Structured data for search engines and frontends: paste it into a page's
    `<script type="application/ld+json">`. Node ids are absolute URLs on this server."""
    base_url = str(request.base_url)
    rendered = store.find_rendered(
        slug, locale, ("jsonld", base_url), lambda d: drug_graph(base_url, d), media_type=JSONLD_MEDIA_TYPE
    )
    if rendered is None:
        raise DrugNotPublished(f"No published drug with slug {slug!r}.")
    # The store's answer names the locale the graph is in (`Content-Language`), not the one asked for.
    return store.answer(request, rendered)
