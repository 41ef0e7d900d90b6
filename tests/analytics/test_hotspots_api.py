"""Hotspots (热点分析, 第十八条, 第十九条; SPEC R7.2) over HTTP and a real PostgreSQL: work orders
registered through the real work-order API on a controlled clock, then topic × place counts,
spikes against a flat baseline, 集中诉求, 持续性诉求, the quick report text, roles and bad
parameters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from tests.analytics.world import ApiWorld, ok
from workflow.clock import TZ

NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=TZ)  # a Monday morning, Asia/Shanghai
HM, NDJ, HT, XL = "CZ-TN-HM", "CZ-ZL-NDJ", "CZ-WJ-HT", "CZ-ZL-XL"  # streets (街道/镇)

PEOPLE = {
    "admin": ("admin1", "admin", None),
    "sup": ("sup1", "supervisor", None),
    "agent": ("agent1", "agent", None),
    "auditor": ("audit1", "auditor", None),
    "unit": ("cgj1", "unit_staff", "CZ-CGJ"),
}


class World(ApiWorld):
    """The people of this module, the clock at NOW."""

    def __init__(self, client: Any, users: Any) -> None:
        super().__init__(client, users, PEOPLE, NOW)

    async def order(
        self,
        at: dt.datetime,
        topic: str | None,
        *,
        district: str | None = None,
        address: str | None = None,
        category: str = "complaint",
    ) -> dict[str, Any]:
        """Register one order at ``at`` through the API, then put the clock back to NOW."""
        self.clock["now"] = at
        body: dict[str, Any] = {"category": category, "content": f"市民反映:{topic or '有事'}"}
        for k, v in (("topic", topic), ("district", district), ("address", address)):
            if v is not None:
                body[k] = v
        try:
            return await ok(await (await self("agent")).post("/api/orders", json=body), 201)
        finally:
            self.clock["now"] = NOW

    async def hotspots(self, query: str, who: str = "sup") -> dict[str, Any]:
        return await ok(await (await self(who)).get(f"/api/hotspots?{query}"))


@pytest.fixture
async def world(client: Any, users: Any) -> World:
    return World(client, users)


def day(d: int, h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, d, h, m, tzinfo=TZ)


def find(items: list[dict[str, Any]], topic: str, place: str | None) -> dict[str, Any] | None:
    for it in items:
        if it["topic"] == topic and it["place"]["code"] == place:
            return it
    return None


async def streetlight_and_noise(w: World) -> list[str]:
    """24-hour windows ending 2026-11-16 08:00, four baseline windows before.

    路灯不亮 in 红梅街道 (天宁区): one order a day in each baseline window (flat), then seven
    between 19:00 and 22:30 of the current window — written several ways (district as a name, a
    keyword or a code; topic with spaces and punctuation). 噪音扰民 in 南大街街道 (钟楼区): six a
    day, every day, spread over the day (never 5 within 6 hours)."""
    for d in (11, 12, 13, 14):
        await w.order(day(d, 10), "路灯不亮", district="天宁区", address="红梅新村5幢门口")
    districts = ["天宁区", "天宁区", "天宁", "CZ-TN", "天宁区", None, "天宁区"]
    topics = ["路灯不亮", "路灯 不亮！", "路灯不亮", "路灯不亮。", *["路灯不亮"] * 3]
    burst = []
    for i, (dist, topic) in enumerate(zip(districts, topics, strict=True)):
        o = await w.order(
            day(15, 19) + dt.timedelta(minutes=35 * i),
            topic,
            district=dist,
            address="红梅新村5幢门口" if i != 6 else "红梅新村 5幢 门口",
        )
        burst.append(o["number"])
    for d in (11, 12, 13, 14, 15):
        for h in (9, 11, 13, 15, 17, 19):
            await w.order(day(d, h), "噪音扰民", district="钟楼区", address="南大街步行街12号")
    return burst


async def test_spike_against_flat_baseline_steady_topic_not_flagged(world: World) -> None:
    await streetlight_and_noise(world)
    r = await world.hotspots("window=24h")
    assert (r["from"], r["to"]) == ("2026-11-15T08:00:00+08:00", "2026-11-16T08:00:00+08:00")
    assert r["baseline"] == {"windows": 4, "from": "2026-11-11T08:00:00+08:00",
                             "to": "2026-11-15T08:00:00+08:00"}  # fmt: skip
    assert r["total"] == {"count": 13, "baseline": [7, 7, 7, 7], "baseline_mean": 7.0}

    spike = find(r["spikes"], "路灯不亮", HM)
    assert spike is not None, r["spikes"]
    assert spike["place"] == {"code": HM, "level": "street", "name": "红梅街道",
                              "district": "天宁区", "label": "天宁区红梅街道"}  # fmt: skip
    assert spike["count"] == 7 and spike["baseline"] == [1, 1, 1, 1]
    assert spike["baseline_mean"] == 1.0 and spike["baseline_sd"] == 0.0
    # threshold = max(min_count 5, μ + 3·max(σ, √μ) = 4, 1.5·μ = 1.5) = 5
    assert spike["threshold"] == 5.0 and spike["change"] == 6.0 and spike["ratio"] == 7.0
    assert spike["z"] == 6.0 and spike["spike"] is True
    # The steady topic is counted but not a spike: 6 against 6, 6, 6, 6.
    assert find(r["spikes"], "噪音扰民", NDJ) is None
    steady = find(r["top"], "噪音扰民", NDJ)
    assert steady is not None and steady["count"] == 6 and steady["baseline"] == [6, 6, 6, 6]
    assert steady["spike"] is False and steady["threshold"] == pytest.approx(13.35, abs=0.01)
    assert r["summary"]["spikes"] == 1 and len(r["spikes"]) == 1
    assert [(t["topic"], t["place"]["code"]) for t in r["top"]] == [
        ("路灯不亮", HM),
        ("噪音扰民", NDJ),
    ]

    # The thresholds are parameters: with min_count 8 seven orders are not a spike.
    assert (await world.hotspots("window=24h&min_count=8"))["spikes"] == []
    # The previous 24 hours (end given as a local time): one street-light order, no spike.
    prev = await world.hotspots("window=24h&end=2026-11-15T08:00")
    assert prev["to"] == "2026-11-15T08:00:00+08:00" and prev["spikes"] == []
    assert find(prev["top"], "路灯不亮", HM)["count"] == 1  # type: ignore[index]
    # end=<today's date> ("that whole day") is today so far, the same as no end at all
    today = await world.hotspots("window=24h&end=2026-11-16")
    assert today["to"] == NOW.isoformat() and len(today["spikes"]) == 1
    # District level: the spike is 天宁区's; city level: the topic alone.
    dist = await world.hotspots("window=24h&by=district")
    assert find(dist["spikes"], "路灯不亮", "CZ-TN")["place"]["label"] == "天宁区"  # type: ignore[index]
    city = await world.hotspots("window=24h&by=city")
    assert city["spikes"][0]["place"]["level"] == "city" and city["spikes"][0]["count"] == 7


async def test_concentrated_event(world: World) -> None:
    burst = await streetlight_and_noise(world)
    r = await world.hotspots("window=24h")
    assert r["rules"]["concentrated"] == {"hours": 6, "min_orders": 5}
    assert len(r["concentrated"]) == 1, r["concentrated"]
    c = r["concentrated"][0]
    assert (c["topic"], c["place"]["code"], c["count"]) == ("路灯不亮", HM, 7)
    assert c["first_at"] == "2026-11-15T19:00:00+08:00"
    assert c["last_at"] == "2026-11-15T22:30:00+08:00" and c["span_hours"] == 3.5
    assert c["window_count"] == 7 and c["orders"] == burst
    assert c["addresses"] == [{"address": "红梅新村5幢门口", "count": 7}]  # spaces normalised
    # Tighter rule: within 3 hours only 6 of them (19:00 … 21:55) → still ≥ 5; with 7 needed
    # in 3 hours there is none.
    tight = await world.hotspots("window=24h&burst_hours=3")
    assert tight["concentrated"][0]["count"] == 6
    assert (await world.hotspots("window=24h&burst_hours=3&burst_min=7"))["concentrated"] == []
    # Six a day spread over 10 hours (噪音扰民) is concentrated only with a 10-hour burst.
    wide = await world.hotspots("window=24h&burst_hours=10&burst_min=6")
    assert {(x["topic"], x["place"]["code"]) for x in wide["concentrated"]} == {
        ("路灯不亮", HM),
        ("噪音扰民", NDJ),
    }


async def test_persistent_event_across_weeks(world: World, pool: asyncpg.Pool) -> None:
    # Weeks ending 2026-11-16 08:00: k=3 [10-19, 10-26), k=2 [10-26, 11-02),
    # k=1 [11-02, 11-09), k=0 [11-09, 11-16).
    def oct_(d: int, h: int) -> dt.datetime:
        return dt.datetime(2026, 10, d, h, tzinfo=TZ)

    fee = dict(district="武进区", address="湖塘镇阳湖花园3幢")
    for at in (oct_(20, 10), oct_(22, 15), oct_(27, 9), oct_(30, 16), day(10, 10), day(13, 11)):
        await world.order(at, "物业费", **fee)  # 2, 2, 0, 2 → three weeks with ≥ 2
    for at in (day(3, 10), day(5, 10), day(10, 9), day(12, 9)):  # two weeks only
        await world.order(at, "停车难", district="钟楼区", address="西林公园北门")
    for at in (oct_(21, 10), oct_(28, 10), day(4, 10), day(11, 10)):  # one a week
        await world.order(at, "占道经营", address="湖塘纺织城南门")
    # One 物业费 order is not accepted (第九条): still a demand, but not open.
    last = await world.order(day(13, 14), "物业费", **fee)
    resp = await (await world("agent")).post(
        f"/api/orders/{last['number']}/not_accept",
        json={"version": last["version"], "reason": "legal_procedure",
              "guidance": "已进入诉讼程序,请依法院判决办理"})  # fmt: skip
    await ok(resp)

    r = await world.hotspots("window=7d")
    assert r["rules"]["persistent"] == {"weeks": 4, "min_weeks": 3, "week_min": 2,
                                        "from": "2026-10-19T08:00:00+08:00",
                                        "to": "2026-11-16T08:00:00+08:00"}  # fmt: skip
    assert [(p["topic"], p["place"]["code"]) for p in r["persistent"]] == [("物业费", HT)]
    p = r["persistent"][0]
    assert p["weeks"] == [2, 2, 0, 3] and p["active_weeks"] == 3 and p["total"] == 7
    assert p["open"] == 6  # the not-accepted one is final
    assert p["first_at"] == "2026-10-20T10:00:00+08:00"
    assert p["last_at"] == "2026-11-13T14:00:00+08:00"
    # Parameters: every one of 4 weeks → none; one order makes a week → 占道经营 too.
    assert (await world.hotspots("window=7d&min_weeks=4"))["persistent"] == []
    loose = await world.hotspots("window=7d&week_min=1")
    assert {(x["topic"], x["place"]["code"]) for x in loose["persistent"]} == {
        ("物业费", HT),
        ("占道经营", HT),
    }
    txt = await (await (await world("auditor")).get("/api/hotspots/report?format=txt")).text()
    assert "三、持续性诉求（近4周中至少3周、每周≥2件）" in txt.splitlines()
    assert (
        "1. 武进区湖塘镇「物业费」：近4周中 3 周，共 7 件（各周 2、2、0、3），未办结 6 件"
        in txt.splitlines()
    )
    # Topic and place were derived once per order and kept.
    assert await pool.fetchval("SELECT count(*) FROM hotspot_orders") == 15


async def test_places_and_topics_resolved_from_what_orders_carry(
    world: World, pool: asyncpg.Pool, client: Any,
) -> None:  # fmt: skip
    at = day(15, 10)
    await world.order(at, "井盖缺失", district="天宁区", address="红梅新村5幢")  # street
    await world.order(at, "井盖缺失", address="常州市钟楼区南大街步行街")  # street from address
    # The district entered wins over a street of another district in the address.
    await world.order(at, "井盖缺失", district="天宁区", address="南大街步行街")
    await world.order(at, "井盖缺失", district="CZ-WJ-HT")  # a street code
    await world.order(at, "井盖缺失", address="不知道哪里")  # nothing known
    await world.order(at, None, district="钟楼区", address="西林公园")  # no topic
    r = await world.hotspots("window=24h&min_count=100")
    got = {(t["topic"], t["place"]["code"], t["place"]["level"], t["count"]) for t in r["top"]}
    assert got == {
        ("井盖缺失", HM, "street", 1), ("井盖缺失", NDJ, "street", 1),
        ("井盖缺失", "CZ-TN", "district", 1), ("井盖缺失", HT, "street", 1),
        ("井盖缺失", None, "unknown", 1), ("投诉(未填主题)", XL, "street", 1),
    }  # fmt: skip
    unknown = next(t for t in r["top"] if t["place"]["level"] == "unknown")
    assert unknown["place"]["label"] == "地点未明"
    # An administrator deactivates 红梅街道: the orders are derived again with the new
    # catalogue (红梅 is also a word of 天宁区, so the order now counts for the district).
    admin = await world("admin")
    await ok(await admin.patch(f"/api/workflow/units/{HM}", json={"active": False}))
    again = await world.hotspots("window=24h&min_count=100")
    assert find(again["top"], "井盖缺失", HM) is None
    assert find(again["top"], "井盖缺失", "CZ-TN")["count"] == 2  # type: ignore[index]
    assert await pool.fetchval("SELECT count(DISTINCT catalogue) FROM hotspot_orders") == 1


async def test_quick_report_text(world: World) -> None:
    await streetlight_and_noise(world)
    sup = await world("sup")
    resp = await sup.get("/api/hotspots/report?window=24h&format=md")
    assert resp.status == 200 and resp.content_type == "text/markdown"
    assert resp.charset == "utf-8"
    md = await resp.text()
    lines = md.splitlines()
    assert lines[0] == "# 热点舆情诉求快报"
    for expected in [
        "- 时间范围：2026-11-15 08:00 至 2026-11-16 08:00（近24小时，北京时间）",
        "- 对比基线：前4个同长周期（2026-11-11 08:00 至 2026-11-15 08:00）",
        "- 诉求总量：13 件，较基线均值 7.0 件增长 86%",
        "- 地点口径：街道（镇）",
        "## 一、热点诉求（突增，本期≥5件且显著高于基线）",
        "1. 天宁区红梅街道「路灯不亮」：7 件，较基线均值 1.0 件增长 600%（基线各周期 1、1、1、1）",
        "## 二、集中诉求（6小时内同一地点同一主题≥5件）",
        "1. 天宁区红梅街道「路灯不亮」：7 件，11月15日 19:00 至 11月15日 22:30，"
        "主要地址：红梅新村5幢门口（7件）",
        "## 三、持续性诉求（近4周中至少3周、每周≥2件）",
        "## 四、诉求量居前的主题与地点",
        "2. 钟楼区南大街街道「噪音扰民」：6 件，与基线均值 6.0 件持平",
        "生成时间：2026-11-16 08:00（12345平台）",
    ]:
        assert expected in lines, (expected, md)

    # Exactly one spike and one concentrated demand; nothing recurs over the weeks (all these
    # orders are in the last week).
    def section(title: str) -> list[str]:
        start = lines.index(title) + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")),
                   len(lines))  # fmt: skip
        return [x for x in lines[start:end] if x]

    assert len(section("## 一、热点诉求（突增，本期≥5件且显著高于基线）")) == 1
    assert len(section("## 二、集中诉求（6小时内同一地点同一主题≥5件）")) == 1
    assert section("## 三、持续性诉求（近4周中至少3周、每周≥2件）") == ["本期未发现持续性诉求。"]

    txt_resp = await sup.get("/api/hotspots/report?window=24h&format=txt")
    assert txt_resp.status == 200 and txt_resp.content_type == "text/plain"
    txt = (await txt_resp.text()).splitlines()
    assert txt[0] == "热点舆情诉求快报" and not any(x.startswith("#") for x in txt)
    assert "时间范围：2026-11-15 08:00 至 2026-11-16 08:00（近24小时，北京时间）" in txt
    assert "一、热点诉求（突增，本期≥5件且显著高于基线）" in txt
    # Nothing found: each section says so.
    quiet = await (await sup.get("/api/hotspots/report?window=24h&end=2026-11-10")).text()
    assert "本期未发现突增热点。" in quiet and "本期未发现集中诉求。" in quiet
    assert "本期未发现持续性诉求。" in quiet and "本期无诉求。" in quiet


async def test_roles(world: World, client: Any) -> None:
    await world.order(day(15, 10), "路灯不亮", district="天宁区")
    for who in ("admin", "sup", "auditor"):
        r = await world.hotspots("window=7d", who)
        assert r["total"]["count"] == 1
        resp = await (await world(who)).get("/api/hotspots/report")
        assert resp.status == 200
    for who in ("agent", "unit"):
        c = await world(who)
        assert (await c.get("/api/hotspots")).status == 403
        assert (await c.get("/api/hotspots/report?format=txt")).status == 403
    assert (await client.get("/api/hotspots")).status == 401
    assert (await client.get("/api/hotspots/report")).status == 401


@pytest.mark.parametrize(("query", "field"), [
    ("window=7x", "window"), ("window=0d", "window"), ("window=91d", "window"),
    ("window=169h", "window"), ("window=２４h", "window"), ("window=7 d", "window"),
    ("by=town", "by"), ("baseline=0", "baseline"), ("baseline=abc", "baseline"),
    ("window=90d&baseline=4", "baseline"), ("sigma=nan", "sigma"), ("sigma=-1", "sigma"),
    ("ratio=0.5", "ratio"), ("min_count=0", "min_count"), ("burst_min=1", "burst_min"),
    ("burst_hours=200", "burst_hours"), ("weeks=1", "weeks"), ("min_weeks=5", "min_weeks"),
    ("weeks=2&min_weeks=3", "min_weeks"), ("week_min=0", "week_min"), ("top=0", "top"),
    ("end=2026-13-01", "end"), ("end=yesterday", "end"), ("end=1999-06-01", "end"),
    ("end=2026-11-16T09:00", "end"), ("windw=7d", "windw"), ("format=txt", "format"),
])  # fmt: skip
async def test_bad_parameters(world: World, pool: asyncpg.Pool, query: str, field: str) -> None:
    await world.order(day(15, 10), "路灯不亮", district="天宁区")
    resp = await (await world("sup")).get(f"/api/hotspots?{query}")
    body = await resp.json()
    assert resp.status == 400, body
    err = body["error"]
    assert err["code"] == "invalid_query" and err["details"] == {"field": field}
    msg = err["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in msg)  # Chinese …
    assert msg.endswith(")") and any("a" <= ch <= "z" for ch in msg)  # … then English
    # A refused request changes nothing (no topic / place derived).
    assert await pool.fetchval("SELECT count(*) FROM hotspot_orders") == 0


async def test_bad_report_format(world: World) -> None:
    sup = await world("sup")
    resp = await sup.get("/api/hotspots/report?format=pdf")
    body = await resp.json()
    assert resp.status == 400 and body["error"]["details"] == {"field": "format"}
    assert "md 或 txt" in body["error"]["message"] and "format must be" in body["error"]["message"]
    resp = await sup.get("/api/hotspots/report?window=1w")
    assert resp.status == 400 and (await resp.json())["error"]["details"] == {"field": "window"}


async def test_routes_are_described_in_openapi(client: Any) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    hs = doc["paths"]["/api/hotspots"]["get"]
    assert hs["x-roles"] == ["admin", "auditor", "supervisor"]
    names = [p["name"] for p in hs["parameters"]]
    assert names[:3] == ["window", "end", "by"] and "format" not in names
    rep = doc["paths"]["/api/hotspots/report"]["get"]
    assert "format" in [p["name"] for p in rep["parameters"]]
