"""Member-unit workspace in headless Chromium: only the unit's orders, overdue first, signing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.async_api import expect

from tests.console.conftest import Shot, Site

pytestmark = pytest.mark.browser

UNIT_A, UNIT_B = "CZ-ZJJ", "CZ-CGJ"


async def new_order(agent: Any, topic: str, lead: str, *, urgent: bool = False) -> dict[str, Any]:
    """Register an order through the API and dispatch it to ``lead``."""
    resp = await agent.post("/api/orders", json={
        "channel": "phone", "category": "complaint", "content": f"{topic}:具体情况说明。",
        "topic": topic, "urgent": urgent,
        "citizen": {"name": "张三", "phone": "13812345678"},
    })  # fmt: skip
    body = await resp.json()
    assert resp.status == 201, body
    resp = await agent.post(
        f"/api/orders/{body['number']}/dispatch", json={"lead": lead, "version": body["version"]}
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["state"] == "dispatched"
    return body


async def test_unit_sees_only_its_orders_and_signs_one(site: Site, shot: Shot) -> None:
    agent = await site.users.create_client("agent1", "agent")
    mine_1 = await new_order(agent, "小区电梯故障", UNIT_A)
    mine_2 = await new_order(agent, "工地夜间施工噪音", UNIT_A, urgent=True)
    other = await new_order(agent, "占道经营", UNIT_B)
    await site.users.create("zjj1", "unit_staff", unit_code=UNIT_A, display_name="住建局值班")

    page = await site.page()
    await site.login(page, "zjj1", "/console/unit")
    rows = page.locator("#orders tbody tr")
    await expect(rows).to_have_count(2)
    numbers = await rows.evaluate_all("rs => rs.map(r => r.dataset.number)")
    assert set(numbers) == {mine_1["number"], mine_2["number"]}
    assert other["number"] not in await page.text_content("#orders")
    # Neither overdue: the urgent one comes first.
    assert numbers[0] == mine_2["number"]
    # Units see the caller's phone masked (SPEC R5.9).
    await rows.first.click()
    await expect(page.locator("#d-title")).to_contain_text(mine_2["number"])
    assert await page.text_content("#d-citizen") == "张三 138****5678"
    await shot(page, "unit-workspace")

    await page.click("#btn-sign")
    await expect(page.locator("#d-state")).to_have_text("办理中")
    await expect(page.locator("#d-timeline li")).to_have_count(3)  # created, dispatch, sign
    await expect(page.locator(f"#orders tr[data-number='{mine_2['number']}'] .order-state")
                 ).to_have_text("办理中")  # fmt: skip
    resp = await agent.get(f"/api/orders/{mine_2['number']}")
    assert (await resp.json())["state"] == "handling"
    # The other unit's order was not touched and is not reachable by this unit.
    resp = await agent.get(f"/api/orders/{other['number']}")
    assert (await resp.json())["state"] == "dispatched"

    # Reply: the order leaves the unit's hands for the platform's 答复认定.
    await page.fill("#reply-text", "已联系物业,电梯已于今日修复。")
    await page.click("#btn-reply")
    await expect(page.locator("#d-state")).to_have_text("待答复认定")
    await shot(page, "unit-workspace-replied")

    # 第十一条(四): a return request needs its basis; without one nothing is sent.
    await page.locator(f"#orders tr[data-number='{mine_1['number']}']").click()
    await expect(page.locator("#d-title")).to_contain_text(mine_1["number"])
    await page.click("#btn-return")
    await expect(page.locator("#toast")).to_contain_text("须写明依据")
    await page.fill("#return-basis", "电梯维保属市场监管局职责")
    await page.fill("#return-suggestion", "CZ-SCJG")
    await page.click("#btn-return")
    await expect(page.locator("#d-timeline li").last).to_contain_text("申请退回")
    await expect(page.locator("#d-timeline li").last).to_contain_text("电梯维保属市场监管局职责")
    await expect(page.locator("#btn-return")).to_be_disabled()  # one request pending
    body = await (await agent.get(f"/api/orders/{mine_1['number']}")).json()
    assert body["pending"]["kind"] == "return" and body["pending"]["unit"] == UNIT_A

    # 申请延时 on a signed order, with the limit asked for.
    mine_3 = await new_order(agent, "老旧小区加装电梯", UNIT_A)
    await page.click("#btn-refresh")
    await page.locator(f"#orders tr[data-number='{mine_3['number']}']").click()
    await expect(page.locator("#d-title")).to_contain_text(mine_3["number"])
    await page.click("#btn-sign")
    await expect(page.locator("#d-state")).to_have_text("办理中")
    wanted = dt.datetime.now() + dt.timedelta(days=60)
    await page.fill("#ext-reason", "需协调多个部门联合踏勘")
    await page.fill("#ext-due", wanted.strftime("%Y-%m-%dT17:00"))
    await page.click("#btn-extend")
    await expect(page.locator("#d-timeline li").last).to_contain_text("申请延时")
    await expect(page.locator("#ext-reason")).to_have_value("")
    body = await (await agent.get(f"/api/orders/{mine_3['number']}")).json()
    assert body["pending"]["kind"] == "extension"
    assert body["pending"]["requested_due"].startswith(wanted.strftime("%Y-%m-%d"))
