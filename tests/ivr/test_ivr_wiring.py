"""The IVR inside the real application: role ``agi`` starts the FastAGI server, /readyz shows it."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from hotline.settings import Settings
from ivr.pg_store import PgIvrStore
from tests.fakes.fake_agi import FakeCaller


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No transcription workers: the recordings feature would want a Vosk model for them.
    return replace(settings, agi=replace(settings.agi, port=0),
                   stt=replace(settings.stt, workers=0))


@pytest.fixture
def app_roles() -> frozenset[str]:
    return frozenset({"web", "agi", "workers"})


async def test_agi_role_serves_calls_and_reports_ready(client: TestClient,
                                                        pool: asyncpg.Pool) -> None:
    r = await client.get("/readyz")
    body = await r.json()
    agi = body["components"]["ivr.agi"]
    assert agi["ok"] is True
    # No AMI originator is wired in this test app: the dialling jobs say so but do not block.
    assert body["components"]["ivr.jobs"]["running"] is False
    host, port = agi["listen"][0].rsplit(":", 1)
    caller = await FakeCaller(["", "5"]).call(host, int(port),
                                              agi_uniqueid="pbx1-1795837952.77")
    assert caller.variables["HOTLINE_CHOICE"] == "5"
    row = await PgIvrStore(pool).session("pbx1-1795837952.77")
    assert row is not None and row["category"] == "suggestion"
    body = await (await client.get("/readyz")).json()
    assert body["components"]["ivr.agi"]["completed"] == 1


async def test_known_caller_hears_real_work_order(client: TestClient) -> None:
    from workflow.keys import WORKFLOW_API

    app = client.server.app
    api = app[WORKFLOW_API]
    created = await api.create_order_from_call(
        call_id="pbx1-1795837952.1", caller_phone="13800138000", category="complaint",
        content="小区门口道路积水，下雨天无法通行，请尽快处理。")
    body = await (await client.get("/readyz")).json()
    host, port = body["components"]["ivr.agi"]["listen"][0].rsplit(":", 1)
    digits = "".join(ch for ch in created["number"] if ch.isdigit())
    # Emergency notice: nothing; known-caller offer: 1; after the read-back: 0 (agent).
    caller = await FakeCaller(["", "1", "0"]).call(host, int(port))
    assert f"SAY DIGITS {digits} \"\"" in caller.commands
    assert caller.variables["HOTLINE_CHOICE"] == "0"
    # Self-service by number from another phone is refused (no disclosure).
    stranger = await FakeCaller(["", "8", digits, digits, digits]).call(
        host, int(port), agi_callerid="13700000000", args=["13700000000"])
    assert not any(c.startswith("SAY DIGITS") for c in stranger.commands)


async def test_surveys_use_the_work_order_calendar_for_holidays(client: TestClient) -> None:
    from datetime import date

    from hotline.features.ivr import IVR_DEPS

    deps = client.app[IVR_DEPS]
    assert deps.holiday is not None
    assert await deps.holiday(date(2026, 10, 1)) is True  # 国庆节
    assert await deps.holiday(date(2026, 10, 10)) is False  # 调休 working Saturday
