"""The public response cache in front of the app: a repeated public GET is answered from memory.

This pure ASGI middleware sits inside the app's other middleware (CORS, request ids, limits still
apply) and in front of routing. For a GET it looks up (path, query string, Accept-Language, Host)
in the current generation's view of the store; a hit is answered from the prepared representation —
304 from the cached validators, gzip or plain bytes — without routing, parameter validation,
dependencies or serialization. A miss goes to the route as usual, carrying a slot that
`PublishedStore.answer` (or `app.core.http.public_json`) fills, so only answers a public handler
chose to cache are ever served from here, and only for requests that already passed its validation.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import ADMIN_PREFIX
from app.core.http import CACHE_SLOT, CACHED_ROUTE
from app.delivery.store import PublishedStore, ViewSlot


class ResponseCacheMiddleware:
    def __init__(self, app: ASGIApp, store: PublishedStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Never the admin API: its answers depend on who asks (Authorization is not in the key).
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        accept_encoding = accept_language = if_none_match = if_modified_since = host = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"accept-language" and accept_language is None:
                accept_language = value
            elif name == b"if-modified-since":
                if_modified_since = value.decode("latin-1")
            elif name == b"host":
                host = value
        store = self.store
        view = store.view()
        # Host and scheme: answers may carry absolute links (e.g. `Link: rel="next"`).
        key = (scope["path"], scope["query_string"], accept_language, host, scope.get("scheme"))
        cached = view.responses.get(key)
        if cached is None:
            store.response_misses += 1
            scope[CACHE_SLOT] = ViewSlot(view, key)
            await self.app(scope, receive, send)
            return
        store.response_hits += 1
        representation, scope[CACHED_ROUTE] = cached
        status, headers, body = representation.choose(accept_encoding, if_none_match, if_modified_since)
        await send({"type": "http.response.start", "status": status, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})
