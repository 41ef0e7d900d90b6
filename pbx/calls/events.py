"""Normalized call domain events emitted by the call tracker.

Every event carries ``server`` (the Asterisk server id) and ``at`` (epoch seconds, from the AMI
``Timestamp:`` header when Asterisk sends it, else the receive time). Call events carry the
call's ``linkedid``; ``CallKey(server, linkedid)`` identifies a call across servers.
Nothing here knows panoramisk or AMI messages: subscribers (agents/, recordings/, the store)
depend only on these dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class CallKey(NamedTuple):
    """Identity of a call: the Asterisk server id and the call's ``Linkedid``."""

    server: str
    linkedid: str

    def __str__(self) -> str:
        return f"{self.server}:{self.linkedid}"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base of every normalized event."""

    server: str
    at: float

    @property
    def kind(self) -> str:
        """Stable event type name (the class name), used in storage and pub/sub filters."""
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class CallEvent(DomainEvent):
    """An event about one call. ``adopted=True`` (keyword only): the event restates what a
    resync snapshot showed (a call or fact the tracker adopted after a restart or reconnect),
    not something seen live; its ``at`` is then an estimate."""

    linkedid: str
    adopted: bool = field(default=False, kw_only=True)

    @property
    def key(self) -> CallKey:
        return CallKey(self.server, self.linkedid)


@dataclass(frozen=True, slots=True)
class CallStarted(CallEvent):
    direction: str  # "inbound" | "outbound"
    caller: str | None
    dialled: str | None
    channel: str


@dataclass(frozen=True, slots=True)
class IvrChoiceMade(CallEvent):
    """The IVR set ``HOTLINE_CHOICE`` (menu key) or ``HOTLINE_QUEUE`` (routing target)."""

    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class CallbackRequested(CallEvent):
    """The caller accepted the callback offer instead of waiting (SPEC R2.3)."""

    number: str | None


@dataclass(frozen=True, slots=True)
class QueueJoined(CallEvent):
    queue: str
    position: int | None
    channel: str


@dataclass(frozen=True, slots=True)
class QueueLeft(CallEvent):
    """The caller left the queue: answered (``reason="answered"``), abandoned or timed out.
    ``QueueCallerLeave`` precedes ``AgentConnect`` on an answered call, so the reason is
    settled only later; ``abandoned`` is reported by its own event."""

    queue: str
    wait_seconds: float | None


@dataclass(frozen=True, slots=True)
class QueueAbandoned(CallEvent):
    queue: str
    position: int | None
    hold_seconds: int | None


@dataclass(frozen=True, slots=True)
class AgentRinging(CallEvent):
    """A queue member's phone rings for this call (the screen-pop trigger, SPEC R3.2)."""

    queue: str
    interface: str
    member_name: str
    agent_channel: str
    caller: str | None
    ivr_choice: str | None
    wait_seconds: float | None


@dataclass(frozen=True, slots=True)
class AgentRingStopped(CallEvent):
    """The ring towards an agent ended without answer: ``reason`` is ``noanswer`` (rang out),
    ``cancel`` (caller hung up / another agent answered) or ``busy``/``congestion``/``chanunavail``.
    Clear that agent's screen-pop."""

    interface: str
    agent_channel: str
    reason: str
    ring_ms: int | None


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    queue: str | None
    interface: str | None
    member_name: str | None
    agent_channel: str
    hold_seconds: int | None
    ring_seconds: int | None


@dataclass(frozen=True, slots=True)
class AgentCompleted(CallEvent):
    """The agent's part of the call ended (``reason``: caller, agent, transfer). Wrap-up starts
    here: Asterisk emits no event for wrap-up (traces README obs. 10)."""

    queue: str
    interface: str
    agent_channel: str
    talk_seconds: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class CallTransferred(CallEvent):
    kind_of_transfer: str  # "blind" | "attended"
    transferer_channel: str
    target: str  # "2001@hotline-internal" for blind, the target channel for attended
    result: str


@dataclass(frozen=True, slots=True)
class ConferenceJoined(CallEvent):
    conference: str
    channel: str
    caller: str | None


@dataclass(frozen=True, slots=True)
class ConferenceLeft(CallEvent):
    conference: str
    channel: str


@dataclass(frozen=True, slots=True)
class RecordingExpected(CallEvent):
    """The dialplan is starting MixMonitor on the citizen's channel: ``VarSet HOTLINE_REC``
    (``Set(__HOTLINE_REC=${RECDIR}/${UNIQUEID})`` in ``hotline-record``) on the call's root
    channel names the files it will write: ``mixed`` = ``REC.wav``, ``inbound`` =
    ``REC-in.wav``, ``outbound`` = ``REC-out.wav``. The call record lists them from now on, so a
    row written before a restart carries them even if the hangup handler's
    :class:`RecordingAnnounced` is never heard; that announcement, when it comes, replaces them.
    Whether the files exist is only known after ``CallEnded`` (MixMonitor may have failed)."""

    mixed: str
    inbound: str
    outbound: str


@dataclass(frozen=True, slots=True)
class RecordingAnnounced(CallEvent):
    """File names announced by the dialplan's hangup handler (``UserEvent HotlineRecording``).
    The files are closed by Asterisk a moment later; register them after ``CallEnded``. They
    replace the names a :class:`RecordingExpected` gave: the announcement is authoritative."""

    mixed: str | None
    inbound: str | None
    outbound: str | None


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    """The last channel of the call hung up (or the call vanished while AMI was down, or a
    resync found its row, written by an earlier process, open and the call gone:
    ``CallStore.close_vanished``). ``record`` is the final call record."""

    disposition: str
    record: CallRecordView


@dataclass(frozen=True, slots=True)
class QueueMemberChanged(DomainEvent):
    """State of a queue member as Asterisk reports it (``QueueMember*`` events and the
    ``QueueMember`` items of a resync). ``status`` is the AST_DEVICE_* code (1 not in use,
    2 in use, 5 unavailable, 6 ringing); ``change`` is added/removed/status/pause/snapshot."""

    queue: str
    interface: str
    member_name: str
    status: int | None
    paused: bool
    paused_reason: str
    in_call: bool
    change: str


@dataclass(frozen=True, slots=True)
class AmiLinkChanged(DomainEvent):
    """The AMI link to a server went up (after login and resync) or down."""

    up: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ResyncApplied(DomainEvent):
    """A resync of ``server`` was applied to the tracker. ``at`` is the snapshot time (local
    clock); ``live`` holds the Linkedids of the server's calls alive then: every ``Linkedid``
    of the snapshot's channels and every call the tracker still has open after the resync.

    The persister uses it to close the server's ``calls`` rows an earlier process left open
    for calls that ended entirely while nobody listened (``CallStore.close_vanished``)."""

    live: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CallRecordView:
    """Immutable snapshot of a call record (what the store persists)."""

    server: str
    linkedid: str
    direction: str
    caller: str | None
    dialled: str | None
    started_at: float
    answered_at: float | None
    ended_at: float | None
    ivr_choices: tuple[str, ...]
    queue: str | None
    queue_joined_at: float | None
    queue_left_at: float | None
    wait_seconds: float | None
    agents_rung: tuple[str, ...]
    agents_no_answer: tuple[str, ...]
    agent: str | None
    agent_name: str | None
    hold_seconds: int | None
    talk_seconds: int | None
    complete_reason: str | None
    transfers: tuple[tuple[str, str, str], ...]  # (kind, transferer channel, target)
    conference: str | None
    participants: tuple[str, ...]
    disposition: str | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    recordings: tuple[tuple[str, str], ...]  # (direction: mixed|in|out, path)
    """Expected from ``VarSet HOTLINE_REC`` (:class:`RecordingExpected`) until the hangup
    handler's ``UserEvent`` announces them (:class:`RecordingAnnounced`), which replaces them."""
    callback_requested: bool
    channels: tuple[str, ...]
    extra: dict[str, str] = field(default_factory=dict)
    adopted: bool = False
    """The call was adopted from a resync: an earlier process may have written part of it."""

    @property
    def key(self) -> CallKey:
        return CallKey(self.server, self.linkedid)
