"""Keeping the index in step with the public view, and searching it. Services flush; callers commit."""

from __future__ import annotations

import dataclasses
import functools
import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import PreparedSelect
from app.core.locale import fallback_chain
from app.publishing.models import PublishedDrug
from app.revisions.models import DrugRevision
from app.search.backends import (
    DRUG_PARAMETER,
    IDS_PARAMETER,
    MARK_END,
    MARK_START,
    Backend,
    Scope,
    Split,
    backend_for,
    backend_named,
    entry,
    unhide,
)
from app.search.documents import analyzer_for, index_rows
from app.search.query import ParsedQuery

DEFAULT_LOCALE = str(Settings.model_fields["default_locale"].default)
MAX_OFFSET = 1000


def default_locale(session: Session) -> str:
    # The sessions of an app's Database carry its default locale (the language of the base text).
    return str(session.info.get("default_locale", DEFAULT_LOCALE))


def index_drug(session: Session, drug_id: int, snapshot: dict[str, Any]) -> None:
    """Replace the drug's entries with those of its live revision (same transaction as the publish)."""
    conn = session.connection()
    backend = backend_for(conn)
    backend.delete(conn, drug_id)
    backend.write(conn, index_rows(drug_id, snapshot, default_locale(session)))


def remove_drug(session: Session, drug_id: int) -> None:
    """Take the drug out of search (it is being unpublished)."""
    conn = session.connection()
    backend_for(conn).delete(conn, drug_id)


def optimize(session: Session) -> None:
    """Compact the index (same transaction). It rewrites the whole index: see `optimize_after`."""
    conn = session.connection()
    backend_for(conn).optimize(conn)


def optimize_after(session: Session, changed_drugs: int) -> bool:
    """Compact the index after a bulk change: at least a tenth of the published drugs (re)indexed.

    Compacting rewrites the whole index, which a small change does not pay for (FTS5's automerge
    keeps the index in shape between); after a bulk import a search reads one segment instead of
    dozens (~25% less time in SQLite at 1,000 drugs). Returns whether it compacted.
    """
    published = session.scalar(sa.select(sa.func.count()).select_from(PublishedDrug)) or 0
    if not changed_drugs or changed_drugs * 10 < published:
        return False
    optimize(session)
    return True


def reindex(session: Session, *, only_missing: bool = False) -> int:
    """Rebuild the entries of every published drug (or of those that have none); returns how many."""
    query = sa.select(PublishedDrug.drug_id, DrugRevision.document).join(
        DrugRevision, DrugRevision.id == PublishedDrug.revision_id
    )
    if only_missing:
        query = query.where(~sa.exists().where(entry.c.drug_id == PublishedDrug.drug_id))
    count = 0
    for drug_id, document in session.execute(query):
        index_drug(session, drug_id, document)
        count += 1
    optimize_after(session, count)
    session.flush()
    return count


def scope_for(
    locale: str,
    default_locale: str,
    *,
    types: frozenset[str] | None = None,
    drug_slug: str | None = None,
) -> Scope:
    chain = fallback_chain(locale, default_locale)
    analyzers = tuple(dict.fromkeys(analyzer_for(tag) for tag in chain))
    return Scope(chain=chain, analyzers=analyzers, types=types, drug_slug=drug_slug)


@dataclass(frozen=True, slots=True)
class Hit:
    entry_id: int
    drug_id: int
    drug_slug: str
    drug_name: str
    type: str
    item_id: str
    locale: str
    title: str
    link: str
    score: float
    snippet: str | None


def highlight(raw: str) -> str:
    """Engine snippet → HTML: escape the text first, then turn our markers into <mark>."""
    return html.escape(raw, quote=True).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


def _best_snippet(columns: tuple[str, ...]) -> str:
    """Body text first (the title is shown anyway), but a column with a match beats one without."""
    ordered = [c for c in reversed(columns) if c]
    with_match = [c for c in ordered if MARK_START in c]
    return highlight((with_match or ordered or [""])[0])


@functools.lru_cache(maxsize=512)
def _search_statements(
    dialect: str,
    shape: Scope,
    indexes: tuple[str, ...],
    paged: bool,
    narrowed: tuple[bool, ...] | None = None,
) -> tuple[PreparedSelect, PreparedSelect]:
    """The ranked SELECT of hits and its count, built once per shape of search: building and
    hashing a statement of this size costs more than the engine's search itself. The query texts
    (`match_<n>`), drug, limit and offset are bound at execution; so is `rows_<n>` where `narrowed`
    says the index finds a `Split`'s rows (see `Backend.branch`). Rows: HIT_COLUMNS, then score."""
    backend = backend_named(dialect)
    narrowed = narrowed or (False,) * len(indexes)
    branches = [
        backend.branch(index, shape, _match(n), _bound(f"rows_{n}") if narrowed[n] else None)
        for n, index in enumerate(indexes)
    ]
    union = branches[0] if len(branches) == 1 else sa.union_all(*branches)
    matches = union.subquery("matches")
    ordered = sa.select(matches).order_by(
        matches.c.score.desc(), matches.c.drug_slug, matches.c.position, matches.c.id
    )
    if paged:
        ordered = ordered.limit(sa.bindparam("limit", type_=sa.Integer))
        ordered = ordered.offset(sa.bindparam("offset", type_=sa.Integer))
    return backend.prepare(ordered), backend.prepare(sa.select(sa.func.count()).select_from(matches))


@functools.lru_cache(maxsize=64)
def _snippets_statement(dialect: str, index: str) -> PreparedSelect:
    backend = backend_named(dialect)
    return backend.prepare(backend.snippets_statement(index, _match(0)))


def _match(n: int) -> sa.BindParameter[str]:
    return _bound(f"match_{n}")


def _bound(name: str) -> sa.BindParameter[str]:
    return sa.bindparam(name, type_=sa.String)


# Positions in a row of `_search_statements` (HIT_COLUMNS, then the score).
_ID, _DRUG_ID, _SLUG, _NAME, _TYPE, _ITEM_ID, _LOCALE, _ANALYZER, _TITLE, _LINK, _POSITION, _SCORE = range(12)


def _snippets(
    conn: sa.Connection, backend: Backend, texts: dict[str, str], hits: Sequence[Any]
) -> dict[int, tuple[str, ...]]:
    """For each hit id, its three text columns as snippets with MARK_START/MARK_END around matches."""
    by_index: dict[str, list[int]] = defaultdict(list)
    for hit in hits:
        by_index[backend.index_of(hit[_ANALYZER])].append(hit[_ID])
    found: dict[int, tuple[str, ...]] = {}
    for index, ids in by_index.items():
        rows = _snippets_statement(conn.dialect.name, index).rows(
            conn, {"match_0": texts[index], IDS_PARAMETER: backend.ids_value(ids)}
        )
        found.update({row[0]: tuple(unhide(text or "") for text in row[1:]) for row in rows})
    return found


def _ranked_by_split(
    conn: sa.Connection,
    backend: Backend,
    shape: Scope,
    splits: dict[str, Split],
    scope: Scope,
    limit: int | None,
    offset: int,
) -> tuple[Sequence[Any], int]:
    """The hits of a query with common and rare items (see `Backend.split`), ranked here.

    The rows come from the rare items (fewer than the backend's COMMON_ROWS per index, whatever the
    catalog's size), each common item must match too and adds to the score; then the same order as
    the engine's (score, drug, position, id), the total and the page."""
    unpaged, _ = _search_statements(conn.dialect.name, shape, tuple(splits), False)
    params: dict[str, Any] = {f"match_{n}": split.rank_text for n, split in enumerate(splits.values())}
    rows = unpaged.rows(conn, params | {DRUG_PARAMETER: scope.drug_slug})
    scorers = {index: backend.common_score(conn, index, split) for index, split in splits.items()}
    ranked = []
    for row in rows:
        score = scorers[backend.index_of(row[_ANALYZER])](row[_ID], row[_SCORE])
        if score is not None:
            ranked.append((*row[:_SCORE], score))
    ranked.sort(key=lambda row: (-row[_SCORE], row[_SLUG], row[_POSITION], row[_ID]))
    page = ranked[offset:] if limit is None else ranked[offset : offset + limit]
    return page, len(ranked)


def search(
    conn: sa.Connection,
    query: ParsedQuery,
    scope: Scope,
    *,
    limit: int | None,
    offset: int = 0,
    snippets: bool = True,
) -> tuple[list[Hit], int]:
    """Ranked hits (best first) and how many there are; `limit=None` returns them all."""
    backend = backend_for(conn)
    texts = {} if query.empty else backend.match_texts(conn, query, scope)
    if not texts:
        return [], 0
    # The drug is bound too: the shape only says whether the search is about one drug.
    shape = dataclasses.replace(scope, drug_slug=DRUG_PARAMETER if scope.drug_slug else None)
    splits = {index: backend.split(conn, index, query) for index in texts}
    rows: Sequence[Any]
    if any(split and split.common for split in splits.values()) and all(splits.values()):
        ranked = cast(dict[str, Split], splits)
        rows, total = _ranked_by_split(conn, backend, shape, ranked, scope, limit, offset)
    else:
        # A split without common items (PostgreSQL's) only changes how the index finds the rows
        # (SQLite's, when every item is rare, finds them as the whole query does).
        narrowed = tuple(
            split is not None and not split.common and split.rank_text != texts[index]
            for index, split in splits.items()
        )
        ordered, count = _search_statements(
            conn.dialect.name, shape, tuple(texts), limit is not None, narrowed if any(narrowed) else None
        )
        params: dict[str, Any] = {f"match_{n}": text for n, text in enumerate(texts.values())}
        params |= {
            f"rows_{n}": split.rank_text for n, split in enumerate(splits.values()) if narrowed[n] and split
        }
        params |= {DRUG_PARAMETER: scope.drug_slug, "limit": limit, "offset": offset}
        rows = ordered.rows(conn, params)
        if limit is None or (offset == 0 and len(rows) < limit):
            total = len(rows)
        else:
            total = count.rows(conn, params)[0][0]
    found = _snippets(conn, backend, texts, rows) if snippets and rows else {}
    hits = [
        Hit(
            entry_id=row[_ID],
            drug_id=row[_DRUG_ID],
            drug_slug=row[_SLUG],
            drug_name=row[_NAME],
            type=row[_TYPE],
            item_id=row[_ITEM_ID],
            locale=row[_LOCALE],
            title=row[_TITLE],
            link=row[_LINK],
            score=float(f"{row[_SCORE]:.6g}"),
            snippet=_best_snippet(found[row[_ID]]) if row[_ID] in found else None,
        )
        for row in rows
    ]
    return hits, total
