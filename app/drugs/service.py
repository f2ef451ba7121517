"""Queries and rules for the drug aggregate's working draft. Services flush; the caller commits."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session, selectinload

from app.bundle.schemas import (
    TRANSLATION_MODELS,
    CombinationIn,
    ComponentIn,
    ConditionIn,
    DrugIn,
    FaqIn,
    IndicationIn,
    MonitoringIn,
    PersonIn,
    ReviewIn,
    SectionIn,
    SideEffectIn,
    SourceIn,
    StoryIn,
    SupportResourceIn,
)
from app.conditions.models import Condition
from app.core.db import PreparedSelect, prepare_select, utcnow
from app.core.errors import AppError, NotFound, ProblemField, validation_problem_fields
from app.core.locale import normalize_tag
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
from app.resources.models import DrugSupportResource, SupportResource


class DrugNotFound(NotFound):
    code = "drug_not_found"
    title = "Drug not found"


class PartNotFound(NotFound):
    code = "part_not_found"
    title = "Part not found"


class TranslationInvalid(AppError):
    status, code, title = 422, "translation_invalid", "The translation is invalid"


PART_TABLES: dict[str, type[Any]] = {
    "sections": Section,
    "faqs": Faq,
    "side_effects": SideEffect,
    "monitoring": MonitoringItem,
    "indications": Indication,
    "combinations": Combination,
    "stories": PatientStory,
}


AGGREGATE_OPTIONS = (
    selectinload(Drug.codes),
    selectinload(Drug.sources),
    selectinload(Drug.sections),
    selectinload(Drug.faqs),
    selectinload(Drug.side_effects),
    selectinload(Drug.monitoring),
    selectinload(Drug.indications).selectinload(Indication.condition),
    selectinload(Drug.combinations)
    .selectinload(Combination.components)
    .selectinload(CombinationComponent.drug),
    selectinload(Drug.stories),
    selectinload(Drug.resource_links).selectinload(DrugSupportResource.resource),
)
# The drug's ordered parts (the lists of a document that `ids` lines up with), and every collection
# that AGGREGATE_OPTIONS loads.
ORDERED_PARTS = ("sections", "faqs", "side_effects", "monitoring", "indications", "combinations", "stories")
AGGREGATE_PARTS = frozenset({"codes", "sources", "resource_links", *ORDERED_PARTS})


def find_drug(session: Session, slug: str, *, with_parts: bool = True) -> Drug | None:
    """The working draft of a drug by slug (soft-deleted drugs included), or None."""
    query = sa.select(Drug).where(Drug.slug == slug)
    if with_parts:
        query = query.options(*AGGREGATE_OPTIONS)
    return session.scalars(query).one_or_none()


def get_drug(session: Session, slug: str, *, with_parts: bool = True) -> Drug:
    drug = find_drug(session, slug, with_parts=with_parts)
    if drug is None or drug.deleted_at is not None:
        raise DrugNotFound(f"No drug with slug {slug!r}.")
    return drug


def to_drug_in(drug: Drug) -> DrugIn:
    """The drug's working draft in the bundle's document form (what revisions and export hold)."""
    return DrugIn(
        slug=drug.slug,
        name=drug.name,
        brand_names=list(drug.brand_names),
        drug_class=drug.drug_class,
        summary=drug.summary,
        translations=drug.translations or {},
        codes={c.system: c.code for c in drug.codes},
        status=drug.status,
        review=ReviewIn(
            last_reviewed=drug.last_reviewed,
            next_review_due=drug.next_review_due,
            reviewed_by=drug.reviewed_by,
            note=drug.review_note,
        ),
        disclaimer=drug.disclaimer,
        sources=[
            SourceIn(title=s.title, publisher=s.publisher, url=s.url, accessed=s.accessed, note=s.note)
            for s in drug.sources
        ],
        sections=[
            SectionIn(key=s.key, title=s.title, body=s.body, translations=s.translations or {})
            for s in drug.sections
        ],
        faqs=[
            FaqIn(question=f.question, answer=f.answer, tags=list(f.tags), translations=f.translations or {})
            for f in drug.faqs
        ],
        side_effects=[
            SideEffectIn(
                name=e.name,
                seriousness=e.seriousness,
                description=e.description,
                management_tips=list(e.management_tips),
                urgency=e.urgency,
                when_to_contact_care_team=e.when_to_contact_care_team,
                translations=e.translations or {},
            )
            for e in drug.side_effects
        ],
        monitoring=[
            MonitoringIn(
                name=m.name, purpose=m.purpose, frequency=m.frequency, translations=m.translations or {}
            )
            for m in drug.monitoring
        ],
        indications=[
            IndicationIn(
                condition=i.condition.slug, status=i.status, notes=i.notes, translations=i.translations or {}
            )
            for i in drug.indications
        ],
        combinations=[
            CombinationIn(
                name=c.name,
                rationale=c.rationale,
                notes=c.notes,
                components=[
                    ComponentIn(name=k.name, drug=k.drug.slug if k.drug else None, role=k.role)
                    for k in c.components
                ],
                translations=c.translations or {},
            )
            for c in drug.combinations
        ],
        stories=[
            StoryIn(
                title=s.title,
                person=PersonIn(name=s.person_name, age=s.person_age, occupation=s.person_occupation),
                body=s.body,
                translations=s.translations or {},
            )
            for s in drug.stories
        ],
        support_resources=[link.resource.slug for link in drug.resource_links],
    )


def condition_in(condition: Condition) -> ConditionIn:
    return ConditionIn(
        slug=condition.slug,
        name=condition.name,
        description=condition.description,
        translations=condition.translations or {},
    )


def resource_in(resource: SupportResource) -> SupportResourceIn:
    return SupportResourceIn(
        slug=resource.slug,
        category=resource.category,
        title=resource.title,
        description=resource.description,
        url=resource.url,
        phone=resource.phone,
        email=resource.email,
        is_global=resource.is_global,
        translations=resource.translations or {},
    )


@functools.cache
def _snapshot_queries(dialect: str) -> dict[str, PreparedSelect]:
    """The statements `snapshot_of` runs, built once per engine kind (`:drug_id` bound per call)."""
    drug_id: Any = sa.bindparam("drug_id")

    def part(model: Any, *order: Any) -> Any:
        table = model.__table__
        return (
            sa.select(table)
            .where(table.c.drug_id == drug_id)
            .order_by(*(order or (table.c.position,)), table.c.id)
        )

    drug, indication, condition = Drug.__table__, Indication.__table__, Condition.__table__
    component, combination = CombinationComponent.__table__, Combination.__table__
    component_drug = drug.alias("component_drug")
    link, resource = DrugSupportResource.__table__, SupportResource.__table__
    statements = {
        "drug": sa.select(drug).where(drug.c.id == drug_id),
        "codes": part(DrugCode, DrugCode.__table__.c.system),
        "sources": part(DrugSource),
        "sections": part(Section),
        "faqs": part(Faq),
        "side_effects": part(SideEffect),
        "monitoring": part(MonitoringItem),
        "stories": part(PatientStory),
        "combinations": part(Combination),
        "indications": sa.select(
            indication,
            condition.c.slug.label("condition_slug"),
            condition.c.name.label("condition_name"),
            condition.c.description.label("condition_description"),
            condition.c.translations.label("condition_translations"),
        )
        .join(condition, condition.c.id == indication.c.condition_id)
        .where(indication.c.drug_id == drug_id)
        .order_by(indication.c.position, indication.c.id),
        "components": sa.select(
            component.c.combination_id, component.c.name, component.c.role, component_drug.c.slug
        )
        .join(combination, combination.c.id == component.c.combination_id)
        .outerjoin(component_drug, component_drug.c.id == component.c.drug_id)
        .where(combination.c.drug_id == drug_id)
        .order_by(component.c.combination_id, component.c.position, component.c.id),
        "resources": sa.select(resource)
        .join(link, link.c.resource_id == resource.c.id)
        .where(link.c.drug_id == drug_id)
        .order_by(link.c.position, resource.c.id),
    }
    return {name: prepare_select(statement, dialect) for name, statement in statements.items()}


# The drug's own fields, in the order the document holds them (before its part lists).
_HEAD = (
    "slug",
    "name",
    "brand_names",
    "drug_class",
    "summary",
    "codes",
    "status",
    "review",
    "disclaimer",
    "sources",
)


def snapshot_of(
    session: Session,
    drug_id: int,
    *,
    reuse: Mapping[str, Any] | None = None,
    changed: Collection[str] = (),
) -> dict[str, Any]:
    """The complete, self-contained document of a drug as flushed in this transaction: its content
    plus what it refers to, and the ids of its parts.

    Every write records one (the revision), so it is read with one Core query per table and built
    as plain dicts, rather than loaded as the ORM aggregate and dumped through the bundle schemas
    (about ten times the cost, measured). What it stores went through those schemas on its way in,
    so this is exactly `to_drug_in(...).model_dump(mode="json")` and friends (tested).

    `reuse`: this drug's snapshot at the state the current write started from (its latest revision,
    when `app.audit.service` knows this process recorded it from the tables). Then only the part
    lists named in `changed` (or the drug's own fields, `"drug"`) are read again, with what other
    records contribute (conditions, support resources, the drugs a regimen names); the rest is
    taken from `reuse`. The result is the same document, key for key (tested).
    """
    conn = session.connection()
    q = _snapshot_queries(conn.dialect.name)
    by_drug = {"drug_id": drug_id}
    old: Mapping[str, Any] = reuse["drug"] if reuse is not None else {}
    old_ids: Mapping[str, Any] = reuse["ids"] if reuse is not None else {}

    def fresh(piece: str) -> bool:
        """Whether to read it again (indications and support resources always are: they carry
        other records' content; so are combinations whenever the drug has any)."""
        return reuse is None or piece in changed

    def with_translations(item: dict[str, Any], kind: str, stored: dict[str, Any] | None) -> dict[str, Any]:
        if stored:
            item["translations"] = _dumped_translations(kind, stored)
        return item

    def day(value: dt.date | None) -> str | None:
        return value.isoformat() if value is not None else None

    if fresh("drug"):
        (drug,) = q["drug"].rows(conn, by_drug)
        codes, sources = q["codes"].rows(conn, by_drug), q["sources"].rows(conn, by_drug)
        head = {
            "slug": drug.slug,
            "name": drug.name,
            "brand_names": list(drug.brand_names),
            "drug_class": drug.drug_class,
            "summary": drug.summary,
            "codes": {c.system: c.code for c in codes},
            "status": drug.status,
            "review": {
                "last_reviewed": day(drug.last_reviewed),
                "next_review_due": day(drug.next_review_due),
                "reviewed_by": drug.reviewed_by,
                "note": drug.review_note,
            },
            "disclaimer": drug.disclaimer,
            "sources": [
                {
                    "title": s.title,
                    "publisher": s.publisher,
                    "url": s.url,
                    "accessed": day(s.accessed),
                    "note": s.note,
                }
                for s in sources
            ],
        }
        translations = _dumped_translations("drug", drug.translations) if drug.translations else None
    else:
        head = {key: old[key] for key in _HEAD}
        translations = old.get("translations")

    lists: dict[str, list[Any]] = {}
    ids: dict[str, list[int]] = {}

    def part(name: str, build: Callable[[Any], dict[str, Any]]) -> Sequence[Any]:
        """The rows of one part list, each built into its item (and the list's ids noted)."""
        rows = q[name].rows(conn, by_drug)
        lists[name] = [with_translations(build(row), name, row.translations) for row in rows]
        ids[name] = [row.id for row in rows]
        return rows

    if fresh("sections"):
        part("sections", lambda s: {"key": s.key, "title": s.title, "body": s.body})
    if fresh("faqs"):
        part("faqs", lambda f: {"question": f.question, "answer": f.answer, "tags": list(f.tags)})
    if fresh("side_effects"):
        part(
            "side_effects",
            lambda e: {
                "name": e.name,
                "seriousness": e.seriousness,
                "description": e.description,
                "management_tips": list(e.management_tips),
                "urgency": e.urgency,
                "when_to_contact_care_team": e.when_to_contact_care_team,
            },
        )
    if fresh("monitoring"):
        part("monitoring", lambda m: {"name": m.name, "purpose": m.purpose, "frequency": m.frequency})
    indications = part(
        "indications", lambda i: {"condition": i.condition_slug, "status": i.status, "notes": i.notes}
    )
    if reuse is None or "combinations" in changed or old["combinations"]:
        # A regimen names other drugs by slug: read again whenever the drug has any.
        combinations = q["combinations"].rows(conn, by_drug)
        components: dict[int, list[dict[str, Any]]] = {c.id: [] for c in combinations}
        if combinations:
            for row in q["components"].rows(conn, by_drug):
                components[row.combination_id].append({"name": row.name, "drug": row.slug, "role": row.role})
        lists["combinations"] = [
            with_translations(
                {"name": c.name, "components": components[c.id], "rationale": c.rationale, "notes": c.notes},
                "combinations",
                c.translations,
            )
            for c in combinations
        ]
        ids["combinations"] = [c.id for c in combinations]
    if fresh("stories"):
        part(
            "stories",
            lambda s: {
                "title": s.title,
                "person": {"name": s.person_name, "age": s.person_age, "occupation": s.person_occupation},
                "body": s.body,
            },
        )
    resources = q["resources"].rows(conn, by_drug)

    document: dict[str, Any] = dict(head)
    for name in ("sections", "faqs", "side_effects", "monitoring", "indications", "combinations", "stories"):
        document[name] = lists[name] if name in lists else old[name]
    document["support_resources"] = [r.slug for r in resources]
    if translations:
        document["translations"] = translations
    return {
        "drug": document,
        "conditions": [
            with_translations(
                {"slug": i.condition_slug, "name": i.condition_name, "description": i.condition_description},
                "conditions",
                i.condition_translations,
            )
            for i in indications
        ],
        "support_resources": [
            with_translations(
                {
                    "slug": r.slug,
                    "category": r.category,
                    "title": r.title,
                    "description": r.description,
                    "url": r.url,
                    "phone": r.phone,
                    "email": r.email,
                    "is_global": r.is_global,
                },
                "support_resources",
                r.translations,
            )
            for r in resources
        ],
        "ids": {name: ids[name] if name in ids else old_ids[name] for name in ORDERED_PARTS},
    }


def _dumped_translations(kind: str, stored: dict[str, Any]) -> dict[str, Any]:
    """Stored translations as the document holds them (canonical tags, no empty fields)."""
    model = TRANSLATION_MODELS[kind]
    return {
        normalize_tag(tag) or tag: model.model_validate(fields).model_dump(mode="json")
        for tag, fields in stored.items()
    }


def replace_content(
    session: Session,
    drug: Drug,
    data: DrugIn,
    *,
    conditions: dict[str, Condition],
    resources: dict[str, SupportResource],
    drugs_by_slug: dict[str, Drug],
) -> None:
    """Make the working draft hold exactly `data` (references already resolved by the caller)."""
    drug.name = data.name
    drug.brand_names = list(data.brand_names)
    drug.drug_class = data.drug_class
    drug.summary = data.summary
    drug.translations = stored_translations(data.translations)
    drug.status = data.status
    drug.disclaimer = data.disclaimer
    drug.last_reviewed = data.review.last_reviewed
    drug.next_review_due = data.review.next_review_due
    drug.reviewed_by = data.review.reviewed_by
    drug.review_note = data.review.note
    # Touching the row makes its version (the mapper's version_id_col) advance with any part's change.
    drug.updated_at = utcnow()
    # Replacing unique-keyed children (sections by key, etc.) needs the old rows gone first.
    for collection in sorted(AGGREGATE_PARTS):
        getattr(drug, collection).clear()
    session.flush()
    drug.codes = [DrugCode(system=system, code=code) for system, code in data.codes.items()]
    drug.sources = [
        DrugSource(
            position=i,
            title=s.title,
            publisher=s.publisher,
            url=str(s.url) if s.url else None,
            accessed=s.accessed,
            note=s.note,
        )
        for i, s in enumerate(data.sources)
    ]
    drug.sections = [
        Section(
            position=i,
            key=s.key,
            title=s.title,
            body=s.body,
            translations=stored_translations(s.translations),
        )
        for i, s in enumerate(data.sections)
    ]
    drug.faqs = [
        Faq(
            position=i,
            question=f.question,
            answer=f.answer,
            tags=list(f.tags),
            translations=stored_translations(f.translations),
        )
        for i, f in enumerate(data.faqs)
    ]
    drug.side_effects = [
        SideEffect(
            position=i,
            name=e.name,
            seriousness=e.seriousness,
            description=e.description,
            management_tips=list(e.management_tips),
            urgency=e.urgency,
            when_to_contact_care_team=e.when_to_contact_care_team,
            translations=stored_translations(e.translations),
        )
        for i, e in enumerate(data.side_effects)
    ]
    drug.monitoring = [
        MonitoringItem(
            position=i,
            name=m.name,
            purpose=m.purpose,
            frequency=m.frequency,
            translations=stored_translations(m.translations),
        )
        for i, m in enumerate(data.monitoring)
    ]
    drug.indications = [
        Indication(
            position=i,
            condition=conditions[ind.condition],
            status=ind.status,
            notes=ind.notes,
            translations=stored_translations(ind.translations),
        )
        for i, ind in enumerate(data.indications)
    ]
    drug.combinations = [
        Combination(
            position=i,
            name=c.name,
            rationale=c.rationale,
            notes=c.notes,
            translations=stored_translations(c.translations),
            components=[
                CombinationComponent(
                    position=j, name=k.name, role=k.role, drug=drugs_by_slug[k.drug] if k.drug else None
                )
                for j, k in enumerate(c.components)
            ],
        )
        for i, c in enumerate(data.combinations)
    ]
    drug.stories = [
        PatientStory(
            position=i,
            title=s.title,
            person_name=s.person.name,
            person_age=s.person.age,
            person_occupation=s.person.occupation,
            body=s.body,
            translations=stored_translations(s.translations),
        )
        for i, s in enumerate(data.stories)
    ]
    drug.resource_links = [
        DrugSupportResource(position=i, resource=resources[slug])
        for i, slug in enumerate(data.support_resources)
    ]
    session.flush()


def stored_translations(translations: Mapping[str, Any]) -> dict[str, Any]:
    """Validated translations as the JSON the `translations` columns hold (locale → fields)."""
    return {tag: model.model_dump(mode="json") for tag, model in translations.items()}


def set_translation(
    session: Session,
    drug: Drug,
    part: str,
    id: int | None,
    locale: str,
    fields: Mapping[str, Any] | None,
) -> Any:
    """Set one item's text in one locale on the working draft; empty `fields` removes that locale.

    `part` is `drug` (with `id` None) or a part list of the document (`faqs`, `sections`, ...);
    `fields` holds only that part's text fields and is validated like a bundle's translations.
    The caller records the revision and publishes, as for every other draft edit.
    """
    tag = normalize_tag(locale)
    if tag is None:
        raise TranslationInvalid(
            f"{locale[:40]!r} is not a BCP 47 language tag.",
            errors=[ProblemField(pointer="/locale", detail="invalid language tag", code="invalid_locale")],
        )
    model = TRANSLATION_MODELS.get(part)
    if model is None or part not in ("drug", *PART_TABLES):
        raise PartNotFound(
            f"{part!r} has no translatable text; use `drug` or one of {', '.join(PART_TABLES)}."
        )
    target: Any = drug
    if part != "drug":
        target = next((item for item in getattr(drug, part) if item.id == id), None)
        if target is None:
            raise PartNotFound(f"Drug {drug.slug!r} has no {part} item with id {id}.")
    translations = dict(target.translations or {})
    if fields:
        try:
            translations[tag] = model.model_validate(dict(fields)).model_dump(mode="json")
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            raise TranslationInvalid(
                "The translation is invalid.", errors=validation_problem_fields(errors)
            ) from exc
    else:
        translations.pop(tag, None)
    # A new dict, so the JSON column is seen as changed; the part's version advances with it.
    target.translations = translations
    drug.updated_at = utcnow()
    session.flush()
    return target
