"""Agent states derived from the captured Asterisk 22 traces, replayed by the fake Asterisk over
TCP through the real tracker and event bus, logged in the real database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agents.service import ConsoleService
from tests.agents.conftest import QueueSim, WsReader, make_agent, until
from tests.conftest import TRACES
from tests.fakes.fake_ami import FakeAmi, live_event_blocks


async def paced_replay(fake: FakeAmi, trace: str, readers: list[WsReader]) -> None:
    """Replay a trace's live events, waiting after each AgentCalled until the pop arrived: the
    replay is otherwise instantaneous, and a pop for a ring that already ended is (rightly)
    dropped."""
    for block in live_event_blocks(TRACES / f"{trace}.ami.wire.txt"):
        fake.send_blocks([block])
        if block.startswith(b"Event: AgentCalled\r\n"):
            before = sum(len(r.of("call.ringing")) for r in readers)
            await until(lambda b=before: sum(len(r.of("call.ringing")) for r in readers) > b,
                        what="pop")

# (trace, expected states of agent1001, of agent1002, call.ended causes of 1001, of 1002,
#  ring_cancelled reasons of 1001)
CASES = [
    ("02-inbound-answered", ["ringing", "on_call", "wrap_up", "available"], [],
     ["caller"], [], []),
    # 1001 rings 8 s without answer (AgentRingNoAnswer), then 1002 answers (obs. 8)
    ("04-ring-no-answer", ["ringing", "available"],
     ["ringing", "on_call", "wrap_up", "available"], [], ["caller"], ["no_answer"]),
    ("05-agent-hangs-up-first", ["ringing", "on_call", "wrap_up", "available"], [],
     ["agent"], [], []),
    # (a) both paused with a reason, caller abandons; (b) 1001 rings, caller abandons: there is
    # no AgentRingNoAnswer, the pop is cleared from DialEnd CANCEL + QueueCallerAbandon
    ("03-inbound-abandoned", ["paused", "available", "ringing", "available"],
     ["paused", "available"], [], [], ["abandoned"]),
    ("06-blind-transfer", ["ringing", "on_call", "wrap_up", "available"], [],
     ["transfer"], [], []),
    ("07-attended-transfer", ["ringing", "on_call", "wrap_up", "available"], [],
     ["transfer"], [], []),
    # after the Redirect into ConfBridge, AgentComplete comes only when the agent leaves
    ("08-three-way", ["ringing", "on_call", "wrap_up", "available"], [], ["agent"], [], []),
]


@pytest.mark.parametrize(("trace", "s1001", "s1002", "end1001", "end1002", "cancel1001"), CASES,
                         ids=[c[0] for c in CASES])
async def test_states_from_trace(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any,
    trace: str, s1001: list[str], s1002: list[str], end1001: list[str], end1002: list[str],
    cancel1001: list[str],
) -> None:
    a = await make_agent(users, svc, pool, "a1001", "1001")
    b = await make_agent(users, svc, pool, "a1002", "1002")
    for c in (a, b):
        r = await c.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
        assert r.status == 200, await r.text()
    la, lb = svc.board.by_user[a.user["id"]], svc.board.by_user[b.user["id"]]
    await until(lambda: la.state.value == lb.state.value == "available", what="available")
    wa = WsReader(await a.ws_connect("/api/ws"))
    wb = WsReader(await b.ws_connect("/api/ws"))
    await wa.wait("agent.state")
    await wb.wait("agent.state")

    await paced_replay(fake, trace, [wa, wb])
    await until(lambda: la.wrap_up_until is None and lb.wrap_up_until is None
                and la.state.value in ("available", "paused")
                and lb.state.value in ("available", "paused")
                and la.call is None and lb.call is None, what="calls over")
    await asyncio.sleep(0.6)  # past the 0.4 s wrap-up, pending cancels resolved
    await svc.flush()

    async def logged(agent_id: int) -> list[str]:
        rows = await pool.fetch("SELECT state FROM agent_state_log WHERE agent_id = $1 "
                                "ORDER BY id", agent_id)
        states = [r["state"] for r in rows]
        assert states[0] == "available"  # from the login
        return states[1:]

    assert await logged(a.agent_id) == s1001
    assert await logged(b.agent_id) == s1002
    assert [m["state"] for m in wa.of("agent.state")][1:] == s1001
    assert [m["cause"] for m in wa.of("call.ended")] == end1001
    assert [m["cause"] for m in wb.of("call.ended")] == end1002
    assert [m["reason"] for m in wa.of("call.ring_cancelled")] == cancel1001
    # every pop carries the caller of the trace (the lab citizen)
    for m in wa.of("call.ringing") + wb.of("call.ringing"):
        assert m["caller"] == "13800138000" and m["queue"] == "hotline-general"
    # a pop reached only the agent who was rung
    assert len(wa.of("call.ringing")) == s1001.count("ringing")
    assert len(wb.of("call.ringing")) == s1002.count("ringing")
    await wa.close()
    await wb.close()


async def test_trace_03_paused_reason_shown(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    a = await make_agent(users, svc, pool, "a1001", "1001")
    r = await a.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
    assert r.status == 200
    live = svc.board.by_user[a.user["id"]]
    await fake.replay(TRACES / "03-inbound-abandoned.ami.wire.txt",
                      until=lambda blk: b"QueueCallerAbandon" in blk)
    await until(lambda: live.state.value == "paused")
    assert live.reason == "busy-backoffice"
    stats = {q["queue"]: q for q in svc.stats()}["hotline-general"]
    assert stats["waiting"] == 1 and stats["agents"]["paused"] == 1
