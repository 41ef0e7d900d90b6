"""Login page and agent console in headless Chromium."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from playwright.async_api import expect

from agents.keys import CONSOLE
from hotline.keys import USERS
from tests.console.conftest import Shot, Site

pytestmark = pytest.mark.browser


async def test_agent_logs_in_and_sees_the_console(site: Site, shot: Shot) -> None:
    await site.users.create("wang", "agent", display_name="王坐席", extension="8001")
    page = await site.page()
    await page.goto(site.url("/console/"))
    # Not logged in: the shell sends the browser to the login page, remembering where it was.
    await page.wait_for_url("**/console/login?next=%2Fconsole%2F")
    await shot(page, "login")
    await page.fill("#username", "wang")
    await page.fill("#password", "wrong-password-1")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
    assert "/console/login" in page.url

    await page.fill("#password", site.users.passwords["wang"])
    await page.click("#login-submit")
    await page.wait_for_url(site.url("/console/"))
    await page.wait_for_selector("body[data-ready='1']")
    assert "王坐席" in await page.text_content("#who")
    assert "8001" in await page.text_content("#who")
    state = await page.get_attribute("#agent-state", "data-state")
    assert state in {"logged_out", "available", "ringing", "on_call", "wrap_up", "paused"}
    label = await page.text_content("#agent-state")
    assert label in {"未签入", "空闲", "振铃", "通话中", "话后处理", "示忙"}
    # The member-unit picker is filled from the workflow API when it is mounted.
    await shot(page, "console")
    # The CSRF token of the login is kept for this tab's writes.
    token = await page.evaluate("sessionStorage.getItem('hotline.csrf')")
    assert token and len(token) >= 16

    # Logging out ends the session: the console sends the browser back to the login page.
    await page.click("#logout")
    await page.wait_for_url("**/console/login")
    await page.goto(site.url("/console/wallboard"))
    await page.wait_for_url("**/console/login?next=%2Fconsole%2Fwallboard")


async def test_login_goes_to_the_home_page_of_the_role(site: Site) -> None:
    await site.users.create("li", "supervisor")
    page = await site.page()
    await page.goto(site.url("/console/login"))
    await page.fill("#username", "li")
    await page.fill("#password", site.users.passwords["li"])
    await page.click("#login-submit")
    await page.wait_for_url(site.url("/console/wallboard"))


async def test_login_ignores_a_foreign_next(site: Site) -> None:
    await site.users.create("zhao", "agent")
    page = await site.page()
    await page.goto(site.url("/console/login?next=https%3A%2F%2Fevil.example%2F"))
    await page.fill("#username", "zhao")
    await page.fill("#password", site.users.passwords["zhao"])
    await page.click("#login-submit")
    await page.wait_for_url(site.url("/console/"))


async def test_socket_backs_off_when_the_server_keeps_dropping_it(site: Site) -> None:
    """A server that accepts the socket and drops it at once: reconnects come after about 1 s,
    then 2 s, then 4 s (±20 % jitter), and every new socket subscribes again."""
    await site.users.create("wang", "agent")
    page = await site.page()
    await site.login(page, "wang", "/console/")
    opened: list[float] = []
    subscribes: list[dict] = []
    loop = asyncio.get_running_loop()
    fourth = asyncio.Event()

    def on_ws(ws: Any) -> None:
        opened.append(loop.time())
        if len(opened) == 4:
            fourth.set()
        ws.on_message(lambda m: subscribes.append(json.loads(m)))
        # Drop it once the tab has sent its subscription.
        loop.call_later(0.2, lambda: asyncio.ensure_future(ws.close()))

    await page.route_web_socket("**/api/ws", on_ws)
    await page.reload()
    await page.wait_for_selector("body[data-ready='1']")
    await asyncio.wait_for(fourth.wait(), 15)
    gaps = [b - a - 0.2 for a, b in itertools.pairwise(opened)]
    for gap, nominal in zip(gaps, (1.0, 2.0, 4.0), strict=True):
        assert 0.75 * nominal <= gap <= 1.2 * nominal + 0.8, gaps  # ±20 % jitter + slack
    # Each dropped socket had subscribed again before it was dropped.
    assert [m["type"] for m in subscribes[:3]] == ["subscribe"] * 3
    assert subscribes[0]["topics"] == ["agent", "orders"]
    await expect(page.locator("#conn")).to_have_class("conn down")


async def test_a_revoked_session_sends_the_tab_to_the_login_page(
    site: Site, app: Any, pool: Any
) -> None:
    """The socket drops, the reconnect is refused (401): the tab goes to the login page instead
    of retrying forever."""
    wang = await site.users.create("wang", "agent")
    page = await site.page()
    await site.login(page, "wang", "/console/")
    await expect(page.locator("#conn")).to_have_text("实时连接正常")
    await app[USERS].set_active(wang["id"], False)  # an administrator disabled the user
    for conn in list(app[CONSOLE].hub.connections()):
        await conn.ws.close()
    await page.wait_for_url("**/console/login?next=%2Fconsole%2F", timeout=5000)
