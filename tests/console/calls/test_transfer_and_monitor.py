"""Transfers (转接) clicked in the agent console and listen / whisper / barge (监听/耳语/强插)
clicked on the wallboard, in Chromium on the fake Asterisk: the AMI action Asterisk receives,
what the page shows afterwards, and the Chinese error when the target is not available
(SPEC R3.3, R3.4; 第十一条(二))."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from agents.keys import CONSOLE
from tests.agents.conftest import make_agent, until
from tests.agents.scripted import ScriptedCall
from tests.console.calls.conftest import UNIT, answer_originates, queue_login
from tests.console.conftest import Shot, Site
from tests.fakes.fake_ami import FakeAmi

pytestmark = pytest.mark.browser

NO_PHONE_UNIT = "CZ-CGJ"
"""A member unit in the directory without a number for transfers in these tests."""
EXTENSIONS_CONF = Path(__file__).resolve().parents[3] / "asterisk-config" / "extensions.conf"
CALL_BUTTONS = ("#btn-blind", "#btn-attended", "#btn-threeway", "#btn-hangup-mine",
                "#btn-att-complete", "#btn-att-cancel")  # fmt: skip


def sent(fake: FakeAmi, action: str) -> list[dict[str, str]]:
    """The ``action`` actions the fake Asterisk received, oldest first."""
    return [a for a in fake.actions if a.get("Action") == action]


def refuse(message: str) -> Any:
    """An action handler answering like Asterisk refusing the action."""
    return lambda a: [[("Response", "Error"), ("Message", message)]]


def accept(message: str) -> Any:
    """An action handler answering like Asterisk accepting the action."""
    return lambda a: [[("Response", "Success"), ("Message", message)]]


def to_unit(call: ScriptedCall) -> tuple[str, str, str]:
    """(Channel, Context, Exten) of a transfer of ``call`` to UNIT's number (2001)."""
    return call.agent_channel, "hotline-internal", "2001"


async def answered_call(site: Site, fake: FakeAmi, n: int) -> tuple[Any, ScriptedCall]:
    """Agent wang (1001) in the console, talking with a citizen delivered by the queue."""
    page = await queue_login(site, "wang")
    call = ScriptedCall(n=n, caller=f"139000000{n:02d}", agent_ext="1001")
    for ev in [*call.arrive(), *call.ring(), *call.answer()]:
        fake.send_event(ev)
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
    await expect(page.locator("#btn-blind")).to_be_enabled()
    return page, call


async def pick_unit(page: Any, search: str, code: str) -> None:
    await page.fill("#unit-search", search)
    await page.click(f"#unit-list div[data-code='{code}']")


async def expect_error(page: Any, *texts: str) -> None:
    """A red toast with ``texts``."""
    toast = page.locator("#toast")
    await expect(toast).to_have_class(re.compile(r"\berror\b"))
    for t in texts:
        await expect(toast).to_contain_text(t)


async def expect_pbx_error(page: Any, text: str) -> None:
    """The exchange refused: exactly the Chinese message with Asterisk's reason, without the
    diagnostic details (action, server) meant for the logs."""
    await expect_error(page)
    await expect(page.locator("#toast")).to_have_text(f"操作失败:{text}")


async def expect_transferred(page: Any, fake: FakeAmi, call: ScriptedCall) -> None:
    """Asterisk reports the agent's part done by transfer (traces 06/07: ``AgentComplete``
    ``Reason: transfer``, then the agent leg hangs up; the citizen talks on)."""
    for ev in [*call.complete(talk=6, reason="transfer"), call.hangup()[0]]:
        fake.send_event(ev)
    await expect(page.locator("#pop-status")).to_have_text("已转接(通话 00:06)")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
    for button in CALL_BUTTONS:
        await expect(page.locator(button)).to_be_disabled()


async def test_blind_transfer_from_the_console(
    site: Site, shot: Shot, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    await make_agent(site.users, app[CONSOLE], pool, "wang", "1001")
    page, call = await answered_call(site, fake, 21)

    # A unit without a registered number: refused by the backend, nothing sent to Asterisk.
    await pick_unit(page, "城管", NO_PHONE_UNIT)
    await page.click("#btn-blind")
    await expect_error(page, f"成员单位 {NO_PHONE_UNIT} 不存在或未登记电话")
    assert sent(fake, "BlindTransfer") == []
    # A malformed extension typed by hand: refused too.
    await page.fill("#exten", "20 01")
    await page.click("#btn-blind")
    await expect_error(page, "转接目标号码格式错误")
    assert sent(fake, "BlindTransfer") == []

    # Asterisk refuses the transfer: the agent keeps the citizen and is told why.
    fake.handlers["BlindTransfer"] = refuse("Transfer failed")
    await page.fill("#exten", "2999")
    await page.click("#btn-blind")
    await expect_pbx_error(page, "转接失败: 交换机拒绝 (Transfer failed)")
    tried = [(a["Channel"], a["Context"], a["Exten"]) for a in sent(fake, "BlindTransfer")]
    assert tried == [(call.agent_channel, "hotline-internal", "2999")]
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
    await expect(page.locator("#pop-status")).to_contain_text("通话中")
    await expect(page.locator("#btn-blind")).to_be_enabled()
    await shot(page, "console-transfer-refused")

    # To the member unit picked in the list (the typed extension would win: clear it).
    fake.handlers["BlindTransfer"] = accept("Transfer succeeded")
    await page.fill("#exten", "")
    await pick_unit(page, "住建", UNIT)
    await page.click("#btn-blind")
    await expect(page.locator("#toast")).to_have_text("已转接")
    bt = sent(fake, "BlindTransfer")[-1]
    # The transferer's (agent's) channel moves the citizen on (obs. 13), to the unit's number.
    assert (bt["Channel"], bt["Context"], bt["Exten"]) == to_unit(call)
    await expect_transferred(page, fake, call)
    await shot(page, "console-transferred")


async def test_attended_transfer_cancel_then_complete(
    site: Site, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    svc = app[CONSOLE]
    await make_agent(site.users, svc, pool, "wang", "1001")
    page, call = await answered_call(site, fake, 23)

    await page.click("#btn-att-complete")  # no consultation running
    await expect_error(page, "没有进行中的咨询转接")
    await pick_unit(page, "城管", NO_PHONE_UNIT)
    await page.click("#btn-attended")
    await expect_error(page, f"成员单位 {NO_PHONE_UNIT} 不存在或未登记电话")
    assert sent(fake, "Atxfer") == []

    fake.handlers["Atxfer"] = accept("Atxfer successfully queued")
    await pick_unit(page, "住建", UNIT)
    await page.click("#btn-attended")
    await expect(page.locator("#toast")).to_have_text("正在咨询转接,来电人等待中")
    ax = sent(fake, "Atxfer")[-1]
    assert (ax["Channel"], ax["Context"], ax["Exten"]) == to_unit(call)
    await page.click("#btn-attended")  # one consultation at a time
    await expect_error(page, "已有进行中的咨询转接")
    assert len(sent(fake, "Atxfer")) == 1
    # Asterisk has not dialled the unit yet: cancelling must wait.
    await page.click("#btn-att-cancel")
    await expect_error(page, "咨询通话尚未建立")
    assert sent(fake, "Hangup") == []

    # Asterisk dials the unit through a Local pair in the call's Linkedid (trace 07).
    consult = "Local/2001@hotline-internal-0000002a"
    for i, suffix in ((60, ";1"), (61, ";2")):
        fake.send_event([("Event", "Newchannel"), ("Channel", consult + suffix),
                         ("ChannelState", "0"), ("Context", "hotline-internal"),
                         ("Exten", "2001"), ("Uniqueid", f"pbx1-1795900002.{i}"),
                         ("Linkedid", call.linkedid)])  # fmt: skip
    rec = svc.pbx.tracker.get(("pbx1", call.linkedid))
    await until(lambda: consult + ";1" in rec.channels, what="consult leg tracked")
    await page.click("#btn-att-cancel")
    await expect(page.locator("#toast")).to_have_text("已取消转接,回到来电人")
    assert [h["Channel"] for h in sent(fake, "Hangup")] == [consult + ";1"]
    # Back with the citizen.
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "on_call")
    await expect(page.locator("#btn-attended")).to_be_enabled()

    # Second try, completed: the agent's leg hangs up and Asterisk joins citizen and unit.
    await page.click("#btn-attended")
    await expect(page.locator("#toast")).to_have_text("正在咨询转接,来电人等待中")
    assert len(sent(fake, "Atxfer")) == 2
    await page.click("#btn-att-complete")
    await expect(page.locator("#toast")).to_have_text("转接完成")
    assert [h["Channel"] for h in sent(fake, "Hangup")] == [consult + ";1", call.agent_channel]
    await expect_transferred(page, fake, call)


def spy_options() -> dict[str, str]:
    """ChanSpy options of each mode in the shipped dialplan's [hotline-supervisor]."""
    text = EXTENSIONS_CONF.read_text(encoding="utf-8")
    section = text.split("[hotline-supervisor]", 1)[1].split("\n[", 1)[0]
    found = dict(re.findall(r"exten => (\w+),1,ChanSpy\(\$\{SPY_TARGET\},(\w+)\)", section))
    assert set(found) == {"listen", "whisper", "barge"}, found
    return found


async def test_whisper_and_barge_from_the_wallboard(
    site: Site, shot: Shot, fake: FakeAmi, app: web.Application, pool: Any
) -> None:
    options = spy_options()
    await make_agent(site.users, app[CONSOLE], pool, "wang", "1001")
    await site.users.create("li", "supervisor", display_name="李班长", extension="9001")
    await site.users.create("zhao", "supervisor", display_name="赵班长")  # no phone
    board = await site.page()
    await site.login(board, "li", "/console/wallboard")
    agent_page, call = await answered_call(site, fake, 25)
    wang = board.locator("#agents tr[data-username='wang']")
    await expect(wang).to_contain_text("通话中")

    # 监听 / 耳语 / 强插: the supervisor's phone is rung into ChanSpy on the agent's channel,
    # with the options the dialplan's [hotline-supervisor] uses for the same mode.
    answer_originates(fake)
    for mode, label in (("whisper", "耳语"), ("barge", "强插"), ("listen", "监听")):
        before = len(sent(fake, "Originate"))
        await wang.locator(f"button.spy-{mode}").click()
        await expect(board.locator("#toast")).to_have_text(f"已发起{label}")
        new = sent(fake, "Originate")[before:]
        assert len(new) == 1, new
        og = new[0]
        assert og["Channel"] == "Local/9001@hotline-internal"
        # into the shipped dialplan's extension for the mode, which runs ChanSpy with its options
        assert (og["Context"], og["Exten"], og["Priority"]) == ("hotline-supervisor", mode, "1")
        assert options[mode] in {"q", "qw", "qB"}
        assert og["Variable"] == f"SPY_TARGET={call.agent_channel},HOTLINE_CALLID={call.linkedid}"
        assert og["CallerID"] == f'"{mode}" <1001>'
        assert og["Async"] == "true"
    # The agent's own console is not disturbed.
    await expect(agent_page.locator("#agent-state")).to_have_attribute("data-state", "on_call")

    # The supervisor's phone does not answer (OriginateResponse Reason 3): 强插 failed.
    def no_answer(action: dict[str, str]) -> list[list[tuple[str, str]]]:
        done = [("Event", "OriginateResponse"), ("ActionID", action.get("ActionID", "")),
                ("Response", "Failure"), ("Channel", action.get("Channel", "")),
                ("Reason", "3"), ("Uniqueid", "<unknown>")]  # fmt: skip
        asyncio.get_running_loop().call_later(0.05, fake.send_event, done)
        return [[("Response", "Success"), ("Message", "Originate successfully queued")]]

    fake.handlers["Originate"] = no_answer
    await wang.locator("button.spy-barge").click()
    await expect_pbx_error(board, "强插失败: 无人接听")
    await expect(wang).to_contain_text("通话中")
    await shot(board, "wallboard-barge-failed")

    # A supervisor without a phone is told so; nothing is dialled.
    other = await site.page()
    await site.login(other, "zhao", "/console/wallboard")
    row = other.locator("#agents tr[data-username='wang']")
    await expect(row.locator("button.spy-whisper")).to_be_enabled()
    before = len(sent(fake, "Originate"))
    await row.locator("button.spy-whisper").click()
    await expect_error(other, "班长未登记话机")
    assert len(sent(fake, "Originate")) == before

    # The call ends: the buttons are disabled again.
    for ev in [*call.complete(), *call.hangup()]:
        fake.send_event(ev)
    await expect(wang.locator("button.spy-whisper")).to_be_disabled()
    await expect(wang.locator("button.spy-barge")).to_be_disabled()
