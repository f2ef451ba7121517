"""`/api/v1/admin`: the management API. Every route authenticates through the scope it declares.

Each endpoint declares the scope it needs (`ContentWriter` and the other aliases of
`app.auth.dependencies`), first, and a scope check depends on `authenticate`. Including a router
refuses (at startup) a route that does not, so a new endpoint cannot be public or scope-less by
accident; `tests/admin/test_auth.py` checks every admin operation's 401 and 403 as well.

Not also a router-wide `Security(authenticate)`: FastAPI solves a route's dependencies afresh on
every request, and a second authentication (with its bearer parsing) was pure cost on each.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.audit.router import router as audit_router
from app.auth.dependencies import authenticate, require_scopes
from app.auth.router import router as keys_router
from app.bundle.router import router as bundle_router
from app.conditions.router_admin import router as conditions_router
from app.core.config import ADMIN_PREFIX
from app.core.routing import include
from app.drugs.router_admin import part_routers
from app.drugs.router_admin import router as drugs_router
from app.resources.router_admin import router as resources_router
from app.revisions.router import reviews_router
from app.revisions.router import router as workflow_router
from app.webhooks.router_admin import router as webhooks_router

ADMIN_ROUTERS = (
    keys_router,
    drugs_router,
    *part_routers,
    conditions_router,
    resources_router,
    workflow_router,
    audit_router,
    bundle_router,
    reviews_router,
    webhooks_router,
)


def include_admin_routers(app: FastAPI) -> None:
    # Included into the app directly (not through an intermediate router): FastAPI builds every
    # route's dependency tree per inclusion level, and app creation per test must stay cheap.
    for router in ADMIN_ROUTERS:
        require_a_scope_on_every_route(router)
        include(app, router, prefix=ADMIN_PREFIX)


def require_a_scope_on_every_route(router: APIRouter) -> None:
    """Raise unless every route of the router authenticates first and checks a scope.

    First: FastAPI runs a route's dependencies in the order they are declared, and an anonymous
    request must be refused before any other runs (opens a session, reads a body, answers a 428).
    """
    for route in router.routes:
        dependant = route.dependant if isinstance(route, APIRoute) else None
        if dependant is None or not _guarded(dependant):
            methods = ",".join(sorted(getattr(route, "methods", None) or ()))
            raise RuntimeError(
                f"admin route {methods} {getattr(route, 'path', route)!r} must depend first on a scope "
                "check: one of the aliases in app.auth.dependencies (ContentReader, ...)"
            )


def _guarded(dependant: Dependant) -> bool:
    first = dependant.dependencies[0] if dependant.dependencies else None
    return first is not None and _authenticates(first) and _checks_a_scope(dependant)


def _authenticates(dependant: Dependant) -> bool:
    return dependant.call is authenticate or any(_authenticates(sub) for sub in dependant.dependencies)


def _checks_a_scope(dependant: Dependant) -> bool:
    return any(sub.call is require_scopes or _checks_a_scope(sub) for sub in dependant.dependencies)
