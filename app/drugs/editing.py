"""Edits of a drug's working draft (management API). Services flush; the request commits once.

Every write locks the drug's row first (`SELECT ... FOR UPDATE` on PostgreSQL, with the item's row
in the same statement for a write to one item; on SQLite the write transaction already holds the
database lock from `BEGIN IMMEDIATE`), so writes to one drug are serialized and each checks
`If-Match` against fresh data. The mappers' `version_id_col` makes every
UPDATE `... WHERE version = :seen` as well, so even without the lock a lost update is impossible.
Every change to a part also advances the drug's `version` and `updated_at`.

A part edit loads only the drug's row and the parts it needs (not the whole aggregate), and keeps
the drug's document valid by the same rules as `DrugIn`: each item validated by its bundle schema,
natural keys unique within the drug, and no more items than a document may hold.

The public never sees any of this until publish: these functions touch draft tables only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, object_session, selectinload
from sqlalchemy.orm.attributes import flag_modified, set_committed_value

from app.audit import service as audit
from app.bundle.schemas import (
    CombinationIn,
    ComponentIn,
    DrugIn,
    FaqIn,
    IndicationIn,
    MonitoringIn,
    PersonIn,
    SectionIn,
    SideEffectIn,
    SourceIn,
    StoryIn,
)
from app.conditions.models import Condition
from app.core.concurrency import check_etag, collection_etag, row_etag
from app.core.db import utcnow, write_row
from app.core.errors import Conflict, NotFound, ProblemField, ValidationFailed, validation_problem_fields
from app.drugs import schemas
from app.drugs.models import (
    Combination,
    CombinationComponent,
    Drug,
    DrugCode,
    DrugSource,
    Faq,
    Indication,
    MonitoringItem,
    PatientStory,
    Section,
    SideEffect,
)
from app.drugs.service import AGGREGATE_OPTIONS, DrugNotFound, stored_translations
from app.resources.models import DrugSupportResource, SupportResource

PartT = TypeVar("PartT", bound=Any)
InT = TypeVar("InT", bound=BaseModel)


class PartNotFound(NotFound):
    code, title = "part_not_found", "Not found"


MAX_LINKS = 100  # DrugIn.support_resources


class DocumentInvalid(Conflict):
    code, title = "document_invalid", "The drug's document would become invalid"


# --- shared helpers --------------------------------------------------------------------------------


def merge(schema: type[InT], current: InT, changes: BaseModel) -> InT:
    """The current state with the sent fields applied, validated as a whole by the create schema."""
    data = {**current.model_dump(), **changes.model_dump(exclude_unset=True)}
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        fields = validation_problem_fields([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        raise ValidationFailed(
            "; ".join(f"{f.pointer}: {f.detail}" for f in fields[:5]), errors=fields
        ) from exc


def conflict(pointer: str, detail: str) -> Conflict:
    return Conflict(detail, errors=[ProblemField(pointer=pointer, detail=detail, code="duplicate")])


def refuse_slug_change_in_use(published_by: Sequence[str]) -> None:
    """A shared record keeps its slug while published documents link to it by that slug: a rename
    would leave their links pointing nowhere until each drug is published again."""
    if published_by:
        detail = (
            f"Published drugs link to this record by its slug: {', '.join(published_by)}. Renaming it "
            "would break those links: unpublish them first, or create a record with the new slug."
        )
        raise Conflict(detail, errors=[ProblemField(pointer="/slug", detail=detail, code="in_use")])


def drug_changed(drug: Drug, piece: str = audit.EVERYTHING) -> None:
    """The drug's document changed (in `piece`: a part list, or "drug" for its own fields): its
    version and `updated_at` advance.

    Every write to a drug or its parts (create, edit, reorder, link, delete) ends here, inside the
    request's transaction, before the final flush: the one place where a revision and an audit
    entry per write belong too.
    """
    session = object_session(drug)
    state = sa.inspect(drug)
    version = drug.version or 0
    if session is not None and state.persistent and not state.modified:
        # Only the version and time change (a part was edited): written now, without the unit of work.
        write_row(session, drug, {"updated_at": utcnow()})
    else:
        # Touching the row makes its UPDATE advance `version` (the mapper's version_id_col).
        drug.updated_at = utcnow()
    # The revision (complete document) and audit entry are recorded once, before the commit.
    if session is not None:
        audit.register_change(session, drug, piece, version=version)


def load_drug(session: Session, slug: str, *, for_update: bool = False, with_parts: bool = True) -> Drug:
    """The working draft (with every part unless told otherwise); `for_update` locks its row."""
    drug = session.scalars(_drug_by_slug(for_update, with_parts), {"slug": slug}).one_or_none()
    if drug is None:
        raise DrugNotFound(f"No drug with slug {slug!r}.")
    return drug


@functools.cache
def _drug_by_slug(for_update: bool, with_parts: bool) -> sa.Select[Drug]:
    # Built once per variant (the slug is bound): every admin request about a drug runs one, and
    # building and hashing a statement costs about what SQLite takes to answer it.
    query = sa.select(Drug).where(Drug.slug == sa.bindparam("slug"), Drug.deleted_at.is_(None))
    if with_parts:
        query = query.options(*AGGREGATE_OPTIONS)
    if for_update:
        query = query.with_for_update(of=Drug)
    return query


def list_drugs(session: Session, *, after_slug: str | None, limit: int) -> list[Drug]:
    query = sa.select(Drug).where(Drug.deleted_at.is_(None)).order_by(Drug.slug).limit(limit)
    if after_slug is not None:
        query = query.where(Drug.slug > after_slug)
    return list(session.scalars(query))


# --- the drug itself -------------------------------------------------------------------------------


def drug_create_of(drug: Drug) -> schemas.DrugCreate:
    return schemas.DrugCreate(
        slug=drug.slug,
        name=drug.name,
        brand_names=list(drug.brand_names),
        drug_class=drug.drug_class,
        summary=drug.summary,
        codes={c.system: c.code for c in drug.codes},
        disclaimer=drug.disclaimer,
        sources=[
            SourceIn(title=s.title, publisher=s.publisher, url=s.url, accessed=s.accessed, note=s.note)
            for s in drug.sources
        ],
    )


def _sources(data: Sequence[SourceIn]) -> list[DrugSource]:
    return [
        DrugSource(
            position=i,
            title=s.title,
            publisher=s.publisher,
            url=str(s.url) if s.url else None,
            accessed=s.accessed,
            note=s.note,
        )
        for i, s in enumerate(data)
    ]


def _slug_taken(session: Session, slug: str) -> bool:
    return session.scalar(sa.select(Drug.id).where(Drug.slug == slug)) is not None


def create_drug(session: Session, data: schemas.DrugCreate) -> Drug:
    """A new drug whose working draft starts as `draft` (nothing public)."""
    if _slug_taken(session, data.slug):
        raise conflict("/slug", f"A drug (possibly deleted) already uses the slug {data.slug!r}.")
    drug = Drug(
        slug=data.slug,
        name=data.name,
        brand_names=list(data.brand_names),
        drug_class=data.drug_class,
        summary=data.summary,
        disclaimer=data.disclaimer,
        status="draft",
        translations={},
        codes=[DrugCode(system=system, code=code) for system, code in data.codes.items()],
        sources=_sources(data.sources),
    )
    for collection in ("sections", "faqs", "side_effects", "monitoring", "indications", "combinations",
                       "stories", "resource_links"):  # fmt: skip
        setattr(drug, collection, [])
    session.add(drug)
    drug_changed(drug)
    drug.created_at = drug.updated_at
    session.flush()
    return drug


def update_drug(session: Session, drug: Drug, changes: schemas.DrugUpdate, *, if_match: str) -> Drug:
    """Apply a partial edit of the drug's own fields, if the caller saw the current version."""
    check_etag(if_match, schemas.drug_etag(drug))
    current = drug_create_of(drug)
    data = merge(schemas.DrugCreate, current, changes)
    if data == current:
        return drug
    if data.slug != drug.slug and _slug_taken(session, data.slug):
        raise conflict("/slug", f"A drug (possibly deleted) already uses the slug {data.slug!r}.")
    # Child rows first: their intermediate flushes must not carry the drug's own UPDATE, so that
    # the drug's version advances exactly once per request.
    if data.codes != current.codes:
        drug.codes.clear()
        session.flush()  # the (drug, system) unique key: old rows go before new ones come
        drug.codes.extend(DrugCode(system=system, code=code) for system, code in data.codes.items())
    if data.sources != current.sources:
        drug.sources.clear()
        session.flush()
        drug.sources.extend(_sources(data.sources))
    drug.slug = data.slug
    drug.name = data.name
    drug.brand_names = list(data.brand_names)
    drug.drug_class = data.drug_class
    drug.summary = data.summary
    drug.disclaimer = data.disclaimer
    drug_changed(drug, "drug")
    session.flush()
    return drug


def delete_drug(session: Session, drug: Drug, *, if_match: str) -> None:
    """Soft delete: the draft disappears from the admin API; rows (and history) are kept."""
    check_etag(if_match, schemas.drug_etag(drug))
    drug.deleted_at = utcnow()
    drug_changed(drug, "drug")
    session.flush()


# --- parts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartKind(Generic[PartT, InT]):
    """How one kind of ordered drug part is loaded, read, written and checked."""

    collection: str  # attribute on Drug and key in the document: "side_effects"
    segment: str  # URL segment: "side-effects"
    label: str  # "side effect"
    model: type[PartT]
    create_schema: type[InT]
    update_schema: type[BaseModel]
    read_schema: Any  # a PartRead subclass with `of(part)`
    to_in: Callable[[PartT], InT]
    # How an item's data is written: as plain column values (`columns`), or, for kinds that refer
    # to other rows (a condition, component drugs), by a function that sets them on the item.
    columns: Callable[[InT], dict[str, Any]] | None = None
    write: Callable[[Session, PartT, InT], None] | None = None
    # The natural key that must be unique within one drug, and the body field that holds it.
    unique: tuple[str, Callable[[InT], str]] | None = None
    load_options: tuple[Any, ...] = ()  # what `to_in` and `read` need loaded

    @property
    def max_items(self) -> int:
        """As many as a drug document may hold (the bundle's `DrugIn` bound)."""
        bounds = [
            m.max_length for m in DrugIn.model_fields[self.collection].metadata if hasattr(m, "max_length")
        ]
        return int(bounds[0])

    @functools.cached_property
    def by_id(self) -> sa.Select[Any]:
        """One item by its id and its drug's (`part_id`, `drug_id` bound), built once (see `load_drug`)."""
        model: Any = self.model
        return (
            sa.select(model)
            .where(model.id == sa.bindparam("part_id"), model.drug_id == sa.bindparam("drug_id"))
            .options(*self.load_options)
        )

    @functools.cached_property
    def with_drug(self) -> dict[bool, sa.Select[Any]]:
        """One item (`part_id`) with its drug (`slug`, not deleted); `True`: the drug's row locked."""
        model: Any = self.model
        query = (
            sa.select(Drug, model)
            .join(model, model.drug_id == Drug.id)
            .where(
                Drug.slug == sa.bindparam("slug"),
                Drug.deleted_at.is_(None),
                model.id == sa.bindparam("part_id"),
            )
            .options(*self.load_options)
        )
        # Both rows locked: on PostgreSQL a statement that waited for a lock reads the rows it locks
        # as they are after the wait, the others as they were before it (a stale item would pass
        # `If-Match` and fail its UPDATE without the current ETag).
        return {False: query, True: query.with_for_update(of=(Drug, model))}

    def etag(self, part: PartT) -> str:
        return row_etag(self.model.__tablename__, part.id, part.version)

    def current(self, part: PartT) -> InT:
        """The item as its create schema holds it, translations included: what an edit is merged into."""
        data = self.to_in(part)
        translations = getattr(part, "translations", None)
        if not translations:
            return data
        return self.create_schema.model_validate({**data.model_dump(), "translations": translations})

    def collection_etag(self, drug: Drug, items: Sequence[PartT]) -> str:
        return collection_etag(
            f"{self.model.__tablename__}-order", drug.id, ((p.id, p.version) for p in items)
        )

    def read(self, part: PartT) -> Any:
        return self.read_schema.of(part)

    def fill(self, session: Session, part: PartT, data: InT) -> None:
        """Set the item's content from `data` (its translations aside), to be flushed by the ORM."""
        if self.columns is not None:
            for key, value in self.columns(data).items():
                setattr(part, key, value)
        elif self.write is not None:
            self.write(session, part, data)


def list_parts(session: Session, drug: Drug, kind: PartKind[PartT, Any]) -> list[PartT]:
    """The drug's items of one kind, in order."""
    model: Any = kind.model
    return list(
        session.scalars(
            sa.select(model)
            .where(model.drug_id == drug.id)
            .order_by(model.position, model.id)
            .options(*kind.load_options)
        )
    )


def load_part(
    session: Session, slug: str, kind: PartKind[PartT, Any], part_id: int, *, for_update: bool = False
) -> tuple[Drug, PartT]:
    """The drug (its row locked with `for_update`, as `load_drug`) and one of its items, in one query.

    Every request about one item runs it: one statement through the ORM instead of two. A miss
    asks again item by item, to say which of the two is missing (404 `drug_not_found` or the
    item's own code)."""
    found = session.execute(kind.with_drug[for_update], {"slug": slug, "part_id": part_id}).one_or_none()
    if found is None:
        drug = load_drug(session, slug, for_update=for_update, with_parts=False)  # 404 without the drug
        return drug, get_part(session, drug, kind, part_id)
    drug, part = found
    return drug, part


def get_part(session: Session, drug: Drug, kind: PartKind[PartT, Any], part_id: int) -> PartT:
    part: PartT | None = session.scalars(kind.by_id, {"part_id": part_id, "drug_id": drug.id}).one_or_none()
    if part is None:
        error = PartNotFound(f"Drug {drug.slug!r} has no {kind.label} with id {part_id}.")
        error.code = f"{kind.model.__tablename__}_not_found"
        raise error
    return part


def _resolve_condition(session: Session, slug: str) -> Condition:
    condition = session.scalars(sa.select(Condition).where(Condition.slug == slug)).one_or_none()
    if condition is None:
        raise ValidationFailed(
            f"Unknown condition {slug!r}; create it first under /api/v1/admin/conditions.",
            errors=[ProblemField(pointer="/condition", detail=f"unknown condition {slug!r}", code="unknown")],
        )
    return condition


def _resolve_component_drugs(session: Session, components: Sequence[ComponentIn]) -> dict[str, Drug]:
    slugs = {c.drug for c in components if c.drug}
    found = {
        d.slug: d
        for d in session.scalars(sa.select(Drug).where(Drug.slug.in_(slugs), Drug.deleted_at.is_(None)))
    }
    problems = [
        ProblemField(pointer=f"/components/{i}/drug", detail=f"unknown drug {c.drug!r}", code="unknown")
        for i, c in enumerate(components)
        if c.drug and c.drug not in found
    ]
    if problems:
        raise ValidationFailed("A component names a drug that does not exist.", errors=problems)
    return found


def _section_columns(data: SectionIn) -> dict[str, Any]:
    return {"key": data.key, "title": data.title, "body": data.body}


def _faq_columns(data: FaqIn) -> dict[str, Any]:
    return {"question": data.question, "answer": data.answer, "tags": list(data.tags)}


def _side_effect_columns(data: SideEffectIn) -> dict[str, Any]:
    return {
        "name": data.name,
        "seriousness": data.seriousness,
        "description": data.description,
        "management_tips": list(data.management_tips),
        "urgency": data.urgency,
        "when_to_contact_care_team": data.when_to_contact_care_team,
    }


def _monitoring_columns(data: MonitoringIn) -> dict[str, Any]:
    return {"name": data.name, "purpose": data.purpose, "frequency": data.frequency}


def _write_indication(session: Session, part: Indication, data: IndicationIn) -> None:
    part.condition = _resolve_condition(session, data.condition)
    part.status, part.notes = data.status, data.notes


def _write_combination(session: Session, part: Combination, data: CombinationIn) -> None:
    drugs = _resolve_component_drugs(session, data.components)
    part.name, part.rationale, part.notes = data.name, data.rationale, data.notes
    if part.id is not None:
        part.components.clear()
        session.flush()  # the (combination, name) unique key: old rows go before new ones come
    part.components = [
        CombinationComponent(position=j, name=k.name, role=k.role, drug=drugs[k.drug] if k.drug else None)
        for j, k in enumerate(data.components)
    ]


def _story_columns(data: StoryIn) -> dict[str, Any]:
    return {
        "title": data.title,
        "body": data.body,
        "person_name": data.person.name,
        "person_age": data.person.age,
        "person_occupation": data.person.occupation,
    }


def _casefold(field: str) -> Callable[[Any], str]:
    return lambda data: str(getattr(data, field)).casefold()


PART_KINDS: tuple[PartKind[Any, Any], ...] = (
    PartKind(
        collection="sections",
        segment="sections",
        label="section",
        model=Section,
        create_schema=SectionIn,
        update_schema=schemas.SectionUpdate,
        read_schema=schemas.SectionRead,
        to_in=lambda s: SectionIn(key=s.key, title=s.title, body=s.body),
        columns=_section_columns,
        unique=("key", lambda d: d.key),
    ),
    PartKind(
        collection="faqs",
        segment="faqs",
        label="FAQ",
        model=Faq,
        create_schema=FaqIn,
        update_schema=schemas.FaqUpdate,
        read_schema=schemas.FaqRead,
        to_in=lambda f: FaqIn(question=f.question, answer=f.answer, tags=list(f.tags)),
        columns=_faq_columns,
    ),
    PartKind(
        collection="side_effects",
        segment="side-effects",
        label="side effect",
        model=SideEffect,
        create_schema=SideEffectIn,
        update_schema=schemas.SideEffectUpdate,
        read_schema=schemas.SideEffectRead,
        to_in=lambda e: SideEffectIn(
            name=e.name,
            seriousness=e.seriousness,
            description=e.description,
            management_tips=list(e.management_tips),
            urgency=e.urgency,
            when_to_contact_care_team=e.when_to_contact_care_team,
        ),
        columns=_side_effect_columns,
        unique=("name", _casefold("name")),
    ),
    PartKind(
        collection="monitoring",
        segment="monitoring",
        label="monitoring item",
        model=MonitoringItem,
        create_schema=MonitoringIn,
        update_schema=schemas.MonitoringUpdate,
        read_schema=schemas.MonitoringRead,
        to_in=lambda m: MonitoringIn(name=m.name, purpose=m.purpose, frequency=m.frequency),
        columns=_monitoring_columns,
        unique=("name", _casefold("name")),
    ),
    PartKind(
        collection="indications",
        segment="indications",
        label="indication",
        model=Indication,
        create_schema=IndicationIn,
        update_schema=schemas.IndicationUpdate,
        read_schema=schemas.IndicationRead,
        to_in=lambda i: IndicationIn(condition=i.condition.slug, status=i.status, notes=i.notes),
        write=_write_indication,
        unique=("condition", lambda d: d.condition),
        load_options=(selectinload(Indication.condition),),
    ),
    PartKind(
        collection="combinations",
        segment="combinations",
        label="combination therapy",
        model=Combination,
        create_schema=CombinationIn,
        update_schema=schemas.CombinationUpdate,
        read_schema=schemas.CombinationRead,
        to_in=lambda c: CombinationIn(
            name=c.name,
            rationale=c.rationale,
            notes=c.notes,
            components=[
                ComponentIn(name=k.name, drug=k.drug.slug if k.drug else None, role=k.role)
                for k in c.components
            ],
        ),
        write=_write_combination,
        unique=("name", _casefold("name")),
        load_options=(selectinload(Combination.components).selectinload(CombinationComponent.drug),),
    ),
    PartKind(
        collection="stories",
        segment="stories",
        label="patient story",
        model=PatientStory,
        create_schema=StoryIn,
        update_schema=schemas.StoryUpdate,
        read_schema=schemas.StoryRead,
        to_in=lambda s: StoryIn(
            title=s.title,
            person=PersonIn(name=s.person_name, age=s.person_age, occupation=s.person_occupation),
            body=s.body,
        ),
        columns=_story_columns,
    ),
)


def _check_unique(
    kind: PartKind[Any, Any], drug: Drug, data: BaseModel, siblings: Sequence[Any], *, exclude: Any = None
) -> None:
    if kind.unique is None:
        return
    field, key_of = kind.unique
    wanted = key_of(data)
    for other in siblings:
        if other is not exclude and key_of(kind.to_in(other)) == wanted:
            article = "an" if kind.label[0] in "aeiou" else "a"
            raise conflict(
                f"/{field}", f"Drug {drug.slug!r} already has {article} {kind.label} with this {field}."
            )


def create_part(session: Session, drug: Drug, kind: PartKind[PartT, InT], data: InT) -> PartT:
    """Append a new item to the drug's list of this kind."""
    siblings = list_parts(session, drug, kind)
    if len(siblings) >= kind.max_items:
        detail = f"A drug holds at most {kind.max_items} {kind.label} items."
        raise DocumentInvalid(
            detail,
            errors=[ProblemField(pointer=f"#/document/{kind.collection}", detail=detail, code="too_long")],
        )
    _check_unique(kind, drug, data, siblings)
    model: Any = kind.model
    part: PartT = model(
        drug_id=drug.id,
        position=max((p.position for p in siblings), default=-1) + 1,
        translations=stored_translations(data.translations),  # type: ignore[attr-defined]
    )
    if kind.model is Combination:
        part.components = []
    kind.fill(session, part, data)
    session.add(part)
    drug_changed(drug, kind.collection)
    session.flush()
    return part


def update_part(
    session: Session,
    drug: Drug,
    kind: PartKind[PartT, InT],
    part: PartT,
    changes: BaseModel,
    *,
    if_match: str,
) -> PartT:
    """Apply a partial edit if nobody else changed the item first."""
    check_etag(if_match, kind.etag(part))
    current = kind.current(part)
    data = merge(kind.create_schema, current, changes)
    if data == current:
        return part
    if kind.unique is not None:
        _check_unique(kind, drug, data, list_parts(session, drug, kind), exclude=part)
    translations = stored_translations(data.translations)  # type: ignore[attr-defined]
    if kind.columns is not None:
        write_row(session, part, {**kind.columns(data), "translations": translations})
    else:
        kind.fill(session, part, data)
        part.translations = translations
        # A change only to child rows (a regimen's components) must still advance the item's version.
        flag_modified(part, "position")
    drug_changed(drug, kind.collection)
    session.flush()
    return part


def delete_part(
    session: Session, drug: Drug, kind: PartKind[PartT, Any], part: PartT, *, if_match: str
) -> None:
    check_etag(if_match, kind.etag(part))
    session.delete(part)
    drug_changed(drug, kind.collection)
    session.flush()


def reorder_parts(
    session: Session, drug: Drug, kind: PartKind[PartT, Any], ids: list[int], *, if_match: str
) -> list[PartT]:
    """Put the items in the given order; `ids` must name every item exactly once."""
    items = list_parts(session, drug, kind)
    check_etag(if_match, kind.collection_etag(drug, items))
    by_id = {p.id: p for p in items}
    problems = _order_problems(ids, list(by_id))
    if problems:
        raise ValidationFailed(
            f"The order must list each of the drug's {len(by_id)} {kind.label} ids exactly once.",
            errors=problems,
        )
    if ids == [p.id for p in items]:
        return items
    table = kind.model.__table__
    # Positions are written without bumping the items' versions: moving an item does not change it,
    # so editors holding its ETag are not interrupted. The collection's ETag covers the order.
    moves = [{"b_id": part_id, "b_pos": n} for n, part_id in enumerate(ids) if by_id[part_id].position != n]
    session.execute(
        sa.update(table).where(table.c.id == sa.bindparam("b_id")).values(position=sa.bindparam("b_pos")),
        moves,
    )
    ordered = [by_id[part_id] for part_id in ids]
    for n, part in enumerate(ordered):
        set_committed_value(part, "position", n)
    drug_changed(drug, kind.collection)
    session.flush()
    return ordered


def _order_problems(ids: list[int], current: list[int]) -> list[ProblemField]:
    problems: list[ProblemField] = []
    seen: set[int] = set()
    for i, part_id in enumerate(ids):
        if part_id in seen:
            problems.append(
                ProblemField(pointer=f"/ids/{i}", detail=f"id {part_id} is listed twice", code="duplicate")
            )
        elif part_id not in current:
            problems.append(
                ProblemField(pointer=f"/ids/{i}", detail=f"no item with id {part_id}", code="unknown")
            )
        seen.add(part_id)
    missing = [part_id for part_id in current if part_id not in seen]
    if missing:
        problems.append(
            ProblemField(
                pointer="/ids", detail=f"missing id(s): {', '.join(map(str, missing))}", code="missing"
            )
        )
    return problems


# --- links to shared support resources -------------------------------------------------------------


def link_etag(link: DrugSupportResource) -> str:
    return f'"{DrugSupportResource.__tablename__}-{link.drug_id}-{link.resource_id}"'


def links_etag(drug: Drug, links: Sequence[DrugSupportResource]) -> str:
    return collection_etag(
        f"{DrugSupportResource.__tablename__}-order", drug.id, ((k.resource_id, 0) for k in links)
    )


def list_links(session: Session, drug: Drug) -> list[DrugSupportResource]:
    return list(
        session.scalars(
            sa.select(DrugSupportResource)
            .where(DrugSupportResource.drug_id == drug.id)
            .order_by(DrugSupportResource.position, DrugSupportResource.resource_id)
            .options(selectinload(DrugSupportResource.resource))
        )
    )


def get_link(session: Session, drug: Drug, resource_slug: str) -> DrugSupportResource:
    link = session.scalars(
        sa.select(DrugSupportResource)
        .join(SupportResource, SupportResource.id == DrugSupportResource.resource_id)
        .where(DrugSupportResource.drug_id == drug.id, SupportResource.slug == resource_slug)
        .options(selectinload(DrugSupportResource.resource))
    ).one_or_none()
    if link is None:
        error = PartNotFound(f"Drug {drug.slug!r} is not linked to the support resource {resource_slug!r}.")
        error.code = "link_not_found"
        raise error
    return link


def link_resource(session: Session, drug: Drug, resource: SupportResource) -> DrugSupportResource:
    """Link a support resource to the drug, at the end of its list."""
    links = list_links(session, drug)
    if any(link.resource_id == resource.id for link in links):
        raise conflict("/resource", f"Drug {drug.slug!r} is already linked to {resource.slug!r}.")
    if len(links) >= MAX_LINKS:
        raise DocumentInvalid(f"A drug links at most {MAX_LINKS} support resources.")
    position = max((link.position for link in links), default=-1) + 1
    link = DrugSupportResource(drug_id=drug.id, position=position, resource=resource)
    session.add(link)
    drug_changed(drug, "support_resources")
    session.flush()
    return link


def unlink_resource(session: Session, drug: Drug, link: DrugSupportResource, *, if_match: str) -> None:
    check_etag(if_match, link_etag(link))
    session.delete(link)
    drug_changed(drug, "support_resources")
    session.flush()


def reorder_links(
    session: Session, drug: Drug, slugs: list[str], *, if_match: str
) -> list[DrugSupportResource]:
    """Put the linked resources in the given order; `slugs` must name each exactly once."""
    links = list_links(session, drug)
    check_etag(if_match, links_etag(drug, links))
    by_slug = {link.resource.slug: link for link in links}
    problems: list[ProblemField] = []
    for i, slug in enumerate(slugs):
        if slugs.index(slug) != i:
            problems.append(
                ProblemField(pointer=f"/slugs/{i}", detail=f"{slug!r} is listed twice", code="duplicate")
            )
        elif slug not in by_slug:
            problems.append(
                ProblemField(pointer=f"/slugs/{i}", detail=f"{slug!r} is not linked", code="unknown")
            )
    missing = [slug for slug in by_slug if slug not in slugs]
    if missing:
        problems.append(
            ProblemField(pointer="/slugs", detail=f"missing: {', '.join(missing)}", code="missing")
        )
    if problems:
        raise ValidationFailed("The order must list each linked resource exactly once.", errors=problems)
    ordered = [by_slug[slug] for slug in slugs]
    for n, link in enumerate(ordered):
        link.position = n  # links carry no version of their own; the drug's version covers them
    drug_changed(drug, "support_resources")
    session.flush()
    return ordered
