"""Member-unit workspace in headless Chromium: orders the deadline sweep marked overdue come
first and carry the 超期 mark (第十一条(三): sign for within 1 working hour, reply within the
limit; R5.7 overdue orders surface automatically)."""

from __future__ import annotations

import datetime as dt

import pytest
from aiohttp import web
from playwright.async_api import expect

from tests.console.conftest import Shot, Site
from tests.console.test_unit_workspace import UNIT_A, new_order
from workflow.clock import TZ
from workflow.keys import ORDER_SERVICE
from workflow.service import utcnow

pytestmark = pytest.mark.browser


def three_weeks_ago() -> dt.datetime:
    """10:00 (Beijing time) three weeks back: every limit of an order dispatched then, sign-for
    (1 working hour) and reply (5 working days), is long past, whatever holidays lie between."""
    return (dt.datetime.now(TZ) - dt.timedelta(days=21)).replace(hour=10, minute=0, second=0,
                                                                  microsecond=0)  # fmt: skip


async def test_overdue_orders_come_first_and_are_marked(
    site: Site, shot: Shot, app: web.Application
) -> None:
    svc = app[ORDER_SERVICE]
    past = three_weeks_ago()
    agent = await site.users.create_client("agent1", "agent")
    boss = await site.users.create_client("li", "supervisor")
    await site.users.create("zjj1", "unit_staff", unit_code=UNIT_A, display_name="住建局值班")
    unit_api = await site.users.client("zjj1")

    # Created in this order so that neither creation time nor order number gives the expected
    # list: late reply (signed three weeks ago), fresh normal, never signed (three weeks ago),
    # fresh urgent.
    try:
        svc.now = lambda: past
        late_reply = await new_order(agent, "小区路面塌陷", UNIT_A)
        r = await unit_api.post(f"/api/orders/{late_reply['number']}/sign",
                                json={"version": late_reply["version"]})  # fmt: skip
        assert r.status == 200, await r.text()
        svc.now = utcnow
        fresh = await new_order(agent, "楼道灯不亮", UNIT_A)
        svc.now = lambda: past + dt.timedelta(minutes=5)
        unsigned = await new_order(agent, "违章搭建", UNIT_A)
    finally:
        svc.now = utcnow
    urgent = await new_order(agent, "燃气管道漏气", UNIT_A, urgent=True)

    # The deadline sweep (normally every 30 s on the workers) marks both late orders.
    r = await boss.post("/api/workflow/sweep", json={})
    assert r.status == 200, await r.text()
    assert (await r.json())["changed"] == 2
    got = {o["number"]: o for o in [
        await (await agent.get(f"/api/orders/{x['number']}")).json()
        for x in (late_reply, fresh, unsigned, urgent)]}  # fmt: skip
    assert got[late_reply["number"]]["reply_overdue"] is True
    assert got[unsigned["number"]]["assignments"][0]["sign_overdue"] is True
    assert not got[fresh["number"]]["reply_overdue"] and not got[urgent["number"]]["reply_overdue"]
    assert not any(a["sign_overdue"] for x in (fresh, urgent)
                   for a in got[x["number"]]["assignments"])  # fmt: skip

    page = await site.page()
    await site.login(page, "zjj1", "/console/unit")
    rows = page.locator("#orders tbody tr")
    await expect(rows).to_have_count(4)
    # Overdue first (the earlier limit first: the missed sign-for, then the missed reply), and
    # only then the urgent one, ahead of the fresh normal one.
    expected = [unsigned["number"], late_reply["number"], urgent["number"], fresh["number"]]
    assert await rows.evaluate_all("rs => rs.map(r => r.dataset.number)") == expected
    for number in expected[:2]:
        await expect(page.locator(f"#orders tr[data-number='{number}'] .badge.overdue")
                     ).to_have_text("超期")  # fmt: skip
    for number in expected[2:]:
        await expect(page.locator(f"#orders tr[data-number='{number}'] .badge.overdue")
                     ).to_have_count(0)  # fmt: skip
    await expect(page.locator(f"#orders tr[data-number='{urgent['number']}'] .badge.urgent")
                 ).to_have_text("紧急")  # fmt: skip
    await expect(page.locator(f"#orders tr[data-number='{late_reply['number']}'] .order-state")
                 ).to_have_text("办理中")  # fmt: skip
    await shot(page, "unit-workspace-overdue")

    # Signing late does not clear the mark: the order stays among the overdue ones, now placed
    # by its (also missed) reply limit, five minutes after the other one's.
    await page.locator(f"#orders tr[data-number='{unsigned['number']}']").click()
    await expect(page.locator("#d-title")).to_contain_text(unsigned["number"])
    await expect(page.locator("#d-timeline")).to_contain_text("签收超期")
    await page.click("#btn-sign")
    await expect(page.locator("#d-state")).to_have_text("办理中")
    await expect(page.locator(f"#orders tr[data-number='{unsigned['number']}'] .order-state")
                 ).to_have_text("办理中")  # fmt: skip
    await expect(page.locator(f"#orders tr[data-number='{unsigned['number']}'] .badge.overdue")
                 ).to_have_text("超期")  # fmt: skip
    expected = [late_reply["number"], unsigned["number"], urgent["number"], fresh["number"]]
    assert await rows.evaluate_all("rs => rs.map(r => r.dataset.number)") == expected
