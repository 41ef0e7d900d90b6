"""Queue login / pause / logout against a live Asterisk loaded with ``asterisk-config/``;
skipped unless HOTLINE_TEST_AMI is set.

HOTLINE_TEST_AMI=127.0.0.1:5038:hotline:<secret> python -m pytest -m asterisk tests/agents
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from agents.service import ConsoleService
from agents.store import AgentStore
from pbx import dialplan
from pbx.ami import AmiServerConfig
from pbx.calls.service import Telephony
from tests.agents.conftest import until

RAW = os.environ.get("HOTLINE_TEST_AMI", "")
pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not RAW, reason="HOTLINE_TEST_AMI=host:port:user:secret not set"),
]
MEMBER = "Local/1998@hotline-internal"  # a member that needs no registered phone


async def test_live_login_pause_logout(pool: Any) -> None:
    host, port, user, secret = RAW.split(":", 3)
    tel = Telephony([AmiServerConfig(id="live", host=host, port=int(port), username=user,
                                     secret=secret, action_timeout=5.0)])
    await tel.start()
    svc: ConsoleService | None = None
    try:
        await tel.wait_connected(10.0)
        store = AgentStore(pool)
        uid = await pool.fetchval("INSERT INTO users (username, password_hash, role) "
                                  "VALUES ('live1998', 'x', 'agent') RETURNING id")
        row = await store.create(uid, "live", MEMBER, "1998", "Live 1998")
        svc = ConsoleService(store, tel)
        await svc.start()
        assert svc.queues is not None
        live = svc.board.by_user[uid]
        await svc.queues.login(row, [dialplan.QUEUE_GENERAL])
        await until(lambda: live.state.value == "available", timeout=5, what="member added")
        await svc.queues.pause(await store.get(row.id), True, "live-test")
        await until(lambda: live.state.value == "paused", timeout=5, what="paused")
        assert live.pause_reason == "live-test"
        await svc.queues.pause(await store.get(row.id), False, "")
        await until(lambda: live.state.value == "available", timeout=5, what="unpaused")
        await svc.queues.logout(await store.get(row.id))
        await until(lambda: live.state.value == "logged_out", timeout=5, what="removed")
    finally:
        if svc is not None:
            await svc.stop()
        await tel.close()
