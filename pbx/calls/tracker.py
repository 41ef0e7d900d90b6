"""Call tracker: AMI messages in, call records and normalized domain events out.

Pure and synchronous: no I/O, no clock except the ``Timestamp:`` header (or an injected clock).
``handle(msg)`` returns the domain events the message caused; the caller publishes / persists
them. State is keyed by ``CallKey(server, Linkedid)``; several servers share one tracker.

Rules (from the real Asterisk 22 traces, ``asterisk-traces/README.md``):

* A call opens on the ``Newchannel`` of a root channel (Uniqueid == Linkedid) that rings in an
  inbound context, or when an originated root channel is marked as an outbound hotline call
  (``SURVEY_ORDER`` / ``HOTLINE_OUTBOUND`` variable). Other originated legs get their own
  Linkedid (obs. 3): they join the call through ``HOTLINE_CALLID`` or the ConfBridge name.
* Only ``Newchannel`` (or a resync snapshot) creates channels. Events for unknown channels are
  counted and ignored: never a write, never a crash.
* A call ends when its last live channel hangs up; later events for it are ignored, so
  duplicates and stragglers never create a second record.
* ``QueueCallerLeave`` comes *before* ``AgentConnect`` (obs. 5): it is not an abandon.
* Recordings: the ``VarSet HOTLINE_REC`` of the call's root channel (``hotline-record``, just
  before ``MixMonitor``) lists the three files (``RecordingExpected``), so the stored row has
  them even if the hangup handler's ``UserEvent HotlineRecording`` is never heard; that
  announcement, when it comes, replaces them (``RecordingAnnounced``). The inherited variable
  on other channels is ignored.
* A ``Timestamp:`` that is not finite or is more than ``MAX_CLOCK_SKEW`` off the clock
  (``nan``, ``inf``, ``1e300``) is replaced by the clock: it would poison every stored time.
* A resync adopts the calls it shows that the tracker does not know, wherever the citizen is
  on the way through the dialplan (queue, agent, queue exit, post-call survey, emergency
  hand-over, three-way call, transfer), with their legs and the agent they are bridged with
  (``pbx.calls.adopt_rules``).
* A resync item that is malformed is skipped and logged; the rest of the resync still applies.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable

from pbx import dialplan
from pbx.ami.message import AmiMessage
from pbx.calls.adopt_rules import AdoptRules, Snapshot
from pbx.calls.bridge_rules import BridgeRules
from pbx.calls.events import (
    AgentRingStopped,
    AmiLinkChanged,
    CallAnswered,
    CallbackRequested,
    CallKey,
    DomainEvent,
    IvrChoiceMade,
    QueueJoined,
    RecordingExpected,
)
from pbx.calls.queue_rules import QueueRules
from pbx.calls.record import CallRecord, expected_recordings
from pbx.calls.state import Channel, local_target, to_int

__all__ = ["MAX_CLOCK_SKEW", "CallTracker", "local_target"]

log = logging.getLogger(__name__)

_WATCHED_VARS = frozenset(
    {
        dialplan.VAR_CHOICE,
        dialplan.VAR_QUEUE,
        dialplan.VAR_CALLBACK,
        dialplan.VAR_CALLBACK_NUMBER,
        dialplan.VAR_CALLID,
        dialplan.VAR_SURVEY_ORDER,
        dialplan.VAR_OUTBOUND,
        dialplan.VAR_REC,
        *dialplan.RECORDED_VARS,
    }
)
_OUTBOUND_MARKERS = frozenset({dialplan.VAR_SURVEY_ORDER, dialplan.VAR_OUTBOUND})

MAX_CLOCK_SKEW = 86400.0
"""Seconds an AMI ``Timestamp:`` may be off the local clock before it is distrusted."""


class CallTracker(QueueRules, BridgeRules, AdoptRules):
    """Builds call records from AMI messages. See the module docstring for the rules.

    ``CallTracker(inbound_contexts=..., clock=time.time, remember_ended=20000,
    max_skew=MAX_CLOCK_SKEW)``: a ``Timestamp:`` further than ``max_skew`` seconds from the
    clock is replaced by the clock (``None``: any finite value, for replaying old traces).
    """

    def __init__(
        self,
        *,
        inbound_contexts: Iterable[str] = dialplan.INBOUND_CONTEXTS,
        clock: Callable[[], float] = time.time,
        remember_ended: int = 20000,
        max_skew: float | None = MAX_CLOCK_SKEW,
    ) -> None:
        super().__init__(
            inbound_contexts=inbound_contexts, clock=clock, remember_ended=remember_ended
        )
        self.max_skew = max_skew
        self._handlers.update(
            {
                "Newchannel": self._on_newchannel,
                "VarSet": self._on_varset,
                "Newstate": self._on_newstate,
                "Hangup": self._on_hangup,
            }
        )
        self._register_queue_rules()
        self._register_bridge_rules()

    # ------------------------------------------------------------------ public API
    def handle(self, msg: AmiMessage) -> list[DomainEvent]:
        """Feed one AMI message; return the domain events it caused (often none)."""
        if msg.kind != "event":
            return []
        handler = self._handlers.get(msg.name)
        if handler is None:
            return []
        self.stats["messages"] += 1
        at = self._event_time(msg.fields.get("Timestamp"))
        try:
            return handler(msg, at)
        except (KeyError, ValueError, TypeError) as exc:
            # Missing or malformed fields: log and carry on, state unchanged for this message.
            self.stats["bad"] += 1
            log.warning("tracker: ignored %s from %s: %r", msg.name, msg.server, exc)
            return []

    def _event_time(self, raw: str | None) -> float:
        """The message's ``Timestamp:`` when it is plausible, else the clock. ``nan``, ``inf``
        or ``1e300`` would poison every record and stored time derived from it (a datetime
        cannot hold them), so only a finite value within ``max_skew`` of the clock counts."""
        now = self._clock()
        if not raw:
            return now
        try:
            ts = float(raw)
        except ValueError:
            ts = math.nan
        if math.isfinite(ts) and (self.max_skew is None or abs(ts - now) <= self.max_skew):
            return ts
        n = self.stats["bad_timestamp"] = self.stats.get("bad_timestamp", 0) + 1
        if n == 1 or n % 1000 == 0:  # a server with a wrong clock would flood the log
            log.warning(
                "tracker: implausible Timestamp %r (%d so far); using the clock", raw[:40], n
            )
        return now

    def get(self, key: CallKey) -> CallRecord | None:
        """The open call record for ``key`` (None once ended)."""
        return self._calls.get(key)

    def open_calls(self, server: str | None = None) -> list[CallRecord]:
        """Open calls, optionally of one server."""
        return [c for c in self._calls.values() if server is None or c.server == server]

    def call_of_channel(self, server: str, uniqueid: str) -> CallKey | None:
        """The call a live channel belongs to (agents/ uses it to find an agent's call)."""
        ch = self._channels.get((server, uniqueid))
        return ch.call if ch else None

    def call_for_agent(self, interface: str, server: str | None = None) -> CallRecord | None:
        """The open call an agent (queue member interface, e.g. ``PJSIP/agent1001``) answered
        and is still on; ``record.agent_channel`` / ``record.root_channel`` name the agent's
        and the citizen's channels for Redirect / BlindTransfer / Atxfer."""
        for call in self._calls.values():
            if call.agent == interface and (server is None or call.server == server):
                if call.agent_uniqueid in call.live:
                    return call
        return None

    def live_channels(self, key: CallKey) -> list[tuple[str, str]]:
        """``(uniqueid, channel name)`` of the call's live channels."""
        call = self._calls.get(key)
        if call is None:
            return []
        out = []
        for uid in call.live:
            ch = self._channels.get((call.server, uid))
            if ch:
                out.append((uid, ch.name))
        return out

    def link_up(self, server: str, at: float | None = None) -> list[DomainEvent]:
        """The AMI link to ``server`` is (re)established: start a new epoch. Calls touched by a
        live event from now on are known to exist; the others are checked by ``reconcile``."""
        self._epoch[server] = self._epoch.get(server, 0) + 1
        return [AmiLinkChanged(server, at if at is not None else self._clock(), True)]

    def link_down(self, server: str, reason: str, at: float | None = None) -> list[DomainEvent]:
        """The link to ``server`` dropped; events until the next resync are lost."""
        return [AmiLinkChanged(server, at if at is not None else self._clock(), False, reason)]

    def reconcile(
        self,
        server: str,
        channels: Iterable[AmiMessage],
        queue_entries: Iterable[AmiMessage] = (),
        members: Iterable[AmiMessage] = (),
        at: float | None = None,
    ) -> list[DomainEvent]:
        """Rebuild live state of ``server`` from a resync (``CoreShowChannel`` items,
        ``QueueEntry`` and ``QueueMember`` items). Calls not in the snapshot and untouched since
        ``link_up`` ended while the link was down: they close once, as
        ``ended_during_disconnect``. Channels unknown to us are adopted: a hotline call found
        anywhere on its way through the dialplan opens (``pbx.calls.adopt_rules``), its legs
        join it, and an agent it is bridged with counts as having answered it."""
        now = at if at is not None else self._clock()
        epoch = self._epoch.get(server, 0)
        members = list(members)
        # Every item is guarded: one malformed item (a QueueMember without Queue, a channel
        # without Linkedid) is skipped and logged; the events already produced are kept, so
        # the CallEnded of calls closed here are always published.
        snap = Snapshot.build(server, channels, members)
        out = self._adopt_snapshot(snap, now)
        live_ids = set(snap.by_uid)
        for (srv, uid), ch in list(self._channels.items()):
            # pending legs (spy legs, internal calls) whose Hangup was lost while down
            if srv == server and ch.call is None and uid not in live_ids and ch.epoch < epoch:
                del self._channels[(srv, uid)]
        for call in list(self._calls.values()):
            if call.server != server or (call.epoch >= epoch and epoch):
                continue  # a live event after the reconnect proves it exists
            gone = [u for u in call.live if u not in live_ids]
            for uid in gone:
                call.live.discard(uid)
                call.ringing.pop(uid, None)
                self._channels.pop((server, uid), None)
            if not call.live:
                call.disconnected_end = True
                out.extend(self._end(call, now))
        for entry in queue_entries:
            out.extend(self._resync_item(server, entry, self._resync_entry, server, entry, now))
        for m in members:
            out.extend(
                self._resync_item(
                    server, m, lambda m: [self._member_event(server, now, m, "snapshot")], m
                )
            )
        return out

    def _resync_entry(self, server: str, entry: AmiMessage, now: float) -> list[DomainEvent]:
        """A ``QueueEntry`` (caller waiting in a queue) of a call we did not see join."""
        uid = entry.get("Uniqueid")
        entry_ch = self._channels.get((server, uid or ""))
        waiting = self._calls.get(entry_ch.call) if entry_ch and entry_ch.call else None
        if waiting is None or waiting.queue_joined_at is not None or entry_ch is None:
            return []
        # a bogus huge Wait must not move the join time out of any datetime's range
        wait = min(max(to_int(entry.get("Wait")) or 0, 0), 86400)
        queue = entry.get("Queue")
        event = QueueJoined(
            server,
            now,
            waiting.linkedid,
            queue or "",
            to_int(entry.get("Position")),
            entry_ch.name,
            adopted=True,
        )
        waiting.queue = queue
        waiting.queue_joined_at = now - wait
        return [event]

    # ------------------------------------------------------------------ channel lifecycle
    def _on_newchannel(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        f = msg.fields
        uid, lid, name = f["Uniqueid"], f["Linkedid"], f["Channel"]
        if (msg.server, uid) in self._channels:
            return []  # duplicate
        lkey = CallKey(msg.server, lid)
        if lkey in self._ended:
            self.stats["ignored_late"] += 1
            return []
        ch = Channel(uid, lid, name, None, f.get("Context", ""), self._epoch.get(msg.server, 0))
        self._channels[(msg.server, uid)] = ch
        target = self._aliases.get(lkey, lkey)
        call = self._calls.get(target)
        if call is not None:
            self._attach(ch, call)
            return []
        inbound_ctx = ch.context in self.inbound_contexts
        ringing = f.get("ChannelState") != "0"  # 0 = Down: an originated leg
        if uid == lid and inbound_ctx and ringing:
            return self._open(ch, msg, at, "inbound")
        return []  # pending: an originated leg or a non-hotline channel

    def _on_newstate(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        found = self._call(msg)
        if found is None:
            return []
        ch, call = found
        if (
            call.direction == "outbound"
            and ch.uniqueid == call.root_uniqueid
            and msg.fields.get("ChannelState") == "6"
            and call.answered_at is None
        ):
            call.answered_at = at
            return [
                CallAnswered(call.server, at, call.linkedid, None, None, None, ch.name, None, None)
            ]
        return []

    def _on_hangup(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        ch = self._channel(msg)
        if ch is None:
            return []
        self._channels.pop((msg.server, ch.uniqueid), None)
        call = self._calls.get(ch.call) if ch.call else None
        if call is None:
            return []
        call.epoch = self._epoch.get(call.server, 0)
        out: list[DomainEvent] = []
        call.live.discard(ch.uniqueid)
        iface = call.ringing.pop(ch.uniqueid, None)
        if iface is not None:  # a ringing agent leg cancelled (obs. 8: no AgentRingNoAnswer)
            out.append(
                AgentRingStopped(call.server, at, call.linkedid, iface, ch.name, "cancel", None)
            )
        if ch.uniqueid == call.root_uniqueid:
            call.hangup_cause = to_int(msg.fields.get("Cause"))
            call.hangup_cause_text = msg.fields.get("Cause-txt")
        if not call.live:
            out.extend(self._end(call, at))
        return out

    # ------------------------------------------------------------------ IVR variables
    def _on_varset(self, msg: AmiMessage, at: float) -> list[DomainEvent]:
        var = msg.fields.get("Variable", "").lstrip("_")
        if var not in _WATCHED_VARS:
            return []
        value = msg.fields.get("Value", "")
        ch = self._channel(msg)
        if ch is None:
            return []
        if ch.call is None:  # pending originated leg: does it belong to a call?
            if var == dialplan.VAR_CALLID:
                call = self._calls.get(
                    self._aliases.get(CallKey(msg.server, value), CallKey(msg.server, value))
                )
                if call is not None:
                    self._aliases[CallKey(msg.server, ch.linkedid)] = call.key
                    self._attach(ch, call)
                return []
            if var in _OUTBOUND_MARKERS and ch.uniqueid == ch.linkedid:
                out = self._open(ch, msg, at, "outbound")
                opened = self._calls[CallKey(msg.server, ch.linkedid)]
                stash = ch.stash or {}  # Originate variables set before the marker
                rec = stash.pop(dialplan.VAR_REC, None)
                opened.extra.update(stash)
                opened.extra[var] = value
                ch.stash = None
                if rec is not None:
                    out.extend(self._expect_recordings(opened, ch, rec, at))
                return out
            if ch.uniqueid == ch.linkedid:
                if ch.stash is None:
                    ch.stash = {}
                if len(ch.stash) < 32:
                    ch.stash[var] = value
            return []
        call = self._calls.get(ch.call)
        if call is None:
            return []
        call.epoch = self._epoch.get(call.server, 0)
        if var in (dialplan.VAR_CHOICE, dialplan.VAR_QUEUE):
            if var == dialplan.VAR_CHOICE:
                if call.ivr_choices and call.ivr_choices[-1] == value:
                    return []
                call.ivr_choices.append(value)
            else:
                if call.extra.get(var) == value:
                    return []
                call.extra[var] = value
            return [IvrChoiceMade(call.server, at, call.linkedid, var, value)]
        if var == dialplan.VAR_REC:
            return self._expect_recordings(call, ch, value, at)
        if var == dialplan.VAR_CALLBACK:
            if value.lower() in ("1", "yes", "true") and not call.callback_requested:
                call.callback_requested = True
                return [
                    CallbackRequested(
                        call.server,
                        at,
                        call.linkedid,
                        call.extra.get(dialplan.VAR_CALLBACK_NUMBER, call.caller),
                    )
                ]
            return []
        call.extra[var] = value
        return []

    # ------------------------------------------------------------------ recordings
    def _expect_recordings(
        self, call: CallRecord, ch: Channel, base: str, at: float
    ) -> list[DomainEvent]:
        """``VarSet HOTLINE_REC`` (``hotline-record``: ``Set(__HOTLINE_REC=${RECDIR}/${UNIQUEID})``
        right before ``MixMonitor``): the call record lists the three files from now on, so a
        row written before a restart carries them although the hangup handler's ``UserEvent``
        may never be heard (:class:`pbx.calls.events.RecordingExpected`).

        Only the root channel's (the citizen's) counts: the variable is inherited (``__``), so
        the agent leg, ``Local/`` halves and dialled legs show the same ``VarSet`` on creation.
        Once the ``UserEvent`` announced the files, it stays authoritative."""
        base = base.strip()
        if ch.uniqueid != call.root_uniqueid or not base or call.recordings_announced:
            return []
        files = expected_recordings(base)
        if call.recordings == files:
            return []  # a duplicate
        call.recordings[:] = files
        (_, mixed), (_, inbound), (_, outbound) = files
        return [RecordingExpected(call.server, at, call.linkedid, mixed, inbound, outbound)]
