"""Access to call data: an agent sees only the calls answered at the agent's own interface or
linked to a work order; others get 404 (existence is not revealed)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from recordings.registry import REGISTER_KIND
from recordings.service import RECORDINGS
from tests.recordings.helpers import drain, mixmonitor_files
from tests.recordings.test_reconcile import insert_call

CALL = "pbx1:1795837952.41"


async def add_agent(pool, user_id: int, interface: str) -> None:
    await pool.execute(
        """INSERT INTO agents (user_id, server, interface, extension, member_name)
           VALUES ($1, 'pbx1', $2, $3, $2)""", user_id, interface, interface.split("/")[1])


async def _call_of_agent_a(app, users):
    rec = app[RECORDINGS]
    pool = rec.registry.pool
    a = await users.create_client("agent-a", "agent")
    b = await users.create_client("agent-b", "agent")
    await add_agent(pool, a.user["id"], "PJSIP/1001")
    await add_agent(pool, b.user["id"], "PJSIP/1002")
    await insert_call(pool, "pbx1", CALL.split(":")[1], ended_ago=timedelta(minutes=1),
                      recordings=[], agent="PJSIP/1001")
    files = mixmonitor_files(rec.root, "1795837952.41", seconds=0.3)
    await rec.registry.call_ended(CALL, files, server_id="pbx1")
    await drain(rec.queue, {REGISTER_KIND: rec.registry.handle_register})
    tid = await pool.fetchval(
        """INSERT INTO transcripts (call_id, lines, citizen_text, engine)
           VALUES ($1, '[]', '我 要 投诉', 'fake') RETURNING id""", CALL)
    await pool.execute(
        """INSERT INTO order_drafts (call_id, transcript_id, proposed, current)
           VALUES ($1, $2, '{"summary": "投诉"}', '{"summary": "投诉"}')""", CALL, tid)
    rid = await pool.fetchval(
        "SELECT id FROM recordings WHERE call_id = $1 AND direction = 'citizen'", CALL)
    return a, b, rid


async def test_other_agent_gets_404_owner_and_supervisor_200(app, client, users) -> None:
    a, b, rid = await _call_of_agent_a(app, users)
    sup = await users.create_client("sup-x", "supervisor")
    auditor = await users.create_client("aud-x", "auditor")
    reads = [f"/api/calls/{CALL}/recordings", f"/api/calls/{CALL}/transcript",
             f"/api/calls/{CALL}/draft", f"/api/recordings/{rid}/audio"]
    for path in reads:
        resp = await b.get(path)
        assert resp.status == 404, path
        assert (await resp.json())["error"]["code"] in ("call_not_found",
                                                        "recording_not_available")
        assert (await a.get(path)).status == 200, path
        assert (await sup.get(path)).status == 200, path
    for path in reads[:2]:  # auditors keep their read-only routes
        assert (await auditor.get(path)).status == 200, path
    # Unknown calls answer exactly like hidden ones.
    unknown = await b.get("/api/calls/pbx1:404.404/transcript")
    assert unknown.status == 404 and (await unknown.json())["error"]["code"] == "call_not_found"

    resp = await b.patch(f"/api/calls/{CALL}/draft", json={"summary": "改掉"})
    assert resp.status == 404
    assert (await b.post(f"/api/calls/{CALL}/draft/confirm")).status == 404
    pool = app[RECORDINGS].registry.pool
    assert await pool.fetchval("SELECT version FROM order_drafts WHERE call_id = $1", CALL) == 1
    resp = await a.patch(f"/api/calls/{CALL}/draft", json={"summary": "夜间施工"})
    assert resp.status == 200 and (await resp.json())["current"]["summary"] == "夜间施工"
    resp = await sup.patch(f"/api/calls/{CALL}/draft", json={"summary": "夜间施工扰民"})
    assert resp.status == 200


async def test_live_transcript_hidden_from_other_agents(app, client, users) -> None:
    a, b, _ = await _call_of_agent_a(app, users)
    resp = await b.get(f"/api/calls/{CALL}/live-transcript")
    assert resp.status == 404
    hub = app[RECORDINGS].hub
    async with a.ws_connect(f"/api/calls/{CALL}/live-transcript") as ws:
        for _ in range(100):
            if hub._subs.get(CALL):
                break
            await asyncio.sleep(0.01)
        hub.publish(CALL, {"type": "end", "reason": "caller_hangup", "speaker": "citizen"})
        assert (await ws.receive_json(timeout=5))["type"] == "end"


async def test_call_on_a_work_order_is_visible_to_every_agent(app, client, users) -> None:
    _, b, _ = await _call_of_agent_a(app, users)
    assert (await b.get(f"/api/calls/{CALL}/transcript")).status == 404
    await app[RECORDINGS].links.link_order(CALL, "CZ20261128-000001")
    assert (await b.get(f"/api/calls/{CALL}/transcript")).status == 200
