"""The /api/ws WebSocket over real TCP: authentication, per-agent addressing (agent A never gets
agent B's pop), two tabs of one user, screen-pop content, ring cancel reasons, fan-out APIs."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from agents.service import ConsoleService
from tests.agents.conftest import (
    FakeOrders,
    QueueSim,
    WsReader,
    make_agent,
    quick_client,
    until,
)
from tests.agents.scripted import ScriptedCall
from tests.fakes.fake_ami import FakeAmi


async def logged_in(agent: Any, svc: ConsoleService) -> None:
    r = await agent.post("/api/agents/me/login", json={"queues": ["hotline-general"]})
    assert r.status == 200, await r.text()
    live = svc.board.by_user[agent.user["id"]]
    await until(lambda: live.state.value == "available", what="available")


def play(fake: FakeAmi, events: list[list[tuple[str, str]]]) -> None:
    for e in events:
        fake.send_event(e)


async def test_ws_requires_auth_and_says_hello(client: Any, users: Any, svc: ConsoleService,
                                               pool: Any) -> None:
    r = await client.get("/api/ws")
    assert r.status == 401
    try:
        await client.ws_connect("/api/ws")
        raise AssertionError("upgrade without credentials must fail")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 401
    alice = await make_agent(users, svc, pool, "alice", "1001")
    ws = WsReader(await alice.ws_connect("/api/ws"))
    hello = await ws.wait("hello")
    assert hello["user"]["username"] == "alice" and hello["user"]["extension"] == "1001"
    assert hello["topics"] == ["agent", "orders"] and "ts" in hello
    state = await ws.wait("agent.state")
    assert state["state"] == "logged_out" and state["username"] == "alice"
    assert state["since"] is None  # no change seen yet: unknown, not the epoch
    # bad messages get an error, the socket stays open
    await ws.ws.send_str("{not json")
    await ws.ws.send_json({"type": "dance"})
    await ws.ws.send_json({"type": "subscribe", "topics": ["wallboard"]})
    await ws.ws.send_json({"type": "ping", "id": 42})
    pong = await ws.wait("pong")
    assert pong["id"] == 42
    codes = [m["code"] for m in ws.of("error")]
    assert codes == ["invalid_json", "unknown_type", "forbidden_topic"]
    await ws.close()

    # session cookie (browser) works too
    await users.create("sup", "supervisor")
    r = await client.post("/api/auth/login", json={"username": "sup",
                                                   "password": users.passwords["sup"]})
    assert r.status == 200, await r.text()
    ws2 = WsReader(await client.ws_connect("/api/ws"))
    hello = await ws2.wait("hello")
    assert hello["user"]["role"] == "supervisor" and "wallboard" in hello["topics"]
    await ws2.wait("queue.stats")
    await ws2.close()


async def test_pop_isolation_two_tabs_and_lifecycle(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any,
    orders: FakeOrders,
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    bob = await make_agent(users, svc, pool, "bob", "1002")
    await logged_in(alice, svc)
    await logged_in(bob, svc)
    orders.by_number["13800138000"] = [
        {"order_no": "CZ20261101-0001", "state": "closed", "category": "咨询",
         "summary": "停水", "deadline": "2026-11-05T17:00:00+08:00", "overdue": False,
         "open": False},
        {"order_no": "CZ20261120-0042", "state": "handling", "category": "投诉",
         "summary": "噪音", "deadline": "2026-11-27T17:00:00+08:00", "overdue": True,
         "open": True},
    ]
    a1 = WsReader(await alice.ws_connect("/api/ws"))
    a2 = WsReader(await alice.ws_connect("/api/ws"))  # the same agent in a second tab
    b1 = WsReader(await bob.ws_connect("/api/ws"))
    for w in (a1, a2, b1):
        await w.wait("hello")

    x = ScriptedCall(1, "13800138000", "1001")  # rings alice
    y = ScriptedCall(2, "13900139000", "1002")  # rings bob
    play(fake, x.arrive() + y.arrive() + x.ring() + y.ring())
    pa = await a1.wait("call.ringing")
    pa2 = await a2.wait("call.ringing")
    pb = await b1.wait("call.ringing")
    assert pa["call_id"] == pa2["call_id"] == x.call_id
    assert pb["call_id"] == y.call_id
    # the pop: caller, IVR choice, earlier orders (open first), suggestions
    assert pa["caller"] == "13800138000" and pa["queue"] == "hotline-general"
    assert pa["ivr"]["choice"] == "1" and pa["ivr"]["choice_label"] == "咨询"
    assert [o["order_no"] for o in pa["orders"]] == ["CZ20261120-0042", "CZ20261101-0001"]
    assert pa["suggestions"][0]["title"] == "自来水停水查询"
    assert pb["caller"] == "13900139000" and pb["orders"] == []

    play(fake, x.answer() + x.complete(reason="caller") + x.hangup())
    ans = await a1.wait("call.answered")
    await a2.wait("call.answered")
    assert ans["call_id"] == x.call_id and ans["hold_s"] == 3
    assert ans["draft"]["citizen_phone"] == "13800138000"
    ended = await a1.wait("call.ended")
    assert ended == {**ended, "call_id": x.call_id, "disposition": "completed",
                     "cause": "caller", "talk_s": 6, "wrap_up_s": 0.4}
    states = await until(lambda: [m["state"] for m in a1.of("agent.state")][-1] == "available"
                         and [m["state"] for m in a1.of("agent.state")], what="alice states")
    assert states == ["available", "ringing", "on_call", "wrap_up", "available"]

    # Bob's call is abandoned while ringing (trace 03b): DialEnd CANCEL then the abandon
    play(fake, y.abandon_while_ringing())
    cancel = await b1.wait("call.ring_cancelled")
    assert cancel == {**cancel, "call_id": y.call_id, "reason": "abandoned"}

    await asyncio.sleep(0.2)
    # isolation: nothing of Bob's call reached Alice's tabs and vice versa
    for w, mine in ((a1, x), (a2, x), (b1, y)):
        ids = {m.get("call_id") for m in w.msgs if m["type"].startswith("call.")}
        assert ids == {mine.call_id}, (ids, mine.call_id)
        assert all(m.get("username") != ("bob" if mine is x else "alice")
                   for m in w.of("agent.state"))
    for w in (a1, a2, b1):
        await w.close()


async def test_reconnect_gets_current_pop_and_ring_no_answer(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    bob = await make_agent(users, svc, pool, "bob", "1002")
    await logged_in(alice, svc)
    await logged_in(bob, svc)
    c = ScriptedCall(5, "13700137000", "1001")
    play(fake, c.arrive() + c.ring())
    await until(lambda: alice.user["id"] in svc.current_pop, what="pop assembled")
    # a tab opened while the phone rings gets the pop at once
    a = WsReader(await alice.ws_connect("/api/ws"))
    pop = await a.wait("call.ringing")
    assert pop["call_id"] == c.call_id
    # ring-no-answer (trace 04): AgentRingNoAnswer → reason no_answer, then Bob is rung
    c2 = ScriptedCall(5, "13700137000", "1002")
    rna = [("Event", "AgentRingNoAnswer"), ("Uniqueid", c.linkedid), ("Linkedid", c.linkedid),
           ("Channel", c.citizen), ("DestChannel", c.agent_channel),
           ("DestUniqueid", c.agent_uid), ("Queue", "hotline-general"),
           ("Interface", "PJSIP/agent1001"), ("MemberName", "Agent 1001"), ("RingTime", "8000")]
    fake.send_event(rna)
    cancel = await a.wait("call.ring_cancelled")
    assert cancel["reason"] == "no_answer"
    b = WsReader(await bob.ws_connect("/api/ws"))
    await b.wait("hello")
    c2_agent_uid = "pbx1-1795900000.99"
    ring2 = [[(k, c2_agent_uid if v == c2.agent_uid else v) for k, v in e] for e in c2.ring()]
    play(fake, ring2)
    pb = await b.wait("call.ringing")
    assert pb["call_id"] == c.call_id
    assert all(m["type"] != "call.ringing" for m in a.msgs[a.msgs.index(cancel):])
    await a.close()
    await b.close()


async def test_order_and_transcript_fanout(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    bob = await make_agent(users, svc, pool, "bob", "1002")
    await logged_in(alice, svc)
    await pool.execute("INSERT INTO member_units (code, name, short, kind) VALUES "
                       "('CZ-SW', '常州市水务局', '水务', 'department'), "
                       "('CZ-ZJJ', '常州市住建局', '住建', 'department') ON CONFLICT DO NOTHING")
    water = await quick_client(users, pool, "water1", "unit_staff", unit_code="CZ-SW")
    housing = await quick_client(users, pool, "house1", "unit_staff", unit_code="CZ-ZJJ")
    ws = {n: WsReader(await c.ws_connect("/api/ws"))
          for n, c in (("alice", alice), ("bob", bob), ("water", water), ("housing", housing))}
    for w in ws.values():
        await w.wait("hello")
    n = svc.publish_order_updated(order_no="CZ20261128-0007", state="dispatched", version=3,
                                  units=[{"unit_code": "CZ-SW", "state": "pending_sign"}],
                                  action="dispatch")
    assert n == 3
    for name in ("alice", "bob", "water"):
        m = await ws[name].wait("order.updated")
        assert m["order_no"] == "CZ20261128-0007" and m["units"][0]["unit_code"] == "CZ-SW"
    await asyncio.sleep(0.1)
    assert ws["housing"].of("order.updated") == []

    c = ScriptedCall(9, "13600136000", "1001")
    play(fake, c.arrive() + c.ring() + c.answer())
    await ws["alice"].wait("call.answered")
    sent = svc.publish_transcript_line(c.call_id, speaker="citizen", text="我家停水了",
                                       final=True, start_s=0.5, end_s=1.7)
    assert sent == 1
    line = await ws["alice"].wait("transcript.line")
    assert line["text"] == "我家停水了" and line["speaker"] == "citizen"
    assert svc.publish_draft_updated(c.call_id, {"content": "停水"}) == 1
    await ws["alice"].wait("draft.updated")
    await asyncio.sleep(0.1)
    assert ws["bob"].of("transcript.line") == [] and ws["bob"].of("draft.updated") == []
    assert svc.publish_transcript_line("pbx1:nobody", speaker="agent", text="x", final=False,
                                       start_s=0, end_s=1) == 0
    for w in ws.values():
        await w.close()


async def test_slow_order_lookup_does_not_delay_the_pop(
    fake: FakeAmi, qsim: QueueSim, svc: ConsoleService, users: Any, pool: Any,
    orders: FakeOrders,
) -> None:
    alice = await make_agent(users, svc, pool, "alice", "1001")
    await logged_in(alice, svc)
    orders.by_number["13500135000"] = [{"order_no": "CZ1", "state": "handling", "open": True}]
    orders.delay = 1.0  # the workflow database is slow today
    ws = WsReader(await alice.ws_connect("/api/ws"))
    await ws.wait("hello")
    c = ScriptedCall(7, "13500135000", "1001")
    for e in c.arrive():
        fake.send_event(e)
    await asyncio.sleep(0.05)
    t0 = asyncio.get_running_loop().time()
    for e in c.ring():
        fake.send_event(e)
    pop = await ws.wait("call.ringing")
    elapsed = asyncio.get_running_loop().time() - t0
    # sent after the 50 ms budget without the orders, flagged partial, long before 1 s
    assert pop["partial"] is True and pop["orders"] == [] and pop["suggestions"]
    assert elapsed < 0.5, elapsed
    await ws.close()


async def test_a_tab_that_stops_reading_is_closed_so_it_reconnects(
        users: Any, svc: ConsoleService, pool: Any) -> None:  # fmt: skip
    alice = await make_agent(users, svc, pool, "slowtab", "1009")
    ws = await alice.ws_connect("/api/ws")
    await until(lambda: alice.user["id"] in svc.hub.by_user, what="connected")
    (conn,) = svc.hub.by_user[alice.user["id"]]
    conn.task.cancel()  # its writer is stuck (a background tab on a slow link)
    conn.queue = asyncio.Queue(2)
    for i in range(5):
        svc.hub.to_user(alice.user["id"], "call.ringing", {"call_id": f"x{i}"})
    closed = None
    async for msg in ws:
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.CLOSING):  # fmt: skip
            closed = msg
            break
    assert ws.closed and ws.close_code == 1013, (closed, ws.close_code)
    await until(lambda: alice.user["id"] not in svc.hub.by_user, what="removed from the hub")


async def test_cross_origin_upgrade_is_refused(users: Any, svc: ConsoleService, pool: Any,
                                               client: Any) -> None:  # fmt: skip
    alice = await make_agent(users, svc, pool, "origin", "1010")
    try:
        await alice.ws_connect("/api/ws", headers={"Origin": "https://evil.example"})
        raise AssertionError("a cross-origin upgrade must fail")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 403
    host = str(client.make_url("")).split("//", 1)[1].rstrip("/")
    ws = await alice.ws_connect("/api/ws", headers={"Origin": f"http://{host}"})
    await ws.close()


async def test_socket_closes_when_its_session_is_revoked(users: Any, svc: ConsoleService,
                                                        pool: Any, app: Any,
                                                        monkeypatch: Any) -> None:  # fmt: skip
    import agents.ws
    from hotline.keys import USERS

    monkeypatch.setattr(agents.ws, "SESSION_RECHECK_S", 0.1)
    alice = await make_agent(users, svc, pool, "revoked", "1011")
    ws = WsReader(await alice.ws_connect("/api/ws"))
    await ws.wait("hello")
    await asyncio.sleep(0.3)
    assert not ws.ws.closed  # a live session keeps its socket
    await app[USERS].revoke(alice.token)  # logout / disabled user / password change
    await until(lambda: ws.ws.closed, timeout=5.0, what="socket closed after revocation")
    assert ws.ws.close_code == 1008
