"""Scripted queue calls as AMI events in Asterisk 22's field layout (modelled on traces 02-04),
for tests and benchmarks/bench_screenpop.py."""

from __future__ import annotations

import time
from dataclasses import dataclass

Fields = list[tuple[str, str]]


@dataclass
class ScriptedCall:
    """One inbound call to ``queue`` that rings ``agent_ext`` (PJSIP/agent<ext>)."""

    n: int
    caller: str
    agent_ext: str
    queue: str = "hotline-general"
    choice: str = "1"
    server_prefix: str = "pbx1"

    @property
    def linkedid(self) -> str:
        return f"{self.server_prefix}-1795900000.{self.n * 2}"

    @property
    def agent_uid(self) -> str:
        return f"{self.server_prefix}-1795900000.{self.n * 2 + 1}"

    @property
    def citizen(self) -> str:
        return f"PJSIP/citizen-trunk-{self.n * 2:08x}"

    @property
    def agent_channel(self) -> str:
        return f"PJSIP/agent{self.agent_ext}-{self.n * 2 + 1:08x}"

    @property
    def call_id(self) -> str:
        return f"pbx1:{self.linkedid}"

    def _base(self, name: str) -> Fields:
        return [("Event", name), ("Privilege", "agent,all"), ("Timestamp", f"{time.time():.6f}"),
                ("SystemName", "pbx1")]

    def _snap(self, prefix: str, channel: str, uid: str, ctx: str, cid: str) -> Fields:
        return [(prefix + "Channel", channel), (prefix + "ChannelState", "6"),
                (prefix + "ChannelStateDesc", "Up"), (prefix + "CallerIDNum", cid),
                (prefix + "CallerIDName", cid), (prefix + "Context", ctx),
                (prefix + "Exten", "12345"), (prefix + "Priority", "10"),
                (prefix + "Uniqueid", uid), (prefix + "Linkedid", self.linkedid)]

    def _citizen(self) -> Fields:
        return self._snap("", self.citizen, self.linkedid, "from-trunk", self.caller)

    def _agent(self) -> Fields:
        return self._snap("Dest", self.agent_channel, self.agent_uid, "from-agents",
                          self.agent_ext)

    def _member(self) -> Fields:
        return [("Queue", self.queue), ("Interface", f"PJSIP/agent{self.agent_ext}"),
                ("MemberName", f"Agent {self.agent_ext}")]

    def arrive(self) -> list[Fields]:
        """Citizen channel, IVR choice, queue join."""
        new = [*self._base("Newchannel"), ("Channel", self.citizen), ("ChannelState", "4"),
               ("ChannelStateDesc", "Ring"), ("CallerIDNum", self.caller),
               ("CallerIDName", self.caller), ("Context", "from-trunk"), ("Exten", "12345"),
               ("Priority", "1"), ("Uniqueid", self.linkedid), ("Linkedid", self.linkedid)]
        var = [*self._base("VarSet"), *self._citizen(), ("Variable", "HOTLINE_CHOICE"),
               ("Value", self.choice)]
        join = [*self._base("QueueCallerJoin"), *self._citizen(), ("Queue", self.queue),
                ("Position", "1"), ("Count", "1")]
        return [new, var, join]

    def ring(self) -> list[Fields]:
        """Agent leg created and AgentCalled (the screen-pop trigger)."""
        new = [*self._base("Newchannel"), ("Channel", self.agent_channel), ("ChannelState", "0"),
               ("ChannelStateDesc", "Down"), ("CallerIDNum", self.agent_ext),
               ("CallerIDName", ""), ("Context", "from-agents"), ("Exten", "12345"),
               ("Priority", "1"), ("Uniqueid", self.agent_uid), ("Linkedid", self.linkedid)]
        called = [*self._base("AgentCalled"), *self._citizen(), *self._agent(), *self._member()]
        return [new, called]

    def answer(self, hold: int = 3) -> list[Fields]:
        leave = [*self._base("QueueCallerLeave"), *self._citizen(), ("Queue", self.queue),
                 ("Position", "1"), ("Count", "0")]
        connect = [*self._base("AgentConnect"), *self._citizen(), *self._agent(),
                   *self._member(), ("HoldTime", str(hold)), ("RingTime", "1")]
        return [leave, connect]

    def complete(self, talk: int = 6, reason: str = "caller") -> list[Fields]:
        done = [*self._base("AgentComplete"), *self._citizen(), *self._agent(), *self._member(),
                ("HoldTime", "3"), ("TalkTime", str(talk)), ("Reason", reason)]
        return [done]

    def hangup(self) -> list[Fields]:
        return [
            [*self._base("Hangup"), ("Channel", self.agent_channel), ("Uniqueid", self.agent_uid),
             ("Linkedid", self.linkedid), ("Cause", "16"), ("Cause-txt", "Normal Clearing")],
            [*self._base("Hangup"), ("Channel", self.citizen), ("Uniqueid", self.linkedid),
             ("Linkedid", self.linkedid), ("Cause", "16"), ("Cause-txt", "Normal Clearing")],
        ]

    def abandon_while_ringing(self, hold: int = 6) -> list[Fields]:
        """Trace 03b: DialEnd CANCEL twice, QueueCallerAbandon, agent leg Hangup cause 0."""
        dial_end = [*self._base("DialEnd"), *self._citizen(), *self._agent(),
                    ("DialStatus", "CANCEL")]
        abandon = [*self._base("QueueCallerAbandon"), *self._citizen(), ("Queue", self.queue),
                   ("Position", "1"), ("OriginalPosition", "1"), ("HoldTime", str(hold))]
        return [dial_end, dial_end, abandon, *self.hangup()]

    def abandon_waiting(self, hold: int = 7) -> list[Fields]:
        abandon = [*self._base("QueueCallerAbandon"), *self._citizen(), ("Queue", self.queue),
                   ("Position", "1"), ("OriginalPosition", "1"), ("HoldTime", str(hold))]
        leave = [*self._base("QueueCallerLeave"), *self._citizen(), ("Queue", self.queue),
                 ("Position", "1"), ("Count", "0")]
        hang = [*self._base("Hangup"), ("Channel", self.citizen), ("Uniqueid", self.linkedid),
                ("Linkedid", self.linkedid), ("Cause", "0"), ("Cause-txt", "Unknown")]
        return [abandon, leave, hang]
