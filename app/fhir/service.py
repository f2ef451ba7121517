"""Searches over the public projection for the FHIR endpoints (published drugs only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.publishing.models import PublishedDrug, PublishedDrugCode


@dataclass(frozen=True, slots=True)
class CodeToken:
    """One value of a token search: `system` None = any system; `code` None = any code."""

    system: str | None
    code: str | None


def _row_columns() -> tuple[Any, ...]:
    return (PublishedDrug.slug, PublishedDrug.revision_id, PublishedDrug.published_at)


def drugs_with_codes(conn: sa.Connection, tokens: list[CodeToken]) -> list[Any]:
    """Published drugs having a code matching any of the tokens, in name order."""
    matches = []
    for token in tokens:
        clauses = [PublishedDrugCode.drug_id == PublishedDrug.drug_id]
        if token.system is not None:
            clauses.append(PublishedDrugCode.system == token.system)
        if token.code is not None:
            clauses.append(PublishedDrugCode.code == token.code)
        matches.append(sa.exists().where(*clauses))
    if not matches:
        return []
    query = sa.select(*_row_columns()).where(sa.or_(*matches))
    return list(conn.execute(query.order_by(PublishedDrug.name_key, PublishedDrug.drug_id)))


def all_drugs(conn: sa.Connection) -> list[Any]:
    query = sa.select(*_row_columns()).order_by(PublishedDrug.name_key, PublishedDrug.drug_id)
    return list(conn.execute(query))
