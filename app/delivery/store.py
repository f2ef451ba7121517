"""Published documents, rendered once per live revision and served as ready bytes.

Revisions are immutable, so a rendered document keyed by revision id never goes stale; the only
question per request is which revision is live, which one indexed lookup answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from app.core.db import Database
from app.core.metrics import CACHE_HITS, CACHE_MISSES
from app.delivery.render import PARTS, LiveRevision, render_document
from app.publishing.models import PublishedDrug
from app.revisions.models import DrugRevision


@dataclass(frozen=True, slots=True)
class Rendered:
    """A response body with its validators, computed once."""

    body: bytes
    etag: str
    last_modified: dt.datetime


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


class LRU:
    """A small thread-safe LRU map; `get_or_make` counts hits and misses under `name` in the metrics."""

    def __init__(self, max_items: int, name: str = "lru") -> None:
        self.max_items = max_items
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = CACHE_HITS.labels(cache=name)
        self._misses = CACHE_MISSES.labels(cache=name)

    def get(self, key: Any) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            self._misses.inc()
            value = make()
            self.put(key, value)
        else:
            self._hits.inc()
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_LIVE_COLUMNS = (
    PublishedDrug.drug_id,
    PublishedDrug.revision_id,
    PublishedDrug.published_at,
    PublishedDrug.last_reviewed,
)


class PublishedStore:
    """Read access to what is published, with rendered documents cached by revision."""

    def __init__(self, db: Database, *, max_documents: int = 2000) -> None:
        self.db = db
        self.documents = LRU(max_documents, name="documents")
        self.bodies = LRU(max_documents * 4, name="bodies")

    def _load_live(self, revision_id: int, published_at: dt.datetime) -> LiveRevision:
        with self.db.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    DrugRevision.drug_id,
                    DrugRevision.number,
                    DrugRevision.drug_version,
                    DrugRevision.drug_created_at,
                    DrugRevision.drug_updated_at,
                    DrugRevision.document,
                ).where(DrugRevision.id == revision_id)
            ).one()
        return LiveRevision(
            drug_id=row.drug_id,
            revision_id=revision_id,
            number=row.number,
            drug_version=row.drug_version,
            created_at=row.drug_created_at,
            updated_at=row.drug_updated_at,
            published_at=published_at,
            document=row.document,
        )

    def _document_for(self, revision_id: int, published_at: dt.datetime, locale: str) -> dict[str, Any]:
        today = dt.datetime.now(dt.UTC).date()
        return self.documents.get_or_make(  # type: ignore[no-any-return]
            (revision_id, published_at, locale, today),
            lambda: render_document(self._load_live(revision_id, published_at), locale=locale, today=today),
        )

    def find_document(self, slug: str, locale: str) -> dict[str, Any] | None:
        """The full public document of a published drug, or None when nothing is published."""
        with self.db.engine.connect() as conn:
            row = conn.execute(
                sa.select(PublishedDrug.revision_id, PublishedDrug.published_at).where(
                    PublishedDrug.slug == slug
                )
            ).one_or_none()
        if row is None:
            return None
        return self._document_for(row.revision_id, row.published_at, locale)

    def documents_for(self, rows: Iterable[Any], locale: str) -> list[dict[str, Any]]:
        """Rendered documents for rows carrying `revision_id` and `published_at`."""
        return [self._document_for(r.revision_id, r.published_at, locale) for r in rows]

    def find_rendered(
        self, slug: str, locale: str, key: Any, shape: Callable[[dict[str, Any]], Any]
    ) -> Rendered | None:
        """Bytes of `shape(document)` for a published drug, cached per revision and `key`."""
        document = self.find_document(slug, locale)
        if document is None:
            return None
        cache_key = (document["slug"], document["revision"], document["published_at"], locale, key)

        def make() -> Rendered:
            body = dumps(shape(document))
            return Rendered(body=body, etag=strong_etag(body), last_modified=document["published_at"])

        return self.bodies.get_or_make(cache_key, make)  # type: ignore[no-any-return]


def select_parts(document: dict[str, Any], include: frozenset[str] | None) -> dict[str, Any]:
    if include is None:
        return document
    return {k: v for k, v in document.items() if k not in PARTS or k in include}
