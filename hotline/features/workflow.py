"""Wiring of the `workflow` feature into the application (owned by that feature's developer)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from agents.keys import KNOWLEDGE, ORDER_LOOKUP, UNITS
from hotline.keys import ROLES
from kit.component import COMPONENTS
from kit.db import POOL
from workflow import reference_store
from workflow.adapters import ScreenPopKnowledge, ScreenPopOrders, UnitNumbers
from workflow.api import WorkflowApi
from workflow.kb import KnowledgeBase
from workflow.keys import CALENDARS, KNOWLEDGE_BASE, ORDER_SERVICE, WORKFLOW_API
from workflow.service import CalendarProvider, OrderService
from workflow.sweeper import DeadlineSweeper
from workflow.text import tokens

ROUTE_MODULES: list[str] = [
    "workflow.orders_http",
    "workflow.reference_http",
    "workflow.kb_http",
]
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""

SWEEP_INTERVAL_SECONDS = 30.0


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Seed member units (idempotent), build the order service, knowledge base and the
    interface for other features (``WORKFLOW_API``; the screen-pop adapters under the console's
    ``ORDER_LOOKUP`` / ``KNOWLEDGE`` unless a test set its own); run the deadline sweep on
    instances with the workers role."""
    pool = app[POOL]
    await reference_store.seed_units(pool)
    units = await reference_store.load_unit_directory(pool)
    calendars = CalendarProvider(pool)
    kb = KnowledgeBase(pool, units)
    orders = OrderService(pool, units, calendars, kb_lookup=kb.is_citable)
    app[CALENDARS] = calendars
    app[KNOWLEDGE_BASE] = kb
    app[ORDER_SERVICE] = orders
    api = app[WORKFLOW_API] = WorkflowApi(orders, kb)
    # The console (agents/) starts after us and reads these for the screen-pop (R3.2).
    app.setdefault(ORDER_LOOKUP, ScreenPopOrders(api))
    app.setdefault(KNOWLEDGE, ScreenPopKnowledge(api))
    app.setdefault(UNITS, UnitNumbers(lambda: orders.units))
    await asyncio.to_thread(tokens, "预热分词词典")  # load jieba's dictionary off the loop
    task: asyncio.Task[None] | None = None
    if "workers" in app[ROLES]:
        sweeper = DeadlineSweeper(orders, SWEEP_INTERVAL_SECONDS)
        app[COMPONENTS].add("workflow.sweeper", sweeper.status)
        task = asyncio.create_task(sweeper.run(), name="workflow-deadline-sweep")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
