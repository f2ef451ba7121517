"""`/api/v1/admin/drugs`: the working draft of drugs and their parts (HTTP only; rules live in `editing`).

Part routes are generated from `editing.PART_KINDS`, one identical set per kind (sections, FAQs,
side effects, monitoring, indications, combinations, stories). This module deliberately has no
`from __future__ import annotations`: the generated handlers annotate their bodies with the kind's
schema classes, which FastAPI must see as real classes.
"""

from typing import Annotated, Any

from fastapi import Path, Query, Response
from pydantic import create_model
from starlette.convertors import StringConvertor, register_url_convertor

from app.auth.dependencies import ContentReader, ContentWriter
from app.core.concurrency import IfMatch
from app.core.deps import ReadSession, WriteSession
from app.core.errors import ProblemField, ValidationFailed, problem_responses
from app.core.http import model_response
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_slug, encode_cursor
from app.core.routing import GuardedRouter
from app.core.types import SLUG_PATTERN
from app.drugs import editing
from app.drugs.editing import PART_KINDS, PartKind
from app.drugs.schemas import (
    DraftDrugPage,
    DraftDrugSummary,
    DrugCreate,
    DrugRead,
    DrugUpdate,
    OrderRead,
    PartOrder,
    drug_url,
)
from app.idempotency.service import Idempotent
from app.resources import service as resource_service
from app.resources.schemas import (
    ResourceLinkIn,
    ResourceLinkList,
    ResourceLinkRead,
    ResourceOrder,
    ResourceOrderRead,
    resource_url,
)

router = GuardedRouter(prefix="/drugs", tags=["admin: drugs"])


class LinkedResourceConvertor(StringConvertor):
    """A linked resource's slug in a drug's URL: any segment but `order` (that names the links' order)."""

    regex = "(?!order(?:/|$))[^/]+"


# The routing itself keeps `.../order` apart from an item's URL, so a method the order does not take
# is a 405 with the order's `Allow` (an item route taking `order` for its id answered 428 or 422).
register_url_convertor("linked_resource", LinkedResourceConvertor())

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="The drug's slug.")]
ResourceSlugPath = Annotated[
    str, Path(pattern=SLUG_PATTERN, max_length=100, description="The support resource's slug.")
]
PartId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The item's id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT}).")]

READ_PROBLEMS = problem_responses(401, 403, 404, 422)
CREATE_PROBLEMS = problem_responses(401, 403, 404, 409, 413, 422, 503)
CHANGE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422, 428, 503)


def _drug_response(session: Any, response: Response, drug: Any) -> DrugRead:
    """The drug after a write, with the revision that write records (so `latest_revision` is current)."""
    from app.audit.service import record_pending
    from app.revisions.router import drug_read

    record_pending(session)
    return drug_read(session, drug, response)


@router.get("", response_model=DraftDrugPage, summary="List drugs (working drafts)", responses=READ_PROBLEMS)
def list_drugs(
    _: ContentReader, session: ReadSession, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> DraftDrugPage:
    """Every drug that is not deleted, by slug, whatever its status."""
    after = cursor_slug(cursor, kind="admin-drugs", key="after") if cursor else None
    drugs = editing.list_drugs(session, after_slug=after, limit=limit + 1)
    more = len(drugs) > limit
    drugs = drugs[:limit]
    return DraftDrugPage(
        items=[DraftDrugSummary.of(d) for d in drugs],
        next_cursor=encode_cursor({"k": "admin-drugs", "after": drugs[-1].slug}) if more else None,
    )


@router.post(
    "",
    status_code=201,
    response_model=DrugRead,
    summary="Create a drug",
    responses=CREATE_PROBLEMS,
    dependencies=[Idempotent],
)
def create_drug(_: ContentWriter, body: DrugCreate, session: WriteSession, response: Response) -> DrugRead:
    """A new drug in `draft`; nothing is public until it is published."""
    drug = editing.create_drug(session, body)
    response.headers["Location"] = drug_url(drug.slug)
    return _drug_response(session, response, drug)


@router.get(
    "/{slug}", response_model=DrugRead, summary="Show a drug's working draft", responses=READ_PROBLEMS
)
def get_drug(_: ContentReader, slug: SlugPath, session: ReadSession, response: Response) -> DrugRead:
    """The working draft with every part, each with its `etag` (not necessarily what the public sees).

    `live_revision` and `has_unpublished_changes` tell how it compares with what the public sees.
    """
    from app.revisions.router import drug_read

    return drug_read(session, editing.load_drug(session, slug), response)


@router.patch("/{slug}", response_model=DrugRead, summary="Edit a drug", responses=CHANGE_PROBLEMS)
def update_drug(
    _: ContentWriter,
    slug: SlugPath,
    body: DrugUpdate,
    if_match: IfMatch,
    session: WriteSession,
    response: Response,
) -> DrugRead:
    """Change the drug's own fields; `codes` and `sources`, when sent, replace the old ones."""
    drug = editing.update_drug(
        session, editing.load_drug(session, slug, for_update=True), body, if_match=if_match
    )
    if drug.slug != slug:
        response.headers["Content-Location"] = drug_url(drug.slug)
    return _drug_response(session, response, drug)


@router.delete(
    "/{slug}",
    status_code=204,
    summary="Delete a drug (soft)",
    responses=CHANGE_PROBLEMS,
    response_class=Response,
)
def delete_drug(_: ContentWriter, slug: SlugPath, if_match: IfMatch, session: WriteSession) -> Response:
    """Soft delete of the working draft. What the public sees changes only through the publishing workflow."""
    drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
    editing.delete_drug(session, drug, if_match=if_match)
    return Response(status_code=204)


def _part_router(kind: PartKind[Any, Any]) -> GuardedRouter:
    """GET/POST on the list, GET/PUT on its order, GET/PATCH/DELETE on one item.

    One router per kind: a request is matched against the few routes of its kind only (see
    `app.core.routing`), not against every kind's.
    """
    router = GuardedRouter(prefix="/drugs", tags=["admin: drugs"])
    create_schema = kind.create_schema
    update_schema = kind.update_schema
    read_schema = kind.read_schema
    list_schema = create_model(
        f"Draft{read_schema.__name__.removesuffix('Read')}List",
        items=(list[read_schema], ...),  # type: ignore[valid-type]
        etag=(str, ...),
    )
    base = f"/{{slug}}/{kind.segment}"
    item = base + "/{part_id:int}"
    name = kind.collection

    def item_url(slug: str, part_id: int) -> str:
        return f"{drug_url(slug)}/{kind.segment}/{part_id}"

    @router.get(
        base,
        response_model=list_schema,
        name=f"list_{name}",
        summary=f"List a drug's {kind.label}s",
        responses=READ_PROBLEMS,
    )
    def list_parts(_: ContentReader, slug: SlugPath, session: ReadSession, response: Response) -> Any:
        drug = editing.load_drug(session, slug, with_parts=False)
        items = editing.list_parts(session, drug, kind)
        etag = kind.collection_etag(drug, items)
        response.headers["ETag"] = etag
        return list_schema(items=[kind.read(p) for p in items], etag=etag)

    @router.post(
        base,
        status_code=201,
        response_model=read_schema,
        name=f"create_{name}",
        summary=f"Add a {kind.label}",
        responses=CREATE_PROBLEMS,
        dependencies=[Idempotent],
    )
    def create_part(
        _: ContentWriter,
        slug: SlugPath,
        body: create_schema,  # type: ignore[valid-type]
        session: WriteSession,
    ) -> Any:
        drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
        part = editing.create_part(session, drug, kind, body)
        headers = {"Location": item_url(slug, part.id), "ETag": kind.etag(part)}
        return model_response(kind.read(part), status_code=201, headers=headers)

    @router.get(
        base + "/order",
        response_model=OrderRead,
        name=f"get_{name}_order",
        summary=f"Show the order of a drug's {kind.label}s",
        responses=READ_PROBLEMS,
    )
    def get_order(_: ContentReader, slug: SlugPath, session: ReadSession, response: Response) -> OrderRead:
        drug = editing.load_drug(session, slug, with_parts=False)
        items = editing.list_parts(session, drug, kind)
        etag = kind.collection_etag(drug, items)
        response.headers["ETag"] = etag
        return OrderRead(ids=[p.id for p in items], etag=etag)

    @router.put(
        base + "/order",
        response_model=OrderRead,
        name=f"reorder_{name}",
        summary=f"Reorder a drug's {kind.label}s",
        responses=CHANGE_PROBLEMS,
    )
    def reorder(
        _: ContentWriter,
        slug: SlugPath,
        body: PartOrder,
        if_match: IfMatch,
        session: WriteSession,
        response: Response,
    ) -> OrderRead:
        """Send every id once, in the new order, with `If-Match` = the list's (or order's) ETag."""
        drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
        ordered = editing.reorder_parts(session, drug, kind, body.ids, if_match=if_match)
        etag = kind.collection_etag(drug, ordered)
        response.headers["ETag"] = etag
        return OrderRead(ids=[p.id for p in ordered], etag=etag)

    @router.get(
        item,
        response_model=read_schema,
        name=f"get_{name}_item",
        summary=f"Show a {kind.label}",
        responses=READ_PROBLEMS,
    )
    def get_part(_: ContentReader, slug: SlugPath, part_id: PartId, session: ReadSession) -> Any:
        part = editing.load_part(session, slug, kind, part_id)[1]
        return model_response(kind.read(part), headers={"ETag": kind.etag(part)})

    @router.patch(
        item,
        response_model=read_schema,
        name=f"update_{name}_item",
        summary=f"Edit a {kind.label}",
        responses=CHANGE_PROBLEMS,
    )
    def update_part(
        _: ContentWriter,
        slug: SlugPath,
        part_id: PartId,
        body: update_schema,  # type: ignore[valid-type]
        if_match: IfMatch,
        session: WriteSession,
    ) -> Any:
        drug, part = editing.load_part(session, slug, kind, part_id, for_update=True)
        part = editing.update_part(session, drug, kind, part, body, if_match=if_match)
        return model_response(kind.read(part), headers={"ETag": kind.etag(part)})

    @router.delete(
        item,
        status_code=204,
        response_class=Response,
        name=f"delete_{name}_item",
        summary=f"Delete a {kind.label}",
        responses=CHANGE_PROBLEMS,
    )
    def delete_part(
        _: ContentWriter, slug: SlugPath, part_id: PartId, if_match: IfMatch, session: WriteSession
    ) -> Response:
        drug, part = editing.load_part(session, slug, kind, part_id, for_update=True)
        editing.delete_part(session, drug, kind, part, if_match=if_match)
        return Response(status_code=204)

    return router


part_routers = tuple(_part_router(kind) for kind in PART_KINDS)


# --- links to shared support resources -------------------------------------------------------------

LINKS = "/{slug}/support-resources"


def _link_read(slug: str, link: Any) -> ResourceLinkRead:
    return ResourceLinkRead(
        resource=link.resource.slug,
        title=link.resource.title,
        category=link.resource.category,
        etag=editing.link_etag(link),
        links={
            "self": f"{drug_url(slug)}/support-resources/{link.resource.slug}",
            "resource": resource_url(link.resource.slug),
        },
    )


@router.get(
    LINKS,
    response_model=ResourceLinkList,
    summary="List a drug's linked support resources",
    responses=READ_PROBLEMS,
)
def list_links(
    _: ContentReader, slug: SlugPath, session: ReadSession, response: Response
) -> ResourceLinkList:
    drug = editing.load_drug(session, slug, with_parts=False)
    links = editing.list_links(session, drug)
    etag = editing.links_etag(drug, links)
    response.headers["ETag"] = etag
    return ResourceLinkList(items=[_link_read(slug, link) for link in links], etag=etag)


@router.post(
    LINKS,
    status_code=201,
    response_model=ResourceLinkRead,
    summary="Link a support resource to a drug",
    responses=CREATE_PROBLEMS,
)
def link_resource(
    _: ContentWriter, slug: SlugPath, body: ResourceLinkIn, session: WriteSession, response: Response
) -> ResourceLinkRead:
    drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
    resource = resource_service.find_resource(session, body.resource)
    if resource is None:
        raise ValidationFailed(
            f"No support resource with slug {body.resource!r}.",
            errors=[ProblemField(pointer="/resource", detail="unknown support resource", code="unknown")],
        )
    link = editing.link_resource(session, drug, resource)
    read = _link_read(slug, link)
    response.headers["Location"] = read.links["self"]
    response.headers["ETag"] = read.etag
    return read


@router.get(
    LINKS + "/order",
    response_model=ResourceOrderRead,
    summary="Show the order of a drug's resources",
    responses=READ_PROBLEMS,
)
def get_links_order(
    _: ContentReader, slug: SlugPath, session: ReadSession, response: Response
) -> ResourceOrderRead:
    drug = editing.load_drug(session, slug, with_parts=False)
    links = editing.list_links(session, drug)
    etag = editing.links_etag(drug, links)
    response.headers["ETag"] = etag
    return ResourceOrderRead(slugs=[link.resource.slug for link in links], etag=etag)


@router.put(
    LINKS + "/order",
    response_model=ResourceOrderRead,
    summary="Reorder a drug's support resources",
    responses=CHANGE_PROBLEMS,
)
def reorder_links(
    _: ContentWriter,
    slug: SlugPath,
    body: ResourceOrder,
    if_match: IfMatch,
    session: WriteSession,
    response: Response,
) -> ResourceOrderRead:
    drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
    ordered = editing.reorder_links(session, drug, list(body.slugs), if_match=if_match)
    etag = editing.links_etag(drug, ordered)
    response.headers["ETag"] = etag
    return ResourceOrderRead(slugs=[link.resource.slug for link in ordered], etag=etag)


@router.get(
    LINKS + "/{resource_slug:linked_resource}",
    response_model=ResourceLinkRead,
    summary="Show one link",
    responses=READ_PROBLEMS,
)
def get_link(
    _: ContentReader,
    slug: SlugPath,
    resource_slug: ResourceSlugPath,
    session: ReadSession,
    response: Response,
) -> ResourceLinkRead:
    read = _link_read(
        slug, editing.get_link(session, editing.load_drug(session, slug, with_parts=False), resource_slug)
    )
    response.headers["ETag"] = read.etag
    return read


@router.delete(
    LINKS + "/{resource_slug:linked_resource}",
    status_code=204,
    response_class=Response,
    summary="Unlink a support resource from a drug",
    responses=CHANGE_PROBLEMS,
)
def unlink_resource(
    _: ContentWriter,
    slug: SlugPath,
    resource_slug: ResourceSlugPath,
    if_match: IfMatch,
    session: WriteSession,
) -> Response:
    drug = editing.load_drug(session, slug, for_update=True, with_parts=False)
    editing.unlink_resource(session, drug, editing.get_link(session, drug, resource_slug), if_match=if_match)
    return Response(status_code=204)
