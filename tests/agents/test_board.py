"""Pure unit tests of the agent state board and the wallboard counters (no I/O)."""

from __future__ import annotations

from agents.states import AgentBoard, AgentLive, CallGone, Completed, StateChanged
from agents.wallboard import Wallboard
from pbx.calls.events import (
    AgentCompleted,
    AgentRinging,
    CallAnswered,
    CallEnded,
    QueueAbandoned,
    QueueJoined,
    QueueMemberChanged,
)

IFACE = "PJSIP/agent1001"


def board() -> tuple[AgentBoard, AgentLive]:
    b = AgentBoard({"q": 5.0}, default_wrapup=1.0)
    a = AgentLive(1, 10, "alice", "pbx1", IFACE, "1001", "Agent 1001")
    b.add(a)
    return b, a


def member(change: str, paused: bool = False, reason: str = "") -> QueueMemberChanged:
    return QueueMemberChanged("pbx1", 0.0, "q", IFACE, "Agent 1001", 1, paused, reason, False,
                              change)


def test_pause_during_call_shows_after_the_call_and_wrapup_uses_queue_setting() -> None:
    b, a = board()
    b.apply(member("added"), 100.0)
    assert a.state.value == "available"
    b.apply(AgentRinging("pbx1", 0, "L1", "q", IFACE, "Agent 1001", "PJSIP/agent1001-1", "138",
                         "1", 2.0), 101.0)
    assert a.state.value == "ringing"
    b.apply(CallAnswered("pbx1", 0, "L1", "q", IFACE, "Agent 1001", "PJSIP/agent1001-1", 2, 1),
            102.0)
    b.apply(member("pause", True, "lunch"), 103.0)
    assert a.state.value == "on_call"  # a pause asked for during a call waits for its end
    fx = b.apply(AgentCompleted("pbx1", 0, "L1", "q", IFACE, "PJSIP/agent1001-1", 30, "caller"),
                 110.0)
    done = [e for e in fx if isinstance(e, Completed)]
    assert done and done[0].wrap_up_s == 5.0 and a.wrap_up_until == 115.0
    assert a.state.value == "paused" and a.reason == "lunch"
    b.apply(member("pause", False), 111.0)
    assert a.state.value == "wrap_up"
    assert b.expire(114.9) == []
    fx = b.expire(115.0)
    assert [e.agent.state.value for e in fx if isinstance(e, StateChanged)] == ["available"]
    # events for an unknown interface or another call change nothing
    assert b.apply(AgentCompleted("pbx1", 0, "L9", "q", IFACE, "x", 1, "caller"), 116.0) == []
    other = QueueMemberChanged("pbx1", 0, "q", "PJSIP/agent9999", "x", 1, True, "", False, "pause")
    assert b.apply(other, 116.0) == []
    b.apply(member("removed"), 117.0)
    assert a.state.value == "logged_out"


def test_call_vanishing_during_disconnect_ends_the_agents_call() -> None:
    b, a = board()
    b.apply(member("snapshot"), 1.0)
    b.apply(CallAnswered("pbx1", 0, "L2", "q", IFACE, "Agent 1001", "PJSIP/agent1001-2", 2, 1),
            2.0)
    ended = CallEnded("pbx1", 3.0, "L2", "ended_during_disconnect", None)  # type: ignore[arg-type]
    fx = b.apply(ended, 3.0)
    assert any(isinstance(e, CallGone) for e in fx)
    assert a.call is None and a.state.value == "wrap_up"


def test_wallboard_counts_once_and_rolls_over_at_local_midnight() -> None:
    day1 = 1795800000.0  # 2026-11-28 in UTC+8
    w = Wallboard(["q"], now=day1)
    w.apply(QueueJoined("pbx1", day1, "A", "q", 1, "c"), day1)
    w.apply(QueueJoined("pbx1", day1, "B", "q", 2, "c"), day1 + 1)
    assert w.apply(CallAnswered("pbx1", 0, "A", "q", IFACE, "m", "ch", 16, 1), day1 + 20) == (
        "q", "answered", 16.0)
    assert w.apply(CallAnswered("pbx1", 0, "A", "q", IFACE, "m", "ch", 16, 1), day1 + 21) is None
    assert w.apply(QueueAbandoned("pbx1", 0, "B", "q", 1, 9), day1 + 22) == ("q", "abandoned", 9.0)
    b, _ = board()
    row = w.snapshot(b, day1 + 30)[0]
    assert (row["answered_today"], row["answered_in_sl_today"], row["abandoned_today"],
            row["service_level_today"], row["waiting"]) == (1, 0, 1, 0.0, 0)
    row = w.snapshot(b, day1 + 86400)[0]
    assert (row["answered_today"], row["abandoned_today"], row["service_level_today"]) == (
        0, 0, None)
