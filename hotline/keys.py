"""Application keys owned by the composition root."""

from __future__ import annotations

from aiohttp import web

from hotline.auth.store import UserStore
from kit.http import RouteSpec

ROLES: web.AppKey[frozenset[str]] = web.AppKey("roles", frozenset[str])
"""Which parts of the service this process runs (web, ami, agi, workers)."""
USERS: web.AppKey[UserStore] = web.AppKey("users", UserStore)
ROUTE_SPECS: web.AppKey[list[RouteSpec]] = web.AppKey("route_specs", list)
