"""Build the aiohttp application from settings: middlewares, routes, database pool, features."""

from __future__ import annotations

import importlib
import time
from collections.abc import AsyncIterator, Callable
from types import ModuleType

from aiohttp import web

from hotline.auth.store import UserStore
from hotline.features import analytics, console, ivr, links, recordings, telephony, workflow
from hotline.keys import ROLES, ROUTE_SPECS, USERS
from hotline.settings import ROLES as ALL_ROLES
from hotline.settings import SETTINGS, Settings
from hotline.web.guard import guarded
from hotline.web.health import STARTED
from hotline.web.middleware import errors_middleware
from kit.component import COMPONENTS, ComponentRegistry
from kit.db import DSN, POOL, create_pool
from kit.http import Routes, RouteSpec
from kit.metrics import METRICS, Metrics

CORE_ROUTE_MODULES = ["hotline.web.health", "hotline.auth.http"]
FEATURES: list[ModuleType] = [workflow, telephony, ivr, recordings, console, links, analytics]
"""Feature wiring modules, in start order (stopped in reverse)."""


def collect_routes() -> list[RouteSpec]:
    """Every declared route of the core and the features."""
    names = list(CORE_ROUTE_MODULES)
    for f in FEATURES:
        names.extend(getattr(f, "ROUTE_MODULES", []))
    specs: list[RouteSpec] = []
    for name in names:
        table = getattr(importlib.import_module(name), "routes", None)
        if not isinstance(table, Routes):
            raise RuntimeError(f"{name} has no module-level `routes = Routes(...)`")
        specs.extend(table.specs)
    return specs


def _pool_ctx(dsn: str, settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(
            dsn, min_size=settings.database.pool_min, max_size=settings.database.pool_max
        )
        app[POOL] = pool
        app[USERS] = UserStore(pool)
        try:
            yield
        finally:
            await pool.close()

    return ctx


def build_app(
    settings: Settings, dsn: str, roles: frozenset[str] = frozenset(ALL_ROLES)
) -> web.Application:
    """The application; its cleanup contexts open the pool and start every feature's parts."""
    app = web.Application(
        client_max_size=settings.http.max_body_bytes, middlewares=[errors_middleware]
    )
    app[SETTINGS] = settings
    app[ROLES] = frozenset(roles)
    app[METRICS] = Metrics()
    app[COMPONENTS] = ComponentRegistry()
    app[STARTED] = time.monotonic()
    app[DSN] = dsn
    specs = collect_routes()
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        key = (spec.method, spec.path)
        if key in seen:
            raise RuntimeError(f"route declared twice: {spec.method} {spec.path}")
        seen.add(key)
        app.router.add_route(spec.method, spec.path, guarded(spec))
    app[ROUTE_SPECS] = specs
    app.cleanup_ctx.append(_pool_ctx(dsn, settings))
    for feature in FEATURES:
        app.cleanup_ctx.append(feature.feature_ctx)
    return app
