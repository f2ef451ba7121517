"""`/api/v1/admin/drugs/{slug}/…`: the publishing workflow and the revision history of a drug."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Path, Query, Response
from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from app.auth.dependencies import ContentReader, ContentWriter, Publisher
from app.core.concurrency import SentIfMatch, check_etag
from app.core.db import utcnow
from app.core.deps import ReadSession, SettingsDep, WriteSession
from app.core.errors import problem_responses
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, cursor_id, encode_cursor
from app.core.routing import GuardedRouter
from app.core.types import NOT_NULL, SLUG_PATTERN, Name, ReadModel, Reason, WriteModel
from app.drugs.models import Drug
from app.drugs.schemas import DrugRead, drug_etag, drug_url
from app.drugs.service import AGGREGATE_OPTIONS, AGGREGATE_PARTS, DrugNotFound
from app.idempotency.service import Idempotent
from app.publishing import service as publishing
from app.publishing import workflow
from app.revisions.diff import diff_documents
from app.revisions.models import DrugRevision

router = GuardedRouter(prefix="/drugs", tags=["admin: workflow and revisions"])

SlugPath = Annotated[str, Path(pattern=SLUG_PATTERN, max_length=100, description="The drug's slug.")]
Number = Annotated[int, Path(ge=1, le=2**31 - 1, description="The revision's number (1, 2, …).")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (max {MAX_LIMIT}).")]

READ_PROBLEMS = problem_responses(401, 403, 404, 422)
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 412, 413, 422, 503)


def _required_by_the_gate(schema: dict[str, Any]) -> None:
    schema["required"] = sorted({*schema.get("required", ()), "reviewed_by", "next_review_due"})


class PublishIn(WriteModel):
    """The reviewer's sign-off: who reviewed, when to review again (after today), and why."""

    # `reviewed_by` and `next_review_due` are documented as required, but validated by the publish
    # gate, which reports them missing together with what the drug itself lacks (one 422).
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra=_required_by_the_gate
    )

    reviewed_by: Annotated[Name | None, NOT_NULL] = Field(
        default=None, description="Who clinically reviewed this version."
    )
    next_review_due: Annotated[dt.date | None, NOT_NULL] = Field(
        default=None, description="When it must be reviewed again (after today)."
    )
    reason: Reason = Field(description="What changed and why (kept on the revision).")


class RevisionSummary(ReadModel):
    number: int
    message: str
    author: str | None
    created_at: dt.datetime
    status: str
    live: bool = Field(description="This revision is what the public sees now.")


class RevisionPage(ReadModel):
    items: list[RevisionSummary]
    next_cursor: str | None


class RevisionRead(RevisionSummary):
    document: dict[str, Any] = Field(description="The complete drug document of this revision.")


class RevisionChange(ReadModel):
    path: str
    op: str = Field(description="`added`, `removed` or `changed`.")
    before: Any
    after: Any


class RevisionDiff(ReadModel):
    revision: int
    against: int | None
    changes: list[RevisionChange]


def drug_read(session: Session, drug: Drug, response: Response) -> DrugRead:
    """The admin view of a drug, with what the public sees compared to the working draft."""
    if sa.inspect(drug).unloaded & AGGREGATE_PARTS:
        # Recording a revision leaves the collections unloaded (`app.audit.service.revise`).
        drug = session.scalars(sa.select(Drug).where(Drug.id == drug.id).options(*AGGREGATE_OPTIONS)).one()
    read = DrugRead.of(drug)
    live_id = publishing.live_revision_id(session, drug.id)
    latest = publishing.latest_revision(session, drug.id)
    read.latest_revision = latest.number if latest else None
    if live_id is not None:
        read.live_revision = session.scalar(sa.select(DrugRevision.number).where(DrugRevision.id == live_id))
    read.has_unpublished_changes = latest is not None and latest.id != live_id
    response.headers["ETag"] = drug_etag(drug)
    return read


def _summary(revision: DrugRevision, live_id: int | None, cls: Any = RevisionSummary) -> Any:
    extra = {"document": revision.document} if cls is RevisionRead else {}
    return cls(
        number=revision.number,
        message=revision.message,
        author=revision.author,
        created_at=revision.created_at,
        status=revision.document["drug"].get("status", "draft"),
        live=revision.id == live_id,
        **extra,
    )


def _drug_any(session: Session, slug: str) -> Drug:
    """The drug by slug, deleted ones included (their history stays readable and restorable)."""
    drug = session.scalars(
        sa.select(Drug).where(Drug.slug == slug).order_by(Drug.deleted_at.is_not(None))
    ).first()
    if drug is None:
        raise DrugNotFound(f"No drug with slug {slug!r}.")
    return drug


def _lock(session: Session, slug: str, if_match: str | None, *, include_deleted: bool = False) -> Drug:
    """The drug's row, locked for the action; 412 if the request sent an `If-Match` that is not current."""
    drug = workflow.lock_drug(session, slug, include_deleted=include_deleted)
    if if_match is not None:
        check_etag(if_match, drug_etag(drug))
    return drug


@router.post("/{slug}/submit", response_model=DrugRead, summary="Submit for review", responses=WRITE_PROBLEMS)
def submit(
    _: ContentWriter, slug: SlugPath, if_match: SentIfMatch, session: WriteSession, response: Response
) -> DrugRead:
    """`draft` (or `published` with changes, or `archived`) → `in_review`. Optional `X-Change-Reason`;
    optional `If-Match` with the drug's ETag (`412` if the draft changed since)."""
    drug = _lock(session, slug, if_match)
    from app.audit.service import actor_of

    workflow.submit(session, drug, reason=actor_of(session).reason)
    return drug_read(session, drug, response)


@router.post(
    "/{slug}/publish",
    response_model=DrugRead,
    summary="Publish (reviewer sign-off)",
    dependencies=[Idempotent],
    responses=WRITE_PROBLEMS,
)
def publish(
    _: Publisher,
    slug: SlugPath,
    body: PublishIn,
    if_match: SentIfMatch,
    session: WriteSession,
    settings: SettingsDep,
    response: Response,
) -> DrugRead:
    """Make the working draft what the public sees, atomically.

    Refused with 422 listing each missing item (a source, a disclaimer, the reviewer, a future
    `next_review_due`), and with 403 when the publishing key is the only author of the changes since
    the last publish (unless `DRUGINFO_ALLOW_SINGLE_PERSON_PUBLISH`). Send `If-Match` with the drug's
    ETag to publish exactly the draft you reviewed (`412` if it changed since).
    """
    drug = _lock(session, slug, if_match)
    workflow.publish(
        session,
        drug,
        reviewed_by=body.reviewed_by,
        next_review_due=body.next_review_due,
        reason=body.reason,
        allow_single_person=settings.allow_single_person_publish,
        today=utcnow().date(),
    )
    return drug_read(session, drug, response)


@router.post("/{slug}/unpublish", response_model=DrugRead, summary="Unpublish", responses=WRITE_PROBLEMS)
def unpublish(
    _: Publisher, slug: SlugPath, if_match: SentIfMatch, session: WriteSession, response: Response
) -> DrugRead:
    """Remove the drug from every public endpoint; the working draft returns to `draft`.

    Optional `If-Match` with the drug's ETag (`412` if the draft changed since)."""
    drug = _lock(session, slug, if_match)
    from app.audit.service import actor_of

    workflow.unpublish(session, drug, archive=False, reason=actor_of(session).reason)
    return drug_read(session, drug, response)


@router.post("/{slug}/archive", response_model=DrugRead, summary="Archive", responses=WRITE_PROBLEMS)
def archive(
    _: Publisher, slug: SlugPath, if_match: SentIfMatch, session: WriteSession, response: Response
) -> DrugRead:
    """Remove the drug from every public endpoint and mark it `archived`.

    Optional `If-Match` with the drug's ETag (`412` if the draft changed since)."""
    drug = _lock(session, slug, if_match)
    from app.audit.service import actor_of

    workflow.unpublish(session, drug, archive=True, reason=actor_of(session).reason)
    return drug_read(session, drug, response)


@router.get(
    "/{slug}/revisions",
    response_model=RevisionPage,
    summary="List a drug's revisions",
    responses=READ_PROBLEMS,
)
def list_revisions(
    _: ContentReader,
    slug: SlugPath,
    session: ReadSession,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> RevisionPage:
    """Newest first."""
    drug = _drug_any(session, slug)
    query = sa.select(DrugRevision).where(DrugRevision.drug_id == drug.id)
    if cursor:
        query = query.where(DrugRevision.number < cursor_id(cursor, kind="revisions", key="before"))
    rows = list(session.scalars(query.order_by(DrugRevision.number.desc()).limit(limit + 1)))
    live_id = publishing.live_revision_id(session, drug.id)
    more = len(rows) > limit
    rows = rows[:limit]
    return RevisionPage(
        items=[_summary(r, live_id) for r in rows],
        next_cursor=encode_cursor({"k": "revisions", "before": rows[-1].number}) if more else None,
    )


@router.get(
    "/{slug}/revisions/{number}",
    response_model=RevisionRead,
    summary="Show a revision",
    responses=READ_PROBLEMS,
)
def get_revision(_: ContentReader, slug: SlugPath, number: Number, session: ReadSession) -> Any:
    drug = _drug_any(session, slug)
    revision = workflow.get_revision(session, drug, number)
    return _summary(revision, publishing.live_revision_id(session, drug.id), RevisionRead)


@router.get(
    "/{slug}/revisions/{number}/diff",
    response_model=RevisionDiff,
    summary="Diff two revisions",
    responses=READ_PROBLEMS,
)
def diff_revision(
    _: ContentReader,
    slug: SlugPath,
    number: Number,
    session: ReadSession,
    against: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="Compare with this revision (default: the one before)."),
    ] = None,
) -> RevisionDiff:
    """Field-level changes from `against` to `number` (paths name list items by their stable keys)."""
    drug = _drug_any(session, slug)
    revision = workflow.get_revision(session, drug, number)
    other_number = against if against is not None else (number - 1 if number > 1 else None)
    before = workflow.get_revision(session, drug, other_number).document if other_number else {}
    return RevisionDiff(
        revision=number,
        against=other_number,
        changes=[RevisionChange(**c) for c in diff_documents(before, revision.document)],
    )


@router.post(
    "/{slug}/revisions/{number}/restore",
    response_model=DrugRead,
    summary="Restore a revision",
    responses=WRITE_PROBLEMS,
)
def restore_revision(
    _: ContentWriter,
    slug: SlugPath,
    number: Number,
    if_match: SentIfMatch,
    session: WriteSession,
    response: Response,
) -> DrugRead:
    """The working draft becomes the revision's document; a new revision records it (history is kept).

    Also undoes a (soft) delete. What the public sees changes only when the draft is published again.
    Send `If-Match` with the drug's ETag so that edits made since you looked are not undone (`412`).
    """
    drug = _lock(session, _drug_any(session, slug).slug, if_match, include_deleted=True)
    from app.audit.service import actor_of

    workflow.restore(
        session, drug, workflow.get_revision(session, drug, number), reason=actor_of(session).reason
    )
    response.headers["Content-Location"] = drug_url(drug.slug)
    return drug_read(session, drug, response)


reviews_router = GuardedRouter(tags=["admin: workflow and revisions"])


class ReviewItem(ReadModel):
    slug: str
    name: str
    status: str
    reviewed_by: str | None
    last_reviewed: dt.date | None
    next_review_due: dt.date | None
    published: bool


class ReviewsDashboard(ReadModel):
    today: dt.date
    due_within_days: int
    overdue: list[ReviewItem] = Field(description="Published, with `next_review_due` in the past.")
    due_soon: list[ReviewItem] = Field(description="Published, due within `due_within_days`.")
    never_reviewed: list[ReviewItem] = Field(description="Published without review metadata.")
    waiting_for_review: list[ReviewItem] = Field(description="Working drafts in `in_review`.")
    missing_sources: list[ReviewItem] = Field(description="Drugs that cite no source (cannot be published).")


@reviews_router.get(
    "/reviews",
    response_model=ReviewsDashboard,
    summary="Reviews due, waiting, and gaps",
    responses=READ_PROBLEMS,
)
def reviews(
    _: ContentReader,
    session: ReadSession,
    due_within_days: Annotated[int, Query(ge=0, le=3650, description="What counts as due soon.")] = 30,
) -> ReviewsDashboard:
    """Editors' to-do list: overdue and soon-due reviews, drafts waiting for review, drugs without sources."""
    from app.drugs.models import DrugSource
    from app.publishing.models import PublishedDrug

    today = utcnow().date()
    live = sa.select(PublishedDrug.drug_id).where(PublishedDrug.drug_id == Drug.id).exists()
    has_source = sa.select(DrugSource.id).where(DrugSource.drug_id == Drug.id).exists()
    rows = session.execute(
        sa.select(Drug, live.label("published"), has_source.label("has_source"))
        .where(Drug.deleted_at.is_(None))
        .order_by(Drug.next_review_due.is_(None), Drug.next_review_due, Drug.slug)
    ).all()
    board = ReviewsDashboard(
        today=today,
        due_within_days=due_within_days,
        overdue=[],
        due_soon=[],
        never_reviewed=[],
        waiting_for_review=[],
        missing_sources=[],
    )
    horizon = today + dt.timedelta(days=due_within_days)
    for drug, published, has_sources in rows:
        item = ReviewItem(
            slug=drug.slug,
            name=drug.name,
            status=drug.status,
            reviewed_by=drug.reviewed_by,
            last_reviewed=drug.last_reviewed,
            next_review_due=drug.next_review_due,
            published=bool(published),
        )
        if published and drug.next_review_due is None:
            board.never_reviewed.append(item)
        elif published and drug.next_review_due is not None and drug.next_review_due < today:
            board.overdue.append(item)
        elif published and drug.next_review_due is not None and drug.next_review_due <= horizon:
            board.due_soon.append(item)
        if drug.status == "in_review":
            board.waiting_for_review.append(item)
        if not has_sources:
            board.missing_sources.append(item)
    return board
