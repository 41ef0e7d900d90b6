"""Wiring of the `analytics` feature (member-unit evaluation, call-centre statistics, hotspots)
into the application. It starts after `workflow`: the evaluation and the hotspots follow the
work-order service's clock, so that "has this period started / ended" and "the last 7 days" agree
with the instants the orders carry."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from analytics.call_stats import CallStatsService
from analytics.evaluation import EvaluationService
from analytics.hotspots import HOTSPOTS, HotspotService
from analytics.keys import CALL_STATS, EVALUATION
from kit.db import POOL
from workflow.keys import ORDER_SERVICE

ROUTE_MODULES: list[str] = [
    "analytics.evaluation_http",
    "analytics.call_stats_http",
    "analytics.hotspots_http",
]
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the evaluation, call-statistics and hotspot services (no background work)."""
    pool = app[POOL]
    orders = app[ORDER_SERVICE]
    app[EVALUATION] = EvaluationService(pool, now=lambda: orders.now())
    app[CALL_STATS] = CallStatsService(pool)
    app[HOTSPOTS] = HotspotService(pool, now=lambda: orders.now())
    yield
