"""Call control, pause, the wallboard and socket behaviour in the browser, on the fake Asterisk."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from agents.keys import CONSOLE
from tests.agents.conftest import make_agent
from tests.agents.scripted import ScriptedCall
from tests.console.calls.conftest import UNIT, answer_originates, queue_login
from tests.console.conftest import Shot, Site
from tests.fakes.fake_ami import FakeAmi

pytestmark = pytest.mark.browser


async def test_agent_a_never_gets_agent_b_pop(
    site: Site, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    svc = app[CONSOLE]
    await make_agent(site.users, svc, pool, "agent_a", "1001")
    await make_agent(site.users, svc, pool, "agent_b", "1002")
    page_a = await queue_login(site, "agent_a")
    page_b = await queue_login(site, "agent_b")
    # B also has a second tab (its own session): both tabs get B's messages.
    page_b2 = await site.page()
    await site.login(page_b2, "agent_b", "/console/")
    await expect(page_b2.locator("#agent-state")).to_have_attribute("data-state", "available")
    for page in (page_a, page_b, page_b2):
        await page.evaluate("() => { window.rings = []; window.hotlineSocket.on('call.ringing',"
                            " (m) => window.rings.push(m.call_id)); }")  # fmt: skip

    call = ScriptedCall(n=5, caller="13700000005", agent_ext="1002")
    for ev in [*call.arrive(), *call.ring()]:
        fake.send_event(ev)
    await expect(page_b.locator("#pop-caller")).to_have_text("13700000005")
    await expect(page_b2.locator("#pop-caller")).to_have_text("13700000005")
    # Anything addressed to A would have arrived by now (same server, same loop); give it a
    # generous margin anyway.
    await page_a.wait_for_timeout(1000)
    assert await page_a.evaluate("() => window.rings") == []
    assert await page_b.evaluate("() => window.rings") == [call.call_id]
    assert await page_b2.evaluate("() => window.rings") == [call.call_id]
    await expect(page_a.locator("#pop")).to_be_hidden()
    await expect(page_a.locator("#agent-state")).to_have_attribute("data-state", "available")


async def test_socket_reconnects_and_catches_up_on_a_missed_ring(
    site: Site, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    svc = app[CONSOLE]
    await make_agent(site.users, svc, pool, "wang", "1001")
    page = await queue_login(site, "wang")
    first = await page.evaluate("() => window.hotlineSocket.connects")
    assert first == 1

    # The server drops every socket (a restart, a proxy timeout) and a call rings meanwhile.
    for conn in list(svc.hub.connections()):
        await conn.ws.close()
    await expect(page.locator("#conn")).to_have_class("conn down")
    call = ScriptedCall(n=7, caller="13800000007", agent_ext="1001")
    for ev in [*call.arrive(), *call.ring()]:
        fake.send_event(ev)

    # Back-off of about a second, then the tab reconnects, re-subscribes and the server re-sends
    # the state and the still-ringing call.
    await expect(page.locator("#conn")).to_have_text("实时连接正常", timeout=5000)
    assert await page.evaluate("() => window.hotlineSocket.connects") == 2
    await expect(page.locator("#pop-caller")).to_have_text("13800000007")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "ringing")
    assert svc.hub.count == 1


async def test_wallboard_live_and_listen(
    site: Site, shot: Shot, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    svc = app[CONSOLE]
    await make_agent(site.users, svc, pool, "wang", "1001")
    await site.users.create("li", "supervisor", display_name="李班长", extension="9001")
    agent_page = await queue_login(site, "wang")
    board = await site.page()
    await site.login(board, "li", "/console/wallboard")
    general = board.locator("#queues tr[data-queue='hotline-general']")
    await expect(general.locator(".agents-available")).to_have_text("1")
    wang = board.locator("#agents tr[data-username='wang']")
    await expect(wang).to_contain_text("空闲")
    await expect(wang.locator("button.spy-listen")).to_be_disabled()

    # A caller waits in the queue: calls waiting, longest wait.
    call = ScriptedCall(n=9, caller="13900000009", agent_ext="1001")
    for ev in call.arrive():
        fake.send_event(ev)
    await expect(board.locator("#t-waiting .n")).to_have_text("1")
    await expect(general.locator(".waiting")).to_have_text("1")
    for ev in [*call.ring(), *call.answer(hold=4)]:
        fake.send_event(ev)
    await expect(agent_page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
    await expect(board.locator("#t-waiting .n")).to_have_text("0")
    await expect(general.locator(".agents-on_call")).to_have_text("1")
    await expect(wang).to_contain_text("通话中")
    # Answered after 4 s: inside the 15 s service level.
    await expect(board.locator("#t-answered .n")).to_have_text("1")
    await expect(general.locator(".sl")).to_have_text("100.0%")
    await expect(board.locator("#t-sl .n")).to_have_text("100.0%")
    await shot(board, "wallboard")

    # Listen: the supervisor's phone is rung into listen@hotline-supervisor (ChanSpy there)
    # with the agent's channel as SPY_TARGET.
    answer_originates(fake)
    await wang.locator("button.spy-listen").click()
    await expect(board.locator("#toast")).to_contain_text("已发起监听")
    spy = [a for a in fake.actions if a.get("Action") == "Originate"]
    assert spy and (spy[-1]["Context"], spy[-1]["Exten"]) == ("hotline-supervisor", "listen")
    assert spy[-1]["Variable"].startswith(f"SPY_TARGET={call.agent_channel},")
    assert "9001" in spy[-1]["Channel"]


async def test_three_way_call_with_a_picked_unit(
    site: Site, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    """第十一条(二): citizen, agent and the unit in one conference; the agent leaves, the order is
    closed as resolved in the three-way call."""
    svc = app[CONSOLE]
    await make_agent(site.users, svc, pool, "wang", "1001")
    page = await queue_login(site, "wang")
    answer_originates(fake)
    call = ScriptedCall(n=11, caller="13900000011", agent_ext="1001")
    for ev in [*call.arrive(), *call.ring(), *call.answer()]:
        fake.send_event(ev)
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")

    await page.click("#btn-threeway")  # nobody picked yet: refused in the page
    await expect(page.locator("#toast")).to_contain_text("请先选择成员单位")
    await page.fill("#unit-search", "住建")
    await page.click(f"#unit-list div[data-code='{UNIT}']")
    await page.click("#btn-threeway")
    await expect(page.locator("#toast")).to_contain_text("正在接通三方通话")
    redirect = [a for a in fake.actions if a.get("Action") == "Redirect"][-1]
    assert redirect["Channel"] == call.citizen and redirect["ExtraChannel"] == call.agent_channel
    dial = [a for a in fake.actions if a.get("Action") == "Originate"][-1]
    assert dial["Channel"].startswith("Local/2001@")

    await page.click("#btn-hangup-mine")
    await expect(page.locator("#toast")).to_contain_text("已退出通话")
    hangup = [a for a in fake.actions if a.get("Action") == "Hangup"][-1]
    assert hangup["Channel"] == call.agent_channel

    await page.fill("#f-content", "来电人咨询电梯加装补贴,已与住建局三方通话解答。")
    await page.click("#btn-create")
    await expect(page.locator("#draft-order")).to_contain_text("已登记工单")
    number = (await page.text_content("#draft-order") or "").split()[-1]
    await page.check("input[name=disp][value=three_way_call]")
    await page.click("#btn-dispose")
    await expect(page.locator(f"#my-orders tr[data-number='{number}'] .order-state")
                 ).to_have_text("已办结")  # fmt: skip


async def test_pause_with_a_reason_and_log_out(
    site: Site, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    await make_agent(site.users, app[CONSOLE], pool, "wang", "1001")
    page = await queue_login(site, "wang")
    badge = page.locator("#agent-state")
    await page.select_option("#pause-reason", "就餐")
    await page.click("#btn-pause")
    await expect(badge).to_have_attribute("data-state", "paused")
    await expect(badge).to_have_text("示忙")
    await expect(page.locator("#state-reason")).to_contain_text("原因:就餐")
    pause = [a for a in fake.actions if a.get("Action") == "QueuePause"][-1]
    assert pause["Paused"] == "true" and pause["Reason"] == "就餐"
    await expect(page.locator("#btn-unpause")).to_be_enabled()
    await page.click("#btn-unpause")
    await expect(badge).to_have_attribute("data-state", "available")
    await page.click("#btn-queue-logout")
    await expect(badge).to_have_attribute("data-state", "logged_out")
    assert [a["Queue"] for a in fake.actions if a.get("Action") == "QueueRemove"] == [
        "hotline-general"
    ]
