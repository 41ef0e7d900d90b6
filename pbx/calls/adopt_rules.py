"""Adopting live calls from a resync snapshot (``CoreShowChannels`` + ``QueueStatus``).

After a backend restart (or an AMI reconnect) the tracker must know every hotline call that is
still up, wherever the citizen is in the dialplan, or the call's hang-up is never recorded: its
``calls`` row stays open and its recordings are never registered. The snapshot gives, per
channel, ``Context``, ``Exten``, ``Application``/``ApplicationData``, ``BridgeId``,
``Duration`` (``HH:MM:SS``) and ``ChannelState`` (traces README obs. 16, trace 09); the
``QueueMember`` items say which interfaces are agents.

Which channel opens a call (root channel: Uniqueid == Linkedid; never a ``Local/`` half, which
is always a leg we originated, nor a ChanSpy leg of a supervisor or of the live transcript):

* in the inbound context (``from-trunk``): an inbound call, except at ``s``. There an Originate
  towards a citizen waits for (or has just had) the answer (trace 10: the leg sits in the trunk
  endpoint's context running ``AppDial2``, the dial API's outgoing line): an *outbound* call,
  our callback or survey. Any other ``s`` channel is not ours (``from-trunk,s`` hangs up).
* in ``hotline-outbound``: an outbound call (callback or survey, answered).
* in ``hotline-conf``: an inbound call when the room is named after its own Linkedid (the
  citizen, moved there by the three-way Redirect); otherwise it is a leg Originated into
  someone's room (the member unit) and joins the call that owns the room.
* in ``hotline-internal``: an inbound call (the citizen after a blind transfer), unless the
  channel is a queue member's phone (an agent's own internal call that was transferred).
* in the other contexts of ``dialplan.INBOUND_PATH_CONTEXTS`` (recording, queue exit, post-call
  survey, emergency hand-over): an inbound call.

Every other channel joins a call through its Linkedid (or an alias), the conference room, or a
bridge it shares with a channel of the call; otherwise it is kept as a pending leg, like an
unknown originated leg (supervisor spy legs, internal calls).

Facts read from the root channel, filled in only where the call lacks them (so a call the
tracker already knows keeps what it saw live):

* ``Application: Queue`` → the queue (the call was queued: unanswered, it is ``abandoned``);
  in ``hotline-queue-exit`` the callback offer's last argument names the queue that timed out;
  ``Application: ConfBridge`` → the conference;
* **answered by an agent**: an agent leg that is Up and either in the citizen's bridge or of the
  same Linkedid (during an attended transfer's consultation the agent is in another bridge).
  An agent leg is app_queue's outgoing line (``Application: AppQueue``) or a channel of a queue
  member's interface; ``Local/`` halves and spy legs never are. A leg in the citizen's bridge
  wins, then an ``AppQueue`` leg. The call then counts as answered by that member: a
  ``CallAnswered(adopted=True)`` is published (so agents/ shows the agent on the call and call
  control works again) with ``at`` = snapshot time − the leg's ``Duration``. The leg exists
  from the moment it rang, so this is the earliest possible answer time, an estimate; the
  store keeps the exact time an earlier process wrote.
* **answered, agent unknown** (``record.answered_unseen``): no agent leg, but the citizen is
  where only an answered call goes: the post-call survey, a blind transfer target, a
  conference, or still inside ``Queue`` but bridged (an attended transfer completed). Outbound:
  the root channel is Up. The disposition is ``answered``; who answered and when come from
  the row an earlier process wrote (:func:`pbx.calls.merge.merge_adopted`).

Limit: the snapshot does not say whether a citizen found in a conference, a transfer target,
the recording or the hangup context was called (a callback) or called in; such a call is
adopted as inbound. When an earlier process wrote its row, the row keeps its direction.

Limit: the snapshot carries no channel variables, so an adopted call whose ``VarSet
HOTLINE_REC`` came before the adoption has no expected recording names in this process (no
``Getvar`` is sent: the resync adds no AMI action per channel). It relies on the hangup
handler's ``UserEvent HotlineRecording``; names an earlier process stored on the row stay there
(:func:`pbx.calls.merge.merge_adopted`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pbx import dialplan
from pbx.ami.message import AmiMessage
from pbx.calls.events import CallAnswered, CallKey, DomainEvent
from pbx.calls.record import CallRecord
from pbx.calls.state import Channel, TrackerState, duration_seconds, log

SPY_APPS = frozenset({"ChanSpy", "ExtenSpy"})
"""Applications of listening legs (supervisor listen/whisper/barge, live-transcript fork)."""

_HEX = frozenset("0123456789abcdef")


def channel_interface(channel: str) -> str:
    """``PJSIP/agent1001-00000014`` → ``PJSIP/agent1001`` (the queue member interface)."""
    head, sep, tail = channel.rpartition("-")
    if sep and head and len(tail) == 8 and set(tail) <= _HEX:
        return head
    return channel


@dataclass(slots=True)
class Snapshot:
    """One resync of one server, indexed for adoption."""

    server: str
    items: list[AmiMessage]
    members: dict[str, tuple[str, str]] = field(default_factory=dict)
    """lower-cased interface → (interface as the queue spells it, member name)"""
    by_uid: dict[str, AmiMessage] = field(default_factory=dict)
    by_bridge: dict[str, list[AmiMessage]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, server: str, channels: Iterable[AmiMessage], members: Iterable[AmiMessage]
    ) -> Snapshot:
        snap = cls(server, [])
        for item in channels:
            uid = item.get("Uniqueid")
            if not uid:
                continue
            item.server = server
            snap.items.append(item)
            snap.by_uid[uid] = item
            bridge = item.get("BridgeId")
            if bridge:
                snap.by_bridge.setdefault(bridge, []).append(item)
        for m in members:
            name = m.get("Name") or m.get("MemberName") or ""
            for key in ("Location", "Interface", "StateInterface"):
                iface = m.get(key)
                if iface:
                    snap.members.setdefault(iface.lower(), (iface, name))
        return snap

    def member(self, channel: str) -> tuple[str, str] | None:
        """(interface, member name) when ``channel`` is a queue member's phone."""
        return self.members.get(channel_interface(channel).lower())


def _f(item: AmiMessage, key: str) -> str:
    return item.fields.get(key) or ""


def _side_leg(item: AmiMessage) -> bool:
    """A ``Local/`` half (always a leg we originated) or a ChanSpy/ExtenSpy leg: never the
    citizen nor the agent of a call."""
    return _f(item, "Channel").startswith("Local/") or _f(item, "Application") in SPY_APPS


class AdoptRules(TrackerState):
    """Adoption of unknown live channels from a resync (see the module docstring)."""

    def _adopt_snapshot(self, snap: Snapshot, now: float) -> list[DomainEvent]:
        """Open / attach every channel of ``snap`` the tracker does not know, then fill in what
        the snapshot says about the server's calls. A malformed item is skipped and counted."""
        out: list[DomainEvent] = []
        new = [i for i in snap.items if (snap.server, _f(i, "Uniqueid")) not in self._channels]
        openers = [i for i in new if self._adopt_kind(i, snap) is not None]
        opener_ids = {id(i) for i in openers}
        # call-opening roots first: every other leg can then join its call, whatever the order
        for item in openers + [i for i in new if id(i) not in opener_ids]:
            out.extend(self._resync_item(snap.server, item, self._adopt_channel, item, snap, now))
        for call in [c for c in self._calls.values() if c.server == snap.server]:
            root = snap.by_uid.get(call.root_uniqueid)
            if root is not None:
                out.extend(
                    self._resync_item(snap.server, root, self._adopt_facts, call, root, snap, now)
                )
        return out

    def _resync_item(
        self,
        server: str,
        item: AmiMessage,
        fn: Callable[..., list[DomainEvent]],
        *args: object,
    ) -> list[DomainEvent]:
        """``fn(*args)`` for one resync item; a malformed item is counted, logged, skipped."""
        try:
            return fn(*args)
        except Exception as exc:  # never let one item abort the whole resync
            self.stats["bad"] += 1
            log.warning("tracker: resync of %s skipped a bad %s: %r", server, item.name, exc)
            return []

    # ------------------------------------------------------------------ channels
    def _adopt_kind(self, item: AmiMessage, snap: Snapshot) -> str | None:
        """``"inbound"`` / ``"outbound"`` when ``item`` is the root channel of a hotline call
        the snapshot shows, else None. Never raises (malformed items are None)."""
        uid, lid = _f(item, "Uniqueid"), _f(item, "Linkedid")
        if not uid or uid != lid or not _f(item, "Channel") or _side_leg(item):
            return None
        ctx, exten = _f(item, "Context"), _f(item, "Exten")
        if ctx in self.inbound_contexts or ctx == dialplan.CTX_INBOUND:
            if exten in ("", "s"):
                # AppDial2 is the dial API's outgoing line: an Originate (never a caller)
                return "outbound" if _f(item, "Application") == "AppDial2" else None
            return "inbound"
        if ctx in dialplan.OUTBOUND_CONTEXTS:
            return "outbound"
        if ctx == dialplan.CTX_CONFERENCE:
            return "inbound" if exten == dialplan.conference_exten(lid) else None
        if ctx == dialplan.CTX_INTERNAL and snap.member(_f(item, "Channel")) is not None:
            return None
        if ctx in dialplan.INBOUND_PATH_CONTEXTS:
            return "inbound"
        return None

    def _adopt_channel(self, item: AmiMessage, snap: Snapshot, now: float) -> list[DomainEvent]:
        f = item.fields
        uid, lid, name = f["Uniqueid"], f["Linkedid"], f["Channel"]
        server = snap.server
        if (server, uid) in self._channels:
            return []  # listed twice
        lkey = CallKey(server, lid)
        if lkey in self._ended:
            self.stats["ignored_late"] += 1
            return []
        ch = Channel(uid, lid, name, None, f.get("Context", ""), self._epoch.get(server, 0))
        self._channels[(server, uid)] = ch
        call = self._calls.get(self._aliases.get(lkey, lkey))
        if call is None:
            kind = self._adopt_kind(item, snap)
            if kind is not None:
                return self._open(ch, item, now, kind, adopted=True)
            call = self._snapshot_call(item, snap)
            if call is None:
                return []  # pending: a spy leg, an internal call, a leg of no known call
            self._aliases[lkey] = call.key
        self._attach(ch, call)
        return []

    def _snapshot_call(self, item: AmiMessage, snap: Snapshot) -> CallRecord | None:
        """The call a leg of another Linkedid belongs to: the conference room it is in, or a
        bridge it shares with a channel of the call."""
        exten = _f(item, "Exten")
        if _f(item, "Context") == dialplan.CTX_CONFERENCE and exten.startswith(
            dialplan.CONFERENCE_PREFIX
        ):
            room = exten[len(dialplan.CONFERENCE_PREFIX) :]
            key = self._conferences.get((snap.server, room))
            if key is None:
                key = next(
                    (
                        c.key
                        for c in self._calls.values()
                        if c.server == snap.server
                        and dialplan.conference_exten(c.linkedid) == exten
                    ),
                    None,
                )
            if key is not None and key in self._calls:
                return self._calls[key]
        bridge = _f(item, "BridgeId")
        for other in snap.by_bridge.get(bridge, []) if bridge else []:
            ch = self._channels.get((snap.server, _f(other, "Uniqueid")))
            if ch is not None and ch.call is not None and ch.call in self._calls:
                return self._calls[ch.call]
        return None

    # ------------------------------------------------------------------ facts
    def _adopt_facts(
        self, call: CallRecord, root: AmiMessage, snap: Snapshot, now: float
    ) -> list[DomainEvent]:
        app, data = _f(root, "Application"), _f(root, "ApplicationData")
        first = data.split(",", 1)[0].strip()
        if app == "Queue" and call.queue is None and first:
            call.queue = first  # in the queue (or leaving it): a call that was queued
        if (
            _f(root, "Context") == dialplan.CTX_QUEUE_EXIT
            and app == "AGI"
            and call.queue is None
            and "/callback-offer," in data
        ):
            # the queue timed out; the callback offer is given the queue as its last argument
            call.queue = data.rsplit(",", 1)[-1].strip() or None
        if app == "ConfBridge" and call.conference is None and first:
            call.conference = first
            self._conferences[(snap.server, first)] = call.key
        if call.agent is not None or call.answered_unseen:
            return []
        leg = self._agent_leg(call, root, snap)
        if leg is not None:
            return self._adopt_answer(call, leg, snap, now)
        if self._past_answer(call, root):
            call.answered_unseen = True
        return []

    def _agent_leg(self, call: CallRecord, root: AmiMessage, snap: Snapshot) -> AmiMessage | None:
        bridge = _f(root, "BridgeId")
        best, best_rank = None, -1
        for item in snap.items:
            if item is root or _side_leg(item) or _f(item, "ChannelState") != "6":
                continue
            ch = self._channels.get((snap.server, _f(item, "Uniqueid")))
            if ch is None or ch.call != call.key:
                continue
            same_bridge = bool(bridge) and _f(item, "BridgeId") == bridge
            if not same_bridge and _f(item, "Linkedid") != call.linkedid:
                continue
            queue_leg = _f(item, "Application") == "AppQueue"
            if not queue_leg and snap.member(_f(item, "Channel")) is None:
                continue
            rank = 2 * same_bridge + queue_leg
            if rank > best_rank:
                best, best_rank = item, rank
        return best

    def _adopt_answer(
        self, call: CallRecord, leg: AmiMessage, snap: Snapshot, now: float
    ) -> list[DomainEvent]:
        name, uid = _f(leg, "Channel"), _f(leg, "Uniqueid")
        member = snap.member(name)
        iface, member_name = member if member else (channel_interface(name), "")
        at = max(now - duration_seconds(leg.get("Duration")), call.started_at)
        call.agent, call.agent_name = iface, member_name or None
        call.agent_uniqueid, call.agent_channel = uid, name
        call.ringing.pop(uid, None)
        if call.answered_at is None:
            call.answered_at = at
        if call.queue_joined_at is not None and call.queue_left_at is None:
            call.queue_left_at = max(at, call.queue_joined_at)
            call.wait_seconds = round(call.queue_left_at - call.queue_joined_at, 3)
        return [
            CallAnswered(
                call.server,
                at,
                call.linkedid,
                call.queue,
                iface,
                call.agent_name,
                name,
                None,
                None,
                adopted=True,
            )
        ]

    def _past_answer(self, call: CallRecord, root: AmiMessage) -> bool:
        """The citizen is where only an answered call goes (see the module docstring)."""
        if call.direction == "outbound":
            return call.answered_at is None and _f(root, "ChannelState") == "6"
        ctx = _f(root, "Context")
        if ctx in (dialplan.CTX_POST_CALL, dialplan.CTX_INTERNAL, dialplan.CTX_CONFERENCE):
            return True
        return _f(root, "Application") == "Queue" and bool(_f(root, "BridgeId"))
