"""The call record (通话记录) API: the call with its 好差评 rating, recordings, transcript and
orders; the calls behind a work order; the access rule of call data; auditors see masked numbers."""

from __future__ import annotations

from datetime import timedelta

from ivr.pg_store import PgIvrStore
from recordings.registry import REGISTER_KIND
from recordings.service import RECORDINGS
from tests.recordings.helpers import drain, mixmonitor_files
from tests.recordings.test_access import add_agent
from tests.recordings.test_reconcile import insert_call

CALL = "pbx1:1795837952.61"


async def _setup(app, users):
    rec = app[RECORDINGS]
    pool = rec.registry.pool
    a = await users.create_client("agent-cr-a", "agent")
    b = await users.create_client("agent-cr-b", "agent")
    await add_agent(pool, a.user["id"], "PJSIP/1011")
    await insert_call(pool, "pbx1", CALL.split(":")[1], ended_ago=timedelta(minutes=1),
                      recordings=[], agent="PJSIP/1011")
    await pool.execute("UPDATE calls SET caller = '13812345678', queue = 'hotline-complaint'"
                       " WHERE linkedid = $1", CALL.split(":")[1])
    await rec.registry.call_ended(CALL, mixmonitor_files(rec.root, "1795837952.61", seconds=0.3),
                                  server_id="pbx1")
    await drain(rec.queue, {REGISTER_KIND: rec.registry.handle_register})
    return a, b


async def test_call_record_with_rating_recordings_and_orders(app, client, users) -> None:
    a, b = await _setup(app, users)
    pool = app[RECORDINGS].registry.pool
    r = await a.get(f"/api/calls/{CALL}")
    assert r.status == 200
    body = await r.json()
    assert body["call_id"] == CALL and body["caller"] == "13812345678"
    assert body["queue"] == "hotline-complaint" and body["agent"] == "PJSIP/1011"
    assert body["disposition"] == "answered" and body["recordings"] == 3
    assert body["rating"] is None and body["orders"] == [] and body["transcript"] is False
    # the other agent does not learn the call exists
    assert (await b.get(f"/api/calls/{CALL}")).status == 404

    # The citizen rates the call after the agent hung up (the post-call AGI stores it under
    # the "<server>:<Linkedid>" name the dialplan passes), and the agent files an order.
    assert await PgIvrStore(pool).rate_call(CALL, 3, "13812345678")
    created = await a.post("/api/orders", json={
        "category": "complaint", "content": "夜间施工噪音扰民", "call_id": CALL,
        "citizen": {"name": "张三", "phone": "13812345678"}})
    assert created.status == 201, await created.json()
    number = (await created.json())["number"]

    body = await (await a.get(f"/api/calls/{CALL}")).json()
    assert body["rating"]["value"] == 3 and body["rating"]["label"] == "不满意"
    assert body["orders"] == [number]
    # now on an order: every agent may see it (recordings.access)
    assert (await b.get(f"/api/calls/{CALL}")).status == 200

    calls = await (await b.get(f"/api/orders/{number}/calls")).json()
    assert calls["order"] == number
    assert [(c["call_id"], c["rating"]["label"]) for c in calls["calls"]] == [(CALL, "不满意")]

    auditor = await users.create_client("aud-cr", "auditor")
    masked = await (await auditor.get(f"/api/calls/{CALL}")).json()
    assert masked["caller"] == "138****5678"
    # a confidential order on the call: the auditor sees no number at all (as on the order)
    secret = await a.post("/api/orders", json={
        "category": "report", "content": "举报违建", "call_id": CALL,
        "citizen": {"name": "匿名", "phone": "13812345678", "confidential": True}})
    assert secret.status == 201, await secret.json()
    hidden = await (await auditor.get(f"/api/calls/{CALL}")).json()
    assert hidden["caller"] is None and len(hidden["orders"]) == 2
    assert (await (await a.get(f"/api/calls/{CALL}")).json())["caller"] == "13812345678"
    unit = await users.create_client("unit-cr", "unit_staff", unit_code="CZ-ZJJ")
    assert (await unit.get(f"/api/orders/{number}/calls")).status == 403


async def test_bad_and_unknown_ids(app, client, users) -> None:
    sup = await users.create_client("sup-cr", "supervisor")
    for path, status, code in [
        ("/api/calls/pbx1:404.404", 404, "call_not_found"),
        ("/api/calls/no-server-part", 404, "call_not_found"),
        (f"/api/calls/{'x' * 200}", 400, "invalid_call_id"),
        ("/api/orders/CZ20990101-999999/calls", 404, "order_not_found"),
        ("/api/orders/bad%20number!/calls", 400, "invalid_number"),
    ]:
        r = await sup.get(path)
        assert r.status == status, path
        assert (await r.json())["error"]["code"] == code, path
