"""Dependencies of the public routers: the published store and the negotiated locale."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.core.db import Database
from app.core.deps import SettingsDep
from app.core.locale import RequestedLocales, negotiate
from app.delivery import service as delivery
from app.delivery.store import PublishedStore


async def get_store(request: Request) -> PublishedStore:
    store: PublishedStore = request.app.state.store
    return store


async def negotiated_locale(request: Request, requested: RequestedLocales, settings: SettingsDep) -> str:
    """The locale to serve: the client's first choice (or a shorter tag of it) that content exists in.

    Only a request for something other than the default locale costs a query (in a worker thread).
    """
    default = settings.default_locale
    if not requested or requested[0] == default:
        return default  # what `negotiate` answers without looking anything up

    def available() -> list[str]:
        db: Database = request.app.state.db
        with db.engine.connect() as conn:
            return delivery.published_locales(conn)

    return await run_in_threadpool(negotiate, requested, available, default)


Store = Annotated[PublishedStore, Depends(get_store)]
Locale = Annotated[str, Depends(negotiated_locale)]
