"""The console's database writes, off the screen-pop path: one task runs them in order, and
state changes that pile up while it is busy go to the database in one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agents.store import AgentStore

log = logging.getLogger(__name__)

StateRow = tuple[int, str, str, str | None, list[str], float]
"""(agent_id, state, reason, call_id, queues, at) — see ``AgentStore.log_states``."""


class DbWriter:
    """Queue of write jobs run by ``run()`` one after the other; failures are logged."""

    def __init__(self, store: AgentStore) -> None:
        self.store = store
        self._jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._state_rows: list[StateRow] = []

    def write(self, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job()`` after the jobs queued before it."""
        self._jobs.put_nowait(job)

    def log_state(self, row: StateRow) -> None:
        """Buffer a state change; the buffer is flushed by one job in one transaction."""
        if not self._state_rows:
            self.write(self._flush_states)
        self._state_rows.append(row)

    async def _flush_states(self) -> None:
        rows, self._state_rows = self._state_rows, []
        await self.store.log_states(rows)

    async def join(self) -> None:
        """Wait until every queued job ran."""
        await self._jobs.join()

    async def run(self) -> None:
        """The writer task."""
        while True:
            job = await self._jobs.get()
            try:
                await job()
            except Exception:
                log.exception("console: database write failed")
            finally:
                self._jobs.task_done()
