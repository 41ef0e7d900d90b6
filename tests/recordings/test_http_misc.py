"""Holds, alerts and the live-transcript WebSocket over HTTP."""

from __future__ import annotations

import asyncio

from recordings.service import RECORDINGS


async def test_holds_need_supervisor_and_valid_body(app, client, users) -> None:
    sup = await users.create_client("sup", "supervisor")
    agent = await users.create_client("ag", "agent")
    resp = await sup.post("/api/calls/pbx1-1.1/recording-holds", json={"reason": "复议证据"})
    hold = await resp.json()
    assert resp.status == 201 and hold["call_id"] == "pbx1-1.1"
    assert (await sup.post("/api/calls/pbx1-1.1/recording-holds", json={})).status == 400
    assert (await sup.post("/api/calls/pbx1-1.1/recording-holds",
                           json={"reason": "x", "extra": 1})).status == 400
    assert (await agent.post("/api/calls/pbx1-1.1/recording-holds",
                             json={"reason": "x"})).status == 403
    assert (await sup.delete(f"/api/recording-holds/{hold['id']}")).status == 200
    assert (await sup.delete(f"/api/recording-holds/{hold['id']}")).status == 404
    assert (await sup.delete("/api/recording-holds/abc")).status == 400
    pool = app[RECORDINGS].registry.pool
    assert await pool.fetchval("SELECT count(*) FROM recording_holds") == 1


async def test_alerts_listed_for_supervisors(app, client, users) -> None:
    rec = app[RECORDINGS]
    await rec.registry.call_ended("pbx1-2.2", {"mix": "/etc/shadow"})
    sup = await users.create_client("sup2", "supervisor")
    body = await (await sup.get("/api/recordings/alerts")).json()
    assert [a["kind"] for a in body["alerts"]] == ["path_rejected"]


async def test_live_transcript_websocket(app, client, users) -> None:
    hub = app[RECORDINGS].hub
    agent = await users.create_client("ag3", "agent")
    await app[RECORDINGS].links.link_order("pbx1-3.3", "CZ20261128-000003")  # visible to agents
    async with agent.ws_connect("/api/calls/pbx1-3.3/live-transcript") as ws:
        for _ in range(100):  # wait until the handler subscribed
            if hub._subs.get("pbx1-3.3"):
                break
            await asyncio.sleep(0.01)
        hub.publish("pbx1-3.3", {"type": "partial", "text": "我 要", "speaker": "citizen"})
        hub.publish("pbx1-3.3", {"type": "final", "text": "我 要 投诉", "speaker": "citizen",
                                 "start": 0.1, "end": 1.2, "words": []})
        hub.publish("pbx1-3.3", {"type": "end", "reason": "caller_hangup", "speaker": "citizen"})
        got = [await ws.receive_json(timeout=5) for _ in range(3)]
        assert [g["type"] for g in got] == ["partial", "final", "end"]
        assert got[1]["text"] == "我 要 投诉" and got[1]["call_id"] == "pbx1-3.3"
        msg = await ws.receive(timeout=5)
        assert msg.type.name in ("CLOSE", "CLOSED")
    for _ in range(100):  # the handler unsubscribes once it sees the close
        if not hub._subs.get("pbx1-3.3"):
            break
        await asyncio.sleep(0.01)
    assert not hub._subs.get("pbx1-3.3")
    auditor = await users.create_client("au", "auditor")
    resp = await auditor.get("/api/calls/pbx1-3.3/live-transcript")
    assert resp.status == 403
