"""Knowledge base over HTTP and PostgreSQL: review flow, versions, validity, ranked search."""

from __future__ import annotations

from typing import Any

LEAD = "CZ-GJJ"


async def ok(resp: Any, status: int = 200) -> dict[str, Any]:
    body = await resp.json()
    assert resp.status == status, body
    return body


async def publish(sup: Any, author: Any, **fields: Any) -> dict[str, Any]:
    art = await ok(await author.post("/api/kb/articles", json=fields), 201)
    await ok(await author.post(f"/api/kb/articles/{art['id']}/submit", json={}))
    return await ok(await sup.post(f"/api/kb/articles/{art['id']}/approve", json={}))


async def test_review_flow_versions_and_search(users: Any) -> None:
    sup = await users.create_client("sup1", "supervisor")
    staff = await users.create_client("gjj1", "unit_staff", unit_code=LEAD)
    agent = await users.create_client("agent1", "agent")

    art = await ok(await staff.post("/api/kb/articles", json={
        "title": "住房公积金提取", "body": "购房提取住房公积金需提供身份证、购房合同和发票。",
        "keywords": ["公积金", "提取"]}), 201)  # fmt: skip
    assert art["unit_code"] == LEAD and art["versions"][0]["status"] == "draft"
    aid = art["id"]
    # Drafts are not searchable and not visible to agents' search.
    assert (await ok(await agent.get("/api/kb/search", params={"q": "公积金"})))["items"] == []
    # Agents cannot edit; unit staff of another unit cannot either.
    assert (await agent.put(f"/api/kb/articles/{aid}", json={"title": "x"})).status == 403
    other = await users.create_client("zjj1", "unit_staff", unit_code="CZ-ZJJ")
    assert (await other.put(f"/api/kb/articles/{aid}", json={"title": "x"})).status == 403
    # Only supervisors approve.
    await ok(await staff.post(f"/api/kb/articles/{aid}/submit", json={}))
    assert (await staff.post(f"/api/kb/articles/{aid}/approve", json={})).status == 403
    assert (await staff.put(f"/api/kb/articles/{aid}", json={"title": "x"})).status == 409
    r = await ok(await sup.post(f"/api/kb/articles/{aid}/reject", json={"note": "请补充办理地点"}))
    assert r["versions"][0]["status"] == "rejected"
    body = "购房提取住房公积金需提供身份证、购房合同和发票,到市公积金中心办理。"
    await ok(await staff.put(f"/api/kb/articles/{aid}", json={"body": body}))
    await ok(await staff.post(f"/api/kb/articles/{aid}/submit", json={}))
    pub = await ok(await sup.post(f"/api/kb/articles/{aid}/approve", json={}))
    assert pub["published_version"] == 1 and "市公积金中心" in pub["body"]

    # Editing a published article makes version 2 as a draft; version 1 stays in service.
    v2 = await ok(await staff.put(f"/api/kb/articles/{aid}", json={"title": "公积金提取(新规)"}))
    assert v2["latest_version"] == 2 and v2["published_version"] == 1
    assert v2["title"] == "住房公积金提取"
    await ok(await staff.post(f"/api/kb/articles/{aid}/submit", json={}))
    v2 = await ok(await sup.post(f"/api/kb/articles/{aid}/approve", json={}))
    assert v2["published_version"] == 2 and v2["title"] == "公积金提取(新规)"
    assert [v["status"] for v in v2["versions"]] == ["superseded", "published"]

    # Ranked search: the article about the topic beats one that mentions it once.
    await publish(sup, sup, title="租房提取", body="租房也可以提取,需提供租赁备案。", keywords=[])
    await publish(sup, sup, title="路灯报修", body="路灯不亮请拨打城管热线。")
    res = await ok(await agent.get("/api/kb/search", params={"q": "公积金提取需要什么材料"}))
    titles = [x["title"] for x in res["items"]]
    assert titles[0] == "公积金提取(新规)" and "路灯报修" not in titles
    assert res["items"][0]["rank"] >= res["items"][-1]["rank"]
    lamp = await ok(await agent.get("/api/kb/search", params={"q": "路灯坏了"}))
    assert [x["title"] for x in lamp["items"]] == ["路灯报修"]


async def test_validity_dates_and_bad_input(users: Any) -> None:
    sup = await users.create_client("sup1", "supervisor")
    await publish(sup, sup, title="2025年供暖补贴", body="供暖补贴申请。",
                  valid_from="2025-01-01", valid_to="2025-12-31")  # fmt: skip
    q = {"q": "供暖补贴"}
    assert (await ok(await sup.get("/api/kb/search", params={**q, "on": "2025-06-01"})))["items"]
    assert (await ok(await sup.get("/api/kb/search", params={**q, "on": "2026-06-01"})))[
        "items"] == []  # fmt: skip
    r = await sup.post("/api/kb/articles", json={"title": "t", "body": "b",
                                                  "valid_from": "2026-02-01",
                                                  "valid_to": "2026-01-01"})  # fmt: skip
    assert r.status == 400
    assert (await sup.post("/api/kb/articles", json={"title": "", "body": "b"})).status == 400
    assert (await sup.post("/api/kb/articles", json={"title": "t", "body": "b",
                                                      "valid_from": "soon"})).status == 400
    assert (await sup.get("/api/kb/articles/abc")).status == 400
    assert (await sup.get("/api/kb/articles/999")).status == 404
    assert (await sup.get("/api/kb/search")).status == 400
    # Hostile query text is quoted, never parsed as tsquery syntax.
    for nasty in ("'):*|!&", "\\\\ ' \" ( ) <->", "公积金 & | !"):
        assert (await sup.get("/api/kb/search", params={"q": nasty})).status == 200
