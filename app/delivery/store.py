"""Published documents and public answers, kept in memory for one content generation at a time.

Two kinds of cache, with different lifetimes:
- by revision (across generations): rendered documents and the prepared bytes of their shapes.
  Revisions are immutable, so these never go stale; they are only evicted for room (LRU).
- by generation (a `CacheView`): which revision each slug has live, and every prepared public
  answer by request (path, query string, Accept-Language, Host). A view is valid while the
  process's generation clock still shows the generation it was made for (and for the UTC day it
  was made on: documents say whether their review is overdue). A new generation makes a new, empty
  view: nothing in it can be older than the generation it is labelled with, because a view is
  created before any database read that fills it.

The hot path (`app.delivery.cache`) reads one attribute of the clock and one dict entry; nothing in
it touches the database, the ORM or Pydantic.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from app.core.config import Settings
from app.core.db import Database
from app.core.http import JSON_MEDIA_TYPE, Representation, prepare, remember, strong_etag
from app.delivery.render import PARTS, LiveRevision, content_language, render_document, served_locales
from app.publishing.generation import Generation, GenerationClock
from app.publishing.models import PublishedDrug
from app.revisions.models import DrugRevision

__all__ = ["PublishedStore", "dumps", "select_parts", "strong_etag"]


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


class LRU:
    """A small thread-safe LRU map with hit/miss counters."""

    def __init__(self, max_items: int, name: str = "lru") -> None:
        self.max_items = max_items
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Any, value: Any) -> None:
        if self.max_items <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
                self.evictions += 1

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True, slots=True)
class Live:
    """Which revision of a drug is live, and since when."""

    revision_id: int
    published_at: dt.datetime


_NOT_PUBLISHED = Live(revision_id=0, published_at=dt.datetime.min.replace(tzinfo=dt.UTC))


def _next_utc_midnight(now: float) -> tuple[dt.date, float]:
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    return today, midnight.timestamp()


@dataclass(frozen=True, slots=True)
class ViewSlot:
    """Where a handler's answer to one request goes: this view, under this request key."""

    view: CacheView
    key: Any

    def put(self, representation: Representation, route: str | None) -> None:
        self.view.responses.put(self.key, (representation, route))


class CacheView:
    """What this process may serve for one content generation (and one UTC day)."""

    __slots__ = ("day", "expires_at", "generation", "live", "responses")

    def __init__(self, generation: Generation | None, *, max_entries: int) -> None:
        self.generation = generation
        self.day, self.expires_at = _next_utc_midnight(time.time())
        # An unknown generation (database unreachable, watcher not started) caches nothing.
        capacity = max_entries if generation is not None else 0
        self.live = LRU(capacity)
        self.responses = LRU(capacity)

    @property
    def changed_at(self) -> dt.datetime | None:
        return self.generation.changed_at if self.generation is not None else None


class PublishedStore:
    """Read access to what is published: rendered once, then answered from memory."""

    def __init__(
        self,
        db: Database,
        clock: GenerationClock,
        *,
        max_entries: int = 4096,
        max_documents: int = 1024,
    ) -> None:
        self.db = db
        self.settings: Settings = db.settings
        self.clock = clock
        self.max_entries = max_entries
        self.documents = LRU(max_documents)
        self.bodies = LRU(max_entries)
        self.views_made = 0
        self.renders = 0
        self.response_hits = 0
        self.response_misses = 0
        self._view_lock = threading.Lock()
        self._view = CacheView(None, max_entries=0)

    # -- the generation view -------------------------------------------------------------------

    def view(self) -> CacheView:
        """The view for the generation this process currently knows (a plain attribute check)."""
        view = self._view
        if view.generation is self.clock.current and time.time() < view.expires_at:
            return view
        with self._view_lock:
            current = self.clock.current
            view = self._view
            if view.generation is not current or time.time() >= view.expires_at:
                view = self._view = CacheView(current, max_entries=self.max_entries)
                self.views_made += 1
            return view

    def answer(self, request: Request, representation: Representation) -> Response:
        """Answer with `representation`, and keep it for the same request in the same generation.

        Only for answers that depend on nothing but the path, the query string, Accept-Language,
        Host and published content.
        """
        remember(request, representation)
        return representation.response(request)

    def prepare_json(
        self,
        payload: Any,
        *,
        last_modified: dt.datetime | None,
        extra_headers: Mapping[str, str] | None = None,
        locales: Iterable[str] | None = None,
    ) -> Representation:
        """The prepared JSON answer; `Content-Language` names the locales its items say they are in
        (`locales`, when the caller knows them: finding them in the payload walks all of it)."""
        if locales is None:
            locales = served_locales(payload)
        return prepare(
            dumps(payload),
            self.settings,
            last_modified=last_modified,
            content_language=content_language(locales, self.settings.default_locale),
            extra_headers=extra_headers,
        )

    @property
    def content_changed_at(self) -> dt.datetime | None:
        """When published content last changed (Last-Modified of lists), as far as this process knows."""
        return self.view().changed_at

    @property
    def content_generation(self) -> int | None:
        """The content generation this process knows (None: unknown), for cursors that expire with it."""
        generation = self.view().generation
        return generation.number if generation is not None else None

    # -- live revisions and documents ----------------------------------------------------------

    def find_live(self, slug: str) -> Live | None:
        """The live revision of a slug: from this generation's map, or one indexed lookup."""
        view = self.view()
        live = view.live.get(slug)
        if live is None:
            with self.db.engine.connect() as conn:
                row = conn.execute(
                    sa.select(PublishedDrug.revision_id, PublishedDrug.published_at).where(
                        PublishedDrug.slug == slug
                    )
                ).one_or_none()
            live = Live(row.revision_id, row.published_at) if row is not None else _NOT_PUBLISHED
            view.live.put(slug, live)
        return None if live is _NOT_PUBLISHED else live

    def _load_revisions(self, wanted: Mapping[int, dt.datetime]) -> dict[int, LiveRevision]:
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    DrugRevision.id,
                    DrugRevision.drug_id,
                    DrugRevision.number,
                    DrugRevision.drug_version,
                    DrugRevision.drug_created_at,
                    DrugRevision.drug_updated_at,
                    DrugRevision.document,
                ).where(DrugRevision.id.in_(list(wanted)))
            ).all()
        return {
            row.id: LiveRevision(
                drug_id=row.drug_id,
                revision_id=row.id,
                number=row.number,
                drug_version=row.drug_version,
                created_at=row.drug_created_at,
                updated_at=row.drug_updated_at,
                published_at=wanted[row.id],
                document=row.document,
            )
            for row in rows
        }

    def _documents(self, lives: list[Live], locale: str, day: dt.date) -> list[dict[str, Any]]:
        keys = [(live.revision_id, live.published_at, locale, day) for live in lives]
        found = [self.documents.get(key) for key in keys]
        missing = {
            live.revision_id: live.published_at for live, doc in zip(lives, found, strict=True) if doc is None
        }
        if missing:
            loaded = self._load_revisions(missing)
            for index, (key, live) in enumerate(zip(keys, lives, strict=True)):
                if found[index] is None:
                    document = render_document(
                        loaded[live.revision_id],
                        locale=locale,
                        default_locale=self.settings.default_locale,
                        today=day,
                    )
                    self.renders += 1
                    self.documents.put(key, document)
                    found[index] = document
        return found  # type: ignore[return-value]

    def find_document(self, slug: str, locale: str) -> dict[str, Any] | None:
        """The full public document of a published drug, or None when nothing is published."""
        live = self.find_live(slug)
        if live is None:
            return None
        return self._documents([live], locale, self.view().day)[0]

    def documents_for(self, rows: Iterable[Any], locale: str) -> list[dict[str, Any]]:
        """Rendered documents for rows with `revision_id` and `published_at` (one query for all misses)."""
        lives = [Live(r.revision_id, r.published_at) for r in rows]
        return self._documents(lives, locale, self.view().day) if lives else []

    def find_rendered(
        self,
        slug: str,
        locale: str,
        key: Any,
        shape: Callable[[dict[str, Any]], Any],
        *,
        encode: Callable[[Any], bytes] = dumps,
        media_type: str = JSON_MEDIA_TYPE,
    ) -> Representation | None:
        """The prepared answer `encode(shape(document))` (JSON by default) for a published drug, cached
        per revision and `key` (the key must tell shapes and encodings apart).

        `Content-Language` names the locales the shape's items say they are in; a shape without
        per-item locales (an HTML page, JSON-LD) is in the document's own, which it states itself.
        """
        live = self.find_live(slug)
        if live is None:
            return None
        day = self.view().day
        cache_key = (live.revision_id, live.published_at, locale, day, key)
        representation: Representation | None = self.bodies.get(cache_key)
        if representation is None:
            document = self._documents([live], locale, day)[0]
            shaped = shape(document)
            locales = served_locales(shaped) or {document["locale"]}
            representation = prepare(
                encode(shaped),
                self.settings,
                last_modified=live.published_at,
                content_language=content_language(locales, self.settings.default_locale),
                media_type=media_type,
            )
            self.bodies.put(cache_key, representation)
        return representation

    # -- reporting -----------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters and sizes, for /metrics and the benchmark."""
        view = self._view
        current = self.clock.current
        return {
            "generation": current.number if current is not None else -1,
            "views_made": self.views_made,
            "renders": self.renders,
            "responses_entries": len(view.responses),
            "responses_hits": self.response_hits,
            "responses_misses": self.response_misses,
            "live_entries": len(view.live),
            "documents_entries": len(self.documents),
            "documents_hits": self.documents.hits,
            "documents_misses": self.documents.misses,
            "documents_evictions": self.documents.evictions,
            "bodies_entries": len(self.bodies),
            "bodies_hits": self.bodies.hits,
            "bodies_misses": self.bodies.misses,
            "bodies_evictions": self.bodies.evictions,
            "bodies_bytes": sum(r.size for r in self.bodies.values()),
            "responses_bytes": sum(r.size for r, _ in view.responses.values()),
        }


def select_parts(document: dict[str, Any], include: frozenset[str] | None) -> dict[str, Any]:
    if include is None:
        return document
    return {k: v for k, v in document.items() if k not in PARTS or k in include}
