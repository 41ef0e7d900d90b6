"""Work orders over HTTP and a real PostgreSQL: the whole life of an order, isolation between
units, optimistic concurrency, masking, and the append-only audit log."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import asyncpg
import pytest

from workflow.calendar import StatutoryCalendar
from workflow.clock import TZ
from workflow.keys import ORDER_SERVICE

LEAD, CO, OTHER = "CZ-ZJJ", "CZ-CGJ", "CZ-GAJ"
FAR_FUTURE = "2026-11-28T00:00:00+08:00"


async def ok(resp: Any, status: int = 200) -> dict[str, Any]:
    body = await resp.json()
    assert resp.status == status, body
    return body


PEOPLE = {
    "admin": ("admin1", "admin", None),
    "agent": ("agent1", "agent", None),
    "sup": ("sup1", "supervisor", None),
    "lead": ("zjj1", "unit_staff", LEAD),
    "co": ("cgj1", "unit_staff", CO),
    "other": ("gaj1", "unit_staff", OTHER),
    "auditor": ("audit1", "auditor", None),
}


class People:
    """Logged-in clients created on first use (password hashing is deliberately slow)."""

    def __init__(self, users: Any) -> None:
        self.users = users
        self.clients: dict[str, Any] = {}

    async def __call__(self, *names: str) -> list[Any]:
        for n in names:
            if n not in self.clients:
                username, role, unit = PEOPLE[n]
                self.clients[n] = await self.users.create_client(username, role, unit_code=unit)
        return [self.clients[n] for n in names]


@pytest.fixture
def people(users: Any) -> People:
    return People(users)


async def create(agent: Any, **extra: Any) -> dict[str, Any]:
    body = {"category": "complaint", "content": "小区夜间施工噪音扰民,凌晨还在打桩",
            "topic": "夜间施工", "address": "天宁区红梅新村",
            "citizen": {"name": "张三", "phone": "13812345678"}, **extra}  # fmt: skip
    return await ok(await agent.post("/api/orders", json=body), 201)


async def act(client: Any, order: dict[str, Any], action: str, status: int = 200,
              **body: Any) -> dict[str, Any]:  # fmt: skip
    resp = await client.post(f"/api/orders/{order['number']}/{action}",
                             json={"version": order["version"], **body})  # fmt: skip
    return await ok(resp, status)


async def test_whole_order_life_with_timeline(people: People) -> None:
    agent, sup, lead, co = await people("agent", "sup", "lead", "co")
    o = await create(agent)
    assert o["state"] == "intake" and o["number"].startswith("CZ")
    o = await act(agent, o, "dispatch", lead=LEAD, co_units=[CO])
    assert o["state"] == "dispatched" and o["lead_unit"] == LEAD
    assert o["reply_due"] and o["return_due"]
    o = await act(co, o, "sign")
    assert o["state"] == "dispatched"  # the co-unit signed; the lead has not yet
    o = await act(lead, o, "sign")
    assert o["state"] == "handling"
    o = await act(lead, o, "request_return", basis="属于城管执法范围",
                  suggestion="建议改派市城管局")  # fmt: skip
    o = await act(sup, o, "approve_return")
    assert o["state"] == "returned" and o["assignments"] == []
    # The unit that returned it no longer sees it.
    assert (await lead.get(f"/api/orders/{o['number']}")).status == 404
    o = await act(agent, o, "dispatch", lead=LEAD)  # re-dispatch (the platform insists)
    o = await act(lead, o, "sign")
    first_due = o["reply_due"]
    o = await act(lead, o, "request_extension", reason="需协调多部门现场勘验")
    o = await act(sup, o, "approve_extension", days=3)
    assert o["reply_due"] > first_due and o["extension_count"] == 1
    o = await act(lead, o, "reply", text="已处理")
    assert o["state"] == "replied"
    o = await act(sup, o, "send_back", reason="答复不具体,请说明处理措施和结果")
    assert o["state"] == "handling"
    o = await act(lead, o, "reply", text="已责令施工单位停止夜间施工,并处以罚款,后续加强巡查")
    o = await act(sup, o, "accept_reply")
    assert o["state"] == "callback"
    o = await act(agent, o, "callback", result="dissatisfied", unit_fault=True)
    assert o["state"] == "reopened" and o["reopen_count"] == 1
    o = await act(lead, o, "reply", text="已复查,施工单位已整改,夜间无施工")
    o = await act(sup, o, "accept_reply")
    o = await act(agent, o, "callback", result="satisfied")
    assert o["state"] == "closed" and o["satisfaction"] == "satisfied" and o["closed_at"]

    tl = await ok(await agent.get(f"/api/orders/{o['number']}/timeline"))
    kinds = [e["kind"] for e in tl["events"]]
    assert kinds == [
        "created", "dispatched", "signed", "signed", "return_requested", "return_approved",
        "dispatched", "signed", "extension_requested", "extension_approved", "replied",
        "reply_sent_back", "replied", "reply_accepted", "reopened", "replied", "reply_accepted",
        "closed",
    ]
    assert tl["events"][5]["actor"]["name"] == "sup1"
    assert tl["events"][5]["from_state"] == "handling"
    assert tl["events"][5]["to_state"] == "returned"
    assert tl["events"][4]["data"]["basis"] == "属于城管执法范围"
    assert [e["version"] for e in tl["events"]][-1] == o["version"]


async def test_unit_isolation_and_masking(people: People) -> None:
    agent, lead, other, auditor = await people("agent", "lead", "other", "auditor")
    o = await create(agent)
    o = await act(agent, o, "dispatch", lead=LEAD)
    n = o["number"]
    # Unit B cannot see, list, time-line or act on unit A's order: 404 everywhere.
    assert (await other.get(f"/api/orders/{n}")).status == 404
    assert (await other.get(f"/api/orders/{n}/timeline")).status == 404
    r = await other.post(f"/api/orders/{n}/sign", json={"version": o["version"]})
    assert r.status == 404
    assert (await ok(await other.get("/api/orders")))["items"] == []
    # Unit A sees it, with the phone masked.
    seen = await ok(await lead.get(f"/api/orders/{n}"))
    assert seen["citizen"]["phone"] == "138****5678"
    listed = await ok(await lead.get("/api/orders"))
    assert [x["number"] for x in listed["items"]] == [n]
    # Platform sees the full number; the auditor (not platform) a masked one.
    assert (await ok(await agent.get(f"/api/orders/{n}")))["citizen"]["phone"] == "13812345678"
    assert (await ok(await auditor.get(f"/api/orders/{n}")))["citizen"]["phone"] == (
        "138****5678"
    )
    # Units may not act as the platform; auditors may not act at all.
    r = await lead.post(f"/api/orders/{n}/dispatch", json={"version": o["version"], "lead": CO})
    assert r.status == 403
    r = await auditor.post(f"/api/orders/{n}/remind", json={"version": o["version"]})
    assert r.status == 403
    # Units may not create orders.
    assert (await lead.post("/api/orders", json={"category": "help", "content": "x"})).status == 403


async def test_confidential_citizen_hidden_from_units(people: People) -> None:
    agent, lead = await people("agent", "lead")
    o = await create(agent, citizen={"name": "李四", "phone": "13912345678", "confidential": True})
    o = await act(agent, o, "dispatch", lead=LEAD)
    seen = await ok(await lead.get(f"/api/orders/{o['number']}"))
    assert seen["citizen"] == {"name": "(保密)", "phone": None, "confidential": True}
    assert "李四" not in str(seen) and "13912345678" not in str(seen)


async def test_stale_version_is_409_and_changes_nothing(people: People, pool) -> None:
    (agent,) = await people("agent")
    o = await create(agent)
    moved = await act(agent, o, "dispatch", lead=LEAD)
    stale = await act(agent, o, "remind", 409)  # o still carries version 1
    assert stale["error"]["code"] == "stale_version"
    assert stale["error"]["details"]["version"] == moved["version"]
    n_events = await pool.fetchval("SELECT count(*) FROM work_order_events")
    assert n_events == 2  # created + dispatched
    r = await agent.post(f"/api/orders/{o['number']}/remind", json={})
    assert r.status == 400  # the version is required
    r = await agent.post(f"/api/orders/{o['number']}/remind", json={},
                         headers={"If-Match": str(moved["version"])})  # fmt: skip
    assert r.status == 200


async def test_forbidden_transitions_and_bad_input(people: People, pool) -> None:
    (agent,) = await people("agent")
    o = await create(agent)
    # Replying before dispatch: wrong state → 409 with a Chinese reason.
    r = await act(agent, o, "accept_reply", 409)
    assert r["error"]["code"] == "invalid_state" and "待处置" in r["error"]["message"]
    r = await act(agent, o, "dispatch", 422, lead="CZ-NOPE")
    assert r["error"]["code"] == "unknown_unit"
    r = await act(agent, o, "dispatch", 400, lead=LEAD, bogus=1)
    assert r["error"]["code"] == "invalid_fields"
    r = await act(agent, o, "not_accept", 400, reason="because")
    assert r["error"]["code"] == "invalid_fields"
    r = await act(agent, o, "not_accept", 422, reason="emergency", guidance="")
    assert r["error"]["code"] == "missing_field"
    r = await act(agent, o, "dispatch", 400, lead=LEAD, due="2026-12-01 10:00")
    assert r["error"]["details"][0]["field"] == "due"
    bad = await agent.post("/api/orders", data=b"{not json", headers={"Content-Type": "x"})
    assert bad.status == 400
    assert (await agent.post("/api/orders", json={"category": "x", "content": "y"})).status == 400
    assert (await agent.get("/api/orders/CZ20990101-000001")).status == 404
    assert (await agent.get("/api/orders?state=nope")).status == 400
    assert (await agent.get("/api/orders?cursor=garbage")).status == 400
    # Nothing of the refused commands reached the database.
    assert await pool.fetchval("SELECT count(*) FROM work_order_events") == 1
    assert await pool.fetchval("SELECT version FROM work_orders") == 1


async def test_not_accepted_and_direct_answer_with_kb(people: People) -> None:
    agent, sup = await people("agent", "sup")
    o = await create(agent, category="help", content="家里着火了")
    o = await act(agent, o, "not_accept", reason="emergency", guidance="已告知拨打119并转接")
    assert o["state"] == "not_accepted" and o["not_accepted_reason"] == "emergency"
    art = await ok(await sup.post("/api/kb/articles", json={
        "title": "住房公积金提取所需材料",
        "body": "提取住房公积金需携带身份证和购房合同。"}), 201)  # fmt: skip
    q = await create(agent, category="consultation", content="公积金怎么提取")
    r = await act(agent, q, "direct_answer", 422, answer="带身份证", kb_article_id=art["id"])
    assert r["error"]["code"] == "kb_not_published"  # a draft cannot be cited
    await ok(await sup.post(f"/api/kb/articles/{art['id']}/submit", json={}))
    await ok(await sup.post(f"/api/kb/articles/{art['id']}/approve", json={}))
    q = await act(agent, q, "direct_answer", answer="带身份证和购房合同", kb_article_id=art["id"])
    assert q["state"] == "closed" and q["resolution"] == "direct_answer"
    assert q["kb_article_id"] == art["id"]


async def test_list_filters_search_and_pagination(people: People) -> None:
    agent, lead = await people("agent", "lead")
    numbers = []
    for i in range(5):
        o = await create(agent, content=f"第{i}号 路灯不亮,晚上很黑" if i % 2 else "物业费太贵")
        if i < 3:
            await act(agent, o, "dispatch", lead=LEAD if i % 2 else CO)
        numbers.append(o["number"])
    page = await ok(await agent.get("/api/orders?limit=2"))
    assert [x["number"] for x in page["items"]] == numbers[::-1][:2]
    page2 = await ok(await agent.get("/api/orders", params={"limit": 2,
                                                             "cursor": page["next_cursor"]}))
    assert [x["number"] for x in page2["items"]] == numbers[::-1][2:4]
    lit = await ok(await agent.get("/api/orders", params={"q": "路灯"}))
    assert {x["number"] for x in lit["items"]} == {numbers[1], numbers[3]}
    st = await ok(await agent.get("/api/orders?state=dispatched&lead_unit=" + LEAD))
    assert [x["number"] for x in st["items"]] == [numbers[1]]
    ph = await ok(await agent.get("/api/orders?phone=13812345678&limit=200"))
    assert len(ph["items"]) == 5
    assert (await lead.get("/api/orders?phone=13812345678")).status == 403


async def test_events_are_append_only_and_orders_never_deleted(people: People, pool) -> None:
    (agent,) = await people("agent")
    o = await create(agent)
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("UPDATE work_order_events SET kind = 'x'")
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("DELETE FROM work_order_events")
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("DELETE FROM work_orders WHERE number = $1", o["number"])


async def test_numbering_is_per_day_and_sequential(people: People) -> None:
    (agent,) = await people("agent")
    a = await create(agent)
    b = await create(agent)
    assert a["number"][:11] == b["number"][:11]
    assert int(b["number"][-6:]) == int(a["number"][-6:]) + 1


async def test_merge_and_link(people: People) -> None:
    (agent,) = await people("agent")
    a = await create(agent)
    b = await create(agent)
    b = await act(agent, b, "merge", into=a["number"])
    assert b["state"] == "merged" and b["merged_into"] == a["number"]
    a = await ok(await agent.get(f"/api/orders/{a['number']}"))
    assert b["number"] in a["links"]  # the target records the merged duplicate
    c = await create(agent)
    c = await act(agent, c, "link", other=a["number"])
    assert a["number"] in c["links"]
    a = await ok(await agent.get(f"/api/orders/{a['number']}"))
    assert c["number"] in a["links"]  # recorded on both orders (R5.10)
    r = await act(agent, c, "link", 404, other="CZ20990101-000001")
    assert r["error"]["code"] == "order_not_found"


async def test_supervision_commands(people: People) -> None:
    agent, sup = await people("agent", "sup")
    o = await create(agent)
    o = await act(agent, o, "dispatch", lead=LEAD)
    o = await act(agent, o, "remind", note="请尽快签收")
    assert o["reminders"] == 1
    o = await act(sup, o, "supervise", reason="有能力办而不办")
    assert o["supervision"] == "supervised"
    o = await act(sup, o, "coordinate", lead=CO, co_units=[OTHER], reason="职责交叉,专题协调")
    assert o["supervision"] == "coordinated" and o["lead_unit"] == CO
    o = await act(sup, o, "record_notice", kind="interview", unit=LEAD, note="约谈分管领导")
    tl = await ok(await agent.get(f"/api/orders/{o['number']}/timeline"))
    assert [e["kind"] for e in tl["events"]][-4:] == ["reminded", "supervised", "coordinated",
                                                      "notice_recorded"]  # fmt: skip


async def test_deadline_preview_and_calendar_admin(people: People) -> None:
    agent, sup = await people("agent", "sup")
    r = await ok(await agent.get("/api/workflow/deadline", params={
        "start": "2026-09-30T16:00:00+08:00", "days": "3", "unit": LEAD}))  # fmt: skip
    assert r["due"] == "2026-10-10T16:00:00+08:00" and r["provisional"] is False
    params = {"start": "2026-12-30T10:00:00+08:00", "days": "5"}
    r = await ok(await agent.get("/api/workflow/deadline", params=params))
    assert r["due"] == "2027-01-07T10:00:00+08:00" and r["provisional"] is True  # 元旦 off
    assert (await agent.put("/api/workflow/calendar/days/2027-01-04",
                            json={"is_workday": False})).status == 403  # fmt: skip
    await ok(await sup.put("/api/workflow/calendar/days/2027-01-04",
                           json={"is_workday": False, "note": "示例:调休放假"}))  # fmt: skip
    await ok(await sup.put("/api/workflow/calendar/years/2027", json={"note": "国办发明电"}))
    r = await ok(await agent.get("/api/workflow/deadline", params=params))
    assert r["due"] == "2027-01-08T10:00:00+08:00" and r["provisional"] is False
    cal = await ok(await agent.get("/api/workflow/calendar?year=2027"))
    assert cal["days"][0]["day"] == "2027-01-04" and cal["confirmed_years"][0]["year"] == 2027
    await ok(await sup.delete("/api/workflow/calendar/days/2027-01-04"))
    assert (await sup.delete("/api/workflow/calendar/days/2027-01-04")).status == 404
    assert (await sup.put("/api/workflow/calendar/days/2027-13-01",
                          json={"is_workday": True})).status == 400  # fmt: skip
    assert (await agent.get("/api/workflow/deadline?days=1&hours=1")).status == 400
    units = await ok(await agent.get("/api/workflow/units"))
    assert any(u["code"] == "CZ-TN-HM" and u["parent"] == "CZ-TN" for u in units["units"])


async def test_openapi_lists_every_action(client) -> None:
    spec = await (await client.get("/api/openapi.json")).json()
    paths = spec["paths"]
    for kind in ("dispatch", "sign", "request_return", "approve_extension", "callback",
                 "coordinate", "merge"):  # fmt: skip
        assert f"/api/orders/{{number}}/{kind}" in paths



async def test_wiring_provides_screen_pop_adapters(client, people: People) -> None:
    from agents.keys import KNOWLEDGE, ORDER_LOOKUP

    agent, sup = await people("agent", "sup")
    o = await create(agent, topic="路灯不亮", content="小区门口路灯不亮好几天了")
    await act(agent, o, "dispatch", lead=CO)
    art = await ok(await sup.post("/api/kb/articles", json={
        "title": "路灯报修渠道", "body": "路灯不亮可向市城管局报修。"}), 201)  # fmt: skip
    await ok(await sup.post(f"/api/kb/articles/{art['id']}/submit", json={}))
    await ok(await sup.post(f"/api/kb/articles/{art['id']}/approve", json={}))
    pops = await client.app[ORDER_LOOKUP].orders_for_caller("13812345678")
    assert pops[0]["order_no"] == o["number"] and pops[0]["open"] is True
    assert pops[0]["deadline"] and pops[0]["summary"] == "路灯不亮"
    tips = await client.app[KNOWLEDGE].suggest(caller="13812345678", queue=None, ivr_choice=None)
    assert [t["title"] for t in tips] == ["路灯报修渠道"]
    assert await client.app[KNOWLEDGE].suggest(caller=None, queue=None, ivr_choice=None) == []


async def test_provincial_limit_and_manual_sweep(people: People) -> None:
    agent, sup = await people("agent", "sup")
    o = await create(agent, channel="provincial", source_due="2099-01-01T12:00:00+08:00",
                     external_ref="JS12345-0001")  # fmt: skip
    o = await act(agent, o, "dispatch", lead=LEAD)
    assert o["reply_due"] == "2099-01-01T12:00:00+08:00"
    bad = await agent.post("/api/orders", json={"category": "help", "content": "x",
                                                "channel": "provincial",
                                                "source_due": "2099-01-01T12:00:00"})  # fmt: skip
    assert bad.status == 400  # a limit without a UTC offset is ambiguous
    past = await agent.post("/api/orders", json={"category": "help", "content": "x",
                                                 "channel": "provincial",
                                                 "source_due": "2020-01-01T12:00:00+08:00"})
    assert past.status == 400
    assert (await agent.post("/api/workflow/sweep", json={})).status == 403
    assert "changed" in await ok(await sup.post("/api/workflow/sweep", json={}))


async def test_unit_working_hours_admin_changes_new_deadlines(people: People) -> None:
    admin, agent, sup = await people("admin", "agent", "sup")
    start = {"start": "2026-11-26T11:30:00+08:00", "hours": "1", "unit": LEAD}
    r = await ok(await agent.get("/api/workflow/deadline", params=start))
    assert r["due"] == "2026-11-26T14:00:00+08:00"  # across the lunch break
    body = {"working_hours": "09:00-17:00", "duty_phone": "0519-80000000",
            "duty_contact": "值班室"}  # fmt: skip
    assert (await sup.patch(f"/api/workflow/units/{LEAD}", json=body)).status == 403
    u = await ok(await admin.patch(f"/api/workflow/units/{LEAD}", json=body))
    assert u["working_hours"] == "09:00-17:00" and u["duty_contact"] == "值班室"
    r = await ok(await agent.get("/api/workflow/deadline", params=start))
    assert r["due"] == "2026-11-26T12:30:00+08:00"  # no lunch break any more
    bad = await admin.patch(f"/api/workflow/units/{LEAD}", json={"working_hours": "9-5"})
    assert bad.status == 400
    assert (await admin.patch("/api/workflow/units/CZ-NOPE", json={})).status == 404


async def test_self_merge_and_absurd_numbers_are_refused(people: People, pool) -> None:
    agent, sup, lead = await people("agent", "sup", "lead")
    o = await create(agent)
    r = await agent.post(f"/api/orders/{o['number']}/merge",
                         json={"version": o["version"], "into": o["number"].lower()})  # fmt: skip
    assert r.status in (409, 422), await r.text()
    o = await act(agent, o, "dispatch", lead=LEAD)
    o = await act(lead, o, "sign")
    o = await act(lead, o, "request_extension", reason="需现场勘查")
    for days in (5000, 0):
        r = await sup.post(f"/api/orders/{o['number']}/approve_extension",
                           json={"version": o["version"], "days": days})  # fmt: skip
        assert 400 <= r.status < 500, (days, r.status, await r.text())
    r = await sup.post(f"/api/orders/{o['number']}/approve_extension",
                       data=b'{"version": %d, "days": Infinity}' % o["version"],
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status == 400
    r = await sup.post(f"/api/orders/{o['number']}/approve_extension",
                       json={"days": 2}, headers={"If-Match": "\u00b2"})  # fmt: skip
    assert r.status == 400, await r.text()  # a superscript digit is not a version
    state = await pool.fetchval("SELECT state FROM work_orders WHERE number = $1", o["number"])
    assert state == "handling"


# --- limits set by the source (第十一条(三)) -------------------------------------------------

SOURCE_DUE = "2099-01-01T12:00:00+08:00"


async def test_source_limit_only_where_the_source_sets_one(people: People, pool) -> None:
    agent, sup = await people("agent", "sup")
    body = {"category": "complaint", "content": "路面塌陷", "source_due": SOURCE_DUE}
    r = await ok(await agent.post("/api/orders", json=body), 422)
    assert r["error"]["code"] == "source_due_not_allowed" and "第十一条" in r["error"]["message"]
    assert r["error"]["details"][0]["field"] == "source_due"
    r = await ok(await agent.post("/api/orders", json=body | {"urgent": True}), 422)
    assert r["error"]["code"] == "source_due_not_allowed"  # urgent: the supervisor sets it
    assert await pool.fetchval("SELECT count(*) FROM work_orders") == 0  # nothing registered
    # A supervisor sets an urgent order's own limit; the national platforms bring theirs.
    u = await ok(await sup.post("/api/orders", json=body | {"urgent": True}), 201)
    u = await act(agent, u, "dispatch", lead=LEAD)
    assert u["reply_due"] == SOURCE_DUE
    await create(agent, channel="national", source_due=SOURCE_DUE)
    # dispatch: the same rule for `due`, and a refusal changes nothing
    o = await create(agent)
    for who in (agent, sup):  # a phone order that is not urgent runs on the statutory days
        r = await act(who, o, "dispatch", 422, lead=LEAD, due=SOURCE_DUE)
        assert r["error"]["code"] == "source_due_not_allowed"
    cur = await ok(await agent.get(f"/api/orders/{o['number']}"))
    assert cur["state"] == "intake" and cur["version"] == o["version"] and cur["reply_due"] is None
    tl = await ok(await agent.get(f"/api/orders/{o['number']}/timeline"))
    assert [e["kind"] for e in tl["events"]] == ["created"]
    urgent = await create(agent, urgent=True)
    r = await act(agent, urgent, "dispatch", 422, lead=LEAD, due=SOURCE_DUE)
    assert r["error"]["code"] == "source_due_not_allowed"
    urgent = await act(sup, urgent, "dispatch", lead=LEAD, due=SOURCE_DUE)
    assert urgent["reply_due"] == SOURCE_DUE and urgent["source_due"] == SOURCE_DUE
    p = await create(agent, channel="provincial", external_ref="JS12345-0003")
    p = await act(agent, p, "dispatch", lead=LEAD, due=SOURCE_DUE)
    assert p["reply_due"] == SOURCE_DUE and p["source_due"] == SOURCE_DUE


async def test_coordination_keeps_the_provincial_limit(people: People) -> None:
    agent, sup = await people("agent", "sup")
    o = await create(agent, channel="provincial", source_due=SOURCE_DUE,
                     external_ref="JS12345-0002")  # fmt: skip
    o = await act(agent, o, "dispatch", lead=LEAD)
    o = await act(sup, o, "coordinate", lead=CO, co_units=[OTHER], reason="职责交叉,专题协调")
    assert o["lead_unit"] == CO and o["supervision"] == "coordinated"
    assert o["reply_due"] == SOURCE_DUE and o["source_due"] == SOURCE_DUE
    tl = await ok(await agent.get(f"/api/orders/{o['number']}/timeline"))
    last = tl["events"][-1]
    assert last["kind"] == "coordinated" and last["data"]["reply_due"] == SOURCE_DUE
    # A limit given at dispatch (provincial order registered without it) is kept as well.
    p = await create(agent, channel="provincial")
    p = await act(agent, p, "dispatch", lead=LEAD, due=SOURCE_DUE)
    p = await act(sup, p, "coordinate", lead=CO, reason="职责交叉")
    assert p["reply_due"] == SOURCE_DUE


# --- 不予受理 with the optional fields absent or null (第九条, 第十条) ---------------------------


async def test_not_accept_with_optional_fields_absent_or_null(people: People, pool) -> None:
    (agent,) = await people("agent")
    # Registered as the console does for an anonymous caller: no topic / address / district,
    # the caller's name and number null.
    body = {"category": "consultation", "content": "外省社保转移怎么办",
            "citizen": {"name": None, "phone": None}}  # fmt: skip
    a = await ok(await agent.post("/api/orders", json=body), 201)
    a = await act(agent, a, "not_accept", guidance="请向参保地社保经办机构咨询")  # no reason, note
    assert a["state"] == "not_accepted" and a["not_accepted_reason"] == "other"
    b = await ok(await agent.post("/api/orders", json=body), 201)
    b = await act(agent, b, "not_accept", reason="out_of_jurisdiction", note=None,
                  guidance="请向所在地12345反映")  # fmt: skip
    assert b["state"] == "not_accepted" and b["guidance"] == "请向所在地12345反映"
    tl = await ok(await agent.get(f"/api/orders/{b['number']}/timeline"))
    last = tl["events"][-1]
    assert last["kind"] == "not_accepted" and last["data"] == {
        "reason": "out_of_jurisdiction", "guidance": "请向所在地12345反映"}  # fmt: skip
    rows = await pool.fetch("SELECT lead_unit, citizen_phone, district, reply_due, closed_at"
                            " FROM work_orders ORDER BY id")  # fmt: skip
    assert [(r["lead_unit"], r["citizen_phone"], r["district"], r["reply_due"]) for r in rows] == [
        (None, None, None, None)] * 2  # fmt: skip
    assert all(r["closed_at"] is not None for r in rows)
    # Nulls where the command does not allow them are a 400, and change nothing.
    c = await ok(await agent.post("/api/orders", json=body), 201)
    r = await act(agent, c, "not_accept", 400, reason=None, guidance="x")
    assert r["error"]["details"][0]["field"] == "reason"
    r = await act(agent, c, "not_accept", 400, guidance=None)
    assert r["error"]["details"][0]["field"] == "guidance"
    assert (await ok(await agent.get(f"/api/orders/{c['number']}")))["state"] == "intake"


# --- provisional deadlines and the confirmation of a calendar year (第十一条(三)(四)) ----------


async def test_confirming_a_year_recomputes_provisional_deadlines(
    client, people: People, pool
) -> None:
    agent, sup, lead = await people("agent", "sup", "lead")
    clock = {"now": dt.datetime(2026, 12, 30, 10, 0, tzinfo=TZ)}  # Wednesday
    client.app[ORDER_SERVICE].now = lambda: clock["now"]
    o = await create(agent)
    o = await act(agent, o, "dispatch", lead=LEAD, co_units=[CO])
    # 5 working days run into 2027, which chinesecalendar does not know: weekday rule minus
    # 元旦, provisional.
    assert o["reply_due"] == "2027-01-07T10:00:00+08:00" and o["due_provisional"] is True
    assert o["return_due"] == "2027-01-04T10:00:00+08:00"
    p = await create(agent, channel="provincial", source_due="2027-01-06T17:00:00+08:00")
    p = await act(agent, p, "dispatch", lead=LEAD)
    assert p["due_provisional"] is True  # its return limit crosses 2027-01-04
    # An order closed meanwhile keeps its deadlines (only open orders are recomputed).
    d = await create(agent)
    d = await act(agent, d, "dispatch", lead=LEAD)
    d = await act(lead, d, "sign")
    d = await act(lead, d, "reply", text="已责令施工单位整改")
    d = await act(sup, d, "accept_reply")
    d = await act(agent, d, "callback", result="satisfied")
    assert d["state"] == "closed" and d["due_provisional"] is True

    # Entering the override alone does not touch stored deadlines: the year is not confirmed.
    await ok(await sup.put("/api/workflow/calendar/days/2027-01-04",
                           json={"is_workday": False, "note": "示例:元旦调休"}))  # fmt: skip
    cur = await ok(await agent.get(f"/api/orders/{o['number']}"))
    assert (cur["version"], cur["reply_due"]) == (o["version"], o["reply_due"])
    # ... nor does the sweeper's follow-up pass: nothing is confirmed yet.
    assert await client.app[ORDER_SERVICE].recompute_confirmed() == 0

    clock["now"] = dt.datetime(2026, 12, 30, 15, 0, tzinfo=TZ)
    r = await ok(await sup.put("/api/workflow/calendar/years/2027", json={"note": "国办发明电"}))
    assert r == {"year": 2027, "confirmed": True, "recomputed": 2}
    n = await ok(await agent.get(f"/api/orders/{o['number']}"))
    assert n["reply_due"] == "2027-01-08T10:00:00+08:00"  # 2027-01-04 is now off
    assert n["return_due"] == "2027-01-05T10:00:00+08:00"
    assert n["remind_due"] == "2027-01-07T10:00:00+08:00"
    assert [a["sign_due"] for a in n["assignments"]] == [a["sign_due"] for a in o["assignments"]]
    assert n["due_provisional"] is False and n["version"] == o["version"] + 1
    tl = await ok(await agent.get(f"/api/orders/{o['number']}/timeline"))
    last = tl["events"][-1]
    assert last["kind"] == "deadlines_recomputed" and last["actor"]["name"] == "sup1"
    assert last["version"] == n["version"] and last["from_state"] == last["to_state"]
    assert last["data"]["year"] == 2027 and last["data"]["note"] == "国办发明电"
    assert last["data"]["changes"]["reply_due"] == {"from": "2027-01-07T10:00:00+08:00",
                                                    "to": "2027-01-08T10:00:00+08:00"}
    # The provincial limit wins and is not recomputed; its return limit is.
    q = await ok(await agent.get(f"/api/orders/{p['number']}"))
    assert q["reply_due"] == "2027-01-06T17:00:00+08:00" and q["remind_due"] == p["remind_due"]
    assert q["return_due"] == "2027-01-05T10:00:00+08:00" and q["due_provisional"] is False
    closed = await ok(await agent.get(f"/api/orders/{d['number']}"))
    assert closed["version"] == d["version"] and closed["reply_due"] == d["reply_due"]
    # The sweep now looks at the recomputed limits.
    nxt = await pool.fetchval("SELECT next_check_at FROM work_orders WHERE number = $1",
                              o["number"])  # fmt: skip
    assert nxt == dt.datetime(2026, 12, 30, 11, 0, tzinfo=TZ)  # the units' sign-for limit

    # Confirming again with the same data changes nothing.
    events = await pool.fetchval("SELECT count(*) FROM work_order_events")
    r = await ok(await sup.put("/api/workflow/calendar/years/2027", json={"note": "国办发明电"}))
    assert r["recomputed"] == 0
    assert await pool.fetchval("SELECT count(*) FROM work_order_events") == events
    again = await ok(await agent.get(f"/api/orders/{o['number']}"))
    assert again["version"] == n["version"] and again["reply_due"] == n["reply_due"]
    assert (await agent.put("/api/workflow/calendar/years/2027", json={})).status == 403


async def test_an_order_computed_with_a_stale_calendar_is_recomputed_by_the_sweeper(
    client, people: People, pool
) -> None:
    """Another instance caches the calendar for up to 30 s: an order it dispatches just after
    a year was confirmed is stored provisional with the weekday fallback. The sweeper's
    follow-up pass reads the calendar afresh and recomputes it, once."""
    agent, sup = await people("agent", "sup")
    svc = client.app[ORDER_SERVICE]
    svc.now = lambda: dt.datetime(2026, 12, 30, 10, 0, tzinfo=TZ)
    await ok(await sup.put("/api/workflow/calendar/days/2027-01-04",
                           json={"is_workday": False, "note": "示例:元旦调休"}))  # fmt: skip
    await ok(await sup.put("/api/workflow/calendar/years/2027", json={"note": "国办发明电"}))
    # this instance now behaves like one whose cache predates the confirmation
    svc.calendars._cal = StatutoryCalendar()
    svc.calendars._loaded = time.monotonic()
    o = await act(agent, await create(agent), "dispatch", lead=LEAD)
    assert o["reply_due"] == "2027-01-07T10:00:00+08:00" and o["due_provisional"] is True
    assert await svc.recompute_confirmed() == 1
    n = await ok(await agent.get(f"/api/orders/{o['number']}"))
    assert n["reply_due"] == "2027-01-08T10:00:00+08:00" and n["due_provisional"] is False
    assert n["version"] == o["version"] + 1
    tl = await ok(await agent.get(f"/api/orders/{o['number']}/timeline"))
    assert tl["events"][-1]["kind"] == "deadlines_recomputed"
    assert tl["events"][-1]["actor"]["name"] == "system"
    assert await svc.recompute_confirmed() == 0
    # Long after the confirmation the pass does not even look (no calendar is that stale).
    svc.calendars._cal = StatutoryCalendar()
    svc.calendars._loaded = time.monotonic()
    late = await act(agent, await create(agent), "dispatch", lead=LEAD)
    assert late["due_provisional"] is True
    await pool.execute("UPDATE calendar_years SET confirmed_at = now() - interval '11 minutes'")
    assert await svc.recompute_confirmed() == 0
    await pool.execute("UPDATE calendar_years SET confirmed_at = now()")
    assert await svc.recompute_confirmed() == 1
