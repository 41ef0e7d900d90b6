"""Against a live Asterisk loaded with ``asterisk-config/``; skipped unless HOTLINE_TEST_AMI is set.

HOTLINE_TEST_AMI=127.0.0.1:5038:hotline:<secret> python -m pytest -m asterisk tests/pbx
"""

from __future__ import annotations

import asyncio
import os

import pytest

from pbx import dialplan as dp
from pbx.ami import AmiAuthError, AmiError, AmiServerConfig
from pbx.calls.events import QueueMemberChanged
from pbx.calls.service import Telephony

RAW = os.environ.get("HOTLINE_TEST_AMI", "")
pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not RAW, reason="HOTLINE_TEST_AMI=host:port:user:secret not set"),
]
MEMBER = "Local/1999@hotline-internal"


def live_config(**kw: object) -> AmiServerConfig:
    host, port, user, secret = RAW.split(":", 3)
    base: dict = dict(
        id="live",
        host=host,
        port=int(port),
        username=user,
        secret=secret,
        action_timeout=5.0,
        backoff_initial=0.2,
    )
    base.update(kw)
    return AmiServerConfig(**base)


@pytest.fixture
async def tel():
    t = Telephony([live_config()])
    await t.start()
    try:
        await t.wait_connected(10.0)
        yield t
    finally:
        await t.close()


async def test_wrong_secret_is_refused() -> None:
    t = Telephony([live_config(secret="definitely-wrong")])
    try:
        with pytest.raises(AmiAuthError):
            await t.client("live").connect(timeout=5.0)
    finally:
        await t.close()


async def test_dialplan_and_queues_are_loaded(tel: Telephony) -> None:
    for ctx in (
        dp.CTX_INBOUND,
        dp.CTX_CONFERENCE,
        dp.CTX_OUTBOUND,
        dp.CTX_SUPERVISOR,
        dp.CTX_HANGUP,
        dp.CTX_EMERGENCY,
    ):
        res = await tel.send_action("live", "ShowDialPlan", {"Context": ctx})
        assert res.items, ctx
    res = await tel.send_action("live", "QueueStatus")
    queues = {m["Queue"] for m in res.items if m.name == "QueueParams"}
    assert set(dp.ALL_QUEUES) <= queues
    for m in res.items:
        if m.name == "QueueParams" and m["Queue"] in dp.ALL_QUEUES:
            assert m["ServiceLevel"] == str(dp.SERVICE_LEVEL_SECONDS)
    res = await tel.send_action("live", "CoreShowChannels")
    assert res.complete is not None


async def test_member_login_pause_logout(tel: Telephony) -> None:
    q = dp.QUEUE_GENERAL
    with tel.subscribe({"QueueMemberChanged"}) as sub:
        await tel.send_action(
            "live",
            "QueueAdd",
            {"Queue": q, "Interface": MEMBER, "MemberName": "live test", "Paused": "false"},
        )
        try:
            await tel.send_action(
                "live",
                "QueuePause",
                {"Queue": q, "Interface": MEMBER, "Paused": "true", "Reason": "lunch"},
            )
        finally:
            await tel.send_action("live", "QueueRemove", {"Queue": q, "Interface": MEMBER})
        seen: list[QueueMemberChanged] = []
        while len(seen) < 3:
            e = await asyncio.wait_for(sub.get(), 5.0)
            assert isinstance(e, QueueMemberChanged)
            if e.interface == MEMBER:
                seen.append(e)
        assert [e.change for e in seen] == ["added", "pause", "removed"]
        assert seen[1].paused and seen[1].paused_reason == "lunch"
    with pytest.raises(AmiError, match=r"Not there|not found"):
        await tel.send_action("live", "QueueRemove", {"Queue": q, "Interface": MEMBER})
