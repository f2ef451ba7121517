"""Cursors of the public lists, and what each promises when content changes between two pages.

- Lists in a stable order page by keyset: the cursor names the last item delivered (its sort keys and
  id), never a count of items, so what is added or removed before it cannot make the next page skip
  an item (one that moved, by a rename or a new order, may be skipped or repeated).
- Lists ranked by relevance (full-text search) cannot: an item's rank depends on every other item.
  Their cursor is an offset tied to the query (`f`, a fingerprint) and to the content generation
  (`g`) it was made in; once content changed, the cursor is refused (`410 cursor_expired`) instead of
  silently skipping or repeating items. The generation is what the process's clock shows: no query.
- `offset_page` is left for short lists that change rarely (conditions, support resources).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

from app.core.errors import AppError, ProblemField
from app.core.pagination import bad_cursor, cursor_id, cursor_slug, decode_cursor, encode_cursor

T = TypeVar("T")


class CursorExpired(AppError):
    """410: the page the cursor names was a page of the content as it was; that state is gone for good.

    `no-store`: a process whose generation clock is behind another's may refuse a cursor the other just
    made; no cache should keep that answer.
    """

    status, code, title = 410, "cursor_expired", "Cursor expired"

    def __init__(self) -> None:
        super().__init__(
            "The results changed since this page was made; start again without a cursor.",
            errors=[ProblemField(pointer="#/query/cursor", detail="content changed", code="cursor_expired")],
            headers={"Cache-Control": "no-store"},
        )


# -- keyset: items of one part across drugs, by drug name, then the drug's order -------------------


@dataclass(frozen=True, slots=True)
class ItemPlace:
    """Where a page of items across drugs ended: the last item's drug (name key and id), its own id."""

    name_key: str
    drug_id: int
    item_id: int


def parse_item_place(cursor: str | None, *, kind: str) -> ItemPlace | None:
    """The place a keyset cursor of this list names (None without a cursor); else it names no page."""
    if not cursor:
        return None
    return ItemPlace(
        name_key=cursor_slug(cursor, kind=kind, key="n"),
        drug_id=cursor_id(cursor, kind=kind, key="d"),
        item_id=cursor_id(cursor, kind=kind, key="i"),
    )


def items_page(
    entries: Sequence[tuple[Any, dict[str, Any]]], *, kind: str, place: ItemPlace | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The page after `place` of `entries`, (drug row, item) pairs in list order (see `_start`)."""
    start = _start(entries, place) if place is not None else 0
    chosen = entries[start : start + limit]
    next_cursor = None
    if start + limit < len(entries):
        row, item = chosen[-1]
        next_cursor = encode_cursor({"k": kind, "n": row.name_key, "d": row.drug_id, "i": item["id"]})
    return [item for _, item in chosen], next_cursor


def _start(entries: Sequence[tuple[Any, dict[str, Any]]], place: ItemPlace) -> int:
    """Where the page after `place` starts: after the place's item, if it is still there and where it was.

    Else (the item is gone, or its drug was renamed) at the first item of the first drug at or after
    the place's drug, which rows say in `from_place` (the database's answer, so that names compare by
    the collation they were ordered by): every item that stayed where it was is still delivered, at
    the price of repeating some of that drug's items.
    """
    for n, (row, item) in enumerate(entries):
        if row.drug_id == place.drug_id and item["id"] == place.item_id and row.name_key == place.name_key:
            return n + 1
    return next((n for n, (row, _) in enumerate(entries) if row.from_place), len(entries))


# -- ranked: offsets valid for one query in one content generation ---------------------------------


@dataclass(frozen=True, slots=True)
class Ranking:
    """What a cursor of a ranked list is valid for: this list, this query, this content generation.

    Make it (`ranking`) before reading the content: were the content to change meanwhile, the
    cursors it makes are refused a little early, never accepted a little late.
    """

    kind: str
    fingerprint: str
    generation: int | None

    def cursor(self, offset: int) -> str:
        return encode_cursor({"k": self.kind, "o": offset, "f": self.fingerprint, "g": self.generation})

    def offset(self, cursor: str | None, *, max_offset: int) -> int:
        """Where the cursor's page starts (0 without one): 404 if it is not of this query, 410 if stale."""
        if not cursor:
            return 0
        payload = decode_cursor(cursor, kind=self.kind)
        offset, generation = payload.get("o"), payload.get("g")
        if payload.get("f") != self.fingerprint or not _is_int(offset) or not _is_int_or_none(generation):
            raise bad_cursor()
        # Staleness first: the list may have shrunk since. An unknown generation (None, on either
        # side) proves nothing, so the cursor may be stale.
        if generation is None or generation != self.generation:
            raise CursorExpired()
        if not 0 < offset <= max_offset:
            raise bad_cursor()
        return offset

    def page(self, items: Sequence[T], *, limit: int, cursor: str | None) -> tuple[list[T], str | None]:
        """Slice a ranked list (all of it, best first) at the cursor."""
        offset = self.offset(cursor, max_offset=len(items))
        end = min(offset + limit, len(items))
        return list(items[offset:end]), (self.cursor(end) if end < len(items) else None)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int, and no count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_int_or_none(value: object) -> bool:
    return value is None or _is_int(value)


def ranking(kind: str, generation: int | None, *query: object) -> Ranking:
    """The ranking of list `kind` for a query (everything that decides its hits and their order)."""
    fingerprint = hashlib.blake2b(repr(query).encode(), digest_size=6).hexdigest()
    return Ranking(kind=kind, fingerprint=fingerprint, generation=generation)


# -- offsets ---------------------------------------------------------------------------------------


def offset_page(
    items: list[Any], *, kind: str, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Slice a fully ordered list by an opaque offset cursor."""
    offset = 0
    if cursor:
        payload = decode_cursor(cursor, kind=kind)
        offset = payload.get("o", -1)
        if not isinstance(offset, int) or offset < 0 or offset > len(items):
            raise bad_cursor()
    page = items[offset : offset + limit]
    end = offset + len(page)
    return page, (encode_cursor({"k": kind, "o": end}) if end < len(items) else None)
