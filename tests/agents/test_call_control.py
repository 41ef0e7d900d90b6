"""Call control over real AMI TCP: the actions sent for blind / attended transfer, three-way
call and supervisor monitoring, and the error mapping (409 / 404 / 422 / 502 / 504)."""

from __future__ import annotations

from typing import Any

from agents.service import ConsoleService
from tests.agents.conftest import QueueSim, make_agent, quick_client, until
from tests.agents.scripted import ScriptedCall
from tests.fakes.fake_ami import FakeAmi


def last(fake: FakeAmi, action: str) -> dict[str, str]:
    hits = [a for a in fake.actions if a.get("Action") == action]
    assert hits, f"no {action} sent"
    return hits[-1]


async def on_call(fake: FakeAmi, svc: ConsoleService, agent: Any, n: int = 1) -> ScriptedCall:
    r = await agent.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
    assert r.status == 200, await r.text()
    c = ScriptedCall(n, "13800138000", agent.user["extension"])
    for e in c.arrive() + c.ring() + c.answer():
        fake.send_event(e)
    live = svc.board.by_user[agent.user["id"]]
    await until(lambda: live.state.value == "on_call", what="on call")
    return c


async def err(resp: Any, status: int) -> str:
    body = await resp.json()
    assert resp.status == status, body
    return body["error"]["code"]


async def test_blind_transfer(fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any,
                              pool: Any) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    bob = await make_agent(users, svc, pool, "bob", "1002")
    # no active call → 409, and nothing sent
    n = len(fake.actions)
    assert await err(await bob.post("/api/agents/me/call/blind-transfer",
                                    json={"exten": "2001"}), 409) == "no_active_call"
    assert len(fake.actions) == n
    c = await on_call(fake, svc, alice)

    fake.handlers["BlindTransfer"] = lambda a: [[("Response", "Success"),
                                                 ("Message", "Transfer succeeded")]]
    r = await alice.post("/api/agents/me/call/blind-transfer", json={"unit_code": "CZ-SW"})
    assert r.status == 200, await r.text()
    bt = last(fake, "BlindTransfer")
    # the transferer (agent) channel, not the citizen's (obs. 13)
    assert (bt["Channel"], bt["Context"], bt["Exten"]) == (c.agent_channel, "hotline-internal",
                                                           "2001")
    assert (await r.json())["asterisk"] == "Transfer succeeded"

    n = len(fake.actions)
    assert await err(await alice.post("/api/agents/me/call/blind-transfer",
                                      json={"unit_code": "CZ-NOPE"}), 404) == "unknown_target"
    assert await err(await alice.post("/api/agents/me/call/blind-transfer",
                                      json={"exten": "20 01;x"}), 422) == "bad_target"
    assert await err(await alice.post("/api/agents/me/call/blind-transfer",
                                      json={}), 422) == "bad_target"
    assert len(fake.actions) == n
    fake.handlers["BlindTransfer"] = lambda a: [[("Response", "Error"),
                                                 ("Message", "No such channel")]]
    r = await alice.post("/api/agents/me/call/blind-transfer", json={"exten": "2001"})
    assert await err(r, 502) == "pbx_refused"
    fake.handlers["BlindTransfer"] = lambda a: []
    r = await alice.post("/api/agents/me/call/blind-transfer", json={"exten": "2001"})
    assert await err(r, 504) == "pbx_timeout"


async def test_attended_transfer_cancel_and_complete(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    c = await on_call(fake, svc, alice)
    assert await err(await alice.post("/api/agents/me/call/attended-transfer/cancel"),
                     409) == "no_transfer"
    fake.handlers["Atxfer"] = lambda a: [[("Response", "Success"),
                                          ("Message", "Atxfer successfully queued")]]
    r = await alice.post("/api/agents/me/call/attended-transfer", json={"exten": "2001"})
    assert r.status == 200, await r.text()
    ax = last(fake, "Atxfer")
    assert (ax["Channel"], ax["Context"], ax["Exten"]) == (c.agent_channel, "hotline-internal",
                                                           "2001")
    # a second one while consulting is refused
    assert await err(await alice.post("/api/agents/me/call/attended-transfer",
                                      json={"exten": "2002"}), 409) == "transfer_in_progress"
    # the consult leg does not exist yet → 409, try again
    assert await err(await alice.post("/api/agents/me/call/attended-transfer/cancel"),
                     409) == "consult_not_ready"
    # Asterisk creates the Local pair in the call's Linkedid (trace 07)
    for i, suffix in ((30, ";1"), (31, ";2")):
        fake.send_event([("Event", "Newchannel"), ("Channel",
                         f"Local/2001@hotline-internal-00000000{suffix}"),
                         ("ChannelState", "0"), ("Context", "hotline-internal"),
                         ("Exten", "2001"), ("Uniqueid", f"pbx1-1795900001.{i}"),
                         ("Linkedid", c.linkedid)])
    await until(lambda: any(ch.startswith("Local/") for ch in
                            svc.pbx.tracker.get(("pbx1", c.linkedid)).channels))  # type: ignore[union-attr]
    r = await alice.post("/api/agents/me/call/attended-transfer/cancel")
    assert r.status == 200, await r.text()
    h = last(fake, "Hangup")
    assert h["Channel"] == "Local/2001@hotline-internal-00000000;1"

    r = await alice.post("/api/agents/me/call/attended-transfer", json={"exten": "2001"})
    assert r.status == 200
    r = await alice.post("/api/agents/me/call/attended-transfer/complete")
    assert r.status == 200, await r.text()
    # completing = the agent (transferer) hangs up; Asterisk bridges citizen and target
    assert last(fake, "Hangup")["Channel"] == c.agent_channel


async def test_three_way_call(fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any,
                              pool: Any) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    c = await on_call(fake, svc, alice)

    def originate(a: dict[str, str]) -> list[list[tuple[str, str]]]:
        return [[("Response", "Success"), ("Message", "Originate successfully queued")],
                [("Event", "OriginateResponse"), ("Response", "Success"),
                 ("Channel", "PJSIP/unit2001-0000000c"), ("Context", a["Context"]),
                 ("Exten", a["Exten"]), ("Reason", "4"), ("Uniqueid", "pbx1-1795900002.40")]]

    fake.handlers["Redirect"] = lambda a: [[("Response", "Success"),
                                            ("Message", "Dual Redirect successful")]]
    fake.handlers["Originate"] = originate
    r = await alice.post("/api/agents/me/call/three-way", json={"unit_code": "CZ-SW"})
    assert r.status == 200, await r.text()
    room = "room-" + c.linkedid.replace(".", "_")
    rd = last(fake, "Redirect")
    assert rd == {**rd, "Channel": c.citizen, "ExtraChannel": c.agent_channel,
                  "Context": "hotline-conf", "Exten": room, "Priority": "1",
                  "ExtraContext": "hotline-conf", "ExtraExten": room, "ExtraPriority": "1"}
    og = last(fake, "Originate")
    assert og == {**og, "Channel": "Local/2001@hotline-internal", "Context": "hotline-conf",
                  "Exten": room, "Async": "true"}
    assert og["Variable"] == f"HOTLINE_CALLID={c.linkedid}"
    assert (await r.json())["unit_channel"] == "PJSIP/unit2001-0000000c"
    # the agent may leave; the citizen and the unit stay in the room
    r = await alice.post("/api/agents/me/call/leave")
    assert r.status == 200
    assert last(fake, "Hangup")["Channel"] == c.agent_channel

    # the unit does not answer: OriginateResponse Failure Reason 3 → 502
    fake.handlers["Originate"] = lambda a: [
        [("Response", "Success"), ("Message", "Originate successfully queued")],
        [("Event", "OriginateResponse"), ("Response", "Failure"),
         ("Channel", "Local/2001@hotline-internal"), ("Reason", "3"),
         ("Uniqueid", "<unknown>")]]
    r = await alice.post("/api/agents/me/call/three-way", json={"exten": "2001"})
    assert r.status == 502
    assert (await r.json())["error"]["message"] == "呼叫成员单位失败: 无人接听"


async def test_supervisor_listen_whisper_barge(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    bob = await make_agent(users, svc, pool, "bob", "1002")
    sup = await quick_client(users, pool, "sup", "supervisor", extension="9001")
    fake.handlers["Originate"] = lambda a: [
        [("Response", "Success"), ("Message", "Originate successfully queued")],
        [("Event", "OriginateResponse"), ("Response", "Success"),
         ("Channel", "PJSIP/sup9001-0000001d"), ("Reason", "4"),
         ("Uniqueid", "pbx1-1795900003.50")]]
    # not on a call → 409; unknown agent → 404; agents may not spy → 403
    assert await err(await sup.post(f"/api/agents/{bob.agent_id}/monitor",
                                    json={"mode": "listen"}), 409) == "no_active_call"
    assert await err(await sup.post("/api/agents/99999/monitor", json={"mode": "listen"}),
                     404) == "unknown_agent"
    assert (await alice.post(f"/api/agents/{bob.agent_id}/monitor",
                             json={"mode": "listen"})).status == 403
    assert (await sup.post(f"/api/agents/{bob.agent_id}/monitor",
                           json={"mode": "spy"})).status == 400
    c = await on_call(fake, svc, alice)
    for mode in ("listen", "whisper", "barge"):
        r = await sup.post(f"/api/agents/{alice.agent_id}/monitor", json={"mode": mode})
        assert r.status == 200, await r.text()
        og = last(fake, "Originate")
        assert og == {**og, "Channel": "Local/9001@hotline-internal",
                      "Context": "hotline-supervisor", "Exten": mode, "Priority": "1",
                      "Variable": f"SPY_TARGET={c.agent_channel},HOTLINE_CALLID={c.linkedid}"}
        assert "Application" not in og
    fake.handlers["Originate"] = lambda a: []
    r = await sup.post(f"/api/agents/{alice.agent_id}/monitor", json={"mode": "listen"})
    assert await err(r, 504) == "pbx_timeout"
