"""Live transcript: AudioSocket audio → streaming recognizer → lines published per call.

The fork of the answered call's audio is an originated Local channel: one side runs
``ChanSpy(<citizen channel>,qo)`` (``o``: only the spied channel's own audio, i.e. what the
citizen says; ``q``: no beep), the other ``AudioSocket(<uuid>,host:port)``. The originator
registers the UUID with `LiveSessions.expect` before originating, so the server knows which call
the connection belongs to (an originated leg gets its own Linkedid, observation 3 of the traces).

`LiveTranscriptHub` is an in-process pub/sub keyed by call: the agent console subscribes and pushes
the events over its WebSocket. Events are dicts:
``{"type": "partial"|"final"|"end", "call_id", "speaker", "text", "start", "end", "words"}``,
and ``{"type": "draft", "draft": {...}}`` (the order drafted from what the citizen said so far).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from pbx.audiosocket.server import AudioSocketConnection
from recordings.drafting import draft_order
from recordings.stt import Partial, Segment, Stream
from recordings.units import UnitCatalogue

log = logging.getLogger(__name__)


class Subscription:
    """One subscriber's queue; iterate it with ``async for``. Close it when done."""

    def __init__(self, hub: LiveTranscriptHub, call_id: str, maxsize: int) -> None:
        self.hub, self.call_id = hub, call_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _put(self, event: dict[str, Any]) -> None:
        # A slow console must not slow the recognizer: drop the oldest event when full.
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                    self.dropped += 1

    async def get(self) -> dict[str, Any]:
        """The next event."""
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            event = await self.queue.get()
            yield event
            if event["type"] == "end":
                return

    def close(self) -> None:
        """Unsubscribe."""
        subs = self.hub._subs.get(self.call_id)
        if subs is not None:
            subs.discard(self)
            if not subs:
                del self.hub._subs[self.call_id]


class LiveTranscriptHub:
    """Publish/subscribe of live transcript events by call id."""

    def __init__(self, history: int = 200, queue_size: int = 500) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self._finals: dict[str, list[dict[str, Any]]] = {}
        self._history, self._queue_size = history, queue_size
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def add_listener(self, fn: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``fn(call_id, event)`` for every event of every call (e.g. the console push)."""
        self._listeners.append(fn)

    def subscribe(self, call_id: str, *, replay: bool = True) -> Subscription:
        """Subscribe to a call; ``replay`` first delivers the final lines so far."""
        sub = Subscription(self, call_id, self._queue_size)
        if replay:
            for event in self._finals.get(call_id, []):
                sub._put(event)
        self._subs.setdefault(call_id, set()).add(sub)
        return sub

    def publish(self, call_id: str, event: dict[str, Any]) -> None:
        """Deliver an event to every subscriber of the call."""
        event = {**event, "call_id": call_id}
        if event["type"] == "final":
            finals = self._finals.setdefault(call_id, [])
            finals.append(event)
            del finals[:-self._history]
        for sub in list(self._subs.get(call_id, ())):
            sub._put(event)
        for fn in self._listeners:
            try:
                fn(call_id, event)
            except Exception:  # a listener's bug must not stop the transcript
                log.exception("live transcript listener failed", extra={"call_id": call_id})
        if event["type"] == "end":
            self._finals.pop(call_id, None)

    def lines(self, call_id: str) -> list[dict[str, Any]]:
        """Final lines of a call still in progress."""
        return list(self._finals.get(call_id, []))


@dataclass(frozen=True)
class Expected:
    """A fork the backend originated: which call and whose voice."""

    call_id: str
    speaker: str = "citizen"


class LiveSession:
    """One AudioSocket connection feeding a streaming recognizer (run in a thread: Vosk is
    CPU-bound and must not stall the event loop). With a unit catalogue, every final line of
    the citizen also refreshes the order draft, published as a ``draft`` event."""

    def __init__(self, hub: LiveTranscriptHub, expected: Expected, stream: Stream,
                 units: UnitCatalogue | None = None) -> None:
        self.hub, self.expected, self.stream, self.units = hub, expected, stream, units
        self._lock = asyncio.Lock()
        self._said: list[str] = []

    async def _emit(self, results: list[Segment | Partial] | list[Segment]) -> None:
        finals = False
        for r in results:
            if isinstance(r, Segment):
                event = {"type": "final", **r.to_dict()}
                self._said.append(r.text)
                finals = True
            else:
                event = {"type": "partial", "text": r.text}
            self.hub.publish(self.expected.call_id, {**event, "speaker": self.expected.speaker})
        if finals and self.units is not None and self.expected.speaker == "citizen":
            draft = await asyncio.to_thread(draft_order, "。".join(self._said), self.units)
            self.hub.publish(self.expected.call_id, {"type": "draft", "speaker": "citizen",
                                                     "draft": draft.to_dict()})

    async def on_audio(self, pcm: bytes) -> None:
        """Recognize a chunk."""
        async with self._lock:
            await self._emit(await asyncio.to_thread(self.stream.accept, pcm))

    async def on_dtmf(self, digit: str) -> None:
        """DTMF is not transcribed."""

    async def on_end(self, reason: str) -> None:
        """Flush the recognizer and tell subscribers the live transcript ended."""
        async with self._lock:
            await self._emit(await asyncio.to_thread(self.stream.finish))
        self.hub.publish(self.expected.call_id, {"type": "end", "reason": reason,
                                                 "speaker": self.expected.speaker})


class LiveSessions:
    """AudioSocket session factory: maps the UUIDs of originated forks to calls."""

    def __init__(self, hub: LiveTranscriptHub, stream_factory: Callable[[], Stream],
                 expect_for: float = 60.0, units: UnitCatalogue | None = None) -> None:
        self.hub, self.stream_factory, self.units = hub, stream_factory, units
        self.expect_for = expect_for
        self._expected: dict[uuid.UUID, tuple[Expected, float]] = {}

    def expect(self, call_uuid: uuid.UUID, call_id: str, speaker: str = "citizen") -> None:
        """Register a fork before originating it (forgotten after ``expect_for`` seconds if the
        originate fails and no connection comes)."""
        now = time.monotonic()
        self._expected = {u: e for u, e in self._expected.items() if e[1] > now}
        self._expected[call_uuid] = (Expected(call_id, speaker), now + self.expect_for)

    def __call__(self, call_uuid: uuid.UUID, conn: AudioSocketConnection) -> LiveSession:
        entry = self._expected.pop(call_uuid, None)
        expected = entry[0] if entry and entry[1] > time.monotonic() else None
        if expected is None:
            raise LookupError(f"no live transcript expects AudioSocket {call_uuid}")
        log.info("live transcript for call %s started (%s)", expected.call_id, conn.peer)
        return LiveSession(self.hub, expected, self.stream_factory(), self.units)
