"""The public delivery API (`/api/v1`): published content only, read-only, cacheable."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from app.core.deps import ReadConn, SettingsDep
from app.core.errors import InvalidParameters, NotFound, ProblemField, problem_responses
from app.core.http import public_json
from app.core.markdown import render_markdown
from app.core.pagination import CURSOR_FORMAT, CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT, next_link
from app.core.types import QUERY_TEXT_PATTERN, SLUG_PATTERN
from app.delivery import schemas
from app.delivery import service as delivery
from app.delivery.render import API, PARTS, render_resource, summary_of
from app.delivery.store import PublishedStore, dumps, select_parts, strong_etag

router = APIRouter(prefix="/api/v1", tags=["delivery"])

SUMMARY_FIELDS = (
    "slug",
    "name",
    "brand_names",
    "drug_class",
    "summary",
    "codes",
    "updated_at",
    "last_reviewed",
    "links",
)

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="The drug's slug.")]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT}).")
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=500,
        pattern=CURSOR_PATTERN,
        # Not any string of this alphabet is a cursor: only the `next_cursor` the server issued for this
        # list (same filters and sort); any other well-formed one names no page (404).
        json_schema_extra={"format": CURSOR_FORMAT},
        description="`next_cursor` of the previous page (opaque; only valid with the same filters and sort).",
    ),
]


class DrugNotPublished(NotFound):
    code, title = "drug_not_found", "Drug not found"


def get_store(request: Request) -> PublishedStore:
    store: PublishedStore = request.app.state.store
    return store


Store = Annotated[PublishedStore, Depends(get_store)]


def _locale(settings: SettingsDep) -> str:
    return settings.default_locale


Locale = Annotated[str, Depends(_locale)]


def list_pattern(allowed: tuple[str, ...]) -> str:
    """The regex of a comma-separated list of `allowed` names (`-` or `_`, spaces around, empty items).

    It is both what the OpenAPI says and what `_parse_list` checks, so the two cannot disagree; only
    constructs that mean the same in ECMA-262 (JSON Schema) and Python regexes are used.
    """
    item = "(?:" + "|".join(name.replace("_", "[-_]") for name in allowed) + ")"
    return f"^ *(?:{item} *)?(?:, *(?:{item} *)?)*$"


def _parse_list(raw: str | None, allowed: tuple[str, ...], name: str) -> frozenset[str] | None:
    if raw is None:
        return None
    if not re.fullmatch(list_pattern(allowed), raw):
        items = [v.strip(" ") for v in raw.split(",")]
        unknown = sorted({v for v in items if v and v.replace("-", "_") not in allowed})
        raise InvalidParameters(
            f"Unknown {name}: {', '.join(unknown)}. Choose from: {', '.join(allowed)}."
            if unknown
            else f"Give {name} as a comma-separated list of: {', '.join(allowed)}.",
            errors=[
                ProblemField(pointer=f"#/query/{name}", detail=f"unknown value {u!r}", code="unknown_value")
                for u in unknown
            ]
            or [
                ProblemField(
                    pointer=f"#/query/{name}", detail="not a comma-separated list", code="invalid_list"
                )
            ],
        )
    return frozenset(v.strip(" ").replace("-", "_") for v in raw.split(",") if v.strip(" "))


def _page_response(
    request: Request, settings: SettingsDep, payload: dict[str, Any], *, locale: str | None = None
) -> Response:
    body = dumps(payload)
    cursor = payload.get("next_cursor")
    extra = {"Link": next_link(request.url, cursor)} if cursor else None
    return public_json(
        request, settings, body, strong_etag(body), None, content_language=locale, extra_headers=extra
    )


@router.get(
    "/drugs",
    response_model=schemas.DrugList,
    summary="List published drugs",
    responses=problem_responses(400, 404, 422),
)
def list_drugs(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    condition: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, max_length=100, description="Condition slug.")
    ] = None,
    drug_class: Annotated[
        str | None,
        Query(max_length=200, pattern=QUERY_TEXT_PATTERN, description="Drug class (case-insensitive)."),
    ] = None,
    code: Annotated[
        str | None,
        Query(
            max_length=160,
            json_schema_extra={"pattern": delivery.CODE_PATTERN},
            description="`system|value`, e.g. `atc|L04AX06` (the system is matched case-insensitively).",
        ),
    ] = None,
    letter: Annotated[
        str | None, Query(pattern=r"^([A-Za-z]|#)$", description="A–Z browse: first letter.")
    ] = None,
    sort: Annotated[
        Literal["name", "-name", "updated_at", "-updated_at", "last_reviewed", "-last_reviewed"],
        Query(description="Order; `-` for descending."),
    ] = "name",
    fields: Annotated[
        str | None,
        Query(
            max_length=300,
            json_schema_extra={"pattern": list_pattern(SUMMARY_FIELDS)},
            description=f"Comma-separated summary fields to return: {', '.join(SUMMARY_FIELDS)}.",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Published drugs, filtered, in a stable order, with cursor pagination (`Link: rel="next"`)."""
    chosen = _parse_list(fields, SUMMARY_FIELDS, "fields")
    filters = delivery.DrugFilters(condition=condition, drug_class=drug_class, code=code, letter=letter)
    rows, total, next_cursor = delivery.list_drugs(conn, filters, sort=sort, limit=limit, cursor=cursor)
    items = []
    for row, document in zip(rows, store.documents_for(rows, locale), strict=True):
        summary = summary_of(document, row.last_reviewed.isoformat() if row.last_reviewed else None)
        if chosen is not None:
            summary = {k: v for k, v in summary.items() if k in chosen or k == "slug"}
        items.append(summary)
    return _page_response(request, settings, {"items": items, "next_cursor": next_cursor, "total": total})


def _document(store: PublishedStore, slug: str, locale: str) -> dict[str, Any]:
    document = store.find_document(slug, locale)
    if document is None:
        raise DrugNotPublished(f"No published drug with slug {slug!r}.")
    return document


def _serve_shape(
    request: Request,
    settings: SettingsDep,
    store: PublishedStore,
    slug: str,
    locale: str,
    key: Any,
    shape: Callable[[dict[str, Any]], Any],
) -> Response:
    rendered = store.find_rendered(slug, locale, key, shape)
    if rendered is None:
        raise DrugNotPublished(f"No published drug with slug {slug!r}.")
    return public_json(
        request, settings, rendered.body, rendered.etag, rendered.last_modified, content_language=locale
    )


@router.get(
    "/drugs/{slug}",
    response_model=schemas.DrugDocument,
    summary="The full published document of a drug",
    responses=problem_responses(400, 404, 422),
)
def get_drug(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    include: Annotated[
        str | None,
        Query(
            max_length=300,
            json_schema_extra={"pattern": list_pattern(PARTS)},
            description=f"Comma-separated parts to embed (default all): {', '.join(PARTS)}.",
        ),
    ] = None,
) -> Response:
    """Every part embedded and ordered; `include=` chooses parts."""
    parts = _parse_list(include, PARTS, "include")
    key = ("document", tuple(sorted(parts)) if parts is not None else None)
    return _serve_shape(request, settings, store, slug, locale, key, lambda d: select_parts(d, parts))


def _envelope(document: dict[str, Any], items: Any, *, key: str = "items") -> dict[str, Any]:
    return {
        "drug": {"slug": document["slug"], "name": document["name"], "links": document["links"]},
        "locale": document["locale"],
        "disclaimer": document["disclaimer"],
        "review": document["review"],
        key: items,
    }


def _part_endpoint(path: str, part: str, model: type, summary: str) -> None:
    @router.get(
        f"/drugs/{{slug}}/{path}",
        response_model=model,
        summary=summary,
        responses=problem_responses(400, 404, 422),
        name=f"get_drug_{part}",
    )
    def endpoint(
        request: Request, slug: SlugPath, store: Store, settings: SettingsDep, locale: Locale
    ) -> Response:
        return _serve_shape(request, settings, store, slug, locale, part, lambda d: _envelope(d, d[part]))

    endpoint.__doc__ = f"{summary} (with the drug's disclaimer and review metadata)."


_part_endpoint("sections", "sections", schemas.SectionList, "Sections of a drug, in order")
_part_endpoint("faqs", "faqs", schemas.FaqList, "FAQs of a drug, in order")
_part_endpoint("monitoring", "monitoring", schemas.MonitoringList, "What is monitored during treatment")
_part_endpoint(
    "combinations", "combinations", schemas.CombinationList, "Combination therapies including the drug"
)
_part_endpoint("stories", "stories", schemas.StoryList, "Patient stories")


@router.get(
    "/drugs/{slug}/sections/{key}",
    response_model=schemas.SectionItem,
    summary="One section of a drug",
    responses=problem_responses(400, 404, 422),
)
def get_drug_section(
    request: Request,
    slug: SlugPath,
    key: Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100)],
    store: Store,
    settings: SettingsDep,
    locale: Locale,
) -> Response:
    """One section by key, e.g. `mechanism`."""
    document = _document(store, slug, locale)
    if not any(s["key"] == key for s in document["sections"]):
        raise NotFound(f"Drug {slug!r} has no section {key!r}.")

    def shape(d: dict[str, Any]) -> Any:
        return _envelope(d, next(s for s in d["sections"] if s["key"] == key), key="item")

    return _serve_shape(request, settings, store, slug, locale, ("section", key), shape)


@router.get(
    "/drugs/{slug}/side-effects",
    response_model=schemas.SideEffectList,
    summary="Side effects of a drug, with management tips",
    responses=problem_responses(400, 404, 422),
)
def get_drug_side_effects(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    seriousness: Annotated[
        Literal["common", "serious"] | None, Query(description="Only this seriousness.")
    ] = None,
) -> Response:
    """Side effects as the source states them; filter with `seriousness=`."""

    def shape(d: dict[str, Any]) -> Any:
        return _envelope(d, [e for e in d["side_effects"] if seriousness in (None, e["seriousness"])])

    return _serve_shape(request, settings, store, slug, locale, ("side_effects", seriousness), shape)


@router.get(
    "/drugs/{slug}/indications",
    response_model=schemas.IndicationList,
    summary="Conditions the drug treats (approved) or is researched for (investigational)",
    responses=problem_responses(400, 404, 422),
)
def get_drug_indications(
    request: Request,
    slug: SlugPath,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    status: Annotated[
        Literal["approved", "investigational"] | None, Query(description="Only this status.")
    ] = None,
) -> Response:
    """Indications, filtered with `status=`."""

    def shape(d: dict[str, Any]) -> Any:
        return _envelope(d, [i for i in d["indications"] if status in (None, i["status"])])

    return _serve_shape(request, settings, store, slug, locale, ("indications", status), shape)


@router.get(
    "/drugs/{slug}/support-resources",
    response_model=schemas.SupportResourceList,
    summary="Support resources for a drug (linked ones, then global ones)",
    responses=problem_responses(400, 404, 422),
)
def get_drug_support_resources(
    request: Request, slug: SlugPath, conn: ReadConn, store: Store, settings: SettingsDep, locale: Locale
) -> Response:
    """The resources the drug links to, followed by global resources."""
    document = _document(store, slug, locale)
    linked = {r["slug"] for r in document["support_resources"]}
    items = document["support_resources"] + [
        render_resource(r) for r in delivery.global_resources(conn) if r["slug"] not in linked
    ]
    body = dumps(_envelope(document, items))
    return public_json(
        request, settings, body, strong_etag(body), document["published_at"], content_language=locale
    )


@router.get(
    "/conditions",
    response_model=schemas.ConditionList,
    summary="Conditions, with how many published drugs treat them",
    responses=problem_responses(400, 404, 422),
)
def list_conditions(
    request: Request,
    conn: ReadConn,
    settings: SettingsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Conditions by name, with counts of approved and investigational published drugs."""
    conditions = delivery.list_conditions(conn)
    page, next_cursor = delivery.offset_page(conditions, kind="conditions", limit=limit, cursor=cursor)
    items = [
        {
            **c,
            "description_html": _markdown(c["description"]),
            "links": {"self": f"{API}/conditions/{c['slug']}"},
        }
        for c in page
    ]
    return _page_response(
        request, settings, {"items": items, "next_cursor": next_cursor, "total": len(conditions)}
    )


@router.get(
    "/conditions/{slug}",
    response_model=schemas.ConditionDetail,
    summary="A condition and the published drugs for it, approved and investigational",
    responses=problem_responses(400, 404, 422),
)
def get_condition(
    request: Request, slug: SlugPath, conn: ReadConn, store: Store, settings: SettingsDep, locale: Locale
) -> Response:
    """The condition, with its drugs split into approved and investigational."""
    condition = delivery.find_condition(conn, slug)
    if condition is None:
        raise NotFound(f"No condition with slug {slug!r}.")
    rows = delivery.condition_drug_rows(conn, slug)
    drugs: dict[str, list[dict[str, Any]]] = {"approved": [], "investigational": []}
    for row, document in zip(rows, store.documents_for(rows, locale), strict=True):
        indication = next(i for i in document["indications"] if i["condition"]["slug"] == slug)
        drugs[row.status].append(
            {
                "slug": document["slug"],
                "name": document["name"],
                "drug_class": document["drug_class"],
                "summary": document["summary"],
                "notes": indication["notes"],
                "links": document["links"],
            }
        )
    payload = {
        "slug": condition.slug,
        "name": condition.name,
        "description": condition.description,
        "description_html": _markdown(condition.description),
        "drugs": drugs,
        "links": {"self": f"{API}/conditions/{slug}"},
    }
    return _page_response(request, settings, payload, locale=locale)


def _markdown(text: str | None) -> str | None:
    return render_markdown(text) if text else None


@router.get(
    "/faqs",
    response_model=schemas.FaqPage,
    summary="FAQs across published drugs (for portals)",
    responses=problem_responses(400, 404, 422),
)
def list_faqs(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    drug: Annotated[
        str | None, Query(pattern=SLUG_PATTERN, max_length=100, description="Only this drug's FAQs.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Every published FAQ, by drug name then the drug's order."""
    rows = delivery.published_rows(conn, slug=drug)
    faqs = [
        {
            **faq,
            "drug": {"slug": document["slug"], "name": document["name"], "links": document["links"]},
            "disclaimer": document["disclaimer"],
        }
        for document in store.documents_for(rows, locale)
        for faq in document["faqs"]
    ]
    page, next_cursor = delivery.offset_page(faqs, kind="faqs", limit=limit, cursor=cursor)
    return _page_response(
        request, settings, {"items": page, "next_cursor": next_cursor, "total": len(faqs)}, locale=locale
    )


@router.get(
    "/support-resources",
    response_model=schemas.ResourcePage,
    summary="Support resources (all, by category, or for one drug)",
    responses=problem_responses(400, 404, 422),
)
def list_support_resources(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    category: Annotated[
        Literal["support-group", "financial-assistance", "educational", "nutrition", "other"] | None,
        Query(description="Only this category."),
    ] = None,
    drug: Annotated[
        str | None,
        Query(pattern=SLUG_PATTERN, max_length=100, description="Resources for this drug (and global ones)."),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Support groups, financial assistance, educational and nutrition resources."""
    if drug is None:
        resources = [render_resource(r) for r in delivery.list_resources(conn, category=category)]
    else:
        document = _document(store, drug, locale)
        linked = {r["slug"] for r in document["support_resources"]}
        resources = document["support_resources"] + [
            render_resource(r) for r in delivery.global_resources(conn) if r["slug"] not in linked
        ]
        resources = [r for r in resources if category in (None, r["category"])]
    page, next_cursor = delivery.offset_page(resources, kind="resources", limit=limit, cursor=cursor)
    return _page_response(
        request, settings, {"items": page, "next_cursor": next_cursor, "total": len(resources)}
    )
