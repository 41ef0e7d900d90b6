"""The periodic deadline sweep (第十一条(三), 第二十四条, 第二十六条).

Every instance that runs the ``workers`` role runs this loop. Orders carry ``next_check_at``; each
pass claims the due ones with ``FOR UPDATE SKIP LOCKED`` (see :meth:`OrderService.sweep_once`), so
several instances never process the same order twice and a crashed instance loses nothing: the
rows simply stay due for the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from workflow.service import OrderService

log = logging.getLogger(__name__)


class DeadlineSweeper:
    """Runs :meth:`OrderService.sweep_once` every ``interval`` seconds until cancelled."""

    def __init__(self, orders: OrderService, interval: float = 30.0) -> None:
        self.orders = orders
        self.interval = interval
        self.last_run: float | None = None
        self.last_changed = 0
        self.last_error: str | None = None

    async def run(self) -> None:
        """The loop; a failing pass is logged and retried at the next tick."""
        while True:
            try:
                self.last_changed = await self.orders.sweep_once()
                # deadlines a calendar confirmation decided but a stale calendar computed
                self.last_changed += await self.orders.recompute_confirmed()
                self.last_error = None
                if self.last_changed:
                    log.info("deadline sweep", extra={"changed": self.last_changed})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep sweeping; the error shows in /readyz
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("deadline sweep failed")
            self.last_run = time.time()
            await asyncio.sleep(self.interval)

    def status(self) -> dict[str, Any]:
        """For ``/readyz``."""
        return {"ok": self.last_error is None, "last_run": self.last_run,
                "last_changed": self.last_changed, "error": self.last_error}  # fmt: skip
