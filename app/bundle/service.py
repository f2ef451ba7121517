"""Import of a bundle: validate everything first, then apply it all in the caller's transaction.

The seed command, the CLI import and (later) the admin import endpoint share this one path, so
imported text goes through the same validation as every other write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.bundle.schemas import Bundle, ConditionIn, SupportResourceIn
from app.conditions.models import Condition
from app.core.errors import AppError, ProblemField, validation_problem_fields
from app.drugs import service as drug_service
from app.drugs.models import Drug
from app.publishing import service as publishing
from app.publishing.workflow import gate_problems
from app.resources.models import SupportResource


class BundleInvalid(AppError):
    status, code, title = 422, "bundle_invalid", "The bundle is invalid"


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do), by kind and slug."""

    dry_run: bool = False
    created: dict[str, list[str]] = field(
        default_factory=lambda: {"conditions": [], "support_resources": [], "drugs": []}
    )
    updated: dict[str, list[str]] = field(
        default_factory=lambda: {"conditions": [], "support_resources": [], "drugs": []}
    )
    unchanged: dict[str, list[str]] = field(
        default_factory=lambda: {"conditions": [], "support_resources": [], "drugs": []}
    )
    published: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (
            any(self.created.values())
            or any(self.updated.values())
            or bool(self.published or self.unpublished)
        )


def parse_bundle(data: Any) -> Bundle:
    """Validate raw JSON as a bundle, reporting every problem with a JSON pointer."""
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        fields = [
            ProblemField(
                pointer=f.pointer if f.pointer.startswith("/") else "/" + f.pointer.lstrip("#/"),
                detail=f.detail,
                code=f.code,
            )
            for f in validation_problem_fields([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        ]
        raise BundleInvalid(f"{len(fields)} problem(s) in the bundle.", errors=fields) from exc


def _check_references(session: Session, bundle: Bundle) -> None:
    problems: list[ProblemField] = []
    condition_slugs = {c.slug for c in bundle.conditions}
    resource_slugs = {r.slug for r in bundle.support_resources}
    drug_slugs = {d.slug for d in bundle.drugs}
    wanted_conditions = {i.condition for d in bundle.drugs for i in d.indications} - condition_slugs
    wanted_resources = {s for d in bundle.drugs for s in d.support_resources} - resource_slugs
    wanted_drugs = {
        k.drug for d in bundle.drugs for c in d.combinations for k in c.components if k.drug
    } - drug_slugs
    if wanted_conditions:
        condition_slugs |= set(
            session.scalars(sa.select(Condition.slug).where(Condition.slug.in_(wanted_conditions)))
        )
    if wanted_resources:
        resource_slugs |= set(
            session.scalars(sa.select(SupportResource.slug).where(SupportResource.slug.in_(wanted_resources)))
        )
    if wanted_drugs:
        drug_slugs |= set(
            session.scalars(
                sa.select(Drug.slug).where(Drug.slug.in_(wanted_drugs), Drug.deleted_at.is_(None))
            )
        )
    for d_index, drug in enumerate(bundle.drugs):
        base = f"/drugs/{d_index}"
        for i, indication in enumerate(drug.indications):
            if indication.condition not in condition_slugs:
                problems.append(
                    ProblemField(
                        pointer=f"{base}/indications/{i}/condition",
                        detail=f"unknown condition {indication.condition!r}",
                        code="unknown_reference",
                    )
                )
        for i, slug in enumerate(drug.support_resources):
            if slug not in resource_slugs:
                problems.append(
                    ProblemField(
                        pointer=f"{base}/support_resources/{i}",
                        detail=f"unknown support resource {slug!r}",
                        code="unknown_reference",
                    )
                )
        for i, combination in enumerate(drug.combinations):
            for j, component in enumerate(combination.components):
                if component.drug and component.drug not in drug_slugs:
                    problems.append(
                        ProblemField(
                            pointer=f"{base}/combinations/{i}/components/{j}/drug",
                            detail=f"unknown drug {component.drug!r}",
                            code="unknown_reference",
                        )
                    )
    if problems:
        raise BundleInvalid(f"{len(problems)} problem(s) in the bundle.", errors=problems)


def _upsert_condition(session: Session, data: ConditionIn, report: ImportReport) -> Condition:
    condition = session.scalars(sa.select(Condition).where(Condition.slug == data.slug)).one_or_none()
    translations = {tag: t.model_dump(mode="json") for tag, t in data.translations.items()}
    if condition is None:
        condition = Condition(
            slug=data.slug, name=data.name, description=data.description, translations=translations
        )
        session.add(condition)
        report.created["conditions"].append(data.slug)
    elif drug_service.condition_in(condition) != data:
        condition.name, condition.description = data.name, data.description
        condition.translations = translations
        report.updated["conditions"].append(data.slug)
    else:
        report.unchanged["conditions"].append(data.slug)
    return condition


def _upsert_resource(session: Session, data: SupportResourceIn, report: ImportReport) -> SupportResource:
    resource = session.scalars(
        sa.select(SupportResource).where(SupportResource.slug == data.slug)
    ).one_or_none()
    # `translations` is left out of dumps when empty; set it always, so removed translations go.
    values = {**data.model_dump(), "translations": data.model_dump(mode="json").get("translations", {})}
    if resource is None:
        resource = SupportResource(**values)
        session.add(resource)
        report.created["support_resources"].append(data.slug)
    elif drug_service.resource_in(resource) != data:
        for key, value in values.items():
            setattr(resource, key, value)
        report.updated["support_resources"].append(data.slug)
    else:
        report.unchanged["support_resources"].append(data.slug)
    return resource


def import_bundle(
    session: Session,
    bundle: Bundle,
    *,
    author: str | None,
    message: str = "Imported from a bundle",
    dry_run: bool = False,
    on_drug: Callable[[str], None] | None = None,
    gate: dt.date | None = None,
) -> ImportReport:
    """Apply a validated bundle: upsert by slug, record revisions for changed drugs, (un)publish by status.

    Idempotent: importing the same bundle twice changes nothing the second time. With `gate` (today's
    date; the HTTP import), a drug the bundle would publish anew must carry what every public document
    must (at least one source, a disclaimer), as for `POST …/publish`: otherwise nothing is imported
    and each missing item is reported with its pointer into the bundle. Its review metadata is taken
    as the bundle gives it (a catalog moved here may be overdue; the reviews dashboard says so).
    """
    _check_references(session, bundle)
    report = ImportReport(dry_run=dry_run)
    savepoint = session.begin_nested() if dry_run else None
    conditions = {c.slug: _upsert_condition(session, c, report) for c in bundle.conditions}
    resources = {r.slug: _upsert_resource(session, r, report) for r in bundle.support_resources}
    session.flush()

    drugs: dict[str, Drug] = {}
    for data in bundle.drugs:
        drug = drug_service.find_drug(session, data.slug)
        if drug is None:
            drug = Drug(slug=data.slug, name=data.name, status="draft", brand_names=[], translations={})
            for collection in ("codes", "sources", "sections", "faqs", "side_effects", "monitoring",
                               "indications", "combinations", "stories", "resource_links"):  # fmt: skip
                setattr(drug, collection, [])
            session.add(drug)
            session.flush()
            report.created["drugs"].append(data.slug)
        drugs[data.slug] = drug

    referenced = _load_references(session, bundle, conditions, resources, drugs)
    for data in bundle.drugs:
        drug = drugs[data.slug]
        was_deleted = drug.deleted_at is not None
        drug.deleted_at = None
        if was_deleted or drug_service.to_drug_in(drug) != data:
            drug_service.replace_content(session, drug, data, **referenced)
            if data.slug not in report.created["drugs"]:
                report.updated["drugs"].append(data.slug)
        else:
            report.unchanged["drugs"].append(data.slug)

    refused: list[ProblemField] = []
    for index, data in enumerate(bundle.drugs):
        gate_check = None if gate is None else (index, gate, refused)
        _record_and_publish(
            session, drugs[data.slug], author=author, message=message, report=report, gate=gate_check
        )
        if on_drug is not None:
            on_drug(data.slug)
    if refused:
        raise BundleInvalid(
            f"{len(refused)} problem(s): a drug the bundle publishes needs a source and a disclaimer.",
            errors=refused,
        )
    session.flush()
    if report.changed:
        publishing.bump_generation(session)
    if savepoint is not None:
        savepoint.rollback()
    return report


def _load_references(
    session: Session,
    bundle: Bundle,
    conditions: dict[str, Condition],
    resources: dict[str, SupportResource],
    drugs: dict[str, Drug],
) -> dict[str, Any]:
    """What the bundle's drugs refer to (conditions, resources, component drugs), from bundle or database."""
    condition_slugs = {i.condition for d in bundle.drugs for i in d.indications} - conditions.keys()
    resource_slugs = {s for d in bundle.drugs for s in d.support_resources} - resources.keys()
    drug_slugs = {
        k.drug for d in bundle.drugs for c in d.combinations for k in c.components if k.drug
    } - drugs.keys()
    all_conditions = dict(conditions)
    all_conditions.update(
        {c.slug: c for c in session.scalars(sa.select(Condition).where(Condition.slug.in_(condition_slugs)))}
    )
    all_resources = dict(resources)
    all_resources.update(
        {
            r.slug: r
            for r in session.scalars(
                sa.select(SupportResource).where(SupportResource.slug.in_(resource_slugs))
            )
        }
    )
    all_drugs = dict(drugs)
    all_drugs.update({d.slug: d for d in session.scalars(sa.select(Drug).where(Drug.slug.in_(drug_slugs)))})
    return {"conditions": all_conditions, "resources": all_resources, "drugs_by_slug": all_drugs}


# The publish gate's content items (a public document's own requirements), as pointers into a
# bundle's drug; its review items are the bundle's to carry.
_GATE_POINTERS = {"missing_source": "sources", "missing_disclaimer": "disclaimer"}


def _record_and_publish(
    session: Session,
    drug: Drug,
    *,
    author: str | None,
    message: str,
    report: ImportReport,
    gate: tuple[int, dt.date, list[ProblemField]] | None = None,
) -> None:
    """A revision when the complete document changed; the public view follows the drug's status.

    `gate`: the drug's index in the bundle, today, and where to add what it lacks to be published."""
    session.flush()
    latest = publishing.latest_revision(session, drug.id)
    document = drug_service.snapshot_of(session, drug.id)
    if latest is None or latest.document != document:
        latest = publishing.record_revision(session, drug, message=message, author=author, document=document)
    live = publishing.live_revision_id(session, drug.id)
    if drug.status == "published" and live != latest.id:
        if gate is not None:
            index, today, refused = gate
            lacking = gate_problems(
                drug, reviewed_by=drug.reviewed_by, next_review_due=drug.next_review_due, today=today
            )
            lacking = [problem for problem in lacking if problem.code in _GATE_POINTERS]
            for problem in lacking:
                pointer = f"/drugs/{index}/{_GATE_POINTERS[problem.code or '']}"
                refused.append(ProblemField(pointer=pointer, detail=problem.detail, code=problem.code))
            if lacking:
                return
        publishing.publish_revision(session, drug, latest)
        report.published.append(drug.slug)
    elif drug.status != "published" and live is not None:
        publishing.unpublish(session, drug)
        report.unpublished.append(drug.slug)
