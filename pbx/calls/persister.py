"""Background writer of domain events into :class:`pbx.calls.store.CallStore`, supervised.

One poison event must never stop call recording for the rest of the process:

* a *connection* problem (database restarting, network) is retried with the same batch, events
  keep queueing in the subscription meanwhile;
* any *other* error (a value PostgreSQL or asyncpg refuses, a bug) splits the batch in halves
  down to the single event that fails; that event is logged and skipped, the rest are written;
* should the task still die, :class:`PersisterSupervisor` logs the exception and restarts it,
  and reports its health (``status()``) for ``/readyz``.

After a resync (:class:`pbx.calls.events.ResyncApplied`), once ``resync_grace`` seconds have
passed and every event published before then is written, the persister closes the server's
open rows the snapshot did not show alive (:meth:`CallStore.close_vanished`: calls an earlier
process wrote that ended entirely while nobody listened) and publishes their ``CallEnded``, so
recordings, agent states and statistics hear of them like of any call that ended while the link
was down. The grace lets another backend instance that *did* see such a call end (a hang-up
just before the snapshot) write its exact final record first: then the row is no longer open
and is left alone. A sweep still waiting when the task stops is dropped; the next resync (every
start and reconnect) does it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from pbx.calls.bus import Subscription
from pbx.calls.events import CallEnded, CallKey, DomainEvent, ResyncApplied
from pbx.calls.store import RESYNC_MARGIN, CallStore, CurrentRecord

__all__ = [
    "RESYNC_GRACE",
    "PersisterHealth",
    "PersisterSupervisor",
    "run_persister",
    "stop_task",
]

T = TypeVar("T")
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

RESYNC_GRACE = 3.0
"""Seconds after a resync before its open rows are closed (see the module docstring)."""

Publish = Callable[[DomainEvent], None]


@dataclass(slots=True)
class PersisterHealth:
    """Counters and state of the persister (shown in ``/readyz``)."""

    written: int = 0
    skipped: int = 0
    restarts: int = 0
    closed_after_resync: int = 0
    """Rows closed as ended during a disconnect by a resync sweep (this process)."""
    sweeps_pending: int = 0
    """Resyncs whose sweep is still waiting for its grace period."""
    sweeps_run: int = 0
    failing_since: float | None = None
    last_error: str = ""

    def failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        if self.failing_since is None:
            self.failing_since = time.monotonic()

    def succeeded(self, count: int) -> None:
        self.written += count
        self.failing_since = None


async def _retrying(op: Callable[[], Awaitable[T]], health: PersisterHealth,
                    retry_delay: float, what: str) -> T:
    """``op()`` until it succeeds or fails for a reason other than a lost database connection
    (that error is raised); every transient failure is counted and retried after a delay."""
    while True:
        try:
            return await op()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise
            health.failed(exc)
            log.error("call store: %s failed (%s); retrying", what, exc)
            await asyncio.sleep(retry_delay)


async def _write(
    store: CallStore,
    events: Sequence[DomainEvent],
    current: CurrentRecord,
    health: PersisterHealth,
    retry_delay: float,
) -> None:
    """Write ``events``; retry on connection errors, bisect and skip on anything else."""
    try:
        await _retrying(lambda: store.apply(events, current), health, retry_delay, "write")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
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


async def _close_vanished(
    store: CallStore,
    resync: ResyncApplied,
    current: CurrentRecord,
    health: PersisterHealth,
    retry_delay: float,
    margin: float,
    publish: Publish | None,
) -> None:
    """The sweep after ``resync``: close, then publish each ``CallEnded`` this process closed
    (without ``publish``, only write them to the call's log). Retried on connection errors;
    any other error is logged and the sweep dropped (the next resync does it again)."""

    def still_open(key: CallKey) -> bool:
        return current(key) is not None

    try:
        ended: list[CallEnded] = await _retrying(
            lambda: store.close_vanished(resync.server, resync.at, resync.live, margin=margin,
                                         still_open=still_open),
            health, retry_delay, "closing vanished calls")  # fmt: skip
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        health.last_error = f"{type(exc).__name__}: {exc}"[:300]
        log.exception("call store: could not close the vanished calls of %s", resync.server)
        return
    health.succeeded(0)
    if not ended:
        return
    health.closed_after_resync += len(ended)
    log.warning(
        "call store: %d call(s) of %s ended while nobody listened; closed as %s: %s",
        len(ended), resync.server, ended[0].disposition,
        ", ".join(e.linkedid for e in ended[:20]),
    )  # fmt: skip
    if publish is not None:
        for e in ended:
            publish(e)  # our own subscription hears it too and writes it to the call's log
    else:
        await _write(store, ended, current, health, retry_delay)


async def run_persister(
    store: CallStore,
    sub: Subscription,
    current: CurrentRecord,
    *,
    batch: int = 500,
    retry_delay: float = 1.0,
    health: PersisterHealth | None = None,
    publish: Publish | None = None,
    resync_grace: float = RESYNC_GRACE,
    resync_margin: float = RESYNC_MARGIN,
) -> None:
    """Background task: drain ``sub`` into ``store`` in batches, and close the calls that
    vanished ``resync_grace`` seconds after each resync, publishing their ``CallEnded`` with
    ``publish`` (see the module docstring)."""
    health = health if health is not None else PersisterHealth()
    loop = asyncio.get_running_loop()
    sweeps: list[tuple[float, ResyncApplied]] = []  # (loop time due, resync), oldest first

    async def write(pending: list[DomainEvent]) -> None:
        for e in pending:
            if isinstance(e, ResyncApplied):
                sweeps.append((loop.time() + resync_grace, e))
        health.sweeps_pending = len(sweeps)
        if pending:
            await _write(store, pending, current, health, retry_delay)

    def take(first: DomainEvent | None, limit: int) -> list[DomainEvent]:
        pending = [] if first is None else [first]
        while len(pending) < limit and (e := sub.get_nowait()) is not None:
            pending.append(e)
        return pending

    while True:
        first: DomainEvent | None = None
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives as the event does, and the task would then never stop
            async with asyncio.timeout_at(sweeps[0][0] if sweeps else None):
                first = await sub.get()
        except TimeoutError:
            pass  # a sweep is due
        await write(take(first, batch))
        while sweeps and sweeps[0][0] <= loop.time():
            # everything published before the sweep came due is written first: the tracker's
            # own final records (calls it closed itself) must never be closed a second time
            backlog = sub.queue.qsize()
            while backlog > 0:
                pending = take(None, min(batch, backlog))
                if not pending:
                    break
                backlog -= len(pending)
                await write(pending)
            _, resync = sweeps.pop(0)
            health.sweeps_pending = len(sweeps)
            await _close_vanished(
                store, resync, current, health, retry_delay, resync_margin, publish
            )
            health.sweeps_run += 1


class PersisterSupervisor:
    """Runs :func:`run_persister` as a task and restarts it if it ever dies.

    ``PersisterSupervisor(store, sub, current, retry_delay=1.0, publish=bus.publish,
    resync_grace=RESYNC_GRACE, resync_margin=RESYNC_MARGIN)``; ``start()``, ``await stop()``,
    ``status()`` for ``kit.component.COMPONENTS``. ``publish`` receives the ``CallEnded`` of
    the calls a resync closed (give it the bus ``sub`` reads from)."""

    def __init__(
        self,
        store: CallStore,
        sub: Subscription,
        current: CurrentRecord,
        *,
        retry_delay: float = 1.0,
        restart_delay: float = 1.0,
        publish: Publish | None = None,
        resync_grace: float = RESYNC_GRACE,
        resync_margin: float = RESYNC_MARGIN,
    ) -> None:
        self.store = store
        self.sub = sub
        self.current = current
        self.retry_delay = retry_delay
        self.restart_delay = restart_delay
        self.publish = publish
        self.resync_grace = resync_grace
        self.resync_margin = resync_margin
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
            self.store,
            self.sub,
            self.current,
            retry_delay=self.retry_delay,
            health=self.health,
            publish=self.publish,
            resync_grace=self.resync_grace,
            resync_margin=self.resync_margin,
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
            "closed_after_resync": h.closed_after_resync,
            "sweeps_pending": h.sweeps_pending,
            "sweeps_run": h.sweeps_run,
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
