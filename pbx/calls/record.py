"""The mutable, in-memory call record the tracker builds, and how its disposition is decided."""

from __future__ import annotations

from dataclasses import dataclass, field

from pbx.calls.events import CallKey, CallRecordView

# Dispositions (stored as text; keep in sync with the CHECK in migration 0200).
ANSWERED = "answered"
ABANDONED = "abandoned"
IVR_ONLY = "ivr_only"
CALLBACK_REQUESTED = "callback_requested"
ENDED_DURING_DISCONNECT = "ended_during_disconnect"
NO_ANSWER = "no_answer"  # outbound call (callback / survey) not answered
DISPOSITIONS = (
    ANSWERED,
    ABANDONED,
    IVR_ONLY,
    CALLBACK_REQUESTED,
    ENDED_DURING_DISCONNECT,
    NO_ANSWER,
)


def decide(
    direction: str,
    *,
    disconnected_end: bool = False,
    answered: bool = False,
    agent: str | None = None,
    callback_requested: bool = False,
    queued: bool = False,
    abandoned: bool = False,
) -> str:
    """Disposition of an ended call from its facts (SPEC R7.3 counts these). ``answered``:
    the call is known to have been answered (outbound: the citizen picked up; inbound: by an
    agent the tracker could not name, e.g. adopted in the post-call survey)."""
    if disconnected_end:
        return ENDED_DURING_DISCONNECT
    if direction == "outbound":
        return ANSWERED if answered else NO_ANSWER
    if agent is not None or answered:
        return ANSWERED
    if callback_requested:
        return CALLBACK_REQUESTED
    if queued or abandoned:
        return ABANDONED
    return IVR_ONLY


def expected_recordings(base: str) -> list[tuple[str, str]]:
    """The ``(direction, path)`` pairs MixMonitor writes for ``HOTLINE_REC`` = ``base``
    (``extensions.conf`` ``hotline-record``: ``MixMonitor(${HOTLINE_REC}.wav,
    r(${HOTLINE_REC}-in.wav)t(${HOTLINE_REC}-out.wav))``), with the direction names of the
    ``UserEvent HotlineRecording`` fields (``Mixed``, ``In``, ``Out``)."""
    return [("mixed", f"{base}.wav"), ("in", f"{base}-in.wav"), ("out", f"{base}-out.wav")]


@dataclass(slots=True)
class CallRecord:
    """Everything the tracker knows about one call (one ``Linkedid`` on one server)."""

    server: str
    linkedid: str
    direction: str
    caller: str | None
    dialled: str | None
    started_at: float
    root_uniqueid: str
    root_channel: str
    answered_at: float | None = None
    ended_at: float | None = None
    ivr_choices: list[str] = field(default_factory=list)
    queue: str | None = None
    queue_joined_at: float | None = None
    queue_left_at: float | None = None
    wait_seconds: float | None = None
    abandoned: bool = False
    agents_rung: list[str] = field(default_factory=list)
    agents_no_answer: list[str] = field(default_factory=list)
    ringing: dict[str, str] = field(default_factory=dict)  # agent leg uniqueid -> interface
    agent: str | None = None
    agent_name: str | None = None
    agent_uniqueid: str | None = None
    agent_channel: str | None = None  # e.g. PJSIP/agent1001-0000000b (for call control)
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    complete_reason: str | None = None
    completed_uniqueid: str | None = None
    transfers: list[tuple[str, str, str]] = field(default_factory=list)
    conference: str | None = None
    participants: list[str] = field(default_factory=list)
    participant_ids: set[str] = field(default_factory=set)
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    # (direction mixed|in|out, path): expected from VarSet HOTLINE_REC on the root channel,
    # replaced by the hangup handler's UserEvent HotlineRecording (recordings_announced)
    recordings: list[tuple[str, str]] = field(default_factory=list)
    recordings_announced: bool = False
    callback_requested: bool = False
    live: set[str] = field(default_factory=set)  # uniqueids of channels still up
    channels: list[str] = field(default_factory=list)  # every channel name seen, in order
    extra: dict[str, str] = field(default_factory=dict)
    epoch: int = 0  # link epoch of the last event that touched the call (see reconcile)
    disconnected_end: bool = False
    disposition: str | None = None
    adopted: bool = False  # opened from a resync snapshot, not from a live Newchannel
    # adopted past the answer (post-call survey, transfer, conference) with no agent leg left:
    # answered, but by whom and when the snapshot does not say
    answered_unseen: bool = False

    @property
    def key(self) -> CallKey:
        return CallKey(self.server, self.linkedid)

    def decide_disposition(self) -> str:
        """Disposition when the call ends (SPEC R7.3 counts these); see :func:`decide`."""
        return decide(
            self.direction,
            disconnected_end=self.disconnected_end,
            answered=self.answered_unseen
            or (self.direction == "outbound" and self.answered_at is not None),
            agent=self.agent,
            callback_requested=self.callback_requested,
            queued=self.queue_joined_at is not None or self.queue is not None,
            abandoned=self.abandoned,
        )

    def view(self) -> CallRecordView:
        """Immutable snapshot."""
        return CallRecordView(
            server=self.server,
            linkedid=self.linkedid,
            direction=self.direction,
            caller=self.caller,
            dialled=self.dialled,
            started_at=self.started_at,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            ivr_choices=tuple(self.ivr_choices),
            queue=self.queue,
            queue_joined_at=self.queue_joined_at,
            queue_left_at=self.queue_left_at,
            wait_seconds=self.wait_seconds,
            agents_rung=tuple(self.agents_rung),
            agents_no_answer=tuple(self.agents_no_answer),
            agent=self.agent,
            agent_name=self.agent_name,
            hold_seconds=self.hold_seconds,
            talk_seconds=self.talk_seconds,
            complete_reason=self.complete_reason,
            transfers=tuple(self.transfers),
            conference=self.conference,
            participants=tuple(self.participants),
            disposition=self.disposition,
            hangup_cause=self.hangup_cause,
            hangup_cause_text=self.hangup_cause_text,
            recordings=tuple(self.recordings),
            callback_requested=self.callback_requested,
            channels=tuple(self.channels),
            extra=dict(self.extra),
            adopted=self.adopted,
        )
