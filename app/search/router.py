"""`GET /api/v1/search`: one ranked full-text search over everything published."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fastapi import Request
from starlette.responses import Response

from app.core.config import Settings
from app.core.db import Database
from app.core.deps import get_db
from app.core.errors import problem_responses
from app.core.locale import requested_locales
from app.core.params import parse_query_model, query_parameters
from app.core.routing import GuardedRouter
from app.delivery import cursors
from app.delivery.dependencies import negotiated_locale
from app.delivery.render import drug_link
from app.delivery.responses import page_response, parse_list
from app.delivery.store import PublishedStore
from app.search import schemas
from app.search import service as search_service
from app.search.backends import Scope
from app.search.models import SEARCH_TYPES
from app.search.query import ParsedQuery, parse_query

router = GuardedRouter(prefix="/api/v1", tags=["search"])

# Item ids are numbers for parts, slugs for drugs and support resources.
_SLUG_IDS = frozenset({"drug", "support_resource"})


# Worker threads when `search_concurrency` is 0 ("no limit"): as many as the default thread pool has.
UNQUEUED_THREADS = 40
# `search_concurrency` unset, per engine. SQLite: a search is CPU work in this process, and with
# several at once they share the core (and the GIL) unevenly: at 32 connections one at a time gave
# p99 ≈ 1.3 × p50, four ≈ 1.7 × (`make bench`, distinct searches). PostgreSQL: a search mostly waits
# on the server's round trips, which others can use.
DEFAULT_CONCURRENCY = {"sqlite": 1}
DEFAULT_CONCURRENCY_ELSEWHERE = 4

T = TypeVar("T")


class SearchQueue:
    """At most `size` searches' database work at once, in worker threads of the queue's own; the
    others wait their turn in arrival order (`search_concurrency`).

    A plain executor: handing a search to anyio's thread pool through a capacity limiter cost ~80 µs
    of the event loop's time per search (its checkpoints are trips around the loop), this ~20.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="druginfo-search")

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker thread, in a copy of this context (the request id)."""
        call = functools.partial(contextvars.copy_context().run, function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def search_queue(settings: Settings, dialect: str) -> SearchQueue:
    """The queue of an app on this engine (`search_concurrency`, or the engine's default)."""
    size = settings.search_concurrency
    if size is None:
        size = DEFAULT_CONCURRENCY.get(dialect, DEFAULT_CONCURRENCY_ELSEWHERE)
    return SearchQueue(size or UNQUEUED_THREADS)


def _search(
    db: Database, query: ParsedQuery, scope: Scope, limit: int, offset: int
) -> tuple[list[search_service.Hit], int]:
    """The whole database part of a search, run in one worker thread: connection, queries, release."""
    with db.engine.connect() as conn:
        return search_service.search(conn, query, scope, limit=limit, offset=offset)


@router.get(
    "/search",
    response_model=schemas.SearchPage,
    summary="Full-text search over all published content",
    description="Drugs, sections, FAQs, side effects, monitoring, indications, regimens, stories and "
    "support resources, best match first (a match in a drug's name or an FAQ's question outranks a "
    "passing mention), each with a highlighted snippet and the API link of the item. Searches the "
    "negotiated locale (`?locale=` or `Accept-Language`), falling back per item to the default locale.",
    responses=problem_responses(400, 404, 410, 422),
    openapi_extra=query_parameters(schemas.SearchQuery),
)
async def search(request: Request) -> Response:
    """One ranked search over every published item, in the negotiated locale (per-item fallback).

    Async, with the database work in one worker thread (`_search`): a cache-missing search is
    CPU-bound, and each hop between the event loop and a thread costs about a tenth of it. At most
    `search_concurrency` searches are in the database at once, the others queue in arrival order:
    32 at once sharing one core made the slowest wait twice as long as the median (`make bench`).
    The query is one model (`schemas.SearchQuery`), validated in one call: as FastAPI parameters and
    dependencies, it cost a sixth of the request."""
    params = parse_query_model(schemas.SearchQuery, request)
    q, type, drug, limit, cursor = params.q, params.type, params.drug, params.limit, params.cursor
    settings: Settings = request.app.state.settings
    locale = await negotiated_locale(request, await requested_locales(request, params.locale), settings)
    types = parse_list(type, SEARCH_TYPES, "type")
    query = parse_query(q)
    # Before the search reads anything: see `cursors.Ranking`.
    store: PublishedStore = request.app.state.store
    ranking = cursors.ranking(
        "search", store.content_generation, query.key(), sorted(types or ()), drug, locale
    )
    offset = ranking.offset(cursor, max_offset=search_service.MAX_OFFSET)
    scope = search_service.scope_for(locale, settings.default_locale, types=types, drug_slug=drug)
    queue: SearchQueue = request.app.state.search_queue
    hits, total = await queue.run(_search, get_db(request), query, scope, limit, offset)
    end = offset + len(hits)
    next_cursor = ranking.cursor(end) if end < total and end <= search_service.MAX_OFFSET else None
    items = [
        {
            "type": hit.type,
            "id": hit.item_id if hit.type in _SLUG_IDS else int(hit.item_id),
            "drug": {
                "slug": hit.drug_slug,
                "name": hit.drug_name,
                "links": {"self": drug_link(hit.drug_slug)},
            },
            "title": hit.title,
            "snippet": hit.snippet,
            "score": hit.score,
            "link": hit.link,
            "locale": hit.locale,
        }
        for hit in hits
    ]
    payload = {"items": items, "next_cursor": next_cursor, "total": total}
    return page_response(request, payload, locales={hit.locale for hit in hits})
