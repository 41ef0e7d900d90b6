"""Background writer of domain events into :class:`pbx.calls.store.CallStore`, supervised.

One poison event must never stop call recording for the rest of the process:

* a *connection* problem (database restarting, network) is retried with the same batch, events
  keep queueing in the subscription meanwhile;
* any *other* error (a value PostgreSQL or asyncpg refuses, a bug) splits the batch in halves
  down to the single event that fails; that event is logged and skipped, the rest are written;
* should the task still die, :class:`PersisterSupervisor` logs the exception and restarts it,
  and reports its health (``status()``) for ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from pbx.calls.bus import Subscription
from pbx.calls.events import DomainEvent
from pbx.calls.store import CallStore, CurrentRecord

__all__ = ["PersisterHealth", "PersisterSupervisor", "run_persister", "stop_task"]

log = logging.getLogger(__name__)

# Errors that say "the database is not reachable right now", not "this data is bad": retry.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
)


def is_transient(exc: BaseException) -> bool:
    """A connection-type error worth retrying. asyncpg's client-side ``DataError`` (a value it
    cannot encode) is an ``InterfaceError`` *and* a ``ValueError``: bad data, never retried."""
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, ValueError)


# A database that keeps failing for this long makes the component not ready.
STALL_SECONDS = 30.0


@dataclass(slots=True)
class PersisterHealth:
    """Counters and state of the persister (shown in ``/readyz``)."""

    written: int = 0
    skipped: int = 0
    restarts: int = 0
    failing_since: float | None = None
    last_error: str = ""

    def failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    def succeeded(self, count: int) -> None:
        self.written += count
        self.failing_since = None


async def _write(
    store: CallStore,
    events: Sequence[DomainEvent],
    current: CurrentRecord,
    health: PersisterHealth,
    retry_delay: float,
) -> None:
    """Write ``events``; retry on connection errors, bisect and skip on anything else."""
    while True:
        try:
            await store.apply(events, current)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                health.failed(exc)
                log.error("call store: write failed (%s); retrying", exc)
                await asyncio.sleep(retry_delay)
                continue
            if len(events) == 1:
                health.skipped += 1
                health.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.error("call store: skipped an event that cannot be written: %r (%r)",
                          events[0], exc)  # fmt: skip
                return
            half = len(events) // 2
            await _write(store, events[:half], current, health, retry_delay)
            await _write(store, events[half:], current, health, retry_delay)
            return
        health.succeeded(len(events))
        return


async def run_persister(
    store: CallStore,
    sub: Subscription,
    current: CurrentRecord,
    *,
    batch: int = 500,
    retry_delay: float = 1.0,
    health: PersisterHealth | None = None,
) -> None:
    """Background task: drain ``sub`` into ``store`` in batches (see the module docstring)."""
    health = health if health is not None else PersisterHealth()
    while True:
        first = await sub.get()
        pending: list[DomainEvent] = [first]
        while len(pending) < batch and (e := sub.get_nowait()) is not None:
            pending.append(e)
        await _write(store, pending, current, health, retry_delay)


class PersisterSupervisor:
    """Runs :func:`run_persister` as a task and restarts it if it ever dies.

    ``PersisterSupervisor(store, sub, current, retry_delay=1.0)``; ``start()``,
    ``await stop()``, ``status()`` for ``kit.component.COMPONENTS``."""

    def __init__(
        self,
        store: CallStore,
        sub: Subscription,
        current: CurrentRecord,
        *,
        retry_delay: float = 1.0,
        restart_delay: float = 1.0,
    ) -> None:
        self.store = store
        self.sub = sub
        self.current = current
        self.retry_delay = retry_delay
        self.restart_delay = restart_delay
        self.health = PersisterHealth()
        self.task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        """Start the writer task (idempotent while it runs)."""
        self._stopping = False
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._main(), name="calls-persister")
            self.task.add_done_callback(self._on_done)

    async def _main(self) -> None:
        await run_persister(
            self.store, self.sub, self.current, retry_delay=self.retry_delay, health=self.health
        )

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if self._stopping or task.cancelled():
            return
        exc = task.exception()
        self.health.restarts += 1
        self.health.last_error = f"persister died: {exc!r}"[:300]
        log.error("call store: persister task died; restarting", exc_info=exc)
        task.get_loop().call_later(self.restart_delay, self._restart)

    def _restart(self) -> None:
        if not self._stopping:
            self.start()

    @property
    def alive(self) -> bool:
        """The writer task is running."""
        return self.task is not None and not self.task.done()

    def status(self) -> dict[str, object]:
        """Component status: ok while the task runs and writes are not failing for long."""
        h = self.health
        stalled = h.failing_since is not None and time.monotonic() - h.failing_since > STALL_SECONDS
        return {
            "ok": self.alive and not stalled,
            "alive": self.alive,
            "backlog": self.sub.queue.qsize(),
            "written": h.written,
            "skipped": h.skipped,
            "restarts": h.restarts,
            "failing": h.failing_since is not None,
            "last_error": h.last_error,
        }

    async def stop(self) -> None:
        """Cancel the writer task (no restart)."""
        self._stopping = True
        if self.task is not None:
            await stop_task(self.task)


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel and await a background task."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
