"""The console service: telephony events in, agent states / screen-pops / wallboard out.

One task consumes the event bus. Board effects are turned into WebSocket messages at once (the
pop is assembled in its own task so a slow look-up never delays another agent); database
writes (state log, queue outcomes) go through a single writer task so they never sit on the
pop path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from agents.callcontrol import CallControl, StaticUnits, UnitDirectory
from agents.dbwriter import DbWriter
from agents.hub import Hub
from agents.ports import (
    DraftBuilder,
    IvrDraft,
    KnowledgeSuggest,
    NoOrders,
    NoSuggestions,
    OrderLookup,
    Pbx,
)
from agents.queues import QueueControl
from agents.screenpop import PopBuilder, record_for
from agents.states import (
    AgentBoard,
    AgentLive,
    Answered,
    CallGone,
    Completed,
    Effect,
    RingEnded,
    RingStarted,
    StateChanged,
    call_id_of,
)
from agents.store import AgentRow, AgentStore, today_start
from agents.wallboard import Wallboard
from pbx import dialplan
from pbx.calls.events import (
    AgentRinging,
    AmiLinkChanged,
    CallAnswered,
    CallEnded,
    DomainEvent,
    QueueAbandoned,
    QueueMemberChanged,
)
from pbx.calls.record import CallRecord

log = logging.getLogger(__name__)

EVENT_KINDS = (
    "QueueMemberChanged", "AgentRinging", "AgentRingStopped", "CallAnswered", "AgentCompleted",
    "CallEnded", "QueueJoined", "QueueLeft", "QueueAbandoned", "AmiLinkChanged",
)
RING_REASONS = {"noanswer": "no_answer", "abandoned": "abandoned"}


@dataclass(slots=True)
class ConsoleConfig:
    """Settings of the console service. ``wrapup`` must match ``wrapuptime`` in queues.conf
    (Asterisk never reports it, obs. 10)."""

    queues: frozenset[str] = dialplan.ALL_QUEUES
    wrapup: dict[str, float] = field(default_factory=dict)
    default_wrapup: float = 10.0
    pop_budget_s: float = 0.05
    cancel_grace_s: float = 0.3
    stats_interval_s: float = 1.0
    ami_timeout_s: float = 5.0
    originate_timeout_s: float = 30.0


class ConsoleService:
    """Agents, wallboard and WebSocket fan-out. ``pbx`` may be None (no AMI in this process):
    call control then answers 503."""

    def __init__(
        self,
        store: AgentStore,
        pbx: Pbx | None,
        *,
        config: ConsoleConfig | None = None,
        orders: OrderLookup | None = None,
        knowledge: KnowledgeSuggest | None = None,
        drafts: DraftBuilder | None = None,
        units: UnitDirectory | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or ConsoleConfig()
        self.store = store
        self.pbx = pbx
        self.clock = clock
        self.board = AgentBoard(self.config.wrapup, self.config.default_wrapup)
        self.wallboard = Wallboard(self.config.queues, now=clock())
        self.hub = Hub()
        self.pops = PopBuilder(orders or NoOrders(), knowledge or NoSuggestions(),
                               drafts or IvrDraft(), budget_s=self.config.pop_budget_s)
        self.queues: QueueControl | None = None
        self.calls: CallControl | None = None
        if pbx is not None:
            self.queues = QueueControl(pbx, store, self.board, self.config.queues,
                                       self.config.ami_timeout_s)
            self.calls = CallControl(pbx, self.board, units or StaticUnits(),
                                     timeout=self.config.ami_timeout_s,
                                     originate_timeout=self.config.originate_timeout_s)
        self.current_pop: dict[int, dict[str, Any]] = {}  # user id -> last call.ringing payload
        self._pending_cancel: dict[str, list[tuple[AgentLive, asyncio.TimerHandle]]] = {}
        self._recent: OrderedDict[str, str] = OrderedDict()  # call id -> abandoned/answered
        self._seen: OrderedDict[str, dict[str, Any]] = OrderedDict()  # call id -> pop facts
        self._snap_seen: dict[str, set[tuple[str, str]]] = {}
        self.db = DbWriter(store)
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()
        self._stats_dirty = True
        self.events_seen = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load agents and today's outcomes, subscribe to the bus, start the tasks."""
        for row in await self.store.all():
            self._register(row)
        now = self.clock()
        for server, linkedid, queue, outcome, wait in await self.store.outcomes_since(
            today_start(now)
        ):
            self.wallboard.load_outcome(call_id_of(server, linkedid), queue, outcome, wait)
        for agent in self.board.agents.values():
            agent.since = now
        self._tasks.append(asyncio.create_task(self.db.run(), name="console-db-writer"))
        self._tasks.append(asyncio.create_task(self._ticker(), name="console-ticker"))
        if self.pbx is not None:
            sub = self.pbx.subscribe(EVENT_KINDS)
            self._tasks.append(asyncio.create_task(self._consume(sub), name="console-events"))
            # Links that came up before we subscribed published their resync already: read
            # the queue members ourselves (then re-add what we intend, as after a resync).
            for server, client in getattr(self.pbx, "clients", {}).items():
                if getattr(client, "connected", False):
                    self._spawn(self._initial_sync(server))

    async def stop(self) -> None:
        """Stop the tasks and close every socket (pending DB writes are flushed first)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.db.join(), 5.0)
        for t in [*self._tasks, *self._spawned]:
            t.cancel()
        for t in [*self._tasks, *self._spawned]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.hub.close_all()

    async def flush(self) -> None:
        """Wait until queued database writes are done (tests, shutdown)."""
        await self.db.join()

    def _register(self, row: AgentRow) -> AgentLive:
        old = self.board.by_user.get(row.user_id)
        agent = AgentLive(row.id, row.user_id, row.username, row.server, row.interface,
                          row.extension, row.member_name)
        if old is not None:
            agent.queues, agent.paused = old.queues, old.paused
            agent.pause_reason, agent.state, agent.since = old.pause_reason, old.state, old.since
        self.board.add(agent)
        return agent

    def register(self, row: AgentRow) -> AgentLive:
        """Make a newly created agent known to the live board."""
        return self._register(row)

    # ------------------------------------------------------------------ events
    async def _consume(self, sub: Any) -> None:
        while True:
            event = await sub.get()
            try:
                self.handle(event)
            except Exception:
                log.exception("console: failed on %s", event.kind)

    def handle(self, event: DomainEvent) -> None:
        """Apply one telephony event (synchronous; spawns pop assembly and DB writes)."""
        self.events_seen += 1
        now = self.clock()
        if isinstance(event, QueueMemberChanged) and event.change == "snapshot":
            self._snap_seen.setdefault(event.server, set()).add(
                (event.interface.lower(), event.queue))
        if isinstance(event, AmiLinkChanged):
            self._link(event, now)
            return
        outcome = self.wallboard.apply(event, now)
        self._stats_dirty = True  # the ticker throttles the pushes
        if outcome is not None:
            queue, kind, wait = outcome
            srv, lid = event.server, getattr(event, "linkedid", "")
            self.db.write(lambda: self.store.record_outcome(srv, lid, queue, kind, wait, event.at))
        if isinstance(event, QueueAbandoned | CallEnded | CallAnswered):
            cid = call_id_of(event.server, event.linkedid)
            reason = "answered_elsewhere" if isinstance(event, CallAnswered) else "abandoned"
            self._remember(cid, reason)
            self._resolve_cancels(cid, reason)
        for effect in self.board.apply(event, now):
            self._effect(effect, now)

    def _link(self, event: AmiLinkChanged, now: float) -> None:
        if not event.up:
            return
        # A resync ran: membership is what the snapshot said. Then put back what we intend.
        seen = self._snap_seen.pop(event.server, set())
        for agent in self.board.agents.values():
            if agent.server == event.server:
                agent.queues = {q for (i, q) in seen if i == agent.interface.lower()}
        for effect in self.board.settle_all(now, event.server):
            self._effect(effect, now)
        if self.queues is not None:
            self._spawn(self._readd(event.server))

    async def _initial_sync(self, server: str) -> None:
        assert self.pbx is not None
        try:
            res = await self.pbx.send_action(server, "QueueStatus", timeout=10.0)
        except Exception:
            log.exception("console: initial QueueStatus on %s failed", server)
            return
        now = self.clock()
        for m in res.items:
            if m.name != "QueueMember":
                continue
            f = m.fields
            self.handle(QueueMemberChanged(
                server, now, f.get("Queue", ""), f.get("Location") or f.get("Interface") or "",
                f.get("Name") or f.get("MemberName") or "", None, f.get("Paused") == "1",
                f.get("PausedReason", ""), f.get("InCall") == "1", "snapshot"))
        self.handle(AmiLinkChanged(server, now, True, "console start"))

    async def _readd(self, server: str) -> None:
        assert self.queues is not None
        try:
            await self.queues.readd(server)
        except Exception:
            log.exception("console: re-adding members on %s failed", server)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._spawned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("console: background step failed", exc_info=task.exception())

    def _remember(self, cid: str, reason: str) -> None:
        self._recent.setdefault(cid, reason)
        while len(self._recent) > 5000:
            self._recent.popitem(last=False)

    # ------------------------------------------------------------------ effects
    def _effect(self, effect: Effect, now: float) -> None:
        agent = effect.agent
        if isinstance(effect, StateChanged):
            self._stats_dirty = True
            payload = agent.public()
            self.hub.to_user(agent.user_id, "agent.state", payload)
            self.hub.to_wallboard("agent.state", payload, skip_user=agent.user_id)
            aid, state, reason = agent.agent_id, agent.state.value, agent.reason
            queues, at = sorted(agent.queues), agent.since
            cid = agent.current_call_id
            self.db.log_state((aid, state, reason, cid, queues, at))
        elif isinstance(effect, RingStarted):
            # Read the call record now: by the time a task runs the call may have ended.
            rec = self._record(effect.event)
            self._seen[call_id_of(agent.server, effect.event.linkedid)] = {
                "caller": effect.event.caller or (rec.caller if rec else None),
                "ivr": self.pops.ivr_of(rec, effect.event.ivr_choice),
            }
            while len(self._seen) > 5000:
                self._seen.popitem(last=False)
            self._spawn(self._pop(agent, effect, rec))
        elif isinstance(effect, RingEnded):
            self._ring_ended(effect)
        elif isinstance(effect, Answered):
            self.current_pop.pop(agent.user_id, None)
            self._spawn(self._answered(agent, effect, self._record(effect.event)))
        elif isinstance(effect, Completed):
            e = effect.event
            reason = e.reason or ""
            self.hub.to_user(agent.user_id, "call.ended", {
                "call_id": call_id_of(e.server, e.linkedid),
                "disposition": "transferred" if reason == "transfer" else "completed",
                "cause": reason, "talk_s": e.talk_seconds, "wrap_up_s": effect.wrap_up_s,
            })
            if self.calls is not None:
                self.calls.consults.pop(call_id_of(e.server, e.linkedid), None)
        elif isinstance(effect, CallGone):
            e2 = effect.event
            if self.calls is not None:
                self.calls.consults.pop(call_id_of(e2.server, e2.linkedid), None)
            self.hub.to_user(agent.user_id, "call.ended", {
                "call_id": call_id_of(e2.server, e2.linkedid), "disposition": e2.disposition,
                "cause": e2.record.hangup_cause_text or "", "talk_s": e2.record.talk_seconds,
                "wrap_up_s": effect.wrap_up_s,
            })

    def _record(self, e: AgentRinging | CallAnswered) -> CallRecord | None:
        return record_for(self.pbx.tracker, e.server, e.linkedid) if self.pbx else None

    async def _pop(self, agent: AgentLive, effect: RingStarted, rec: CallRecord | None) -> None:
        e = effect.event
        payload = await self.pops.ringing(e, rec)
        ring = agent.ring
        if ring is None or ring.call_id != payload["call_id"]:
            return  # the ring ended while the pop was assembled: never show a stale pop
        self.current_pop[agent.user_id] = payload
        self.hub.to_user(agent.user_id, "call.ringing", payload)

    async def _answered(self, agent: AgentLive, effect: Answered, rec: CallRecord | None
                        ) -> None:
        e = effect.event
        seen = self._seen.get(call_id_of(e.server, e.linkedid))
        payload = await self.pops.answered(e, rec, seen)
        self.hub.to_user(agent.user_id, "call.answered", payload)

    def _ring_ended(self, effect: RingEnded) -> None:
        agent, cid = effect.agent, effect.call_id
        self.current_pop.pop(agent.user_id, None)
        reason = RING_REASONS.get(effect.reason) or self._recent.get(cid)
        if reason is not None:
            self._send_cancel(agent, cid, reason)
            return
        # DialEnd CANCEL comes before QueueCallerAbandon / AgentConnect (obs. 8): wait a moment
        # for the event that tells why, then fall back to what the tracker knows.
        handle = asyncio.get_running_loop().call_later(
            self.config.cancel_grace_s, self._cancel_timeout, agent, cid)
        self._pending_cancel.setdefault(cid, []).append((agent, handle))

    def _cancel_timeout(self, agent: AgentLive, cid: str) -> None:
        waiting = self._pending_cancel.get(cid, [])
        self._pending_cancel[cid] = [(a, h) for a, h in waiting if a is not agent]
        if not self._pending_cancel[cid]:
            del self._pending_cancel[cid]
        server, _, linkedid = cid.partition(":")
        rec = record_for(self.pbx.tracker, server, linkedid) if self.pbx else None
        reason = "answered_elsewhere" if rec is not None and rec.agent else "abandoned"
        self._send_cancel(agent, cid, reason)

    def _resolve_cancels(self, cid: str, reason: str) -> None:
        for agent, handle in self._pending_cancel.pop(cid, []):
            handle.cancel()
            self._send_cancel(agent, cid, reason)

    def _send_cancel(self, agent: AgentLive, cid: str, reason: str) -> None:
        self.hub.to_user(agent.user_id, "call.ring_cancelled", {"call_id": cid, "reason": reason})

    # ------------------------------------------------------------------ background
    async def _ticker(self) -> None:
        """Ends wrap-ups on time and pushes ``queue.stats`` to supervisors."""
        last_push = 0.0
        while True:
            await asyncio.sleep(min(self.config.stats_interval_s, 0.25))
            now = self.clock()
            for effect in self.board.expire(now):
                self._effect(effect, now)
            mono = time.monotonic()
            if (self._stats_dirty or mono - last_push >= 5) and (
                    mono - last_push >= self.config.stats_interval_s):
                self._stats_dirty = False
                last_push = mono
                self.hub.to_wallboard("queue.stats", {"queues": self.stats(now)})

    # ------------------------------------------------------------------ API for others
    def stats(self, now: float | None = None) -> list[dict[str, object]]:
        """The live per-queue snapshot (REST and ``queue.stats``)."""
        return self.wallboard.snapshot(self.board, self.clock() if now is None else now)

    def publish_order_updated(
        self, *, order_no: str, state: str, version: int, units: Iterable[dict[str, Any]],
        action: str, **extra: Any,
    ) -> int:
        """Fan ``order.updated`` out to platform staff and the staff of the order's units
        only (docs/websocket.md). ``units``: [{unit_code, state}]. Returns sockets reached."""
        unit_list = [dict(u) for u in units]
        fields = {"order_no": order_no, "state": state, "version": version,
                  "units": unit_list, "action": action, **extra}
        return self.hub.to_order_audience(fields, [str(u.get("unit_code")) for u in unit_list])

    def _call_agents(self, call_id: str) -> list[AgentLive]:
        return [a for a in self.board.agents.values()
                if (a.call is not None and a.call.call_id == call_id)
                or (a.call is None and a.last_call_id == call_id
                    and a.wrap_up_until is not None)]

    def publish_transcript_line(
        self, call_id: str, *, speaker: str, text: str, final: bool, start_s: float,
        end_s: float,
    ) -> int:
        """Send a ``transcript.line`` to the agent on ``call_id`` (or in its wrap-up)."""
        fields = {"call_id": call_id, "speaker": speaker, "text": text, "final": final,
                  "start_s": start_s, "end_s": end_s}
        return sum(self.hub.to_user(a.user_id, "transcript.line", fields)
                   for a in self._call_agents(call_id))

    def publish_draft_updated(self, call_id: str, draft: dict[str, Any]) -> int:
        """Send a ``draft.updated`` to the agent on ``call_id``."""
        return sum(self.hub.to_user(a.user_id, "draft.updated",
                                    {"call_id": call_id, "draft": draft})
                   for a in self._call_agents(call_id))
