"""app_queue membership on the fake Asterisk (QueueAdd / QueueRemove / QueuePause answered like
Asterisk 22 in trace 09, with the QueueMember* events), shared by tests and the call simulator."""

from __future__ import annotations

import asyncio
import time

from tests.fakes.fake_ami import FakeAmi

Fields = list[tuple[str, str]]


class QueueSim:
    """app_queue membership on the fake Asterisk: QueueAdd / QueueRemove / QueuePause answer
    like Asterisk 22 (trace 09) and send the QueueMember* events; QueueStatus lists members."""

    def __init__(self, fake: FakeAmi) -> None:
        self.fake = fake
        self.members: dict[tuple[str, str], dict[str, str]] = {}
        self.queues = {"hotline-general", "hotline-consult", "hotline-complaint"}
        fake.handlers["QueueAdd"] = self._add
        fake.handlers["QueueRemove"] = self._remove
        fake.handlers["QueuePause"] = self._pause

    def _event(self, name: str, m: dict[str, str]) -> None:
        fields = [("Event", name), ("Privilege", "agent,all"), ("Timestamp", f"{time.time():.6f}"),
                  ("Queue", m["Queue"]), ("MemberName", m["MemberName"]),
                  ("Interface", m["Interface"]), ("StateInterface", m["Interface"]),
                  ("Membership", "dynamic"), ("Penalty", "0"), ("InCall", "0"), ("Status", "1"),
                  ("Paused", m["Paused"]), ("PausedReason", m["PausedReason"]),
                  ("Wrapuptime", "0")]
        asyncio.get_running_loop().call_soon(self.fake.send_event, fields)

    def _sync_status(self) -> None:
        self.fake.queue_items = [
            [("Event", "QueueMember"), ("Queue", m["Queue"]), ("Name", m["MemberName"]),
             ("Location", m["Interface"]), ("StateInterface", m["Interface"]),
             ("Membership", "dynamic"), ("Penalty", "0"), ("InCall", "0"), ("Status", "1"),
             ("Paused", m["Paused"]), ("PausedReason", m["PausedReason"])]
            for m in self.members.values()
        ]

    def _add(self, a: dict[str, str]) -> list[Fields]:
        q, iface = a.get("Queue", ""), a.get("Interface", "")
        if q not in self.queues:
            return [[("Response", "Error"),
                     ("Message", "Unable to add interface to queue: No such queue")]]
        if (q, iface) in self.members:
            return [[("Response", "Error"), ("Message", "Unable to add interface: Already there")]]
        m = {"Queue": q, "Interface": iface, "MemberName": a.get("MemberName", iface),
             "Paused": "1" if a.get("Paused") == "true" else "0", "PausedReason": ""}
        self.members[(q, iface)] = m
        self._sync_status()
        self._event("QueueMemberAdded", m)
        return [[("Response", "Success"), ("Message", "Added interface to queue")]]

    def _remove(self, a: dict[str, str]) -> list[Fields]:
        m = self.members.pop((a.get("Queue", ""), a.get("Interface", "")), None)
        if m is None:
            return [[("Response", "Error"), ("Message", "Unable to remove interface: Not there")]]
        self._sync_status()
        self._event("QueueMemberRemoved", m)
        return [[("Response", "Success"), ("Message", "Removed interface from queue")]]

    def _pause(self, a: dict[str, str]) -> list[Fields]:
        iface = a.get("Interface", "")
        hits = [m for (q, i), m in self.members.items()
                if i == iface and (not a.get("Queue") or a["Queue"] == q)]
        if not hits:
            return [[("Response", "Error"), ("Message", "Interface not found")]]
        paused = a.get("Paused", "").lower() in ("true", "1", "yes")
        for m in hits:
            m["Paused"] = "1" if paused else "0"
            m["PausedReason"] = a.get("Reason", "") if paused else ""
            self._event("QueueMemberPause", m)
        self._sync_status()
        return [[("Response", "Success"), ("Message", "Interface paused successfully" if paused
                                          else "Interface unpaused successfully")]]

    def restart(self) -> None:
        """Asterisk restarted: dynamic members are gone."""
        self.members.clear()
        self._sync_status()
