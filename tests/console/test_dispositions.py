"""Dispositions at intake from the console without a call (a walk-in or a web message typed by
the agent): 不予受理 with a reason (第九条/第十条) and 直接解答 (第十一条(二))."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.console.conftest import Shot, Site

pytestmark = pytest.mark.browser


async def register(page: object, content: str) -> str:
    await page.fill("#f-content", content)  # type: ignore[attr-defined]
    await page.click("#btn-create")  # type: ignore[attr-defined]
    await expect(page.locator("#draft-order")).to_contain_text("已登记工单")  # type: ignore[attr-defined]
    return (await page.text_content("#draft-order") or "").split()[-1]  # type: ignore[attr-defined]


async def test_not_accepted_and_direct_answer(site: Site, shot: Shot) -> None:
    agent = await site.users.create_client("wang", "agent")
    boss = await site.users.create_client("li", "supervisor")
    r = await boss.post("/api/kb/articles", json={
        "title": "市民卡补办", "body": "携带本人身份证到任一市民卡服务网点办理补卡。",
        "keywords": ["市民卡", "补办"]})  # fmt: skip
    article_id = (await r.json())["id"]
    for step in ("submit", "approve"):
        r = await boss.post(f"/api/kb/articles/{article_id}/{step}", json={})
        assert r.status == 200, await r.text()
    page = await site.page()
    await site.login(page, "wang", "/console/")

    # Nothing registered yet: no disposition possible.
    await expect(page.locator("#btn-dispose")).to_be_disabled()
    # An empty order is refused in the page, nothing is sent.
    await page.click("#btn-create")
    await expect(page.locator("#toast")).to_contain_text("请填写诉求内容")

    number = await register(page, "来电人咨询外省房产纠纷如何起诉。")
    await page.check("input[name=disp][value=not_accept]")
    await page.select_option("#na-reason", "legal_procedure")
    await page.fill("#na-guidance", "请向有管辖权的人民法院起诉")
    await page.click("#btn-dispose")
    row = page.locator(f"#my-orders tr[data-number='{number}'] .order-state")
    await expect(row).to_have_text("不予受理")
    order = await (await agent.get(f"/api/orders/{number}")).json()
    assert order["state"] == "not_accepted"
    assert order["not_accepted_reason"] == "legal_procedure"
    assert order["guidance"] == "请向有管辖权的人民法院起诉"
    await expect(page.locator("#btn-dispose")).to_be_disabled()  # final: nothing more to do

    # 直接解答 cites a published knowledge-base article (第十二条), found by searching.
    number2 = await register(page, "询问市民卡补办需要带什么材料。")
    await page.check("input[name=disp][value=direct_answer]")
    await page.click("#btn-dispose")
    await expect(page.locator("#toast")).to_contain_text("直接解答须引用知识库条目")
    await page.fill("#kb-query", "市民卡 补办")
    await page.click("#btn-kb-search")
    await expect(page.locator("#kb-article")).to_have_value(str(article_id))
    await expect(page.locator("#direct-answer")).to_have_value(re.compile("身份证"))
    await page.click("#btn-dispose")
    await expect(page.locator(f"#my-orders tr[data-number='{number2}'] .order-state")
                 ).to_have_text("已办结")  # fmt: skip
    order = await (await agent.get(f"/api/orders/{number2}")).json()
    assert order["state"] == "closed" and order["resolution"] == "direct_answer"
    assert order["kb_article_id"] == article_id
    await shot(page, "console-dispositions")

    # The shift's orders survive a reload of the tab (sessionStorage + re-read from the API).
    await page.reload()
    await page.wait_for_selector("body[data-ready='1']")
    await expect(page.locator("#my-orders tbody tr")).to_have_count(2)
