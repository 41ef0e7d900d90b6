"""Tracker rules for queue callers and agents (app_queue events, traces 02-05, 09)."""

from __future__ import annotations

from pbx.ami.message import AmiMessage
from pbx.calls.events import (
    AgentCompleted,
    AgentRinging,
    AgentRingStopped,
    CallAnswered,
    DomainEvent,
    QueueAbandoned,
    QueueJoined,
    QueueLeft,
    QueueMemberChanged,
)
from pbx.calls.state import TrackerState, to_int

MEMBER_EVENTS = {
    "QueueMemberStatus": "status",
    "QueueMemberPause": "pause",
    "QueueMemberAdded": "added",
    "QueueMemberRemoved": "removed",
    "QueueMemberPenalty": "status",
    "QueueMemberRinginuse": "status",
}


class QueueRules(TrackerState):
    """Queue join/leave/abandon, agents rung, answered, completed; queue member state."""

    def _register_queue_rules(self) -> None:
        self._handlers.update(
            {
                "QueueCallerJoin": self._on_queue_join,
                "QueueCallerLeave": self._on_queue_leave,
                "QueueCallerAbandon": self._on_queue_abandon,
                "AgentCalled": self._on_agent_called,
                "AgentRingNoAnswer": self._on_agent_noanswer,
                "DialEnd": self._on_dial_end,
                "AgentConnect": self._on_agent_connect,
                "AgentComplete": self._on_agent_complete,
            }
        )
        for name in MEMBER_EVENTS:
            self._handlers[name] = self._on_member

    def _on_queue_join(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        ch, call = found
        queue = msg.fields["Queue"]
        if call.queue == queue and call.queue_left_at is None and call.queue_joined_at is not None:
            return []
        call.queue, call.queue_joined_at, call.queue_left_at = queue, at, None
        return [
            QueueJoined(
                call.server, at, call.linkedid, queue, to_int(msg.fields.get("Position")), ch.name
            )
        ]

    def _on_queue_leave(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        if call.queue_left_at is not None or call.queue_joined_at is None:
            return []
        call.queue_left_at = at
        call.wait_seconds = round(at - call.queue_joined_at, 3)
        return [
            QueueLeft(
                call.server, at, call.linkedid, msg.fields.get("Queue", ""), call.wait_seconds
            )
        ]

    def _on_queue_abandon(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None or found[1].abandoned:
            return []
        _, call = found
        call.abandoned = True
        out: list[DomainEvent] = [
            QueueAbandoned(
                call.server,
                at,
                call.linkedid,
                msg.fields.get("Queue", ""),
                to_int(msg.fields.get("Position")),
                to_int(msg.fields.get("HoldTime")),
            )
        ]
        for uid, iface in list(call.ringing.items()):  # obs. 8: clear the screen-pop here
            del call.ringing[uid]
            name = (
                self._channels[(call.server, uid)].name
                if (call.server, uid) in self._channels
                else ""
            )
            out.append(
                AgentRingStopped(call.server, at, call.linkedid, iface, name, "cancel", None)
            )
        return out

    # ------------------------------------------------------------------ agents
    def _on_agent_called(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        f = msg.fields
        dest_uid, iface = f["DestUniqueid"], f["Interface"]
        if dest_uid in call.ringing:
            return []
        call.ringing[dest_uid] = iface
        call.agents_rung.append(iface)
        wait = round(at - call.queue_joined_at, 3) if call.queue_joined_at else None
        return [
            AgentRinging(
                call.server,
                at,
                call.linkedid,
                f.get("Queue", ""),
                iface,
                f.get("MemberName", ""),
                f.get("DestChannel", ""),
                call.caller,
                call.ivr_choices[-1] if call.ivr_choices else None,
                wait,
            )
        ]

    def _on_agent_noanswer(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        f = msg.fields
        iface = call.ringing.pop(f["DestUniqueid"], None)
        if iface is None:
            return []
        call.agents_no_answer.append(iface)
        # RingTime here is in milliseconds (obs. 7), unlike AgentConnect's seconds.
        return [
            AgentRingStopped(
                call.server,
                at,
                call.linkedid,
                iface,
                f.get("DestChannel", ""),
                "noanswer",
                to_int(f.get("RingTime")),
            )
        ]

    def _on_dial_end(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        status = msg.fields.get("DialStatus", "")
        if status == "ANSWER":
            return []
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        iface = call.ringing.pop(msg.fields.get("DestUniqueid", ""), None)
        if iface is None:
            return []
        if status == "NOANSWER":
            call.agents_no_answer.append(iface)
        return [
            AgentRingStopped(
                call.server,
                at,
                call.linkedid,
                iface,
                msg.fields.get("DestChannel", ""),
                status.lower(),
                None,
            )
        ]

    def _on_agent_connect(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        f = msg.fields
        dest_uid = f["DestUniqueid"]
        if call.agent_uniqueid == dest_uid:
            return []
        call.ringing.pop(dest_uid, None)
        call.agent, call.agent_name, call.agent_uniqueid = (
            f["Interface"],
            f.get("MemberName"),
            dest_uid,
        )
        call.agent_channel = f.get("DestChannel")
        call.hold_seconds = to_int(f.get("HoldTime"))
        if call.answered_at is None:
            call.answered_at = at
        if call.queue_left_at is None and call.queue_joined_at is not None:
            call.queue_left_at = at
            call.wait_seconds = round(at - call.queue_joined_at, 3)
        return [
            CallAnswered(
                call.server,
                at,
                call.linkedid,
                f.get("Queue"),
                call.agent,
                call.agent_name,
                f.get("DestChannel", ""),
                call.hold_seconds,
                to_int(f.get("RingTime")),
            )
        ]

    def _on_agent_complete(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        _, call = found
        f = msg.fields
        if call.completed_uniqueid is not None and call.completed_uniqueid == f.get("DestUniqueid"):
            return []
        call.completed_uniqueid = f.get("DestUniqueid", "")
        call.talk_seconds = to_int(f.get("TalkTime"))
        call.complete_reason = f.get("Reason", "")
        if call.agent is None and f.get("Interface"):
            # AgentConnect was missed (call adopted from a resync): AgentComplete still says
            # who answered, when (TalkTime s ago) and after how long a wait.
            call.agent, call.agent_name = f["Interface"], f.get("MemberName")
            call.hold_seconds = to_int(f.get("HoldTime"))
            if call.answered_at is None and call.talk_seconds is not None:
                call.answered_at = at - call.talk_seconds
        return [
            AgentCompleted(
                call.server,
                at,
                call.linkedid,
                f.get("Queue", ""),
                f.get("Interface", ""),
                f.get("DestChannel", ""),
                call.talk_seconds,
                call.complete_reason,
            )
        ]

    def _on_member(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        return [self._member_event(msg.server, at, msg, MEMBER_EVENTS[msg.name])]

    @staticmethod
    def _member_event(server: str, at: float, m: AmiMessage, change: str) -> QueueMemberChanged:
        f = m.fields
        return QueueMemberChanged(
            server,
            at,
            f["Queue"],
            f.get("Interface") or f.get("Location") or "",
            f.get("MemberName") or f.get("Name") or "",
            to_int(f.get("Status")),
            f.get("Paused") == "1",
            f.get("PausedReason", ""),
            f.get("InCall") == "1",
            change,
        )
