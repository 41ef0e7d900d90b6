"""The member-unit evaluation (成员单位考核, 第二十一条) over HTTP and a real PostgreSQL: orders
built through the real work-order API on a controlled clock, exact rates and scores, the
period rule (closed in the period; open ones roll over), isolation, weights and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from typing import Any

import openpyxl
import pytest
from openpyxl.chart import BarChart
from openpyxl.utils import get_column_letter

from analytics.export import HEADERS, SCORE_COLUMN
from tests.analytics.world import ApiWorld, ok
from workflow.clock import TZ

A, B, C = "CZ-ZJJ", "CZ-CGJ", "CZ-STHJ"  # lead unit, returning unit, co-handling unit

PEOPLE = {
    "admin": ("admin1", "admin", None),
    "sup": ("sup1", "supervisor", None),
    "agent": ("agent1", "agent", None),
    "auditor": ("audit1", "auditor", None),
    "a": ("zjj1", "unit_staff", A),
    "b": ("cgj1", "unit_staff", B),
    "c": ("sthj1", "unit_staff", C),
}


class World(ApiWorld):
    """The people of this module, the clock starting on Monday 2026-11-02 08:00."""

    def __init__(self, client: Any, users: Any) -> None:
        super().__init__(client, users, PEOPLE, dt.datetime(2026, 11, 2, 8, 0, tzinfo=TZ))

    def at(self, day: int, hour: int, minute: int = 0, month: int = 11) -> None:
        self.clock["now"] = dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)

    async def create(self) -> dict[str, Any]:
        body = {"category": "complaint", "content": "小区夜间施工噪音扰民,凌晨还在打桩",
                "citizen": {"name": "张三", "phone": "13812345678"}}  # fmt: skip
        return await ok(await (await self("agent")).post("/api/orders", json=body), 201)

    async def act(self, who: str, o: dict[str, Any], action: str, **body: Any) -> dict[str, Any]:
        resp = await (await self(who)).post(f"/api/orders/{o['number']}/{action}",
                                            json={"version": o["version"], **body})  # fmt: skip
        return await ok(resp)


async def build_november(w: World) -> dict[str, dict[str, Any]]:
    """Six orders (complaints: sign-for 1 working hour, reply 5 working days); times are
    Asia/Shanghai, 2026-11-02 is a Monday."""
    o: dict[str, dict[str, Any]] = {}
    # 1: A on time everywhere, co-unit C signs late (limit 10:00), citizen satisfied.
    w.at(2, 8, 50)
    x = await w.create()
    w.at(2, 9)
    x = await w.act("agent", x, "dispatch", lead=A, co_units=[C])
    w.at(2, 9, 30)
    x = await w.act("a", x, "sign")
    w.at(2, 10, 30)
    x = await w.act("c", x, "sign")
    w.at(3, 10)
    x = await w.act("a", x, "reply", text="已责令施工单位停止夜间施工")
    w.at(3, 11)
    x = await w.act("sup", x, "accept_reply")
    w.at(3, 15)
    o["1"] = await w.act("agent", x, "callback", result="satisfied")
    # 2: A signs late (09:00 + 1 working hour = 10:00, signed 11:00), basically satisfied.
    w.at(2, 8, 55)
    x = await w.create()
    w.at(2, 9)
    x = await w.act("agent", x, "dispatch", lead=A)
    w.at(2, 11)
    x = await w.act("a", x, "sign")
    w.at(4, 10)
    x = await w.act("a", x, "reply", text="已协调施工单位调整作业时间")
    w.at(4, 11)
    x = await w.act("sup", x, "accept_reply")
    w.at(4, 15)
    o["2"] = await w.act("agent", x, "callback", result="basically_satisfied")
    # 3: B signs in time, then asks for a return, approved; re-dispatched to A, satisfied.
    w.at(2, 8, 58)
    x = await w.create()
    w.at(2, 9)
    x = await w.act("agent", x, "dispatch", lead=B)
    w.at(2, 9, 10)
    x = await w.act("b", x, "sign")
    w.at(2, 10)
    x = await w.act("b", x, "request_return", basis="属于住建部门职责",
                    suggestion="建议改派市住建局")  # fmt: skip
    w.at(2, 10, 30)
    x = await w.act("sup", x, "approve_return")
    w.at(2, 11)
    x = await w.act("agent", x, "dispatch", lead=A)
    w.at(2, 11, 20)
    x = await w.act("a", x, "sign")
    w.at(5, 10)
    x = await w.act("a", x, "reply", text="已现场核查并处理")
    w.at(5, 11)
    x = await w.act("sup", x, "accept_reply")
    w.at(5, 15)
    o["3"] = await w.act("agent", x, "callback", result="satisfied")
    # 5 (first part): dispatched Monday 14:00, reply limit Monday 11-09 14:00.
    w.at(2, 13, 50)
    five = await w.create()
    w.at(2, 14)
    five = await w.act("agent", five, "dispatch", lead=A)
    w.at(2, 14, 10)
    five = await w.act("a", five, "sign")
    # 4 (first part): A asks for an extension before the limit (Tue 11-10 09:00): +3 days.
    w.at(3, 8, 50)
    four = await w.create()
    w.at(3, 9)
    four = await w.act("agent", four, "dispatch", lead=A)
    w.at(3, 9, 5)
    four = await w.act("a", four, "sign")
    w.at(9, 10)
    four = await w.act("a", four, "request_extension", reason="需协调多部门现场勘验")
    w.at(9, 11)
    four = await w.act("sup", four, "approve_extension", days=3)
    assert four["reply_due"] == "2026-11-13T09:00:00+08:00"
    # The deadline sweep runs: order 5 is past its limit (overdue, automatically supervised).
    assert await w.service.sweep_once(now=dt.datetime(2026, 11, 9, 15, 0, tzinfo=TZ)) >= 1
    # 4: replied within the extended limit; dissatisfied through the unit's fault → reopened,
    # replied again within the new limit, then satisfied.
    w.at(12, 10)
    four = await w.act("a", await _fresh(w, four), "reply", text="已组织勘验并整改")
    w.at(12, 11)
    four = await w.act("sup", four, "accept_reply")
    w.at(12, 14)
    four = await w.act("agent", four, "callback", result="dissatisfied", unit_fault=True)
    assert four["state"] == "reopened"
    w.at(16, 10)
    four = await w.act("a", four, "reply", text="已复查,施工单位已整改")
    w.at(16, 11)
    four = await w.act("sup", four, "accept_reply")
    w.at(16, 15)
    o["4"] = await w.act("agent", four, "callback", result="satisfied")
    # 5: A replies late (limit 11-09 14:00, replied 11-10 10:00); dissatisfied, not the unit's
    # fault, so the order closes.
    w.at(10, 10)
    five = await w.act("a", await _fresh(w, five), "reply", text="已处理")
    w.at(10, 11)
    five = await w.act("sup", five, "accept_reply")
    w.at(10, 15)
    o["5"] = await w.act("agent", five, "callback", result="dissatisfied", unit_fault=False)
    # 6: replied and accepted in November, its callback still pending at the month's end.
    w.at(23, 8, 50)
    x = await w.create()
    w.at(23, 9)
    x = await w.act("agent", x, "dispatch", lead=A)
    w.at(23, 9, 10)
    x = await w.act("a", x, "sign")
    w.at(24, 10)
    x = await w.act("a", x, "reply", text="已处理完毕")
    w.at(24, 11)
    o["6"] = await w.act("sup", x, "accept_reply")
    assert o["6"]["state"] == "callback"
    # 7: a duplicate dispatched to A, never signed, merged into 6 (ended, but not 办结): it is
    # in no period.
    w.at(25, 8, 50)
    x = await w.create()
    w.at(25, 9)
    x = await w.act("agent", x, "dispatch", lead=A)
    w.at(25, 15)
    o["7"] = await w.act("agent", x, "merge", into=o["6"]["number"])
    assert o["7"]["state"] == "merged" and o["7"]["closed_at"]
    for k in "12345":
        assert o[k]["state"] == "closed", (k, o[k]["state"])
    return o


async def _fresh(w: World, o: dict[str, Any]) -> dict[str, Any]:
    """The order as it is now (the sweep may have changed its version)."""
    return await ok(await (await w("agent")).get(f"/api/orders/{o['number']}"))


def by_unit(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["unit"]: u for u in report["units"]}


SCORE_A_NOV = round(20 * 0.8 + 30 * 0.8 + 40 * 4 / 6 + 5 * 1 + 5 * (1 - 0.2), 2)  # 75.67
SCORE_B_NOV = round((20 * 1 + 5 * 0 + 5 * 1) * 100 / 30, 2)  # 83.33: no reply, no callback


@pytest.fixture
async def world(client: Any, users: Any) -> World:
    return World(client, users)


async def test_monthly_evaluation_exact_rates_and_scores(world: World) -> None:
    w = world
    await build_november(w)
    w.at(1, 10, month=12)
    sup = await w("sup")
    rep = await ok(await sup.get("/api/evaluation?period=2026-11"))
    assert rep["period"] == "2026-11" and rep["kind"] == "month" and rep["final"] is True
    assert rep["from"] == "2026-11-01T00:00:00+08:00" and rep["to"] == "2026-12-01T00:00:00+08:00"
    assert rep["weights"]["sign_on_time"] == 20 and rep["weights"]["set_by"] is None
    assert [u["unit"] for u in rep["units"]] == [B, A, C]  # ranked by score
    u = by_unit(rep)
    a = u[A]
    assert (a["orders"], a["dispatched"], a["co_dispatched"]) == (5, 5, 0)  # not order 6
    assert (a["sign_counted"], a["sign_on_time"], a["sign_on_time_rate"]) == (5, 4, 0.8)
    assert (a["reply_counted"], a["reply_on_time"], a["reply_on_time_rate"]) == (5, 4, 0.8)
    assert (a["returned"], a["return_rate"]) == (0, 0.0)
    assert (a["extended"], a["extension_rate"]) == (1, 0.2)
    assert (a["callbacks"], a["satisfied"], a["basically_satisfied"], a["dissatisfied"]) == (
        6, 3, 1, 2)  # fmt: skip
    assert a["satisfaction_rate"] == 0.6667
    assert a["overdue"] == 1
    assert a["score"] == SCORE_A_NOV == 75.67 and a["rank"] == 2
    assert a["name"] == "常州市住房和城乡建设局" and a["short"] == "市住建局"
    b = u[B]
    assert (b["orders"], b["dispatched"], b["returned"], b["return_rate"]) == (1, 1, 1, 1.0)
    assert (b["sign_on_time_rate"], b["extension_rate"]) == (1.0, 0.0)
    assert b["reply_counted"] == 0 and b["reply_on_time_rate"] is None  # a return owes no reply
    assert b["callbacks"] == 0 and b["satisfaction_rate"] is None and b["overdue"] == 0
    assert b["score"] == SCORE_B_NOV == 83.33 and b["rank"] == 1
    c = u[C]  # co-handling unit: only its sign-for counts
    assert (c["dispatched"], c["co_dispatched"], c["sign_counted"], c["sign_on_time"]) == (
        0, 1, 1, 0)  # fmt: skip
    assert c["sign_on_time_rate"] == 0.0 and c["return_rate"] is None
    assert c["score"] == 0.0 and c["rank"] == 3


async def test_open_orders_roll_into_the_period_where_they_close(world: World) -> None:
    w = world
    o = await build_november(w)
    # Order 6 is closed in December: it counts there, not in November.
    w.at(1, 10, month=12)
    six = await w.act("agent", await _fresh(w, o["6"]), "callback", result="satisfied")
    assert six["state"] == "closed"
    sup = await w("sup")
    nov = by_unit(await ok(await sup.get("/api/evaluation?period=2026-11")))
    assert nov[A]["dispatched"] == 5
    dec = await ok(await sup.get("/api/evaluation?period=2026-12"))
    assert dec["final"] is False  # the period runs until 2027-01-01
    assert [u["unit"] for u in dec["units"]] == [A]
    d = dec["units"][0]
    assert (d["dispatched"], d["sign_on_time_rate"], d["reply_on_time_rate"]) == (1, 1.0, 1.0)
    assert (d["satisfaction_rate"], d["score"], d["rank"]) == (1.0, 100.0, 1)
    year = by_unit(await ok(await sup.get("/api/evaluation?period=2026")))
    y = year[A]
    assert (y["dispatched"], y["sign_on_time"], y["reply_on_time"], y["extended"]) == (6, 5, 5, 1)
    assert y["satisfaction_rate"] == round(5 / 7, 4)
    assert y["score"] == round(20 * 5 / 6 + 30 * 5 / 6 + 40 * 5 / 7 + 5 + 5 * (1 - 1 / 6), 2)
    # October holds nothing.
    assert (await ok(await sup.get("/api/evaluation?period=2026-10")))["units"] == []


async def test_unit_staff_see_only_their_own_unit(world: World) -> None:
    w = world
    await build_november(w)
    w.at(1, 10, month=12)
    b = await w("b")
    rep = await ok(await b.get("/api/evaluation?period=2026-11"))
    assert [u["unit"] for u in rep["units"]] == [B]
    assert rep["units"][0]["rank"] == 1  # ranked among every unit
    r = await ok(await b.get(f"/api/evaluation?period=2026-11&unit={A}"), 403)
    assert r["error"]["code"] == "forbidden_unit"
    csv_text = (await (await b.get("/api/evaluation/export?period=2026-11&format=csv"))
                .read()).decode("utf-8-sig")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [r["单位代码"] for r in rows] == [B]
    # Platform agents do not read evaluations; the joint-meeting office (auditor) reads all.
    assert (await (await w("agent")).get("/api/evaluation?period=2026-11")).status == 403
    audit = await ok(await (await w("auditor")).get("/api/evaluation?period=2026-11"))
    assert {u["unit"] for u in audit["units"]} == {A, B, C}
    sup = await w("sup")
    one = await ok(await sup.get(f"/api/evaluation?period=2026-11&unit={A}"))
    assert [(u["unit"], u["rank"]) for u in one["units"]] == [(A, 2)]


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "26-11", "abc", "", "1999",
                                    "2026-11-01", "2027-01"])  # fmt: skip
async def test_bad_period_is_a_clear_400(world: World, period: str) -> None:
    w = world
    w.at(1, 10, month=12)  # 2027-01 has not started
    sup = await w("sup")
    for path in ("/api/evaluation", "/api/evaluation/export"):
        r = await ok(await sup.get(f"{path}?period={period}&format=csv"), 400)
        assert r["error"]["code"] == "invalid_period" and r["error"]["message"]
        assert r["error"]["details"] == {"field": "period"}
    r = await ok(await sup.get("/api/evaluation"), 400)
    assert "period" in r["error"]["message"]


async def test_weights_set_by_admin_validated_and_applied(world: World, pool: Any) -> None:
    w = world
    await build_november(w)
    w.at(1, 10, month=12)
    admin, sup = await w("admin"), await w("sup")
    good = {"sign_on_time": 50, "reply_on_time": 50, "satisfaction": 0, "no_return": 0,
            "no_extension": 0}  # fmt: skip
    # Only administrators set weights.
    assert (await sup.put("/api/evaluation/weights", json=good)).status == 403
    # Sum must be 100; values integers 0..100; every field present.
    r = await ok(await admin.put("/api/evaluation/weights", json=good | {"satisfaction": 10}), 400)
    assert r["error"]["code"] == "invalid_weights" and "110" in r["error"]["message"]
    r = await ok(await admin.put("/api/evaluation/weights", json=good | {"no_return": -1}), 400)
    assert r["error"]["details"][0]["field"] == "no_return"
    r = await ok(await admin.put("/api/evaluation/weights", json=good | {"no_return": 1.5}), 400)
    assert r["error"]["details"][0]["field"] == "no_return"
    missing = dict(good)
    del missing["satisfaction"]
    r = await ok(await admin.put("/api/evaluation/weights", json=missing), 400)
    assert r["error"]["details"][0]["field"] == "satisfaction"
    assert await pool.fetchval("SELECT count(*) FROM evaluation_weights") == 0
    cur = await ok(await sup.get("/api/evaluation/weights"))
    assert cur["set_by"] is None and cur["weights"] == cur["defaults"]
    assert cur["weights"] == {"sign_on_time": 20, "reply_on_time": 30, "satisfaction": 40,
                              "no_return": 5, "no_extension": 5}  # fmt: skip
    # A valid change is stored and used at once.
    done = await ok(await admin.put("/api/evaluation/weights", json=good | {"note": "试行"}))
    assert done["weights"] == good and done["set_by"] == "admin1"
    rep = by_unit(await ok(await sup.get("/api/evaluation?period=2026-11")))
    assert rep[A]["score"] == 80.0  # 50 × 0.8 + 50 × 0.8
    assert rep[B]["score"] == 100.0  # only its sign-for is weighted and has data
    hist = await ok(await sup.get("/api/evaluation/weights/history"))
    assert [h["note"] for h in hist["items"]] == ["试行"]
    # The weights table is append-only.
    with pytest.raises(Exception, match="append-only"):
        await pool.execute("DELETE FROM evaluation_weights")


async def test_export_csv_and_xlsx_with_chart(world: World) -> None:
    w = world
    await build_november(w)
    w.at(1, 10, month=12)
    sup = await w("sup")
    r = await sup.get("/api/evaluation/export?period=2026-11&format=csv")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert 'filename="evaluation-2026-11.csv"' in r.headers["Content-Disposition"]
    text = (await r.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == HEADERS and "签收及时率(%)" in rows[0] and "综合得分" in rows[0]
    table = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(table) == [B, A, C]
    a = table[A]
    assert (a["排名"], a["成员单位"], a["综合得分"]) == ("2", "常州市住房和城乡建设局", "75.67")
    assert (a["交办量"], a["签收及时率(%)"], a["答复及时率(%)"]) == ("5", "80.0", "80.0")
    assert (a["退回率(%)"], a["延时率(%)"], a["满意率(%)"], a["超期件数"]) == (
        "0.0", "20.0", "66.67", "1")  # fmt: skip
    assert table[B]["答复及时率(%)"] == ""  # no data, not zero

    r = await sup.get("/api/evaluation/export?period=2026-11&format=xlsx")
    assert r.status == 200 and "spreadsheetml" in r.headers["Content-Type"]
    data = await r.read()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["成员单位考核"]
    values = list(ws.iter_rows(values_only=True))
    assert list(values[0]) == HEADERS
    assert [v[1] for v in values[1:]] == [B, A, C]
    assert values[2][HEADERS.index("综合得分")] == 75.67
    assert values[2][HEADERS.index("满意率(%)")] == 66.67
    notes = {row[0]: row[1] for row in wb["说明"].iter_rows(values_only=True) if row[0]}
    assert notes["评估期"] == "2026-11" and notes["满意率"] == 40
    # The bar chart of the composite scores is in the file.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1
        xml = z.read(charts[0]).decode()
    assert "<barChart>" in xml and "综合得分 2026-11" in xml
    col = get_column_letter(SCORE_COLUMN)
    assert f"'成员单位考核'!${col}$2:${col}$4" in xml  # the score column of the three units
    assert "'成员单位考核'!$D$2:$D$4" in xml and HEADERS[3] == "单位简称"  # the categories
    assert len(ws._charts) == 1 and isinstance(ws._charts[0], BarChart)
    # a bad format is refused
    r = await sup.get("/api/evaluation/export?period=2026-11&format=pdf")
    assert r.status == 400 and (await r.json())["error"]["details"] == {"field": "format"}


async def test_routes_are_described_in_openapi(client: Any) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    ev = doc["paths"]["/api/evaluation"]["get"]
    assert [p["name"] for p in ev["parameters"]] == ["period", "unit"]
    assert ev["x-roles"] == ["admin", "auditor", "supervisor", "unit_staff"]
    assert doc["paths"]["/api/evaluation/weights"]["put"]["x-roles"] == ["admin"]
    ex = doc["paths"]["/api/evaluation/export"]["get"]
    assert {p["name"] for p in ex["parameters"]} == {"period", "unit", "format"}
    stats = doc["paths"]["/api/stats/calls"]["get"]
    assert [p["name"] for p in stats["parameters"]] == ["from", "to", "queue"]
    assert stats["x-roles"] == ["admin", "supervisor"]


def _t(month: int, day: int, hour: int, minute: int = 0, year: int = 2027) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


async def test_recomputed_deadlines_withdraw_overdue_marks_and_move_the_sign_limit(
    world: World,
) -> None:
    """Orders dispatched on 2026-12-31 run into 2027, which the statutory calendar does not know
    yet: their limits are provisional (weekdays, minus 元旦). 2027-01-04 turns out to be a day
    off; the confirmation moves the limits one working day later, withdraws the overdue marks
    the new limits no longer justify (workflow.recompute), and the evaluation follows."""
    w = world

    async def at(t: dt.datetime) -> None:
        w.clock["now"] = t

    # P: A leads, C co-handles; both sign after the provisional limit.
    await at(_t(12, 31, 16, 50, year=2026))
    p = await w.create()
    await at(_t(12, 31, 17, year=2026))  # Thursday 17:00: 30 working minutes left that day
    p = await w.act("agent", p, "dispatch", lead=A, co_units=[C])
    assert p["due_provisional"] is True
    assert {a["unit"]: a["sign_due"] for a in p["assignments"]} == {
        A: "2027-01-04T09:00:00+08:00", C: "2027-01-04T09:00:00+08:00"}  # fmt: skip
    assert p["reply_due"] == "2027-01-08T17:00:00+08:00"
    # Q: B leads, signs at once; its reply will be late even against the recomputed limit.
    await at(_t(12, 31, 16, 55, year=2026))
    q = await w.create()
    await at(_t(12, 31, 17, year=2026))
    q = await w.act("agent", q, "dispatch", lead=B)
    await at(_t(12, 31, 17, 10, year=2026))
    q = await w.act("b", q, "sign")

    assert await w.service.sweep_once(now=_t(1, 4, 9, 30)) >= 1  # sign_overdue for A and C
    await at(_t(1, 4, 10))
    p = await w.act("a", await _fresh(w, p), "sign")  # late against 09:00
    await at(_t(1, 5, 10))
    p = await w.act("c", p, "sign")  # late against 09:00 of either day
    assert await w.service.sweep_once(now=_t(1, 9, 10)) == 2  # both replies overdue

    # The holiday notice is entered and the year confirmed (on Saturday 2027-01-09).
    await at(_t(1, 9, 11))
    sup = await w("sup")
    await ok(await sup.put("/api/workflow/calendar/days/2027-01-04",
                           json={"is_workday": False, "note": "元旦调休"}))  # fmt: skip
    r = await ok(await sup.put("/api/workflow/calendar/years/2027", json={"note": "国办发明电"}))
    assert r["recomputed"] == 2
    tl = await ok(await (await w("agent")).get(f"/api/orders/{p['number']}/timeline"))
    rec = tl["events"][-1]
    assert rec["kind"] == "deadlines_recomputed"
    assert rec["data"]["changes"]["sign_due"][A]["to"] == "2027-01-05T09:00:00+08:00"
    assert rec["data"]["changes"]["reply_due"]["to"] == "2027-01-11T17:00:00+08:00"
    # A signed (01-04 10:00) before its new limit; C (01-05 10:00) did not.
    assert sorted(rec["data"]["cleared"]) == ["reply_overdue", f"sign_overdue:{A}"]

    # P: A replies within the recomputed limit; Q: B misses it and is marked overdue again.
    await at(_t(1, 11, 10))
    p = await w.act("a", await _fresh(w, p), "reply", text="已责令施工单位停止夜间施工")
    assert await w.service.sweep_once(now=_t(1, 11, 18)) == 1
    await at(_t(1, 12, 10))
    q = await w.act("b", await _fresh(w, q), "reply", text="已处理")
    for x in (p, q):
        await at(_t(1, 12, 11))
        x = await w.act("sup", x, "accept_reply")
        await at(_t(1, 12, 15))
        x = await w.act("agent", x, "callback", result="satisfied")
        assert x["state"] == "closed"

    await at(_t(2, 1, 10))
    u = by_unit(await ok(await sup.get("/api/evaluation?period=2027-01")))
    a = u[A]  # signed and replied within the recomputed limits: the withdrawn marks are gone
    assert (a["sign_counted"], a["sign_on_time"], a["sign_on_time_rate"]) == (1, 1, 1.0)
    assert (a["reply_counted"], a["reply_on_time"], a["reply_on_time_rate"]) == (1, 1, 1.0)
    assert a["overdue"] == 0 and a["score"] == 100.0
    c = u[C]  # late against the recomputed limit too
    assert (c["co_dispatched"], c["sign_counted"], c["sign_on_time"]) == (1, 1, 0)
    b = u[B]  # its mark was withdrawn, then set again against the new limit
    assert (b["sign_on_time"], b["reply_counted"], b["reply_on_time"], b["overdue"]) == (
        1, 1, 0, 1)  # fmt: skip


async def test_a_limit_recomputed_earlier_does_not_make_a_signature_late(world: World) -> None:
    """The confirmed notice makes Saturday 2027-01-02 a working day (调休): the sign-for limit of
    an order dispatched on 2026-12-31 17:00 moves from Monday 09:00 to Saturday 09:00. The unit
    signed on Saturday 10:00, within the limit it was given: still on time."""
    w = world
    w.clock["now"] = _t(12, 31, 16, 50, year=2026)
    p = await w.create()
    w.clock["now"] = _t(12, 31, 17, year=2026)
    p = await w.act("agent", p, "dispatch", lead=A)
    assert p["assignments"][0]["sign_due"] == "2027-01-04T09:00:00+08:00"
    w.clock["now"] = _t(1, 2, 10)
    p = await w.act("a", p, "sign")
    sup = await w("sup")
    await ok(await sup.put("/api/workflow/calendar/days/2027-01-02",
                           json={"is_workday": True, "note": "元旦调休上班"}))  # fmt: skip
    r = await ok(await sup.put("/api/workflow/calendar/years/2027", json={"note": "国办发明电"}))
    assert r["recomputed"] == 1
    tl = await ok(await (await w("agent")).get(f"/api/orders/{p['number']}/timeline"))
    assert tl["events"][-1]["data"]["changes"]["sign_due"][A]["to"] == "2027-01-02T09:00:00+08:00"
    p = await _fresh(w, p)
    w.clock["now"] = _t(1, 5, 10)
    p = await w.act("a", p, "reply", text="已处理")
    w.clock["now"] = _t(1, 5, 11)
    p = await w.act("sup", p, "accept_reply")
    w.clock["now"] = _t(1, 5, 15)
    assert (await w.act("agent", p, "callback", result="satisfied"))["state"] == "closed"
    w.clock["now"] = _t(2, 1, 10)
    a = by_unit(await ok(await sup.get("/api/evaluation?period=2027-01")))[A]
    assert (a["sign_counted"], a["sign_on_time"]) == (1, 1)
