"""/healthz, /readyz, /metrics and /api/openapi.json."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from hotline.keys import ROLES, ROUTE_SPECS
from hotline.web.openapi import openapi_document
from kit.component import COMPONENTS
from kit.db import POOL
from kit.http import Routes, json_response
from kit.metrics import METRICS

routes = Routes(tag="platform")
STARTED = web.AppKey("started_monotonic", float)


@routes.get("/healthz", roles="public", summary="Process is up")
async def healthz(request: web.Request) -> web.Response:
    return json_response(
        {"ok": True, "uptime_s": round(time.monotonic() - request.app[STARTED], 1)}
    )


async def database_status(request: web.Request) -> dict[str, object]:
    """Round trip to PostgreSQL with a short timeout."""
    pool = request.app.get(POOL)
    if pool is None:
        return {"ok": False, "error": "no database pool"}
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(2):
            await pool.fetchval("SELECT 1")
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ok": True,
        "latency_ms": round((time.perf_counter() - t0) * 1000, 2),
        "pool_size": pool.get_size(),
        "pool_idle": pool.get_idle_size(),
    }


@routes.get("/readyz", roles="public", summary="Readiness: database and every component")
async def readyz(request: web.Request) -> web.Response:
    db = await database_status(request)
    components = {"database": db, **request.app[COMPONENTS].snapshot()}
    roles: frozenset[str] = request.app[ROLES]
    ready = db["ok"] and all(c.get("ok") or c.get("optional") for c in components.values())
    return json_response(
        {"ready": bool(ready), "roles": sorted(roles), "components": components},
        status=200 if db["ok"] else 503,
    )


@routes.get("/metrics", roles="public", summary="Prometheus metrics")
async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    db = await database_status(request)
    m.gauge("hotline_database_up", "1 when PostgreSQL answers").set(1.0 if db["ok"] else 0.0)
    for name, st in request.app[COMPONENTS].snapshot().items():
        m.gauge("hotline_component_up", "1 when a component reports ok", ["component"]).set(
            1.0 if st.get("ok") else 0.0, component=name
        )
    return web.Response(
        text=m.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@routes.get("/api/openapi.json", roles="public", summary="This API's OpenAPI 3 document")
async def openapi(request: web.Request) -> web.Response:
    from hotline import __version__

    return json_response(openapi_document(request.app[ROUTE_SPECS], __version__))
