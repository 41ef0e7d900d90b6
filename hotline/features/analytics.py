"""Wiring of the `analytics` feature (member-unit evaluation, call-centre statistics) into the
application. It starts after `workflow`: the evaluation follows the work-order service's clock,
so that "has this period started / ended" agrees with the instants the orders carry."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from analytics.call_stats import CallStatsService
from analytics.evaluation import EvaluationService
from analytics.keys import CALL_STATS, EVALUATION
from kit.db import POOL
from workflow.keys import ORDER_SERVICE

ROUTE_MODULES: list[str] = ["analytics.evaluation_http", "analytics.call_stats_http"]
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the evaluation and call-statistics services (no background work)."""
    pool = app[POOL]
    orders = app[ORDER_SERVICE]
    app[EVALUATION] = EvaluationService(pool, now=lambda: orders.now())
    app[CALL_STATS] = CallStatsService(pool)
    yield
