"""Routers that turn away a request for a path none of their routes has, in one regex match.

FastAPI (0.16x) finds the route of a request by asking each router included in the app, in order,
whether it has one; a router answers by trying each of its routes (~3 µs each), and the router that
has it tries them all again to pick it. An admin FAQ edit went through about 110 route checks, some
0.4 ms of its CPU, and every request the response cache does not answer paid its share.

A `GuardedRouter` first matches the path against one regular expression made of all its routes'
paths (at the prefix it is included with), and answers "not here" at once when none fits; when one
fits, FastAPI matches as it always does, methods (405) included. Include one with `include`, which
tells it its prefix; until then it behaves as a plain `APIRouter`.

Its plain `def` handlers also finish their write session (revisions, audit entry, commit) in their
own worker thread as they return (`app.core.deps.finish_in_handler_thread`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette._utils import get_route_path
from starlette.routing import Match, Route, compile_path
from starlette.types import Scope

from app.core.deps import finish_in_handler_thread

_GROUP_NAME = re.compile(r"\(\?P<[^>]+>")


class GuardedRouter(APIRouter):
    """An `APIRouter` that says "no match" in one regex match for a path none of its routes has."""

    mounted_at: str | None = None
    _guard: re.Pattern[str] | None = None
    _guard_key: tuple[str, int] | None = None

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, finish_in_handler_thread(endpoint), **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        guard = self.path_guard()
        if guard is not None and scope["type"] == "http" and guard.match(get_route_path(scope)) is None:
            return Match.NONE, {}
        return super().matches(scope)

    def path_guard(self) -> re.Pattern[str] | None:
        """Every route's path regex (with the mount prefix) in one; None when the router cannot be
        guarded: not included through `include`, or holding a route that is not a plain path route
        (a `Route`, as `APIRoute`s and the FHIR router's catch-alls are)."""
        if self.mounted_at is None:
            return None
        key = (self.mounted_at, len(self.routes))
        if key != self._guard_key:
            self._guard = _union_of(self.mounted_at, self.routes)
            self._guard_key = key
        return self._guard


def _union_of(prefix: str, routes: list[Any]) -> re.Pattern[str] | None:
    patterns = []
    for route in routes:
        if not isinstance(route, Route):  # a mount or a host matches more than its path
            return None
        regex, _, _ = compile_path(prefix + route.path)
        # The same parameter name occurs in many paths: one regex allows each group name once.
        patterns.append(_GROUP_NAME.sub("(?:", regex.pattern.removeprefix("^").removesuffix("$")))
    if not patterns:
        return None
    return re.compile("^(?:" + "|".join(patterns) + ")$")


def include(app: FastAPI, router: APIRouter, *, prefix: str = "", **options: Any) -> None:
    """`app.include_router`, telling a `GuardedRouter` the prefix its paths are matched at."""
    if isinstance(router, GuardedRouter):
        if router.mounted_at not in (None, prefix):
            raise ValueError(f"router already included at {router.mounted_at!r}")
        router.mounted_at = prefix
    app.include_router(router, prefix=prefix, **options)
