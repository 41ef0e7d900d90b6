"""Every captured trace through parser + tracker gives the call records a reader expects."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pbx.ami.message import AmiMessage, AmiParser
from pbx.calls.events import (
    AgentRinging,
    AgentRingStopped,
    CallEnded,
    CallRecordView,
    DomainEvent,
    QueueMemberChanged,
)
from pbx.calls.tracker import CallTracker

TRACES = Path(__file__).resolve().parents[1] / "traces"
MON = "/var/spool/asterisk/monitor/"


def messages(name: str, server: str = "pbx1") -> list[AmiMessage]:
    msgs = AmiParser().feed((TRACES / f"{name}.ami.wire.txt").read_bytes())
    for m in msgs:
        m.server = server
    return msgs


def run(name: str) -> tuple[CallTracker, list[DomainEvent], list[CallRecordView]]:
    tracker = CallTracker(clock=lambda: 0.0, max_skew=None)
    events: list[DomainEvent] = []
    for m in messages(name):
        events += tracker.handle(m)
    ended = [e.record for e in events if isinstance(e, CallEnded)]
    assert tracker.open_calls() == [], "every call of a finished trace is closed"
    assert tracker.stats["bad"] == 0
    return tracker, events, ended


def recs(uid: str) -> tuple[tuple[str, str], ...]:
    return (
        ("mixed", f"{MON}{uid}.wav"),
        ("in", f"{MON}{uid}-in.wav"),
        ("out", f"{MON}{uid}-out.wav"),
    )


def check_inbound(r: CallRecordView, uid: str, **expect: object) -> None:
    assert r.server == "pbx1" and r.linkedid == uid and r.direction == "inbound"
    assert r.caller == "13800138000" and r.dialled == "12345"
    assert r.ended_at is not None and r.started_at < r.ended_at
    for key, value in expect.items():
        assert getattr(r, key) == value, key


def test_02_inbound_answered() -> None:
    _, events, (r,) = run("02-inbound-answered")
    check_inbound(
        r,
        "pbx1-1795837952.0",
        disposition="answered",
        ivr_choices=("1",),
        queue="hotline-general",
        agents_rung=("PJSIP/agent1001",),
        agents_no_answer=(),
        agent="PJSIP/agent1001",
        agent_name="Agent 1001",
        hold_seconds=1,
        talk_seconds=6,
        complete_reason="caller",
        hangup_cause=16,
        recordings=recs("pbx1-1795837952.0"),
        transfers=(),
        conference=None,
    )
    assert r.wait_seconds == pytest.approx(1.01, abs=0.01)
    assert r.answered_at == pytest.approx(1795837957.257, abs=0.01)
    assert r.ended_at == pytest.approx(1795837963.614, abs=0.01)
    kinds = [e.kind for e in events if not isinstance(e, QueueMemberChanged)]
    assert kinds == [
        "CallStarted",
        "IvrChoiceMade",
        "IvrChoiceMade",
        "RecordingExpected",  # VarSet HOTLINE_REC on the citizen's channel, before MixMonitor
        "QueueJoined",
        "AgentRinging",
        "QueueLeft",
        "CallAnswered",
        "AgentCompleted",
        "RecordingAnnounced",
        "CallEnded",
    ]
    ring = next(e for e in events if isinstance(e, AgentRinging))
    assert (ring.caller, ring.ivr_choice, ring.interface) == ("13800138000", "1", "PJSIP/agent1001")


def test_03_abandoned_while_paused_and_while_ringing() -> None:
    _, events, (a, b) = run("03-inbound-abandoned")
    check_inbound(
        a,
        "pbx1-1795837975.2",
        disposition="abandoned",
        agents_rung=(),
        agent=None,
        hangup_cause=0,
        recordings=recs("pbx1-1795837975.2"),
    )
    assert a.wait_seconds == pytest.approx(6.87, abs=0.01)
    check_inbound(
        b,
        "pbx1-1795837990.3",
        disposition="abandoned",
        agents_rung=("PJSIP/agent1001",),
        agent=None,
        hangup_cause=0,
    )
    # obs. 8: no AgentRingNoAnswer on abandon-while-ringing; the screen-pop is still cleared once
    stops = [e for e in events if isinstance(e, AgentRingStopped)]
    assert [(s.interface, s.reason) for s in stops] == [("PJSIP/agent1001", "cancel")]


def test_04_ring_no_answer_then_second_agent() -> None:
    _, events, (r,) = run("04-ring-no-answer")
    check_inbound(
        r,
        "pbx1-1795838012.5",
        disposition="answered",
        agents_rung=("PJSIP/agent1001", "PJSIP/agent1002"),
        agents_no_answer=("PJSIP/agent1001",),
        agent="PJSIP/agent1002",
        hold_seconds=11,
        talk_seconds=7,
        complete_reason="caller",
    )
    stops = [e for e in events if isinstance(e, AgentRingStopped)]
    assert [(s.reason, s.ring_ms) for s in stops] == [("noanswer", 8000)]  # ms, obs. 7


def test_05_agent_hangs_up_first() -> None:
    _, _, (r,) = run("05-agent-hangs-up-first")
    check_inbound(
        r,
        "pbx1-1795838046.8",
        disposition="answered",
        complete_reason="agent",
        talk_seconds=5,
        hangup_cause=16,
    )


def test_06_blind_transfer() -> None:
    _, _, (r,) = run("06-blind-transfer")
    check_inbound(
        r,
        "pbx1-1795838069.10",
        disposition="answered",
        agent="PJSIP/agent1001",
        complete_reason="transfer",
        talk_seconds=3,
        transfers=(("blind", "PJSIP/agent1001-0000000b", "2001@hotline-internal"),),
        recordings=recs("pbx1-1795838069.10"),
    )
    assert "PJSIP/unit2001-0000000c" in r.channels
    assert r.ended_at == pytest.approx(1795838086.35, abs=0.01)


def test_07_attended_transfer() -> None:
    _, _, (r,) = run("07-attended-transfer")
    check_inbound(
        r,
        "pbx1-1795838098.13",
        disposition="answered",
        complete_reason="transfer",
        transfers=(("attended", "PJSIP/agent1001-0000000e", "2001@hotline-internal"),),
    )
    assert "PJSIP/unit2001-0000000f" in r.channels
    assert "Local/2001@hotline-internal-00000000;1" in r.channels


def test_08_three_way_call() -> None:
    _, _, (r,) = run("08-three-way")
    check_inbound(
        r,
        "pbx1-1795838130.18",
        disposition="answered",
        complete_reason="agent",
        conference="pbx1-1795838130_18",
        talk_seconds=9,
        recordings=recs("pbx1-1795838130.18"),
    )
    # the unit leg was originated (own Linkedid, obs. 3) and joined through HOTLINE_CALLID
    assert r.participants == (
        "PJSIP/agent1001-00000011",
        "PJSIP/citizen-trunk-00000010",
        "PJSIP/unit2001-00000012",
    )
    # the call lasts until the unit, last in the room, hangs up
    assert r.ended_at == pytest.approx(1795838150.71, abs=0.01)


def test_09_queue_members_and_call() -> None:
    _, events, (r,) = run("09-queue-members")
    check_inbound(r, "pbx1-1795838165.23", disposition="answered", hold_seconds=9)
    members = [e for e in events if isinstance(e, QueueMemberChanged)]
    changes = {(m.interface, m.change, m.paused, m.paused_reason) for m in members}
    assert ("PJSIP/agent1003", "added", False, "") in changes
    assert ("PJSIP/agent1003", "pause", True, "lunch") in changes
    assert ("PJSIP/agent1003", "removed", False, "") in changes
    # list items of the capture's QueueStatus are not live events
    assert all(m.change != "snapshot" for m in members)


def test_10_callback_survey_outbound() -> None:
    _, _, (ok, no) = run("10-callback-survey")
    assert ok.direction == "outbound" and ok.disposition == "answered"
    assert ok.linkedid == "b8048fc9-3c99-40e8-9e90-6b067b560731"  # ChannelId, obs. 1
    assert ok.extra["SURVEY_ORDER"] == "WO20251128001" and ok.answered_at is not None
    assert no.disposition == "no_answer" and no.hangup_cause == 19
    assert no.extra["SURVEY_ORDER"] == "WO20251128002"


def test_11_and_12_ivr_only_calls() -> None:
    _, _, calls = run("11-agi-hangup")
    assert [c.disposition for c in calls] == ["ivr_only", "ivr_only"]
    assert all(c.queue is None and c.hangup_cause == 0 for c in calls)
    _, _, calls = run("12-audiosocket")
    assert [(c.dialled, c.hangup_cause) for c in calls] == [("12399", 0), ("12399", 16)]


def test_13_chanspy_legs_do_not_become_calls() -> None:
    _, _, calls = run("13-chanspy")
    (r,) = calls
    check_inbound(r, "pbx1-1795838273.31", disposition="answered", talk_seconds=16)


def test_traces_without_calls() -> None:
    for name in ("00-agent-registration", "01-login", "01b-login-failed"):
        _, _events, calls = run(name)
        assert calls == []


def test_duplicated_events_never_duplicate_records() -> None:
    """Every message delivered twice (a proxy or a replay bug): same records, same events."""
    tracker = CallTracker(max_skew=None)
    out: list[DomainEvent] = []
    for m in messages("06-blind-transfer"):
        out += tracker.handle(m)
        out += tracker.handle(m)
    ref = run("06-blind-transfer")[1]
    # member states are idempotent reports, not records: a repeat may be re-announced
    calls = [e for e in out if not isinstance(e, QueueMemberChanged)]
    assert calls == [e for e in ref if not isinstance(e, QueueMemberChanged)]


def test_two_servers_with_the_same_ids_stay_apart() -> None:
    tracker = CallTracker(max_skew=None)
    a, b = messages("02-inbound-answered", "pbx1"), messages("02-inbound-answered", "pbx2")
    ended = []
    for ma, mb in zip(a, b, strict=True):
        for e in tracker.handle(ma) + tracker.handle(mb):
            if isinstance(e, CallEnded):
                ended.append(e.record)
    assert sorted(r.server for r in ended) == ["pbx1", "pbx2"]
    assert ended[0].linkedid == ended[1].linkedid


def test_shuffled_stragglers_after_the_end_are_ignored() -> None:
    """Events re-delivered after the call ended (out of order) change nothing."""
    tracker = CallTracker(max_skew=None)
    msgs = messages("02-inbound-answered")
    for m in msgs:
        tracker.handle(m)
    late = msgs[:]
    random.Random(3).shuffle(late)
    again = [e for m in late for e in tracker.handle(m) if not isinstance(e, QueueMemberChanged)]
    assert again == [] and tracker.open_calls() == []


def test_call_for_agent_follows_the_agent_leg() -> None:
    tracker = CallTracker(max_skew=None)
    seen = []
    for m in messages("06-blind-transfer"):
        tracker.handle(m)
        call = tracker.call_for_agent("PJSIP/agent1001", "pbx1")
        seen.append(None if call is None else (call.agent_channel, call.root_channel))
    on_call = ("PJSIP/agent1001-0000000b", "PJSIP/citizen-trunk-0000000a")
    assert on_call in seen
    # after the blind transfer the agent leg hung up: no current call for the agent
    assert seen[-1] is None and seen.index(on_call) < len(seen) - 1
    assert tracker.call_for_agent("PJSIP/agent1001", "pbx2") is None


def test_backend_restarted_mid_call_adopts_it_from_the_resync() -> None:
    """The capture's own CoreShowChannels (trace 09, during the answered call) rebuilds the
    call in a fresh tracker; the rest of the trace then ends it as answered."""
    msgs = messages("09-queue-members")
    items = [m for m in msgs if m.name == "CoreShowChannel"]
    assert len(items) == 2
    cut = msgs.index(items[-1])
    tracker = CallTracker(max_skew=None)
    tracker.link_up("pbx1", 1795838180.0)
    out = tracker.reconcile("pbx1", items, at=1795838180.0)
    # bridged with the agent's AppQueue leg: adopted as answered by that agent
    assert [(e.kind, e.adopted) for e in out] == [("CallStarted", True), ("CallAnswered", True)]
    (call,) = tracker.open_calls()
    assert call.linkedid == "pbx1-1795838165.23" and call.caller == "13800138000"
    assert call.started_at == 1795838180.0 - 14  # Duration: 00:00:14
    assert call.answered_at == 1795838180.0 - 2  # the agent leg's Duration: 00:00:02
    assert call.agent == "PJSIP/agent1001" and call.agent_channel == "PJSIP/agent1001-00000014"
    assert len(call.live) == 2  # citizen and agent legs
    ended = [e for m in msgs[cut + 1 :] for e in tracker.handle(m) if isinstance(e, CallEnded)]
    (r,) = [e.record for e in ended]
    assert r.disposition == "answered" and r.agent == "PJSIP/agent1001" and r.talk_seconds == 6


def test_reconcile_keeps_live_calls_and_closes_vanished_ones_once() -> None:
    tracker = CallTracker(max_skew=None)
    msgs = messages("09-queue-members")
    join = next(i for i, m in enumerate(msgs) if m.name == "QueueCallerJoin")
    for m in msgs[: join + 1]:
        tracker.handle(m)
    (call,) = tracker.open_calls()
    tracker.link_up("pbx1", 1.0)
    entry = next(m for m in msgs if m.name == "QueueEntry")
    live = [m for m in msgs if m.name == "Newchannel" and m["Uniqueid"] == call.root_uniqueid]
    assert tracker.reconcile("pbx1", live, [entry], at=2.0) == []  # still there
    assert tracker.open_calls() == [call]
    tracker.link_up("pbx1", 3.0)
    out = tracker.reconcile("pbx1", [], at=4.0)
    assert [(e.kind, getattr(e, "disposition", None)) for e in out] == [
        ("CallEnded", "ended_during_disconnect")
    ]
    tracker.link_up("pbx1", 5.0)
    assert tracker.reconcile("pbx1", [], at=6.0) == []
    # the late Hangup of the vanished call changes nothing
    assert [
        e for m in msgs[join + 1 :] for e in tracker.handle(m) if isinstance(e, CallEnded)
    ] == []


@pytest.mark.parametrize("name", ["02-inbound-answered", "07-attended-transfer", "08-three-way"])
def test_local_reordering_never_duplicates_or_crashes(name: str) -> None:
    """Neighbouring events swapped at random (50 runs): one record per call, never two, no
    handler error; the call is still closed by the end of the stream."""
    base = messages(name)
    rnd = random.Random(name)
    for _ in range(50):
        msgs = base[:]
        for _ in range(len(msgs) // 4):
            i = rnd.randrange(1, len(msgs) - 1)
            msgs[i], msgs[i + 1] = msgs[i + 1], msgs[i]
        tracker = CallTracker(max_skew=None)
        ended = [e for m in msgs for e in tracker.handle(m) if isinstance(e, CallEnded)]
        keys = [e.key for e in ended]
        assert len(keys) == len(set(keys)) and len(keys) >= 1
        assert tracker.stats["bad"] == 0
