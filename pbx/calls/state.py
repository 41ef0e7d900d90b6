"""Shared state and helpers of the call tracker (channels, calls, aliases, ended calls)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pbx import dialplan
from pbx.ami.message import AmiMessage
from pbx.calls.events import CallEnded, CallKey, CallStarted, DomainEvent
from pbx.calls.record import CallRecord

log = logging.getLogger("pbx.calls.tracker")

Handler = Callable[[AmiMessage, float], list[DomainEvent]]


@dataclass(slots=True)
class Channel:
    """A live channel we know of."""

    uniqueid: str
    linkedid: str
    name: str
    call: CallKey | None  # None: a pending originated leg, not (yet) part of a hotline call
    context: str
    epoch: int = 0  # link epoch when we learnt of it (see CallTracker.reconcile)
    stash: dict[str, str] | None = None  # variables of a pending leg, kept until it opens


def to_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def duration_seconds(value: str | None) -> int:
    """``CoreShowChannel`` ``Duration: HH:MM:SS`` in seconds (0 when absent or malformed)."""
    parts = (value or "").split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 0
    h, m, sec = (int(p) for p in parts)
    # capped at a week: a garbage value must not move a start time out of datetime's range
    return min(h * 3600 + m * 60 + sec, 7 * 86400)


def cid_num(value: str | None) -> str | None:
    """Caller-id number, with Asterisk's placeholders turned into None."""
    if not value or value in ("<unknown>", "unknown"):
        return None
    return value


def local_target(channel: str) -> str:
    """``Local/2001@hotline-internal-00000000;1`` → ``2001@hotline-internal``."""
    if channel.startswith("Local/"):
        body = channel[6:].split(";", 1)[0]
        head, sep, tail = body.rpartition("-")
        # the suffix is Asterisk's global channel counter: 8 hex digits
        if sep and len(tail) == 8 and all(c in "0123456789abcdef" for c in tail):
            return head
        return body
    return channel


class TrackerState:
    """State shared by the rule mixins; ``CallTracker`` is the public class."""

    def __init__(
        self,
        *,
        inbound_contexts: Iterable[str] = dialplan.INBOUND_CONTEXTS,
        clock: Callable[[], float] = time.time,
        remember_ended: int = 20000,
    ) -> None:
        self.inbound_contexts = frozenset(inbound_contexts)
        self._clock = clock
        self._calls: dict[CallKey, CallRecord] = {}
        self._channels: dict[tuple[str, str], Channel] = {}
        self._aliases: dict[CallKey, CallKey] = {}  # leg Linkedid -> call it belongs to
        self._conferences: dict[tuple[str, str], CallKey] = {}
        self._ended: OrderedDict[CallKey, None] = OrderedDict()
        self._remember_ended = remember_ended
        self._epoch: dict[str, int] = {}
        self.stats = {"messages": 0, "unknown_channel": 0, "ignored_late": 0, "bad": 0}
        self._handlers: dict[str, Handler] = {}

    # ------------------------------------------------------------------ helpers
    def _channel(self, msg: AmiMessage, prefix: str = "") -> Channel | None:
        uid = msg.fields.get(prefix + "Uniqueid")
        if uid is None:
            return None
        ch = self._channels.get((msg.server, uid))
        if ch is None:
            self.stats["unknown_channel"] += 1
            log.debug("tracker: %s for unknown channel %s/%s", msg.name, msg.server, uid)
        return ch

    def _call(self, msg: AmiMessage, prefix: str = "") -> tuple[Channel, CallRecord] | None:
        ch = self._channel(msg, prefix)
        if ch is None or ch.call is None:
            return None
        call = self._calls.get(ch.call)
        if call is None:
            self.stats["ignored_late"] += 1
            return None
        call.epoch = self._epoch.get(call.server, 0)
        return ch, call

    def _attach(self, ch: Channel, call: CallRecord) -> None:
        ch.call = call.key
        call.live.add(ch.uniqueid)
        if ch.name not in call.channels:
            call.channels.append(ch.name)

    def _open(
        self, ch: Channel, msg: AmiMessage, at: float, direction: str, adopted: bool = False
    ) -> list[DomainEvent]:
        key = CallKey(msg.server, ch.linkedid)
        caller = cid_num(msg.fields.get("CallerIDNum"))
        dialled = msg.fields.get("Exten") if direction == "inbound" else None
        if adopted and direction == "inbound" and ch.context not in self.inbound_contexts:
            # found past the IVR (queue exit, post-call, transfer...): only 12345 leads there
            dialled = dialplan.EXTEN_HOTLINE
        # a channel adopted from a resync started Duration seconds before the snapshot
        at -= duration_seconds(msg.fields.get("Duration"))
        call = CallRecord(
            server=msg.server,
            linkedid=ch.linkedid,
            direction=direction,
            caller=caller,
            dialled=dialled,
            started_at=at,
            root_uniqueid=ch.uniqueid,
            root_channel=ch.name,
            epoch=self._epoch.get(msg.server, 0),
            adopted=adopted,
        )
        self._calls[key] = call
        self._attach(ch, call)
        return [
            CallStarted(
                msg.server, at, ch.linkedid, direction, caller, dialled, ch.name, adopted=adopted
            )
        ]

    def _end(self, call: CallRecord, at: float) -> list[DomainEvent]:
        call.ended_at = at
        call.disposition = call.decide_disposition()
        key = call.key
        self._calls.pop(key, None)
        for uid in call.live:
            self._channels.pop((call.server, uid), None)
        call.live.clear()
        self._aliases = (
            {k: v for k, v in self._aliases.items() if v != key} if self._aliases else {}
        )
        if call.conference:
            self._conferences.pop((call.server, call.conference), None)
        self._ended[key] = None
        if len(self._ended) > self._remember_ended:
            self._ended.popitem(last=False)
        return [CallEnded(call.server, at, call.linkedid, call.disposition, call.view())]
