"""Live queue statistics for the supervisor wallboard (pure, no I/O).

Per queue: callers waiting and the longest wait now, agents per state, and today's answered /
abandoned calls with the service level (answered within ``SERVICE_LEVEL_SECONDS`` = 15 s over
answered, ``servicelevel=15`` in queues.conf). "Today" is the local (UTC+8) day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.states import AgentBoard, AgentState, call_id_of
from agents.store import today_start
from pbx import dialplan
from pbx.calls.events import (
    CallAnswered,
    CallEnded,
    DomainEvent,
    QueueAbandoned,
    QueueJoined,
    QueueLeft,
)

SL_SECONDS = dialplan.SERVICE_LEVEL_SECONDS


@dataclass(slots=True)
class QueueDay:
    """Counters of one queue for one day."""

    answered: set[str] = field(default_factory=set)
    answered_in_sl: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)


class Wallboard:
    """Waiting callers and today's outcomes per queue."""

    def __init__(self, queues: Iterable[str] = (), *, now: float = 0.0) -> None:
        self.known: set[str] = set(queues)
        self.waiting: dict[str, dict[str, float]] = {}  # queue -> call id -> joined at
        self.day: dict[str, QueueDay] = {}
        self.day_start = today_start(now) if now else 0.0

    def _roll(self, now: float) -> None:
        start = today_start(now)
        if start != self.day_start:
            self.day_start = start
            self.day.clear()

    def _q(self, queue: str) -> QueueDay:
        self.known.add(queue)
        return self.day.setdefault(queue, QueueDay())

    def load_outcome(self, call_id: str, queue: str, outcome: str, wait_s: float | None) -> None:
        """Restore one stored outcome of today (at start-up)."""
        d = self._q(queue)
        if outcome == "answered":
            d.answered.add(call_id)
            if wait_s is not None and wait_s <= SL_SECONDS:
                d.answered_in_sl.add(call_id)
        elif outcome == "abandoned":
            d.abandoned.add(call_id)

    def apply(self, event: DomainEvent, now: float) -> tuple[str, str, float | None] | None:
        """Feed one event. Returns ``(queue, outcome, wait_s)`` when it settled an outcome to
        persist (answered / abandoned), else None."""
        self._roll(now)
        if isinstance(event, QueueJoined):
            self.known.add(event.queue)
            cid = call_id_of(event.server, event.linkedid)
            # Our clock: "longest wait now" must not depend on Asterisk's clock being in sync.
            self.waiting.setdefault(event.queue, {})[cid] = now
            return None
        if isinstance(event, QueueLeft | CallEnded):
            # QueueCallerLeave comes before AgentConnect (obs. 5): leaving is not an abandon.
            self._unwait(call_id_of(event.server, event.linkedid))
            return None
        if isinstance(event, QueueAbandoned):
            cid = call_id_of(event.server, event.linkedid)
            self._unwait(cid)
            d = self._q(event.queue)
            if cid in d.abandoned:
                return None
            d.abandoned.add(cid)
            return (event.queue, "abandoned", float(event.hold_seconds or 0))
        if isinstance(event, CallAnswered) and event.queue:
            cid = call_id_of(event.server, event.linkedid)
            self._unwait(cid)
            d = self._q(event.queue)
            if cid in d.answered:
                return None
            # AgentConnect HoldTime is in seconds (obs. 7): the caller's wait in the queue.
            wait = float(event.hold_seconds) if event.hold_seconds is not None else None
            d.answered.add(cid)
            if wait is not None and wait <= SL_SECONDS:
                d.answered_in_sl.add(cid)
            return (event.queue, "answered", wait)
        return None

    def _unwait(self, call_id: str) -> None:
        for calls in self.waiting.values():
            calls.pop(call_id, None)

    def snapshot(self, board: AgentBoard, now: float) -> list[dict[str, object]]:
        """The ``queue.stats`` rows (docs/websocket.md), sorted by queue name."""
        self._roll(now)
        queues = set(self.known)
        for agent in board.agents.values():
            queues.update(agent.queues)
        rows: list[dict[str, object]] = []
        for queue in sorted(queues):
            waiting = self.waiting.get(queue, {})
            agents = {s.value: 0 for s in AgentState if s is not AgentState.LOGGED_OUT}
            for agent in board.in_queue(queue):
                agents[agent.state.value] = agents.get(agent.state.value, 0) + 1
            d = self.day.get(queue, QueueDay())
            answered = len(d.answered)
            rows.append(
                {
                    "queue": queue,
                    "waiting": len(waiting),
                    "longest_wait_s": round(now - min(waiting.values()), 1) if waiting else 0.0,
                    "agents": agents,
                    "answered_today": answered,
                    "answered_in_sl_today": len(d.answered_in_sl),
                    "abandoned_today": len(d.abandoned),
                    "service_level_today": (
                        round(len(d.answered_in_sl) / answered, 4) if answered else None
                    ),
                }
            )
        return rows
