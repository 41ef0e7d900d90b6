"""Wiring of the `console` feature (agents/): the console service, its REST routes and the
``/api/ws`` WebSocket.

Optional inputs, set on the app by earlier features (or tests) before start-up:
``agents.keys.PBX`` (or the telephony feature's ``TELEPHONY`` key) — the AMI side; without it
call control answers 503. ``ORDER_LOOKUP`` / ``KNOWLEDGE`` / ``DRAFTS`` / ``UNITS`` — workflow
data for the screen-pop and transfers. ``CONSOLE_CONFIG`` — wrap-up times per queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from agents.keys import (
    CONSOLE,
    CONSOLE_CONFIG,
    DRAFTS,
    KNOWLEDGE,
    ORDER_LOOKUP,
    PBX,
    UNITS,
)
from agents.service import ConsoleService
from agents.store import AgentStore
from hotline.features import telephony
from kit.component import COMPONENTS
from kit.db import POOL

ROUTE_MODULES: list[str] = ["agents.http", "agents.ws", "agents.web.pages"]
"""Dotted names of modules that define a module-level `routes = kit.http.Routes(...)`."""


def _pbx(app: web.Application) -> Any:
    if PBX in app:
        return app[PBX]
    key = getattr(telephony, "TELEPHONY", None)
    if key is not None and key in app:
        return app[key]
    return None


async def feature_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the console service, start it, yield, stop it."""
    svc = ConsoleService(
        AgentStore(app[POOL]),
        _pbx(app),
        config=app.get(CONSOLE_CONFIG),
        orders=app.get(ORDER_LOOKUP),
        knowledge=app.get(KNOWLEDGE),
        drafts=app.get(DRAFTS),
        units=app.get(UNITS),
    )
    app[CONSOLE] = svc
    await svc.start()
    if COMPONENTS in app:
        app[COMPONENTS].add("console", lambda: {
            "ok": True, "sockets": svc.hub.count, "agents": len(svc.board.agents),
            "pbx": svc.pbx is not None, "events": svc.events_seen,
        })
    try:
        yield
    finally:
        await svc.stop()
