"""Registry of running components reported by ``/readyz``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

StatusFn = Callable[[], dict[str, Any]]


class ComponentRegistry:
    """Named status callbacks; each returns a dict with at least ``"ok": bool``."""

    def __init__(self) -> None:
        self._items: dict[str, StatusFn] = {}

    def add(self, name: str, status: StatusFn) -> None:
        """Register (or replace) a component."""
        self._items[name] = status

    def remove(self, name: str) -> None:
        """Forget a component (on shutdown)."""
        self._items.pop(name, None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Status of every component; a status function that raises reports not ok."""
        out: dict[str, dict[str, Any]] = {}
        for name, fn in sorted(self._items.items()):
            try:
                out[name] = dict(fn())
            except Exception as exc:  # a broken probe must not break readiness reporting
                out[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return out


COMPONENTS: web.AppKey[ComponentRegistry] = web.AppKey("components", ComponentRegistry)
