"""Wiring of the `telephony` feature into the application (owned by that feature's developer)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

ROUTE_MODULES: list[str] = []
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: build this feature's services from `app[SETTINGS]` / `app[POOL]`,
    start its background tasks, yield, then stop them."""
    yield
