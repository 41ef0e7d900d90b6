"""What ``CoreShowChannels`` / ``QueueStatus`` would list at any point of a captured trace.

A "backend restart" in the tests is: a fresh tracker gets the snapshot Asterisk would give at
message ``cut`` of a trace, then the rest of the trace. The snapshot is rebuilt from the events
before ``cut`` with the field layout of the real ``CoreShowChannel`` items of trace 09
(``Application``/``ApplicationData`` from ``Newexten``, ``AppQueue`` for a queue's outgoing
line, ``AppDial`` for a dialled leg, ``BridgeId`` from ``BridgeEnter``/``BridgeLeave``,
``Duration: HH:MM:SS``); ``test_call_adoption.py`` checks it against the real items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pbx.ami.message import AmiMessage, AmiParser

TRACES = Path(__file__).resolve().parents[1] / "traces"

SNAPSHOT_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)


def messages(name: str, server: str = "pbx1") -> list[AmiMessage]:
    msgs = AmiParser().feed((TRACES / f"{name}.ami.wire.txt").read_bytes())
    for m in msgs:
        m.server = server
    return msgs


def item(event: str, pairs: list[tuple[str, str]], server: str = "pbx1") -> AmiMessage:
    """A list item / event as the parser would build it."""
    return AmiMessage("event", event, [("Event", event), *pairs], server)


def channel(**fields: str) -> AmiMessage:
    """A ``CoreShowChannel`` item with the real field order; unspecified fields are empty."""
    defaults = {"ChannelState": "6", "ChannelStateDesc": "Up", "Priority": "1"}
    keys = (*SNAPSHOT_KEYS, "Application", "ApplicationData", "Duration", "BridgeId")
    unknown = set(fields) - set(keys)
    assert not unknown, unknown
    pairs = [(k, fields.get(k, defaults.get(k, ""))) for k in keys]
    return item("CoreShowChannel", [("ActionID", "resync-1"), *pairs])


def members(*interfaces: str) -> list[AmiMessage]:
    """``QueueMember`` items of ``hotline-general`` (layout of trace 09)."""
    return [
        item(
            "QueueMember",
            [
                ("Queue", "hotline-general"),
                ("Name", f"Agent {iface[-4:]}"),
                ("Location", iface),
                ("StateInterface", iface),
                ("Membership", "static"),
                ("InCall", "0"),
                ("Status", "1"),
                ("Paused", "0"),
                ("PausedReason", ""),
            ],
        )
        for iface in interfaces
    ]


def hms(seconds: float) -> str:
    s = max(int(seconds), 0)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Snapshot:
    at: float
    channels: list[AmiMessage]
    entries: list[AmiMessage]


def snapshot_at(msgs: list[AmiMessage], cut: int) -> Snapshot:
    """The resync Asterisk would answer after ``msgs[:cut]`` (see the module docstring)."""
    chans: dict[str, dict[str, str]] = {}
    born: dict[str, float] = {}
    waiting: dict[str, tuple[str, float, str, str]] = {}
    at = 0.0
    for m in msgs[:cut]:
        f = m.fields
        if m.kind != "event" or "ActionID" in f:  # responses, list items of the capture
            continue
        ts = float(f["Timestamp"]) if "Timestamp" in f else at
        at = max(at, ts)
        uid = f.get("Uniqueid", "")
        if m.name == "Newchannel" and uid:
            chans[uid] = {k: f.get(k, "") for k in SNAPSHOT_KEYS}
            chans[uid].update(Application="", ApplicationData="", BridgeId="")
            born[uid] = ts
            continue
        if m.name == "Hangup":
            chans.pop(uid, None)
            waiting.pop(uid, None)
            continue
        for prefix in ("", "Dest"):
            c = chans.get(f.get(prefix + "Uniqueid", ""))
            if c is not None:
                c.update({k: f[prefix + k] for k in SNAPSHOT_KEYS if prefix + k in f})
        c = chans.get(uid)
        dest = chans.get(f.get("DestUniqueid", ""))
        if m.name == "Newexten" and c is not None:
            c["Application"], c["ApplicationData"] = f.get("Application", ""), f.get("AppData", "")
        elif m.name == "AgentCalled" and dest is not None:
            dest["Application"], dest["ApplicationData"] = "AppQueue", "(Outgoing Line)"
        elif m.name == "DialBegin" and dest is not None and not dest["Application"]:
            dest["Application"], dest["ApplicationData"] = "AppDial", "(Outgoing Line)"
        elif m.name == "BridgeEnter" and c is not None:
            c["BridgeId"] = f.get("BridgeUniqueid", "")
        elif m.name == "BridgeLeave" and c is not None:
            c["BridgeId"] = ""
        elif m.name == "QueueCallerJoin" and c is not None:
            waiting[uid] = (f.get("Queue", ""), ts, f.get("Position", "1"), c["Channel"])
        elif m.name in ("QueueCallerLeave", "QueueCallerAbandon"):
            waiting.pop(uid, None)
    channels = [channel(**{**c, "Duration": hms(at - born[uid])}) for uid, c in chans.items()]
    entries = [
        item(
            "QueueEntry",
            [
                ("Queue", queue),
                ("Position", pos),
                ("Channel", name),
                ("Uniqueid", uid),
                ("Wait", str(int(at - joined))),
                ("ActionID", "resync-2"),
            ],
        )
        for uid, (queue, joined, pos, name) in waiting.items()
    ]
    return Snapshot(at, channels, entries)
