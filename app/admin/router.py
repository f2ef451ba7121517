"""`/api/v1/admin`: the management API. Authentication is applied here, once, to every route.

Each endpoint then declares the scope it needs; `tests/admin/test_auth.py` checks that every
admin operation has both, so a new endpoint cannot be public (or scope-less) by accident.
"""

from __future__ import annotations

from fastapi import FastAPI, Security

from app.audit.router import router as audit_router
from app.auth.dependencies import authenticate
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
        include(app, router, prefix=ADMIN_PREFIX, dependencies=[Security(authenticate)])
