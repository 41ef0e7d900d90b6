"""Queue membership through AMI: log in (QueueAdd), log out (QueueRemove), pause (QueuePause),
and re-adding intended members after an Asterisk restart or reconnect.

The backend's intent (which queues, paused or not) is stored first-class in PostgreSQL so that
a restarted Asterisk — whose dynamic members are gone — can be put back as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from agents.amierrors import ami
from agents.states import AgentBoard
from agents.store import AgentRow, AgentStore
from kit.errors import Unprocessable
from pbx.ami.errors import AmiError

from .ports import Pbx

log = logging.getLogger(__name__)

# app_queue's answers that mean "already the way you want it" (trace 09).
_ALREADY_IN = ("already there",)
_NOT_THERE = ("not there",)


def _bool(v: bool) -> str:
    return "true" if v else "false"


class QueueControl:
    """AMI queue actions for agents; ``queues`` is the set of queue names agents may join."""

    def __init__(self, pbx: Pbx, store: AgentStore, board: AgentBoard, queues: Iterable[str],
                 timeout: float = 5.0) -> None:
        self.pbx = pbx
        self.store = store
        self.board = board
        self.queues = frozenset(queues)
        self.timeout = timeout

    def check_queues(self, queues: Iterable[str]) -> list[str]:
        """Known queue names, de-duplicated; 422 naming the unknown ones."""
        wanted = list(dict.fromkeys(queues))
        unknown = [q for q in wanted if q not in self.queues]
        if unknown or not wanted:
            raise Unprocessable(
                "未知队列" if unknown else "请至少选择一个队列",
                code="unknown_queue", details={"unknown": unknown, "known": sorted(self.queues)},
            )
        return wanted

    async def _add(self, agent: AgentRow, queue: str, penalty: int, paused: bool) -> None:
        headers = {
            "Queue": queue,
            "Interface": agent.interface,
            "Penalty": penalty,
            "Paused": _bool(paused),
            "MemberName": agent.member_name,
            # Device state of the phone itself, so app_queue knows "in use" / "unavailable".
            "StateInterface": agent.interface,
        }
        try:
            await self.pbx.send_action(agent.server, "QueueAdd", headers, timeout=self.timeout)
        except AmiError as exc:
            if any(s in exc.message.lower() for s in _ALREADY_IN):
                return
            raise

    async def _remove(self, agent: AgentRow, queue: str) -> None:
        try:
            await self.pbx.send_action(
                agent.server, "QueueRemove", {"Queue": queue, "Interface": agent.interface},
                timeout=self.timeout,
            )
        except AmiError as exc:
            # "Unable to remove interface: Not there" (trace 09): already logged out.
            if any(s in exc.message.lower() for s in _NOT_THERE):
                return
            raise

    async def login(self, agent: AgentRow, queues: Iterable[str], penalty: int = 0) -> None:
        """Add the agent to ``queues``; all or nothing (members added before a failure are
        removed again), the intent is stored only when Asterisk accepted."""
        wanted = self.check_queues(queues)
        done: list[str] = []
        try:
            for q in wanted:
                await ami(self._add(agent, q, penalty, agent.paused), "签入队列")
                done.append(q)
        except Exception:
            for q in done:
                try:
                    await self._remove(agent, q)
                except AmiError:
                    log.warning("agents: could not undo QueueAdd %s %s", q, agent.interface)
            raise
        if agent.paused:
            await ami(self._pause(agent, True, agent.pause_reason), "示忙")
        for q in wanted:
            await self.store.set_queue(agent.id, q, True, penalty)

    async def logout(self, agent: AgentRow, queues: Iterable[str] | None = None) -> list[str]:
        """Remove the agent from ``queues`` (default: every queue it is logged in to)."""
        live = self.board.by_user.get(agent.user_id)
        current = set(agent.queues) | (live.queues if live else set())
        targets = sorted(current) if queues is None else self.check_queues(queues)
        for q in targets:
            await ami(self._remove(agent, q), "签出队列")
            await self.store.set_queue(agent.id, q, False)
        return targets

    async def _pause(self, agent: AgentRow, paused: bool, reason: str) -> None:
        headers: dict[str, object] = {"Interface": agent.interface, "Paused": _bool(paused)}
        if paused and reason:
            headers["Reason"] = reason
        # No Queue: header: app_queue pauses the interface in every queue and sends one
        # QueueMemberPause per queue (obs. 11).
        await self.pbx.send_action(agent.server, "QueuePause", headers, timeout=self.timeout)

    async def pause(self, agent: AgentRow, paused: bool, reason: str) -> None:
        """Pause (示忙, with a reason) or unpause (示闲) in every queue."""
        if paused and not reason.strip():
            raise Unprocessable("示忙须填写原因", code="reason_required")
        live = self.board.by_user.get(agent.user_id)
        if live is None or not live.queues:
            raise Unprocessable("坐席未签入任何队列", code="not_logged_in")
        await ami(self._pause(agent, paused, reason.strip()), "示忙" if paused else "示闲")
        await self.store.set_pause(agent.id, paused, reason.strip())

    async def readd(self, server: str) -> list[tuple[str, str]]:
        """After a (re)connect: add back every intended membership Asterisk does not have
        (an Asterisk restart forgets dynamic members). Returns (interface, queue) re-added."""
        out: list[tuple[str, str]] = []
        for agent in await self.store.all():
            if agent.server != server or not agent.queues:
                continue
            live = self.board.by_user.get(agent.user_id)
            have = live.queues if live is not None else set()
            missing = [q for q in agent.queues if q not in have]
            for q in missing:
                try:
                    await self._add(agent, q, 0, agent.paused)
                    out.append((agent.interface, q))
                except AmiError as exc:
                    log.warning("agents: re-adding %s to %s failed: %s", agent.interface, q, exc)
            if missing and agent.paused:
                try:
                    await self._pause(agent, True, agent.pause_reason)
                except AmiError as exc:
                    log.warning("agents: re-pausing %s failed: %s", agent.interface, exc)
        if out:
            log.info("agents: re-added %d queue member(s) on %s", len(out), server)
        return out
