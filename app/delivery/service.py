"""Queries over the public projection (published drugs only). No draft table is read here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from app.conditions.models import Condition
from app.core.errors import InvalidParameters, ProblemField
from app.core.pagination import bad_cursor, decode_cursor, encode_cursor
from app.delivery.cursors import ItemPlace, Ranking
from app.publishing.models import (
    PublishedCombinationComponent,
    PublishedDrug,
    PublishedDrugCode,
    PublishedDrugCondition,
    PublishedDrugLocale,
)
from app.resources.models import SupportResource

DrugSort = Literal["name", "-name", "updated_at", "-updated_at", "last_reviewed", "-last_reviewed"]
_NO_DATE = dt.date(1, 1, 1)


@dataclass(frozen=True, slots=True)
class DrugFilters:
    condition: str | None = None
    drug_class: str | None = None
    code: str | None = None
    letter: str | None = None
    drug_ids: frozenset[int] | None = None


# `system|value`, each with something besides spaces, no control characters (PostgreSQL cannot hold
# a NUL). Only constructs that ECMA-262 (the OpenAPI's regex dialect) and Python read alike, so the
# documented pattern and this check cannot disagree.
CODE_PATTERN = (
    r"^[^|\x00-\x1f\x7f]*[^|\x00-\x20\x7f][^|\x00-\x1f\x7f]*"
    r"\|[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
)


def parse_code(code: str) -> tuple[str, str]:
    """`atc|L04AX06` → (`atc`, `L04AX06`); the system is matched case-insensitively."""
    system, _sep, value = code.partition("|")
    if not re.fullmatch(CODE_PATTERN, code):
        raise InvalidParameters(
            "`code` takes the form `system|value`, e.g. `atc|L04AX06`.",
            errors=[
                ProblemField(pointer="#/query/code", detail="expected system|value", code="invalid_code")
            ],
        )
    return system.strip().lower(), value.strip()


def _sort_column(sort: str) -> Any:
    field = sort.lstrip("-")
    if field == "name":
        return PublishedDrug.name_key
    if field == "updated_at":
        return PublishedDrug.updated_at
    return sa.func.coalesce(PublishedDrug.last_reviewed, sa.literal(_NO_DATE, sa.Date))


def _sort_value(sort: str, row: Any) -> str:
    field = sort.lstrip("-")
    if field == "name":
        return str(row.name_key)
    if field == "updated_at":
        return str(row.updated_at.astimezone(dt.UTC).isoformat())
    return (row.last_reviewed or _NO_DATE).isoformat()


def _parse_sort_value(sort: str, raw: Any) -> Any:
    field = sort.lstrip("-")
    if not isinstance(raw, str):
        raise bad_cursor()
    try:
        if field == "updated_at":
            return dt.datetime.fromisoformat(raw)
        if field == "last_reviewed":
            return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise bad_cursor() from exc
    return raw


def _filtered(filters: DrugFilters) -> Any:
    query = sa.select(
        PublishedDrug.drug_id,
        PublishedDrug.revision_id,
        PublishedDrug.published_at,
        PublishedDrug.last_reviewed,
        PublishedDrug.name_key,
        PublishedDrug.updated_at,
    )
    if filters.condition:
        query = query.where(
            sa.exists().where(
                PublishedDrugCondition.drug_id == PublishedDrug.drug_id,
                PublishedDrugCondition.condition_slug == filters.condition,
            )
        )
    if filters.drug_class:
        query = query.where(PublishedDrug.drug_class_key == filters.drug_class.strip().casefold())
    if filters.code is not None:
        system, value = parse_code(filters.code)
        query = query.where(
            sa.exists().where(
                PublishedDrugCode.drug_id == PublishedDrug.drug_id,
                PublishedDrugCode.system == system,
                PublishedDrugCode.code == value,
            )
        )
    if filters.letter:
        query = query.where(PublishedDrug.letter == filters.letter.casefold())
    if filters.drug_ids is not None:
        query = query.where(PublishedDrug.drug_id.in_(sorted(filters.drug_ids)))
    return query


def list_drugs(
    conn: sa.Connection, filters: DrugFilters, *, sort: str, limit: int, cursor: str | None
) -> tuple[list[Any], int, str | None]:
    """One page of published drugs (rows with revision ids), the total, and the next cursor."""
    query = _filtered(filters)
    total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    column = _sort_column(sort)
    descending = sort.startswith("-")
    if cursor:
        payload = decode_cursor(cursor, kind="drugs")
        if payload.get("s") != sort or not isinstance(payload.get("id"), int):
            raise bad_cursor()
        value = _parse_sort_value(sort, payload.get("v"))
        after = column < value if descending else column > value
        query = query.where(sa.or_(after, sa.and_(column == value, PublishedDrug.drug_id > payload["id"])))
    query = query.order_by(column.desc() if descending else column.asc(), PublishedDrug.drug_id.asc())
    rows = list(conn.execute(query.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(
            {"k": "drugs", "s": sort, "v": _sort_value(sort, last), "id": last.drug_id}
        )
    return rows, total, next_cursor


def list_drugs_by_relevance(
    conn: sa.Connection,
    filters: DrugFilters,
    scores: dict[int, float],
    *,
    ranking: Ranking,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], int, str | None]:
    """One page of the drugs that match a full-text query, best match first."""
    rows = list(conn.execute(_filtered(dataclasses.replace(filters, drug_ids=frozenset(scores)))))
    rows.sort(key=lambda row: (-scores[row.drug_id], row.name_key, row.drug_id))
    page, next_cursor = ranking.page(rows, limit=limit, cursor=cursor)
    return page, len(rows), next_cursor


def published_rows(
    conn: sa.Connection,
    *,
    slug: str | None = None,
    drug_ids: frozenset[int] | None = None,
    place: ItemPlace | None = None,
) -> list[Any]:
    """Every published drug (or one), in name order, with what the store needs to render it.

    With a `place` (a keyset cursor's), each row also says whether its drug is at or after the
    place's drug (`from_place`): compared here, by the collation the rows are ordered by.
    """
    query = sa.select(
        PublishedDrug.drug_id,
        PublishedDrug.slug,
        PublishedDrug.revision_id,
        PublishedDrug.published_at,
        PublishedDrug.name_key,
    ).order_by(PublishedDrug.name_key, PublishedDrug.drug_id)
    if place is not None:
        at_or_after = sa.or_(
            PublishedDrug.name_key > place.name_key,
            sa.and_(PublishedDrug.name_key == place.name_key, PublishedDrug.drug_id >= place.drug_id),
        )
        query = query.add_columns(at_or_after.label("from_place"))
    if slug is not None:
        query = query.where(PublishedDrug.slug == slug)
    if drug_ids is not None:
        query = query.where(PublishedDrug.drug_id.in_(sorted(drug_ids)))
    return list(conn.execute(query))


def published_locales(conn: sa.Connection) -> list[str]:
    """Every locale some published text is translated into (the default locale aside)."""
    return list(conn.scalars(sa.select(PublishedDrugLocale.locale).distinct()))


def regimens_with_component(conn: sa.Connection, component: str) -> dict[int, set[int]]:
    """Published drug id → ids of its regimens with a component of that name or drug slug."""
    key = component.strip().casefold()[:200]
    rows = conn.execute(
        sa.select(PublishedCombinationComponent.drug_id, PublishedCombinationComponent.combination_id)
        .where(
            sa.or_(
                PublishedCombinationComponent.name_key == key,
                PublishedCombinationComponent.component_drug_slug == key,
            )
        )
        .distinct()
    )
    found: dict[int, set[int]] = {}
    for drug_id, combination_id in rows:
        found.setdefault(drug_id, set()).add(combination_id)
    return found


def list_conditions(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every condition with how many published drugs are approved / investigational for it."""
    counts: dict[tuple[str, str], int] = {
        (row.condition_slug, row.status): row.n
        for row in conn.execute(
            sa.select(
                PublishedDrugCondition.condition_slug,
                PublishedDrugCondition.status,
                sa.func.count().label("n"),
            ).group_by(PublishedDrugCondition.condition_slug, PublishedDrugCondition.status)
        )
    }
    rows = conn.execute(
        sa.select(Condition.slug, Condition.name, Condition.description, Condition.translations).order_by(
            Condition.name, Condition.slug
        )
    )
    return [
        {
            "slug": row.slug,
            "name": row.name,
            "description": row.description,
            "translations": row.translations,
            "approved_drugs": counts.get((row.slug, "approved"), 0),
            "investigational_drugs": counts.get((row.slug, "investigational"), 0),
        }
        for row in rows
    ]


def find_condition(conn: sa.Connection, slug: str) -> Any | None:
    return conn.execute(
        sa.select(Condition.slug, Condition.name, Condition.description, Condition.translations).where(
            Condition.slug == slug
        )
    ).one_or_none()


def condition_drug_rows(conn: sa.Connection, slug: str) -> list[Any]:
    return list(
        conn.execute(
            sa.select(
                PublishedDrug.slug,
                PublishedDrug.revision_id,
                PublishedDrug.published_at,
                PublishedDrugCondition.status,
            )
            .join(PublishedDrugCondition, PublishedDrugCondition.drug_id == PublishedDrug.drug_id)
            .where(PublishedDrugCondition.condition_slug == slug)
            .order_by(PublishedDrug.name_key, PublishedDrug.drug_id)
        )
    )


def list_resources(conn: sa.Connection, *, category: str | None) -> list[dict[str, Any]]:
    query = sa.select(
        SupportResource.slug,
        SupportResource.category,
        SupportResource.title,
        SupportResource.description,
        SupportResource.url,
        SupportResource.phone,
        SupportResource.email,
        SupportResource.is_global,
        SupportResource.translations,
    ).order_by(SupportResource.title, SupportResource.slug)
    if category:
        query = query.where(SupportResource.category == category)
    return [dict(row._mapping) for row in conn.execute(query)]


def global_resources(conn: sa.Connection) -> list[dict[str, Any]]:
    return [r for r in list_resources(conn, category=None) if r["is_global"]]
