"""Queue login / pause / logout over real AMI TCP to the fake Asterisk, with the real database;
re-adding intended members after an Asterisk restart."""

from __future__ import annotations

from typing import Any

from agents.service import ConsoleService
from agents.store import AgentStore
from tests.agents.conftest import QueueSim, make_agent, quick_client, until
from tests.fakes.fake_ami import FakeAmi


def sent(fake: FakeAmi, action: str) -> list[dict[str, str]]:
    return [a for a in fake.actions if a.get("Action") == action]


async def test_login_pause_logout_headers_and_states(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    live = svc.board.by_user[alice.user["id"]]
    assert live.state.value == "logged_out"

    r = await alice.post("/api/agents/me/login", json={"queues": ["hotline-general",
                                                                   "hotline-consult"]})
    assert r.status == 200, await r.text()
    adds = sent(fake, "QueueAdd")
    assert [a["Queue"] for a in adds] == ["hotline-general", "hotline-consult"]
    for a in adds:
        assert a["Interface"] == "PJSIP/agent1001"
        assert a["StateInterface"] == "PJSIP/agent1001"
        assert a["MemberName"] == "Agent 1001"
        assert a["Paused"] == "false" and a["Penalty"] == "0"
    body = await r.json()
    assert body["intended_queues"] == ["hotline-consult", "hotline-general"]
    await until(lambda: live.state.value == "available", what="available")

    # pause with a reason: one QueuePause without Queue: (pauses every queue, obs. 11)
    r = await alice.post("/api/agents/me/pause", json={"paused": True, "reason": "午餐"})
    assert r.status == 200, await r.text()
    p = sent(fake, "QueuePause")[-1]
    assert p == {**p, "Interface": "PJSIP/agent1001", "Paused": "true", "Reason": "午餐"}
    assert "Queue" not in p
    await until(lambda: live.state.value == "paused", what="paused")
    assert live.pause_reason == "午餐"
    # a pause needs a reason; nothing is sent
    n = len(fake.actions)
    r = await alice.post("/api/agents/me/pause", json={"paused": True, "reason": "  "})
    assert r.status == 422 and len(fake.actions) == n

    r = await alice.post("/api/agents/me/pause", json={"paused": False})
    assert r.status == 200
    assert sent(fake, "QueuePause")[-1]["Paused"] == "false"
    await until(lambda: live.state.value == "available", what="unpaused")

    r = await alice.post("/api/agents/me/logout", json={})
    assert r.status == 200, await r.text()
    assert sorted(a["Queue"] for a in sent(fake, "QueueRemove")) == [
        "hotline-consult", "hotline-general"]
    assert (await r.json())["intended_queues"] == []
    await until(lambda: live.state.value == "logged_out", what="logged out")

    # every state change was logged with its time
    await svc.flush()
    rows = await pool.fetch(
        "SELECT state, reason, ended_at FROM agent_state_log WHERE agent_id = $1 ORDER BY id",
        alice.agent_id)
    states = [r["state"] for r in rows]
    assert states == ["available", "paused", "available", "logged_out"]
    assert rows[1]["reason"] == "午餐"
    assert all(r["ended_at"] is not None for r in rows[:-1]) and rows[-1]["ended_at"] is None

    me = await (await alice.get("/api/agents/me")).json()
    assert set(me["time_in_state_today"]) == {"available", "paused", "logged_out"}


async def test_login_errors_change_nothing(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    bob = await make_agent(users, svc, pool, "bob", "1002")
    # unknown queue: 422 before anything reaches Asterisk
    r = await bob.post("/api/agents/me/login", json={"queues": ["no-such-queue"]})
    assert r.status == 422 and (await r.json())["error"]["code"] == "unknown_queue"
    assert sent(fake, "QueueAdd") == []
    # Asterisk refuses (queue known to us but not loaded there): 502 with Asterisk's message,
    # the member added before the failure is removed again, no intent stored
    r = await bob.post("/api/agents/me/login", json={"queues": ["hotline-general",
                                                                 "hotline-report"]})
    assert r.status == 502
    err = (await r.json())["error"]
    assert err["code"] == "pbx_refused" and "No such queue" in err["details"]["asterisk"]
    assert [a["Queue"] for a in sent(fake, "QueueRemove")] == ["hotline-general"]
    assert await pool.fetchval("SELECT count(*) FROM agent_queue_logins") == 0
    # Asterisk does not answer: 504
    fake.handlers["QueueAdd"] = lambda a: []
    r = await bob.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
    assert r.status == 504 and (await r.json())["error"]["code"] == "pbx_timeout"
    assert await pool.fetchval("SELECT count(*) FROM agent_queue_logins") == 0
    # not an agent at all
    carol = await quick_client(users, pool, "carol", "agent")
    r = await carol.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
    assert r.status == 404 and (await r.json())["error"]["code"] == "not_an_agent"
    # malformed body
    r = await bob.post("/api/agents/me/login", json={"queues": "hotline-general"})
    assert r.status == 400


async def test_members_readded_after_asterisk_restart(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    live = svc.board.by_user[alice.user["id"]]
    r = await alice.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
    assert r.status == 200
    r = await alice.post("/api/agents/me/pause", json={"paused": True, "reason": "培训"})
    assert r.status == 200
    await until(lambda: live.state.value == "paused")
    logins = fake.logins
    adds_before = len(sent(fake, "QueueAdd"))

    qsim.restart()
    await fake.restart()  # drops the link, forgets channels and queue members
    await fake.wait_login(logins + 1, timeout=3.0)
    # the backend adds the member back, paused with the same reason
    await until(lambda: ("hotline-general", "PJSIP/agent1001") in qsim.members, what="re-add")
    readd = sent(fake, "QueueAdd")[adds_before:]
    assert [(a["Queue"], a["Interface"], a["MemberName"], a["StateInterface"]) for a in readd] == [
        ("hotline-general", "PJSIP/agent1001", "Agent 1001", "PJSIP/agent1001")]
    await until(lambda: qsim.members[("hotline-general", "PJSIP/agent1001")]["PausedReason"]
                == "培训", what="re-paused")
    await until(lambda: live.state.value == "paused" and live.queues == {"hotline-general"})

    # a plain reconnect where Asterisk kept the member: nothing is added twice
    adds_before = len(sent(fake, "QueueAdd"))
    fake.drop()
    await fake.wait_login(logins + 2, timeout=3.0)
    await until(lambda: svc.pbx is not None and fake.clients == 1)
    await until(lambda: live.queues == {"hotline-general"})
    assert len(sent(fake, "QueueAdd")) == adds_before


async def test_service_start_reads_members_and_readds_missing(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any, tel: Any
) -> None:
    """The backend restarts while Asterisk keeps running: membership is read at start-up (the
    link's own resync happened before the service subscribed) and intents Asterisk lacks are
    added back."""
    alice = await make_agent(users, svc, pool, "alice", "1001")
    await tel.send_action("pbx1", "QueueAdd", {"Queue": "hotline-general",
                                               "Interface": "PJSIP/agent1001",
                                               "MemberName": "Agent 1001"})
    store = AgentStore(pool)
    await store.set_queue(alice.agent_id, "hotline-general", True)
    await store.set_queue(alice.agent_id, "hotline-consult", True)
    adds = len(sent(fake, "QueueAdd"))
    fresh = ConsoleService(store, tel)
    await fresh.start()
    try:
        live = fresh.board.by_user[alice.user["id"]]
        await until(lambda: live.queues == {"hotline-general", "hotline-consult"},
                    what="membership read and consult re-added")
        assert [a["Queue"] for a in sent(fake, "QueueAdd")[adds:]] == ["hotline-consult"]
        assert live.state.value == "available"
    finally:
        await fresh.stop()
