"""The public delivery API (`/api/v1`): published content only, read-only, cacheable."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from starlette.responses import Response

from app.core.deps import ReadConn, SettingsDep
from app.core.errors import InvalidParameters, NotFound, ProblemField, problem_responses
from app.core.locale import fallback_chain
from app.core.markdown import render_markdown
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor
from app.core.routing import GuardedRouter
from app.core.types import QUERY_TEXT_PATTERN, SLUG_PATTERN
from app.delivery import cursors, schemas
from app.delivery import service as delivery
from app.delivery.dependencies import Locale, Store
from app.delivery.render import API, PARTS, localized, render_resource, summary_of
from app.delivery.responses import list_pattern, page_response, parse_list
from app.delivery.store import PublishedStore, select_parts
from app.search import service as search_service
from app.search.query import MAX_QUERY_LENGTH, parse_query

router = GuardedRouter(prefix="/api/v1", tags=["delivery"])

SUMMARY_FIELDS = (
    "slug",
    "name",
    "brand_names",
    "drug_class",
    "summary",
    "codes",
    "updated_at",
    "last_reviewed",
    "locale",
    "links",
)

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="The drug's slug.")]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT}, max {MAX_LIMIT}).")
]
ItemId = Annotated[int, Path(ge=1, le=2**53, description="The item's `id` (as in the drug's document).")]
SearchText = Annotated[
    str | None,
    Query(
        max_length=MAX_QUERY_LENGTH,
        pattern=QUERY_TEXT_PATTERN,
        description='Full-text search (stemmed, per locale): words must all match, `"quoted words"` '
        "match as a phrase, the last word (or one ending in `*`) as a prefix.",
    ),
]
DrugFilter = Annotated[
    str | None, Query(pattern=SLUG_PATTERN, max_length=100, description="Only this drug (slug).")
]


class DrugNotPublished(NotFound):
    code, title = "drug_not_found", "Drug not found"


def _drug_ref(document: dict[str, Any]) -> dict[str, Any]:
    return {"slug": document["slug"], "name": document["name"], "links": document["links"]}


def _ranked(
    conn: ReadConn,
    settings: SettingsDep,
    locale: str,
    q: str,
    *,
    types: frozenset[str] | None = None,
    drug: str | None = None,
) -> list[search_service.Hit]:
    """Every full-text hit for `q` in the locale, best first (for lists that page themselves)."""
    scope = search_service.scope_for(locale, settings.default_locale, types=types, drug_slug=drug)
    hits, _ = search_service.search(conn, parse_query(q), scope, limit=None, snippets=False)
    return hits


@router.get(
    "/drugs",
    response_model=schemas.DrugList,
    summary="List published drugs",
    responses=problem_responses(400, 404, 410, 422),
)
def list_drugs(
    request: Request,
    settings: SettingsDep,
    conn: ReadConn,
    store: Store,
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
    q: SearchText = None,
    sort: Annotated[
        Literal["relevance", "name", "-name", "updated_at", "-updated_at", "last_reviewed", "-last_reviewed"]
        | None,
        Query(description="Order; `-` for descending. Default: `relevance` with `q`, else `name`."),
    ] = None,
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
    chosen = parse_list(fields, SUMMARY_FIELDS, "fields")
    filters = delivery.DrugFilters(condition=condition, drug_class=drug_class, code=code, letter=letter)
    if q is None and sort == "relevance":
        raise InvalidParameters(
            "`sort=relevance` needs a full-text query `q`.",
            errors=[ProblemField(pointer="#/query/sort", detail="relevance needs q", code="needs_q")],
        )
    if q is not None:
        # Before any read: see `cursors.Ranking`.
        ranking = cursors.ranking(
            "drugs-by-relevance", store.content_generation, parse_query(q).key(), filters, locale
        )
        scores: dict[int, float] = {}
        for hit in _ranked(conn, settings, locale, q):
            scores.setdefault(hit.drug_id, hit.score)  # hits come best first
        if sort in (None, "relevance"):
            rows, total, next_cursor = delivery.list_drugs_by_relevance(
                conn, filters, scores, ranking=ranking, limit=limit, cursor=cursor
            )
        else:
            filters = dataclasses.replace(filters, drug_ids=frozenset(scores))
            rows, total, next_cursor = delivery.list_drugs(
                conn, filters, sort=sort, limit=limit, cursor=cursor
            )
    else:
        rows, total, next_cursor = delivery.list_drugs(
            conn, filters, sort=sort or "name", limit=limit, cursor=cursor
        )
    items = []
    for row, document in zip(rows, store.documents_for(rows, locale), strict=True):
        summary = summary_of(document, row.last_reviewed.isoformat() if row.last_reviewed else None)
        if chosen is not None:
            summary = {k: v for k, v in summary.items() if k in chosen or k == "slug"}
        items.append(summary)
    return page_response(request, {"items": items, "next_cursor": next_cursor, "total": total})


def _document(store: PublishedStore, slug: str, locale: str) -> dict[str, Any]:
    document = store.find_document(slug, locale)
    if document is None:
        raise DrugNotPublished(f"No published drug with slug {slug!r}.")
    return document


def _serve_shape(
    request: Request,
    store: PublishedStore,
    slug: str,
    locale: str,
    key: Any,
    shape: Callable[[dict[str, Any]], Any],
) -> Response:
    rendered = store.find_rendered(slug, locale, key, shape)
    if rendered is None:
        raise DrugNotPublished(f"No published drug with slug {slug!r}.")
    return store.answer(request, rendered)


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
    parts = parse_list(include, PARTS, "include")
    key = ("document", tuple(sorted(parts)) if parts is not None else None)
    return _serve_shape(request, store, slug, locale, key, lambda d: select_parts(d, parts))


def _envelope(document: dict[str, Any], items: Any, *, key: str = "items") -> dict[str, Any]:
    return {
        "drug": _drug_ref(document),
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
    def endpoint(request: Request, slug: SlugPath, store: Store, locale: Locale) -> Response:
        return _serve_shape(request, store, slug, locale, part, lambda d: _envelope(d, d[part]))

    endpoint.__doc__ = f"{summary} (with the drug's disclaimer and review metadata)."


_part_endpoint("sections", "sections", schemas.SectionList, "Sections of a drug, in order")
_part_endpoint("faqs", "faqs", schemas.FaqList, "FAQs of a drug, in order")
_part_endpoint("monitoring", "monitoring", schemas.MonitoringList, "What is monitored during treatment")
_part_endpoint(
    "combinations", "combinations", schemas.CombinationList, "Combination therapies including the drug"
)
_part_endpoint("stories", "stories", schemas.StoryList, "Patient stories")


def _part_item_endpoint(path: str, part: str, model: type, noun: str) -> None:
    @router.get(
        f"/drugs/{{slug}}/{path}/{{item_id}}",
        response_model=model,
        summary=f"One {noun} of a drug, by id",
        responses=problem_responses(400, 404, 422),
        name=f"get_drug_{part}_item",
    )
    def endpoint(
        request: Request,
        slug: SlugPath,
        item_id: ItemId,
        store: Store,
        locale: Locale,
    ) -> Response:
        document = _document(store, slug, locale)
        if not any(item["id"] == item_id for item in document[part]):
            raise NotFound(f"Drug {slug!r} has no {noun} with id {item_id}.")

        def shape(d: dict[str, Any]) -> Any:
            return _envelope(d, next(item for item in d[part] if item["id"] == item_id), key="item")

        return _serve_shape(request, store, slug, locale, (part, "item", item_id), shape)

    endpoint.__doc__ = (
        f"One {noun} (the link of a search hit), with the drug's disclaimer and review metadata."
    )


_part_item_endpoint("faqs", "faqs", schemas.FaqItem, "FAQ")
_part_item_endpoint("side-effects", "side_effects", schemas.SideEffectItem, "side effect")
_part_item_endpoint("monitoring", "monitoring", schemas.MonitoringItem, "monitoring item")
_part_item_endpoint("indications", "indications", schemas.IndicationItem, "indication")
_part_item_endpoint("combinations", "combinations", schemas.CombinationItem, "combination therapy")
_part_item_endpoint("stories", "stories", schemas.StoryItem, "patient story")


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
    locale: Locale,
) -> Response:
    """One section by key, e.g. `mechanism`."""
    document = _document(store, slug, locale)
    if not any(s["key"] == key for s in document["sections"]):
        raise NotFound(f"Drug {slug!r} has no section {key!r}.")

    def shape(d: dict[str, Any]) -> Any:
        return _envelope(d, next(s for s in d["sections"] if s["key"] == key), key="item")

    return _serve_shape(request, store, slug, locale, ("section", key), shape)


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
    locale: Locale,
    seriousness: Annotated[
        Literal["common", "serious"] | None, Query(description="Only this seriousness.")
    ] = None,
) -> Response:
    """Side effects as the source states them; filter with `seriousness=`."""

    def shape(d: dict[str, Any]) -> Any:
        return _envelope(d, [e for e in d["side_effects"] if seriousness in (None, e["seriousness"])])

    return _serve_shape(request, store, slug, locale, ("side_effects", seriousness), shape)


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
    locale: Locale,
    status: Annotated[
        Literal["approved", "investigational"] | None, Query(description="Only this status.")
    ] = None,
) -> Response:
    """Indications, filtered with `status=`."""

    def shape(d: dict[str, Any]) -> Any:
        return _envelope(d, [i for i in d["indications"] if status in (None, i["status"])])

    return _serve_shape(request, store, slug, locale, ("indications", status), shape)


@router.get(
    "/drugs/{slug}/support-resources",
    response_model=schemas.SupportResourceList,
    summary="Support resources for a drug (linked ones, then global ones)",
    responses=problem_responses(400, 404, 422),
)
def get_drug_support_resources(
    request: Request, settings: SettingsDep, slug: SlugPath, conn: ReadConn, store: Store, locale: Locale
) -> Response:
    """The resources the drug links to, followed by global resources."""
    document = _document(store, slug, locale)
    chain = fallback_chain(locale, settings.default_locale)
    linked = {r["slug"] for r in document["support_resources"]}
    items = document["support_resources"] + [
        render_resource(r, chain) for r in delivery.global_resources(conn) if r["slug"] not in linked
    ]
    # Global resources can change without a publish of this drug: date it by the generation too.
    changed = max(filter(None, (document["published_at"], store.content_changed_at)))
    representation = store.prepare_json(_envelope(document, items), last_modified=changed)
    return store.answer(request, representation)


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
    locale: Locale,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Conditions by name, with counts of approved and investigational published drugs."""
    chain = fallback_chain(locale, settings.default_locale)
    conditions = delivery.list_conditions(conn)
    page, next_cursor = cursors.offset_page(conditions, kind="conditions", limit=limit, cursor=cursor)
    items = []
    for condition in page:
        text, used = localized(condition, chain)
        items.append(
            {
                "slug": condition["slug"],
                "name": text["name"],
                "description": text["description"],
                "description_html": _markdown(text["description"]),
                "approved_drugs": condition["approved_drugs"],
                "investigational_drugs": condition["investigational_drugs"],
                "locale": used,
                "links": {"self": f"{API}/conditions/{condition['slug']}"},
            }
        )
    return page_response(request, {"items": items, "next_cursor": next_cursor, "total": len(conditions)})


@router.get(
    "/conditions/{slug}",
    response_model=schemas.ConditionDetail,
    summary="A condition and the published drugs for it, approved and investigational",
    responses=problem_responses(400, 404, 422),
)
def get_condition(
    request: Request, settings: SettingsDep, slug: SlugPath, conn: ReadConn, store: Store, locale: Locale
) -> Response:
    """The condition, with its drugs split into approved and investigational."""
    condition = delivery.find_condition(conn, slug)
    if condition is None:
        raise NotFound(f"No condition with slug {slug!r}.")
    text, used = localized(dict(condition._mapping), fallback_chain(locale, settings.default_locale))
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
                "locale": indication["locale"],
                "links": document["links"],
            }
        )
    payload = {
        "slug": condition.slug,
        "name": text["name"],
        "description": text["description"],
        "description_html": _markdown(text["description"]),
        "locale": used,
        "drugs": drugs,
        "links": {"self": f"{API}/conditions/{slug}"},
    }
    return page_response(request, payload)


def _markdown(text: str | None) -> str | None:
    return render_markdown(text) if text else None


def _with_drug(item: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    return {**item, "drug": _drug_ref(document), "disclaimer": document["disclaimer"]}


def _by_drug(
    conn: ReadConn,
    store: PublishedStore,
    locale: str,
    part: str,
    *,
    drug: str | None,
    place: cursors.ItemPlace | None,
) -> list[tuple[Any, dict[str, Any]]]:
    """Items of one part across published drugs, by drug name then the drug's order, with their drug's row."""
    rows = delivery.published_rows(conn, slug=drug, place=place)
    return [
        (row, _with_drug(item, document))
        for row, document in zip(rows, store.documents_for(rows, locale), strict=True)
        for item in document[part]
    ]


def _by_relevance(
    conn: ReadConn,
    store: PublishedStore,
    settings: SettingsDep,
    locale: str,
    part: str,
    *,
    q: str,
    drug: str | None,
    search_type: str,
) -> list[dict[str, Any]]:
    """Items of one part across published drugs that match `q`, best match first."""
    hits = _ranked(conn, settings, locale, q, types=frozenset({search_type}), drug=drug)
    rows = delivery.published_rows(conn, drug_ids=frozenset(hit.drug_id for hit in hits))
    documents = {row.drug_id: doc for row, doc in zip(rows, store.documents_for(rows, locale), strict=True)}
    found = []
    for hit in hits:
        document = documents.get(hit.drug_id)
        item = next((i for i in document[part] if str(i["id"]) == hit.item_id), None) if document else None
        if document is not None and item is not None:
            found.append(_with_drug(item, document))
    return found


def _across_drugs(
    conn: ReadConn,
    store: PublishedStore,
    settings: SettingsDep,
    locale: str,
    part: str,
    *,
    q: str | None,
    drug: str | None,
    search_type: str,
    where: Mapping[str, str | None],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """One page of the items of `part` across drugs whose fields have the values `where` gives (None:
    any): by drug name then the drug's order, paged by keyset; with `q`, best match first, paged
    within one content generation."""
    kind = part.replace("_", "-")

    def kept(item: dict[str, Any]) -> bool:
        return all(value in (None, item[field]) for field, value in where.items())

    if q is None:
        place = cursors.parse_item_place(cursor, kind=kind)
        entries = [e for e in _by_drug(conn, store, locale, part, drug=drug, place=place) if kept(e[1])]
        page, next_cursor = cursors.items_page(entries, kind=kind, place=place, limit=limit)
        return {"items": page, "next_cursor": next_cursor, "total": len(entries)}
    # Before any read: see `cursors.Ranking`.
    query = (parse_query(q).key(), drug, sorted(where.items()), locale)
    ranking = cursors.ranking(f"{kind}-by-relevance", store.content_generation, *query)
    hits = _by_relevance(conn, store, settings, locale, part, q=q, drug=drug, search_type=search_type)
    found = [item for item in hits if kept(item)]
    page, next_cursor = ranking.page(found, limit=limit, cursor=cursor)
    return {"items": page, "next_cursor": next_cursor, "total": len(found)}


@router.get(
    "/faqs",
    response_model=schemas.FaqPage,
    summary="FAQs across published drugs (for portals)",
    responses=problem_responses(400, 404, 410, 422),
)
def list_faqs(
    request: Request,
    settings: SettingsDep,
    conn: ReadConn,
    store: Store,
    locale: Locale,
    q: SearchText = None,
    drug: DrugFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Every published FAQ, by drug name then the drug's order; with `q`, the best matches first."""
    payload = _across_drugs(
        conn,
        store,
        settings,
        locale,
        "faqs",
        q=q,
        drug=drug,
        search_type="faq",
        where={},
        limit=limit,
        cursor=cursor,
    )
    return page_response(request, payload)


@router.get(
    "/side-effects",
    response_model=schemas.SideEffectPage,
    summary="Side effects across published drugs: which drugs list a side effect",
    responses=problem_responses(400, 404, 410, 422),
)
def list_side_effects(
    request: Request,
    conn: ReadConn,
    store: Store,
    settings: SettingsDep,
    locale: Locale,
    q: SearchText = None,
    seriousness: Annotated[
        Literal["common", "serious"] | None, Query(description="Only this seriousness.")
    ] = None,
    drug: DrugFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Each drug's side effects, with the drug; `q` (e.g. `constipation`) finds them by full text."""
    payload = _across_drugs(
        conn,
        store,
        settings,
        locale,
        "side_effects",
        q=q,
        drug=drug,
        search_type="side_effect",
        where={"seriousness": seriousness},
        limit=limit,
        cursor=cursor,
    )
    return page_response(request, payload)


@router.get(
    "/combinations",
    response_model=schemas.CombinationPage,
    summary="Combination therapies across published drugs: which regimens include a drug",
    responses=problem_responses(400, 404, 422),
)
def list_combinations(
    request: Request,
    conn: ReadConn,
    store: Store,
    locale: Locale,
    component: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=QUERY_TEXT_PATTERN,
            description="A component's name or drug slug, case-insensitive (e.g. `dexamethasone`).",
        ),
    ] = None,
    drug: DrugFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """Regimens by drug name then the drug's order; `component=` keeps those that include it."""
    place = cursors.parse_item_place(cursor, kind="combinations")
    wanted = delivery.regimens_with_component(conn, component) if component is not None else None
    rows = delivery.published_rows(
        conn, slug=drug, drug_ids=frozenset(wanted) if wanted is not None else None, place=place
    )
    regimens = [
        (row, _with_drug(combination, document))
        for row, document in zip(rows, store.documents_for(rows, locale), strict=True)
        for combination in document["combinations"]
        if wanted is None or combination["id"] in wanted[row.drug_id]
    ]
    page, next_cursor = cursors.items_page(regimens, kind="combinations", place=place, limit=limit)
    return page_response(request, {"items": page, "next_cursor": next_cursor, "total": len(regimens)})


@router.get(
    "/support-resources",
    response_model=schemas.ResourcePage,
    summary="Support resources (all, by category, or for one drug)",
    responses=problem_responses(400, 404, 422),
)
def list_support_resources(
    request: Request,
    settings: SettingsDep,
    conn: ReadConn,
    store: Store,
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
    chain = fallback_chain(locale, settings.default_locale)
    if drug is None:
        resources = [render_resource(r, chain) for r in delivery.list_resources(conn, category=category)]
    else:
        document = _document(store, drug, locale)
        linked = {r["slug"] for r in document["support_resources"]}
        resources = document["support_resources"] + [
            render_resource(r, chain) for r in delivery.global_resources(conn) if r["slug"] not in linked
        ]
        resources = [r for r in resources if category in (None, r["category"])]
    page, next_cursor = cursors.offset_page(resources, kind="resources", limit=limit, cursor=cursor)
    return page_response(request, {"items": page, "next_cursor": next_cursor, "total": len(resources)})
