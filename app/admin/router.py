"""`/api/v1/admin`: the management API. Authentication is applied here, once, to every route.

Each endpoint then declares the scope it needs; `tests/admin/test_openapi.py` checks that every
admin operation has both, so a new endpoint cannot be public (or scope-less) by accident.
"""

from __future__ import annotations

from fastapi import APIRouter, Security

from app.auth.dependencies import authenticate
from app.auth.router import router as keys_router
from app.conditions.router_admin import router as conditions_router
from app.drugs.router_admin import router as drugs_router
from app.resources.router_admin import router as resources_router

ADMIN_PREFIX = "/api/v1/admin"


def admin_router() -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, dependencies=[Security(authenticate)])
    router.include_router(keys_router)
    router.include_router(drugs_router)
    router.include_router(conditions_router)
    router.include_router(resources_router)
    return router
