"""Agent states derived from normalized telephony events (pure, no I/O).

States: ``logged_out``, ``available``, ``ringing``, ``on_call``, ``wrap_up``, ``paused``.
Sources (traces README observations 5-12):

* membership and pause come from ``QueueMemberChanged`` (QueueMemberAdded/Removed/Pause/Status
  and the ``QueueMember`` items of a resync);
* ``AgentRinging`` (AgentCalled) → ringing; ``AgentRingStopped`` (AgentRingNoAnswer, DialEnd
  NOANSWER/CANCEL, or QueueCallerAbandon while ringing — there is no AgentRingNoAnswer then,
  obs. 8) → the ring is over;
* ``CallAnswered`` (AgentConnect) → on_call; ``AgentCompleted`` (AgentComplete) → wrap-up for
  the queue's ``wrapuptime``: **no event marks wrap-up** (obs. 10), the board keeps a deadline
  and ``expire(now)`` ends it.

Precedence when several apply: no queue → logged_out; then on_call, ringing, paused, wrap_up,
available (a pause asked for during a call shows once the call is over).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from pbx.calls.events import (
    AgentCompleted,
    AgentRinging,
    AgentRingStopped,
    CallAnswered,
    CallEnded,
    DomainEvent,
    QueueMemberChanged,
)


class AgentState(StrEnum):
    """What an agent is doing, as shown on the console and the wallboard."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(slots=True)
class ActiveCall:
    """The call an agent is talking on (what call control acts on)."""

    call_id: str  # "server:linkedid"
    server: str
    linkedid: str
    agent_channel: str
    queue: str | None
    answered_at: float


@dataclass(slots=True)
class Ring:
    """A call ringing an agent's phone."""

    call_id: str
    event: AgentRinging


@dataclass(slots=True)
class AgentLive:
    """Live view of one agent. ``queues`` is the membership Asterisk confirmed."""

    agent_id: int
    user_id: int
    username: str
    server: str
    interface: str
    extension: str
    member_name: str
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    pause_reason: str = ""
    ring: Ring | None = None
    call: ActiveCall | None = None
    wrap_up_until: float | None = None
    last_call_id: str | None = None
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.server, self.interface.lower())

    def derive(self, now: float) -> AgentState:
        """The state the facts imply (see the module docstring for the precedence)."""
        if not self.queues:
            return AgentState.LOGGED_OUT
        if self.call is not None:
            return AgentState.ON_CALL
        if self.ring is not None:
            return AgentState.RINGING
        if self.paused:
            return AgentState.PAUSED
        if self.wrap_up_until is not None and now < self.wrap_up_until:
            return AgentState.WRAP_UP
        return AgentState.AVAILABLE

    @property
    def reason(self) -> str:
        """Pause reason while paused, else empty."""
        return self.pause_reason if self.state is AgentState.PAUSED else ""

    def public(self) -> dict[str, object]:
        """The ``agent.state`` payload (docs/websocket.md)."""
        return {
            "agent_id": self.agent_id,
            "username": self.username,
            "extension": self.extension,
            "interface": self.interface,
            "server": self.server,
            "state": self.state.value,
            # 0.0 = no state change seen since the service started: unknown, not 1970
            "since": self.since or None,
            "reason": self.reason,
            "queues": sorted(self.queues),
            "call_id": self.current_call_id,
        }

    @property
    def current_call_id(self) -> str | None:
        """The call on the agent's phone (talking or ringing)."""
        if self.call is not None:
            return self.call.call_id
        return self.ring.call_id if self.ring is not None else None


# --- effects the board reports to the service ------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChanged:
    agent: AgentLive
    previous: AgentState


@dataclass(frozen=True, slots=True)
class RingStarted:
    agent: AgentLive
    event: AgentRinging


@dataclass(frozen=True, slots=True)
class RingEnded:
    """The ring towards ``agent`` ended without this agent answering. ``reason`` is the raw
    ``AgentRingStopped`` reason (noanswer, cancel, busy...) or ``abandoned``."""

    agent: AgentLive
    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Answered:
    agent: AgentLive
    event: CallAnswered


@dataclass(frozen=True, slots=True)
class Completed:
    agent: AgentLive
    event: AgentCompleted
    wrap_up_s: float


@dataclass(frozen=True, slots=True)
class CallGone:
    """The call ended without an ``AgentComplete`` for this agent (e.g. it vanished while the
    AMI link was down)."""

    agent: AgentLive
    event: CallEnded
    wrap_up_s: float


Effect = StateChanged | RingStarted | RingEnded | Answered | Completed | CallGone


def call_id_of(server: str, linkedid: str) -> str:
    """``server:linkedid`` — the call id used on the WebSocket and in the REST API."""
    return f"{server}:{linkedid}"


class AgentBoard:
    """All known agents and their derived states. ``apply(event, now)`` returns effects."""

    def __init__(self, wrapup: Mapping[str, float] | None = None, default_wrapup: float = 0.0):
        self.agents: dict[tuple[str, str], AgentLive] = {}
        self.by_user: dict[int, AgentLive] = {}
        self.wrapup = dict(wrapup or {})
        self.default_wrapup = default_wrapup

    # ------------------------------------------------------------------ registry
    def add(self, agent: AgentLive) -> None:
        """Register (or replace) an agent."""
        old = self.by_user.get(agent.user_id)
        if old is not None:
            self.agents.pop(old.key, None)
        self.agents[agent.key] = agent
        self.by_user[agent.user_id] = agent

    def find(self, server: str, interface: str) -> AgentLive | None:
        """The agent of ``interface`` on ``server`` (interface compared case-insensitively)."""
        return self.agents.get((server, interface.lower()))

    def wrapup_for(self, queue: str | None) -> float:
        """The queue's ``wrapuptime`` (queues.conf), which Asterisk never reports (obs. 10)."""
        if queue is None:
            return self.default_wrapup
        return self.wrapup.get(queue, self.default_wrapup)

    # ------------------------------------------------------------------ events
    def apply(self, event: DomainEvent, now: float) -> list[Effect]:
        """Feed one domain event; return what changed."""
        if isinstance(event, QueueMemberChanged):
            return self._member(event, now)
        if isinstance(event, AgentRinging):
            agent = self.find(event.server, event.interface)
            if agent is None:
                return []
            cid = call_id_of(event.server, event.linkedid)
            if agent.ring is not None and agent.ring.call_id == cid:
                return []
            agent.ring = Ring(cid, event)
            return [RingStarted(agent, event), *self._settle(agent, now)]
        if isinstance(event, AgentRingStopped):
            agent = self.find(event.server, event.interface)
            cid = call_id_of(event.server, event.linkedid)
            if agent is None or agent.ring is None or agent.ring.call_id != cid:
                return []
            agent.ring = None
            return [RingEnded(agent, cid, event.reason), *self._settle(agent, now)]
        if isinstance(event, CallAnswered):
            return self._answered(event, now)
        if isinstance(event, CallEnded):
            return self._ended(event, now)
        if isinstance(event, AgentCompleted):
            agent = self.find(event.server, event.interface)
            cid = call_id_of(event.server, event.linkedid)
            if agent is None or agent.call is None or agent.call.call_id != cid:
                return []
            agent.call = None
            agent.last_call_id = cid
            wrap = self.wrapup_for(event.queue or None)
            # Wrap-up runs from when we learn of AgentComplete (our clock, not Asterisk's).
            agent.wrap_up_until = now + wrap if wrap > 0 else None
            return [Completed(agent, event, wrap), *self._settle(agent, now)]
        return []

    def _answered(self, event: CallAnswered, now: float) -> list[Effect]:
        if event.interface is None:
            return []
        agent = self.find(event.server, event.interface)
        if agent is None:
            return []
        cid = call_id_of(event.server, event.linkedid)
        if agent.call is not None and agent.call.call_id == cid:
            return []
        agent.ring = None
        agent.wrap_up_until = None
        agent.call = ActiveCall(
            cid, event.server, event.linkedid, event.agent_channel, event.queue, event.at
        )
        return [Answered(agent, event), *self._settle(agent, now)]

    def _ended(self, event: CallEnded, now: float) -> list[Effect]:
        cid = call_id_of(event.server, event.linkedid)
        out: list[Effect] = []
        for agent in self.agents.values():
            if agent.ring is not None and agent.ring.call_id == cid:
                agent.ring = None
                out.extend([RingEnded(agent, cid, "abandoned"), *self._settle(agent, now)])
            if agent.call is not None and agent.call.call_id == cid:
                wrap = self.wrapup_for(agent.call.queue)
                agent.call = None
                agent.last_call_id = cid
                agent.wrap_up_until = now + wrap if wrap > 0 else None
                out.extend([CallGone(agent, event, wrap), *self._settle(agent, now)])
        return out

    def _member(self, event: QueueMemberChanged, now: float) -> list[Effect]:
        agent = self.find(event.server, event.interface)
        if agent is None:
            return []
        if event.change == "removed":
            agent.queues.discard(event.queue)
        else:
            agent.queues.add(event.queue)
            if event.change in ("pause", "added", "snapshot"):
                # A pause without Queue: pauses every queue and sends one event per queue
                # (obs. 11); the agent-level flag follows the latest one.
                agent.paused = event.paused
                agent.pause_reason = event.paused_reason if event.paused else ""
        return self._settle(agent, now)

    def expire(self, now: float) -> list[Effect]:
        """End wrap-ups whose deadline passed (call from a timer)."""
        out: list[Effect] = []
        for agent in self.agents.values():
            if agent.wrap_up_until is not None and now >= agent.wrap_up_until:
                agent.wrap_up_until = None
                out.extend(self._settle(agent, now))
        return out

    def forget_queues(self, server: str) -> None:
        """Asterisk restarted: its dynamic members are gone until re-added (the resync
        snapshot and the re-add bring them back)."""
        for agent in self.agents.values():
            if agent.server == server:
                agent.queues.clear()

    def settle_all(self, now: float, server: str | None = None) -> list[Effect]:
        """Recompute every agent's state (after a resync)."""
        out: list[Effect] = []
        for agent in self.agents.values():
            if server is None or agent.server == server:
                out.extend(self._settle(agent, now))
        return out

    def _settle(self, agent: AgentLive, now: float) -> list[Effect]:
        new = agent.derive(now)
        if new is agent.state:
            return []
        previous = agent.state
        agent.state, agent.since = new, now
        return [StateChanged(agent, previous)]

    def in_queue(self, queue: str) -> Iterable[AgentLive]:
        """Agents currently members of ``queue``."""
        return (a for a in self.agents.values() if queue in a.queues)
