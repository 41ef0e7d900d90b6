"""In-process async pub/sub for normalized telephony events.

``publish`` is synchronous and never blocks the AMI reader: each subscriber has its own bounded
queue; when a slow subscriber's queue is full the oldest event is dropped and counted
(``Subscription.dropped``), so one stuck WebSocket cannot stall call tracking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

from pbx.calls.events import DomainEvent

log = logging.getLogger(__name__)


class Subscription:
    """One subscriber's queue. Iterate with ``async for event in sub`` or ``await sub.get()``;
    ``close()`` (or ``async with``) unsubscribes."""

    def __init__(self, bus: EventBus, kinds: frozenset[str] | None, maxsize: int) -> None:
        self._bus = bus
        self.kinds = kinds
        self.queue: asyncio.Queue[DomainEvent] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.closed = False

    def _offer(self, event: DomainEvent) -> None:
        if self.kinds is not None and event.kind not in self.kinds:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10000 == 0:
                log.warning("event bus: slow subscriber dropped %d event(s)", self.dropped)
        self.queue.put_nowait(event)

    async def get(self) -> DomainEvent:
        """Next event (waits)."""
        return await self.queue.get()

    def get_nowait(self) -> DomainEvent | None:
        """Next event if one is queued, else None."""
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        """Unsubscribe."""
        self.closed = True
        self._bus._subs.discard(self)

    async def __aiter__(self) -> AsyncIterator[DomainEvent]:
        while not self.closed:
            yield await self.queue.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out of domain events to any number of subscribers."""

    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.published = 0

    def subscribe(
        self, kinds: Iterable[str] | None = None, *, maxsize: int = 10000
    ) -> Subscription:
        """New subscription; ``kinds`` filters by event class name (``{"AgentRinging"}``)."""
        sub = Subscription(self, frozenset(kinds) if kinds is not None else None, maxsize)
        self._subs.add(sub)
        return sub

    def publish(self, event: DomainEvent) -> None:
        """Deliver to every subscriber (non-blocking)."""
        self.published += 1
        for sub in self._subs:
            sub._offer(event)

    def publish_all(self, events: Iterable[DomainEvent]) -> None:
        for e in events:
            self.publish(e)

    @property
    def subscribers(self) -> int:
        return len(self._subs)
