"""Console tests with telephony: the fake Asterisk (AMI over real TCP, app_queue membership), the
real telephony stack and console service on it, and the real workflow, served to Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from agents.callcontrol import StaticUnits
from agents.keys import CONSOLE_CONFIG, PBX, UNITS
from agents.service import ConsoleConfig
from hotline.settings import Settings
from pbx.ami import AmiServerConfig
from pbx.calls.service import Telephony
from tests.agents.conftest import QueueSim
from tests.console.conftest import PAGES_MODULE, Site
from tests.fakes.fake_ami import FakeAmi

UNIT = "CZ-ZJJ"
"""The member unit with a phone number in these tests."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as f:
        yield f


@pytest.fixture
async def tel(fake: FakeAmi) -> AsyncIterator[Telephony]:
    QueueSim(fake)  # app_queue membership answers on the fake
    t = Telephony([AmiServerConfig(id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret",
                                   action_timeout=1.0, connect_timeout=1.0, ping_interval=30.0,
                                   backoff_initial=0.05, backoff_max=0.2)])  # fmt: skip
    await t.start()
    await t.wait_connected(3.0)
    try:
        yield t
    finally:
        await t.close()


@pytest.fixture
def app(
    settings: Settings,
    db_dsn: str,
    app_roles: frozenset[str],
    tel: Telephony,
    monkeypatch: pytest.MonkeyPatch,
) -> web.Application:
    """The full application (real workflow, real console service) on the fake Asterisk."""
    import hotline.web.app as web_app
    from hotline.features import console

    if PAGES_MODULE not in console.ROUTE_MODULES:
        monkeypatch.setattr(
            web_app, "CORE_ROUTE_MODULES", [*web_app.CORE_ROUTE_MODULES, PAGES_MODULE]
        )
    a = web_app.build_app(settings, db_dsn, app_roles)
    a[PBX] = tel
    # Wrap-up long enough for the agent to dispose of the order after the call.
    a[CONSOLE_CONFIG] = ConsoleConfig(default_wrapup=60.0, stats_interval_s=0.2)
    # The unit's number for transfers and three-way calls (production: the duty phone of the
    # member-unit directory, 第十三条).
    a[UNITS] = StaticUnits({UNIT: "2001"})
    return a


def answer_originates(fake: FakeAmi) -> None:
    """The fake answers an async Originate like Asterisk: queued, then OriginateResponse."""

    def originate(action: dict[str, str]) -> list[list[tuple[str, str]]]:
        done = [("Event", "OriginateResponse"), ("ActionID", action.get("ActionID", "")),
                ("Response", "Success"), ("Channel", action.get("Channel", "")),
                ("Reason", "4"), ("Uniqueid", "pbx1-1795900100.1")]  # fmt: skip
        asyncio.get_running_loop().call_later(0.05, fake.send_event, done)
        return [[("Response", "Success"), ("Message", "Originate successfully queued")]]

    fake.handlers["Originate"] = originate


def iso_ms(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp() * 1000


async def queue_login(site: Site, username: str) -> Any:
    """A console page of ``username`` logged in to hotline-general, available."""
    page = await site.page()
    await site.login(page, username, "/console/")
    await expect(page.locator("#conn")).to_have_text("实时连接正常")
    await page.select_option("#queue-pick", "hotline-general")
    await page.click("#btn-queue-login")
    await expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    return page
