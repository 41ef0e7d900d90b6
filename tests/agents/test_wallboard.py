"""Wallboard numbers from a scripted sequence of calls, pushed to supervisors and persisted."""

from __future__ import annotations

import asyncio
from typing import Any

from agents.service import ConsoleService
from agents.store import AgentStore
from tests.agents.conftest import QueueSim, WsReader, make_agent, quick_client, until
from tests.agents.scripted import ScriptedCall
from tests.fakes.fake_ami import FakeAmi


async def test_wallboard_from_scripted_calls(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    bob = await make_agent(users, svc, pool, "bob", "1002")
    for a in (alice, bob):
        assert (await a.post("/api/agents/me/login",
                             json={"queues": ["hotline-general"]})).status == 200
    r = await bob.post("/api/agents/me/pause", json={"paused": True, "reason": "培训"})
    assert r.status == 200
    sup = await quick_client(users, pool, "sup", "supervisor")
    wall = WsReader(await sup.ws_connect("/api/ws"))
    await wall.wait("queue.stats")
    agent_ws = WsReader(await alice.ws_connect("/api/ws"))
    await agent_ws.wait("hello")

    fast = ScriptedCall(1, "13800000001", "1001")   # answered after 3 s: within 15 s
    slow = ScriptedCall(2, "13800000002", "1001")   # answered after 20 s
    gone = ScriptedCall(3, "13800000003", "1001")   # abandoned after 7 s
    wait = ScriptedCall(4, "13800000004", "1001")   # still waiting
    seq = (fast.arrive() + fast.ring() + fast.answer(hold=3) + fast.complete() + fast.hangup()
           + slow.arrive() + slow.ring() + slow.answer(hold=20)
           + slow.answer(hold=20)  # a duplicate AgentConnect is not counted twice
           + gone.arrive() + gone.abandon_waiting(hold=7)
           + wait.arrive())
    for e in seq:
        fake.send_event(e)

    def row() -> dict[str, Any] | None:
        for m in reversed(wall.of("queue.stats")):
            for q in m["queues"]:
                if (q["queue"] == "hotline-general" and q["abandoned_today"] == 1
                        and q["answered_today"] == 2 and q["waiting"] == 1
                        and q["agents"]["on_call"] == 1):
                    return q
        return None

    q = await until(row, what="queue.stats push")
    assert q["answered_in_sl_today"] == 1 and q["service_level_today"] == 0.5
    assert q["agents"] == {"available": 0, "ringing": 0, "on_call": 1, "wrap_up": 0,
                           "paused": 1}
    assert q["longest_wait_s"] >= 0
    await asyncio.sleep(0.3)
    r = await sup.get("/api/queues/stats")
    assert r.status == 200
    snap = {x["queue"]: x for x in (await r.json())["queues"]}["hotline-general"]
    assert snap["longest_wait_s"] >= 0.3
    assert (snap["waiting"], snap["answered_today"], snap["abandoned_today"]) == (1, 2, 1)
    # supervisors also get every agent's state; an agent's socket gets no wallboard
    assert {m["username"] for m in wall.of("agent.state")} >= {"alice", "bob"}
    assert agent_ws.of("queue.stats") == []
    assert all(m["username"] == "alice" for m in agent_ws.of("agent.state"))
    # unit staff may not read the wallboard
    await pool.execute("INSERT INTO member_units (code, name, short, kind) VALUES "
                       "('CZ-SW', '常州市水务局', '水务', 'department') ON CONFLICT DO NOTHING")
    unit = await quick_client(users, pool, "w1", "unit_staff", unit_code="CZ-SW")
    assert (await unit.get("/api/queues/stats")).status == 403

    # the outcomes are stored once each and survive a restart of the service
    await svc.flush()
    rows = await pool.fetch("SELECT linkedid, outcome, wait_s FROM queue_call_outcomes "
                            "ORDER BY linkedid")
    assert [(r["linkedid"], r["outcome"], r["wait_s"]) for r in rows] == [
        (fast.linkedid, "answered", 3.0), (slow.linkedid, "answered", 20.0),
        (gone.linkedid, "abandoned", 7.0)]
    fresh = ConsoleService(AgentStore(pool), None)
    await fresh.start()
    try:
        again = {x["queue"]: x for x in fresh.stats()}["hotline-general"]
        assert (again["answered_today"], again["answered_in_sl_today"],
                again["abandoned_today"]) == (2, 1, 1)
    finally:
        await fresh.stop()
    await wall.close()
    await agent_ws.close()
