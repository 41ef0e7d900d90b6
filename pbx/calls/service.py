"""Telephony: one AMI connection per Asterisk server feeding one call tracker and one event bus.

This is the object other features use (agents/, the console, recordings/)::

    tel = Telephony([AmiServerConfig(id="pbx1", host=..., secret=...)])
    await tel.start()
    res = await tel.send_action("pbx1", "QueuePause", {"Interface": "PJSIP/agent1001",
                                                      "Paused": "true", "Reason": "lunch"})
    with tel.subscribe({"AgentRinging", "CallAnswered"}) as sub:
        async for event in sub: ...

Nothing here touches the database; ``hotline/features/telephony.py`` adds the store.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence

from aiohttp import web

from pbx.ami.actions import AmiResult
from pbx.ami.client import AmiClient, AmiServerConfig, ResyncSnapshot
from pbx.ami.errors import AmiError
from pbx.ami.message import AmiMessage
from pbx.calls.bus import EventBus, Subscription
from pbx.calls.events import AmiLinkChanged, DomainEvent, ResyncApplied
from pbx.calls.tracker import CallTracker

log = logging.getLogger(__name__)

Headers = Mapping[str, object] | Iterable[tuple[str, object]]
RawListener = Callable[[AmiMessage], None]


class Telephony:
    """AMI clients (by server id) + ``tracker`` + ``bus``."""

    def __init__(
        self,
        servers: Sequence[AmiServerConfig],
        *,
        tracker: CallTracker | None = None,
        bus: EventBus | None = None,
    ) -> None:
        ids = [s.id for s in servers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate AMI server ids: {ids}")
        self.tracker = tracker or CallTracker()
        self.bus = bus or EventBus()
        self._raw: list[RawListener] = []
        self.clients: dict[str, AmiClient] = {
            s.id: AmiClient(
                s,
                on_event=self._on_event,
                on_resync=self._on_resync,
                on_link=self._link_handler(s.id),
            )
            for s in servers
        }

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start every connection loop (does not wait: see ``wait_connected``)."""
        for client in self.clients.values():
            client.start()

    async def wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until every server is logged in and resynced (``AmiTimeout`` otherwise)."""
        for client in self.clients.values():
            await client.wait_connected(timeout)

    async def close(self) -> None:
        """Stop every connection (logs off)."""
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()

    # ------------------------------------------------------------------ for other features
    def client(self, server: str) -> AmiClient:
        """The AMI client of ``server``; ``AmiError`` for an unknown id."""
        try:
            return self.clients[server]
        except KeyError:
            raise AmiError(f"unknown Asterisk server {server!r}", server=server) from None

    async def send_action(
        self,
        server: str,
        action: str,
        headers: Headers = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        wait_event: str | None = None,
    ) -> AmiResult:
        """Send an AMI action to one server. Raises ``AmiError`` (refused, message from
        Asterisk), ``AmiTimeout``, ``AmiNotConnected``; see ``AmiClient.send_action``."""
        return await self.client(server).send_action(
            action, headers, timeout=timeout, wait_event=wait_event
        )

    async def originate(
        self,
        server: str,
        headers: Headers,
        *,
        timeout: float = 40.0,  # noqa: ASYNC109
    ) -> AmiMessage:
        """Async Originate, returning the ``OriginateResponse`` (``AmiError`` on failure)."""
        return await self.client(server).originate(headers, timeout=timeout)

    def subscribe(
        self, kinds: Iterable[str] | None = None, *, maxsize: int = 10000
    ) -> Subscription:
        """Subscribe to normalized events (``pbx.calls.events``), optionally by class name."""
        return self.bus.subscribe(kinds, maxsize=maxsize)

    def add_raw_listener(self, listener: RawListener) -> None:
        """Also receive every raw AMI event (sync callback, exceptions are logged)."""
        self._raw.append(listener)

    def status(self) -> dict[str, dict[str, object]]:
        """Per-server status (what ``/readyz`` shows)."""
        return {sid: c.status() for sid, c in self.clients.items()}

    # ------------------------------------------------------------------ AMI callbacks
    def _publish(self, events: list[DomainEvent]) -> None:
        for e in events:
            self.bus.publish(e)

    def _on_event(self, msg: AmiMessage) -> None:
        self._publish(self.tracker.handle(msg))
        for listener in self._raw:
            try:
                listener(msg)
            except Exception:
                log.exception("raw AMI listener failed on %s", msg.name)

    def _link_handler(self, server: str) -> Callable[[bool, str], None]:
        def on_link(up: bool, reason: str) -> None:
            if up:
                # New epoch before the resync; "up" is announced once resynced.
                self.tracker.link_up(server)
            else:
                self._publish(self.tracker.link_down(server, reason))

        return on_link

    def _on_resync(self, snap: ResyncSnapshot) -> None:
        """Apply a resync to the tracker and publish what it caused, then ``ResyncApplied``
        (what the snapshot proved alive: the persister closes the server's other open rows,
        written by an earlier process, whose calls ended while nobody listened), then the
        link's "up". After a failed reconcile no ``ResyncApplied`` is published: nothing is
        closed on the strength of a snapshot we could not read."""
        try:
            events = self.tracker.reconcile(
                snap.server, snap.channels, snap.queue_entries, snap.queue_members, at=snap.at
            )
            events.append(ResyncApplied(snap.server, snap.at, self._live_after(snap)))
        except Exception:  # the link is up all the same: consumers must hear about it
            log.exception("tracker: reconcile of %s failed", snap.server)
            events = []
        events.append(AmiLinkChanged(snap.server, snap.at, True, "resynced"))
        self._publish(events)

    def _live_after(self, snap: ResyncSnapshot) -> frozenset[str]:
        """Linkedids alive at the snapshot: every channel's (adopted or not: a channel the
        rules could not place still proves its call is up) and every call the tracker has
        open on that server (including calls it saw start during the resync)."""
        live = {lid for ch in snap.channels if (lid := ch.fields.get("Linkedid"))}
        live.update(c.linkedid for c in self.tracker.open_calls(snap.server))
        return frozenset(live)


TELEPHONY: web.AppKey[Telephony] = web.AppKey("telephony", Telephony)
"""The application's :class:`Telephony` (set by ``hotline/features/telephony.py`` when the
process runs the ``ami`` role and servers are configured; absent otherwise)."""
