"""Application keys of the agents feature."""

from __future__ import annotations

from aiohttp import web

from agents.callcontrol import UnitDirectory
from agents.ports import DraftBuilder, KnowledgeSuggest, OrderLookup, Pbx
from agents.service import ConsoleConfig, ConsoleService

CONSOLE: web.AppKey[ConsoleService] = web.AppKey("console", ConsoleService)
"""The console service (agents, wallboard, WebSocket hub)."""
PBX: web.AppKey[Pbx] = web.AppKey("agents_pbx", object)  # type: ignore[arg-type]
"""The telephony object agents/ acts through (``pbx.calls.service.Telephony``). Set it before
the application starts (the telephony feature or a test); absent → call control answers 503."""
ORDER_LOOKUP: web.AppKey[OrderLookup] = web.AppKey("agents_order_lookup", object)  # type: ignore[arg-type]
"""Optional: earlier orders for the screen-pop (workflow sets it; default: none)."""
KNOWLEDGE: web.AppKey[KnowledgeSuggest] = web.AppKey("agents_knowledge", object)  # type: ignore[arg-type]
"""Optional: knowledge-base suggestions for the screen-pop."""
DRAFTS: web.AppKey[DraftBuilder] = web.AppKey("agents_drafts", object)  # type: ignore[arg-type]
"""Optional: draft work order on answer (default: filled from the IVR)."""
UNITS: web.AppKey[UnitDirectory] = web.AppKey("agents_units", object)  # type: ignore[arg-type]
"""Optional: member-unit phone numbers for transfers / three-way calls."""
CONSOLE_CONFIG: web.AppKey[ConsoleConfig] = web.AppKey("agents_config", ConsoleConfig)
"""Optional: console settings (wrap-up per queue must match queues.conf)."""
