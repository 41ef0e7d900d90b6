"""A backend restarted mid-call adopts the call from the resync, wherever the citizen is.

A "restart" is a fresh tracker that gets the snapshot Asterisk would give (``CoreShowChannel``
items, ``QueueEntry`` and ``QueueMember`` items) and then the rest of the AMI stream. The call's
end must be recorded all the same; channels that are not hotline calls must stay out.
"""

from __future__ import annotations

import random

import pytest

from pbx.ami.message import AmiMessage
from pbx.calls.adopt_rules import channel_interface
from pbx.calls.events import (
    AgentCompleted,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallStarted,
    DomainEvent,
    QueueJoined,
    QueueMemberChanged,
)
from pbx.calls.tracker import CallTracker
from tests.pbx.trace_snapshot import Snapshot, channel, item, members, messages, snapshot_at

NOW = 1_800_000_000.0
MEMBERS = members("PJSIP/agent1001", "PJSIP/agent1002", "PJSIP/agent1003")
TRACES = [
    "02-inbound-answered",
    "03-inbound-abandoned",
    "04-ring-no-answer",
    "05-agent-hangs-up-first",
    "06-blind-transfer",
    "07-attended-transfer",
    "08-three-way",
    "09-queue-members",
    "10-callback-survey",
    "11-agi-hangup",
    "12-audiosocket",
    "13-chanspy",
]


def restarted(
    msgs: list[AmiMessage], cut: int, *, shuffle: int | None = None
) -> tuple[CallTracker, list[DomainEvent], list[DomainEvent]]:
    """A fresh tracker resynced at ``msgs[cut]``, then fed the rest: (tracker, resync events,
    all events)."""
    snap = snapshot_at(msgs, cut)
    return restarted_from(msgs, cut, snap, shuffle=shuffle)


def restarted_from(
    msgs: list[AmiMessage], cut: int, snap: Snapshot, *, shuffle: int | None = None
) -> tuple[CallTracker, list[DomainEvent], list[DomainEvent]]:
    items = snap.channels[:]
    if shuffle is not None:
        random.Random(shuffle).shuffle(items)
    t = CallTracker(clock=lambda: snap.at, max_skew=None)
    t.link_up("pbx1", snap.at)
    resync = t.reconcile("pbx1", items, snap.entries, MEMBERS, at=snap.at)
    events = resync + [e for m in msgs[cut:] for e in t.handle(m)]
    return t, resync, events


def ev(text: str, **fields: str) -> AmiMessage:
    """A live event; ``text`` is ``Name`` and fields follow."""
    return item(text, list(fields.items()))


def hangup(uid: str, lid: str, cause: str = "16") -> AmiMessage:
    return ev("Hangup", Uniqueid=uid, Linkedid=lid, Cause=cause, Timestamp=str(NOW + 30))


def adopt(
    items: list[AmiMessage], entries: list[AmiMessage] | None = None
) -> tuple[CallTracker, list[DomainEvent]]:
    """A fresh tracker resynced with ``items``: (tracker, the call events of the resync)."""
    t = CallTracker(clock=lambda: NOW)
    t.link_up("pbx1", NOW)
    out = t.reconcile("pbx1", items, entries or [], MEMBERS, at=NOW)
    members = [e for e in out if isinstance(e, QueueMemberChanged)]
    assert len(members) == len(MEMBERS)
    return t, [e for e in out if not isinstance(e, QueueMemberChanged)]


CITIZEN = dict(
    Channel="PJSIP/carrier-trunk-00000041",
    CallerIDNum="13800138000",
    CallerIDName="13800138000",
    Uniqueid="pbx1-1800000000.41",
    Linkedid="pbx1-1800000000.41",
)
CIT = CITIZEN["Uniqueid"]


def agent_leg(bridge: str, **over: str) -> AmiMessage:
    fields = dict(
        Channel="PJSIP/agent1001-00000042",
        CallerIDNum="1001",
        CallerIDName="Agent 1001",
        Context="from-agents",
        Exten="12345",
        Uniqueid="pbx1-1800000010.42",
        Linkedid=CIT,
        Application="AppQueue",
        ApplicationData="(Outgoing Line)",
        Duration="00:00:40",
        BridgeId=bridge,
    )
    fields.update(over)
    return channel(**fields)


# ---------------------------------------------------------------- the snapshot helper


def test_snapshot_helper_matches_the_real_core_show_channels() -> None:
    """The rebuilt snapshot has the layout and values of trace 09's real CoreShowChannels."""
    msgs = messages("09-queue-members")
    real = [m for m in msgs if m.name == "CoreShowChannel"]
    snap = snapshot_at(msgs, msgs.index(real[0]))
    assert [c.fields["Channel"] for c in snap.channels] == [r["Channel"] for r in real]
    for built, got in zip(snap.channels, real, strict=True):
        assert [k for k, _ in built.pairs if k != "ActionID"] == [
            k for k, _ in got.pairs if k != "ActionID"
        ]
        for key in ("Context", "Exten", "Application", "ApplicationData", "BridgeId", "Linkedid"):
            assert built[key] == got[key], key
        h, m, s = (int(x) for x in built["Duration"].split(":"))
        h2, m2, s2 = (int(x) for x in got["Duration"].split(":"))
        assert abs((h * 3600 + m * 60 + s) - (h2 * 3600 + m2 * 60 + s2)) <= 1


# ---------------------------------------------------------------- every trace, every point


def full_run(msgs: list[AmiMessage]) -> dict:
    """Per call of an uninterrupted run: its CallEnded and where things happened."""
    t = CallTracker(max_skew=None)
    calls: dict = {}
    for i, m in enumerate(msgs):
        for e in t.handle(m):
            if not isinstance(e, CallEvent):
                continue
            info = calls.setdefault(e.key, {"agent_done": None})
            if isinstance(e, CallStarted):
                info["start_at"] = i
            elif isinstance(e, CallEnded):
                info["ended"], info["end_at"] = e, i
            elif isinstance(e, AgentCompleted) and info["agent_done"] is None:
                info["agent_done"] = i
    return calls


@pytest.mark.parametrize("name", TRACES)
def test_restart_at_any_point_of_any_trace_ends_every_call_once(name: str) -> None:
    """A restart before any message of the trace: every call whose citizen (root) channel is
    still up is adopted and ends exactly once, at the same time and with the disposition of the
    uninterrupted run; the agent is the same while the agent's leg is still up. Nothing else
    becomes a call (the supervisor's ChanSpy legs of 13, the originate of 10 before it is
    marked, the legs that outlive a citizen who hung up). Snapshot items come shuffled."""
    msgs = messages(name)
    full = full_run(msgs)
    assert full, "every trace has a call"
    adopted_any = False
    for cut in range(1, len(msgs)):
        snap = snapshot_at(msgs, cut)
        roots = {c["Uniqueid"]: c for c in snap.channels if c["Uniqueid"] == c["Linkedid"]}
        t, _, events = restarted_from(msgs, cut, snap, shuffle=cut)
        ended = [e for e in events if isinstance(e, CallEnded)]
        keys = [e.key for e in ended]
        assert len(keys) == len(set(keys)), (cut, keys)
        assert set(keys) == {
            k
            for k, c in full.items()
            if c["end_at"] >= cut and (c["start_at"] >= cut or k.linkedid in roots)
        }, cut
        assert t.open_calls() == [] and t.stats["bad"] == 0, cut
        for e in ended:
            want = full[e.key]["ended"].record
            got = e.record
            adopted_any |= got.adopted
            agent_gone = (full[e.key]["agent_done"] or len(msgs)) < cut
            root = roots.get(e.linkedid)
            hanging_up = root is not None and root["Context"] == "hotline-hangup"
            if got.disposition != want.disposition:
                # Facts only an event before the restart showed: an answer whose agent leg is
                # gone (the citizen is back in from-trunk), or anything once the citizen's
                # hangup handler runs. The earlier process's row has them (merge_adopted).
                assert (want.disposition == "answered" and agent_gone) or hanging_up, (cut, got)
                assert got.disposition in ("ivr_only", "abandoned"), (cut, got)
            if want.agent and got.disposition == "answered" and not agent_gone:
                assert got.agent == want.agent, (cut, got)
            assert got.direction == want.direction, cut
            assert got.ended_at == want.ended_at, cut
    assert adopted_any


# ---------------------------------------------------------------- queue, agent, trace based


def test_restart_mid_queue_then_answered_records_the_hangup() -> None:
    """Trace 09: the citizen waits while both agents are paused; the backend restarts. The
    QueueEntry gives the join time; the later answer and hang-up are recorded."""
    msgs = messages("09-queue-members")
    cut = next(i for i, m in enumerate(msgs) if m.name == "QueueCallerJoin") + 3
    _, resync, events = restarted(msgs, cut)
    assert [type(e).__name__ for e in resync] == ["CallStarted", "QueueJoined"] + [
        "QueueMemberChanged"
    ] * len(MEMBERS)
    started, joined = resync[0], resync[1]
    assert isinstance(started, CallStarted) and started.adopted and started.direction == "inbound"
    assert isinstance(joined, QueueJoined) and joined.adopted and joined.queue == "hotline-general"
    want = full_run(msgs)[started.key]["ended"].record
    (end,) = [e for e in events if isinstance(e, CallEnded)]
    r = end.record
    assert r.adopted and r.disposition == "answered" and r.agent == "PJSIP/agent1001"
    assert r.queue == "hotline-general"
    assert r.queue_joined_at == pytest.approx(want.queue_joined_at, abs=1.0)
    assert r.wait_seconds == pytest.approx(want.wait_seconds, abs=1.0)
    assert r.recordings == want.recordings and r.hangup_cause == 16
    # the live AgentConnect was the first answer this process saw: one, not adopted
    answered = [e for e in events if isinstance(e, CallAnswered)]
    assert [a.adopted for a in answered] == [False]


def test_restart_mid_queue_then_abandoned() -> None:
    msgs = messages("03-inbound-abandoned")
    first = next(i for i, m in enumerate(msgs) if m.name == "QueueCallerJoin")
    full = full_run(msgs)
    _, _, events = restarted(msgs, first + 2)
    ended = {e.key: e.record for e in events if isinstance(e, CallEnded)}
    assert set(ended) == set(full)
    for key, r in ended.items():
        want = full[key]["ended"].record
        assert r.disposition == "abandoned" == want.disposition
        assert r.queue_joined_at == pytest.approx(want.queue_joined_at, abs=1.0)


def test_restart_while_bridged_records_the_hangup_with_the_agent() -> None:
    msgs = messages("02-inbound-answered")
    cut = [i for i, m in enumerate(msgs) if m.name == "BridgeEnter"][-1] + 1
    snap = snapshot_at(msgs, cut)
    t = CallTracker(clock=lambda: snap.at, max_skew=None)
    t.link_up("pbx1", snap.at)
    resync = t.reconcile("pbx1", snap.channels, snap.entries, MEMBERS, at=snap.at)
    kinds = [(type(e).__name__, getattr(e, "adopted", None)) for e in resync]
    assert kinds == [("CallStarted", True), ("CallAnswered", True)] + [
        ("QueueMemberChanged", None)
    ] * len(MEMBERS)
    ans = resync[1]
    assert isinstance(ans, CallAnswered)
    assert (ans.interface, ans.member_name, ans.agent_channel) == (
        "PJSIP/agent1001",
        "Agent 1001",
        "PJSIP/agent1001-00000001",
    )
    assert ans.queue == "hotline-general"  # from the citizen's Queue application
    call = t.call_for_agent("PJSIP/agent1001", "pbx1")  # call control works again
    assert call is not None and call.root_channel == "PJSIP/citizen-trunk-00000000"
    events = [e for m in msgs[cut:] for e in t.handle(m)]
    (end,) = [e for e in events if isinstance(e, CallEnded)]
    want = full_run(msgs)[end.key]["ended"].record
    r = end.record
    assert r.disposition == "answered" and r.agent == "PJSIP/agent1001"
    assert (r.talk_seconds, r.complete_reason, r.hangup_cause) == (6, "caller", 16)
    assert r.recordings == want.recordings and r.ended_at == want.ended_at
    assert r.answered_at is not None and r.answered_at <= want.answered_at + 0.01


def test_ami_reconnect_learns_an_answer_missed_while_down() -> None:
    """Same tracker, link lost while the call was in the queue: the snapshot shows the agent
    bridged in; the call is answered by that agent, once, and not opened a second time."""
    msgs = messages("02-inbound-answered")
    join = next(i for i, m in enumerate(msgs) if m.name == "QueueCallerJoin")
    cut = [i for i, m in enumerate(msgs) if m.name == "BridgeEnter"][-1] + 1
    t = CallTracker(max_skew=None)
    for m in msgs[: join + 1]:
        t.handle(m)
    snap = snapshot_at(msgs, cut)
    t.link_down("pbx1", "drop", snap.at)
    t.link_up("pbx1", snap.at)
    out = t.reconcile("pbx1", snap.channels, snap.entries, MEMBERS, at=snap.at)
    assert [type(e).__name__ for e in out if not type(e).__name__.startswith("QueueMember")] == [
        "CallAnswered"
    ]
    (call,) = t.open_calls()
    assert call.agent == "PJSIP/agent1001" and not call.adopted
    assert call.queue_left_at is not None and call.wait_seconds is not None
    ended = [e for m in msgs[cut:] for e in t.handle(m) if isinstance(e, CallEnded)]
    assert [e.record.disposition for e in ended] == ["answered"]


# ---------------------------------------------------------------- contexts past the IVR


def test_post_call_survey_is_adopted_as_answered() -> None:
    """Agent hung up first, the citizen rates the call (hotline-post-call): adopted inbound,
    answered (by an agent the snapshot cannot name), recordings announced later are kept."""
    t, out = adopt(
        [
            channel(
                **CITIZEN,
                Context="hotline-post-call",
                Exten="s",
                Application="AGI",
                ApplicationData="agi://127.0.0.1:4573/post-call-survey,pbx1:" + CIT,
                Duration="00:03:10",
            )
        ]
    )
    (started,) = out
    assert isinstance(started, CallStarted) and started.direction == "inbound"
    assert started.dialled == "12345" and started.at == NOW - 190
    t.handle(
        ev(
            "UserEvent",
            Uniqueid=CIT,
            Linkedid=CIT,
            UserEvent="HotlineRecording",
            Mixed=f"/rec/{CIT}.wav",
            In=f"/rec/{CIT}-in.wav",
            Out=f"/rec/{CIT}-out.wav",
            HangupCause="16",
        )
    )
    (end,) = t.handle(hangup(CIT, CIT))
    assert isinstance(end, CallEnded)
    assert end.disposition == "answered" and end.record.agent is None
    assert [d for d, _ in end.record.recordings] == ["mixed", "in", "out"]


@pytest.mark.parametrize(
    ("accepts", "disposition"), [(True, "callback_requested"), (False, "abandoned")]
)
def test_queue_exit_callback_offer_is_adopted(accepts: bool, disposition: str) -> None:
    """The queue timed out and the callback offer runs (SPEC R2.3): adopted inbound, queued
    in the queue the offer names; the caller's choice decides the disposition."""
    t, out = adopt(
        [
            channel(
                **CITIZEN,
                Context="hotline-queue-exit",
                Exten="s",
                Application="AGI",
                ApplicationData="agi://127.0.0.1:4573/callback-offer,13800138000,hotline-consult",
                Duration="00:03:30",
            )
        ]
    )
    assert [type(e).__name__ for e in out] == ["CallStarted"]
    if accepts:
        t.handle(ev("VarSet", Uniqueid=CIT, Linkedid=CIT, Variable="HOTLINE_CALLBACK", Value="1"))
    (end,) = [e for e in t.handle(hangup(CIT, CIT, "0")) if isinstance(e, CallEnded)]
    assert end.disposition == disposition and end.record.queue == "hotline-consult"


def test_emergency_hand_over_is_adopted_with_the_trunk_leg() -> None:
    """第九条(五): the IVR handed the caller to 119; the citizen and the outgoing trunk leg
    (same Linkedid, not an agent) are one call that ends when both are gone."""
    bridge = "e1e1e1e1-0000-4000-8000-000000000001"
    fire = channel(
        Channel="PJSIP/carrier-trunk-00000043",
        Context="from-trunk",
        Exten="",
        Uniqueid="pbx1-1800000020.43",
        Linkedid=CIT,
        Application="AppDial",
        ApplicationData="(Outgoing Line)",
        Duration="00:00:50",
        BridgeId=bridge,
    )
    t, out = adopt(
        [
            fire,
            channel(
                **CITIZEN,
                Context="hotline-emergency",
                Exten="119",
                Application="Dial",
                ApplicationData="PJSIP/119@carrier-trunk,60",
                Duration="00:01:00",
                BridgeId=bridge,
            ),
        ]
    )
    assert [type(e).__name__ for e in out] == ["CallStarted"]  # no agent: no CallAnswered
    (call,) = t.open_calls()
    assert len(call.live) == 2
    assert t.handle(hangup(CIT, CIT)) == []
    (end,) = t.handle(hangup("pbx1-1800000020.43", CIT))
    assert isinstance(end, CallEnded) and end.disposition == "ivr_only"


def test_blind_transferred_citizen_is_adopted_as_answered() -> None:
    bridge = "b1b1b1b1-0000-4000-8000-000000000002"
    t, out = adopt(
        [
            channel(
                Channel="PJSIP/unit2001-00000044",
                Context="from-internal",
                Uniqueid="pbx1-1800000030.44",
                Linkedid=CIT,
                Application="AppDial",
                ApplicationData="(Outgoing Line)",
                Duration="00:00:20",
                BridgeId=bridge,
            ),
            channel(
                **CITIZEN,
                Context="hotline-internal",
                Exten="2001",
                Application="Dial",
                ApplicationData="PJSIP/unit2001,30",
                Duration="00:02:00",
                BridgeId=bridge,
            ),
        ]
    )
    assert [type(e).__name__ for e in out] == ["CallStarted"]  # the unit is no agent
    t.handle(hangup("pbx1-1800000030.44", CIT))
    (end,) = t.handle(hangup(CIT, CIT))
    assert isinstance(end, CallEnded)
    assert end.disposition == "answered" and end.record.agent is None


def test_three_way_call_is_adopted_with_agent_and_unit() -> None:
    """Citizen and agent Redirected into room-<citizen's Linkedid>; the unit was Originated
    into the room (its own Linkedid, a root channel too): one call, answered by the agent,
    ending when the last of the three hangs up."""
    bridge = "c0c0c0c0-0000-4000-8000-000000000003"
    room = "room-" + CIT.replace(".", "_")
    unit = channel(
        Channel="PJSIP/unit2001-00000045",
        Context="hotline-conf",
        Exten=room,
        Uniqueid="pbx1-1800000050.45",
        Linkedid="pbx1-1800000050.45",
        Application="ConfBridge",
        ApplicationData=CIT.replace(".", "_") + ",hotline-3way-bridge,hotline-3way-user",
        Duration="00:00:30",
        BridgeId=bridge,
    )
    t, out = adopt(
        [
            unit,  # listed before the citizen: order must not matter
            agent_leg(
                bridge,
                Context="hotline-conf",
                Exten=room,
                Application="ConfBridge",
                ApplicationData=unit["ApplicationData"],
            ),
            channel(
                **CITIZEN,
                Context="hotline-conf",
                Exten=room,
                Application="ConfBridge",
                ApplicationData=unit["ApplicationData"],
                Duration="00:02:00",
                BridgeId=bridge,
            ),
        ]
    )
    assert [type(e).__name__ for e in out] == ["CallStarted", "CallAnswered"]
    (call,) = t.open_calls()
    assert call.agent == "PJSIP/agent1001" and len(call.live) == 3
    assert call.conference == CIT.replace(".", "_")
    assert t.handle(hangup("pbx1-1800000010.42", CIT)) == []  # the agent leaves
    assert t.handle(hangup(CIT, CIT)) == []
    (end,) = t.handle(hangup("pbx1-1800000050.45", "pbx1-1800000050.45"))
    assert isinstance(end, CallEnded) and end.disposition == "answered"
    assert end.record.agent == "PJSIP/agent1001"


def test_bridged_agent_wins_over_a_ringing_or_other_leg() -> None:
    """Only an Up agent leg answered; a leg in the citizen's bridge beats one that is not."""
    bridge = "a0a0a0a0-0000-4000-8000-000000000004"
    ringing = agent_leg(
        "",
        Channel="PJSIP/agent1002-00000046",
        Uniqueid="pbx1-1800000060.46",
        ChannelState="5",
        ChannelStateDesc="Ringing",
    )
    _, out = adopt(
        [
            ringing,
            agent_leg(bridge),
            channel(**CITIZEN, Context="from-trunk", Exten="12345", Application="Queue",
                    ApplicationData="hotline-general,tc,,,180", Duration="00:01:00",
                    BridgeId=bridge),
        ]
    )  # fmt: skip
    answers = [e for e in out if isinstance(e, CallAnswered)]
    assert [(a.interface, a.at) for a in answers] == [("PJSIP/agent1001", NOW - 40)]


# ---------------------------------------------------------------- outbound


def test_outbound_survey_and_callback_are_adopted_as_outbound() -> None:
    bridge = "0b0b0b0b-0000-4000-8000-000000000005"
    survey = channel(
        Channel="PJSIP/carrier-trunk-00000050",
        CallerIDNum="12345",
        Context="hotline-outbound",
        Exten="survey",
        Uniqueid="pbx1-1800000100.50",
        Linkedid="pbx1-1800000100.50",
        Application="AGI",
        ApplicationData="agi://127.0.0.1:4573/survey,WO20261128001",
        Duration="00:00:20",
    )
    ringing = channel(
        Channel="PJSIP/carrier-trunk-00000051",
        ChannelState="5",
        ChannelStateDesc="Ringing",
        Context="from-trunk",
        Exten="s",
        Uniqueid="pbx1-1800000110.51",
        Linkedid="pbx1-1800000110.51",
        Application="AppDial2",
        ApplicationData="(Outgoing Line)",
        Duration="00:00:05",
    )
    callback = channel(
        Channel="PJSIP/carrier-trunk-00000052",
        Context="hotline-outbound",
        Exten="callback",
        Uniqueid="pbx1-1800000120.52",
        Linkedid="pbx1-1800000120.52",
        Application="Queue",
        ApplicationData="hotline-consult,tc,,,180",
        Duration="00:01:00",
        BridgeId=bridge,
    )
    t, out = adopt(
        [
            survey,
            ringing,
            callback,
            agent_leg(bridge, Uniqueid="pbx1-1800000121.53", Linkedid="pbx1-1800000120.52"),
        ]
    )
    started = {e.linkedid: e.direction for e in out if isinstance(e, CallStarted)}
    assert started == {
        "pbx1-1800000100.50": "outbound",
        "pbx1-1800000110.51": "outbound",
        "pbx1-1800000120.52": "outbound",
    }
    answers = [(e.linkedid, e.interface) for e in out if isinstance(e, CallAnswered)]
    assert answers == [("pbx1-1800000120.52", "PJSIP/agent1001")]
    ends = {}
    for uid in ("pbx1-1800000100.50", "pbx1-1800000120.52", "pbx1-1800000121.53"):
        lid = "pbx1-1800000121.53" if uid.endswith(".53") else uid
        lid = "pbx1-1800000120.52" if uid.endswith(".53") else lid
        for e in t.handle(hangup(uid, lid)):
            if isinstance(e, CallEnded):
                ends[e.linkedid] = e.disposition
    for e in t.handle(hangup("pbx1-1800000110.51", "pbx1-1800000110.51", "19")):
        if isinstance(e, CallEnded):
            ends[e.linkedid] = e.disposition
    assert ends == {
        "pbx1-1800000100.50": "answered",
        "pbx1-1800000120.52": "answered",
        "pbx1-1800000110.51": "no_answer",  # the ringing survey rang out
    }


# ---------------------------------------------------------------- not hotline calls


def test_non_hotline_channels_are_not_adopted() -> None:
    """A channel in ``default``, an internal call between an agent and a unit, an agent's own
    call transferred into hotline-internal, a call from the trunk to ``s`` (not ours): none is
    a call, and their hang-ups change nothing."""
    bridge = "1a1a1a1a-0000-4000-8000-000000000006"
    items = [
        channel(Channel="PJSIP/lab-00000060", Context="default", Exten="s",
                Uniqueid="u60", Linkedid="u60", Application="Hangup", Duration="00:00:01"),
        channel(Channel="PJSIP/agent1002-00000061", Context="from-agents", Exten="2001",
                Uniqueid="u61", Linkedid="u61", Application="Dial",
                ApplicationData="PJSIP/unit2001,30", Duration="00:01:00", BridgeId=bridge),
        channel(Channel="PJSIP/unit2001-00000062", Context="from-internal", Uniqueid="u62",
                Linkedid="u61", Application="AppDial", Duration="00:00:55", BridgeId=bridge),
        channel(Channel="PJSIP/agent1003-00000063", Context="hotline-internal", Exten="2002",
                Uniqueid="u63", Linkedid="u63", Application="Dial", Duration="00:00:30"),
        channel(Channel="PJSIP/carrier-trunk-00000064", ChannelState="4", Context="from-trunk",
                Exten="s", Uniqueid="u64", Linkedid="u64", Application="Hangup"),
    ]  # fmt: skip
    t, out = adopt(items)
    assert out == []
    assert t.open_calls() == []
    for uid, lid in (("u60", "u60"), ("u62", "u61"), ("u61", "u61"), ("u63", "u63"),
                     ("u64", "u64")):  # fmt: skip
        assert t.handle(hangup(uid, lid)) == []
    assert t.open_calls() == [] and t.stats["bad"] == 0


def test_supervisor_spy_legs_are_not_adopted() -> None:
    """During an adopted call: the supervisor's ChanSpy legs (listen from PJSIP/sup9001, whisper
    through hotline-supervisor, a Local/9001@hotline-internal pair, an agent phone used as the
    supervisor's phone) and the live-transcript AudioSocket fork stay outside the call."""
    bridge = "5a5a5a5a-0000-4000-8000-000000000007"
    spy = dict(
        Application="ChanSpy", ApplicationData="PJSIP/agent1001-00000042,q", Duration="00:00:10"
    )
    items = [
        channel(Channel="PJSIP/sup9001-00000070", Context="from-internal", Exten="s",
                Uniqueid="s70", Linkedid="s70", **spy),
        channel(Channel="PJSIP/sup9001-00000071", Context="hotline-supervisor",
                Exten="whisper", Uniqueid="s71", Linkedid="s71", **spy),
        channel(Channel="Local/9001@hotline-internal-00000072;1", Context="hotline-internal",
                Exten="9001", Uniqueid="s72", Linkedid="s72", **spy),
        channel(Channel="Local/9001@hotline-internal-00000072;2", Context="hotline-internal",
                Exten="9001", Uniqueid="s73", Linkedid="s72", Application="Dial",
                ApplicationData="PJSIP/sup9001,30", Duration="00:00:10"),
        channel(Channel="PJSIP/agent1003-00000074", Context="from-agents", Exten="s",
                Uniqueid="s74", Linkedid="s74", **spy),
        channel(Channel="AudioSocket/127.0.0.1:9092/0d0d-00000075", Context="default",
                Exten="s", Uniqueid="s75", Linkedid="s75", Application="ChanSpy",
                ApplicationData=f"{CITIZEN['Channel']},qoE", Duration="00:00:40"),
        agent_leg(bridge),
        channel(**CITIZEN, Context="from-trunk", Exten="12345", Application="Queue",
                ApplicationData="hotline-general,tc,,,180", Duration="00:01:00",
                BridgeId=bridge),
    ]  # fmt: skip
    t, out = adopt(items)
    assert [type(e).__name__ for e in out if isinstance(e, CallStarted | CallAnswered)] == [
        "CallStarted",
        "CallAnswered",
    ]
    (call,) = t.open_calls()
    assert call.agent == "PJSIP/agent1001"  # not agent1003, whose phone only listens
    assert call.live == {CIT, "pbx1-1800000010.42"}
    for uid, lid in (("s70", "s70"), ("s71", "s71"), ("s73", "s72"), ("s72", "s72"),
                     ("s74", "s74"), ("s75", "s75")):  # fmt: skip
        assert t.handle(hangup(uid, lid)) == []
    assert t.handle(hangup("pbx1-1800000010.42", CIT)) == []
    (end,) = t.handle(hangup(CIT, CIT))
    assert isinstance(end, CallEnded) and end.record.agent == "PJSIP/agent1001"
    assert t.open_calls() == []


@pytest.mark.parametrize(
    ("name", "iface"),
    [
        ("PJSIP/agent1001-0000001c", "PJSIP/agent1001"),
        ("PJSIP/carrier-trunk-00000041", "PJSIP/carrier-trunk"),
        ("PJSIP/agent1001", "PJSIP/agent1001"),
        ("PJSIP/a-zzzzzzzz", "PJSIP/a-zzzzzzzz"),
        ("", ""),
    ],
)
def test_channel_interface(name: str, iface: str) -> None:
    assert channel_interface(name) == iface
