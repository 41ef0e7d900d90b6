"""Fixtures for agents/: the fake Asterisk (real TCP) with app_queue behaviour, the real
telephony stack on it, and the full application wired to it with in-memory workflow fakes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from agents.callcontrol import StaticUnits
from agents.keys import CONSOLE, CONSOLE_CONFIG, KNOWLEDGE, ORDER_LOOKUP, PBX, UNITS
from agents.service import ConsoleConfig, ConsoleService
from agents.store import AgentStore
from hotline.auth.passwords import hash_password
from hotline.auth.store import UserStore, user_json
from hotline.settings import Settings
from hotline.web.app import build_app
from pbx.ami import AmiServerConfig
from pbx.calls.service import Telephony
from tests.conftest import AuthedClient
from tests.fakes.fake_ami import FakeAmi
from tests.fakes.queue_sim import QueueSim

Fields = list[tuple[str, str]]


class FakeOrders:
    """In-memory ``OrderLookup``."""

    def __init__(self) -> None:
        self.by_number: dict[str, list[dict[str, Any]]] = {}
        self.delay = 0.0

    async def orders_for_caller(self, number: str, limit: int = 10) -> list[dict[str, Any]]:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.by_number.get(number, [])[:limit]


class FakeKnowledge:
    """In-memory ``KnowledgeSuggest``."""

    async def suggest(self, *, caller: str | None, queue: str | None, ivr_choice: str | None,
                      limit: int = 5) -> list[dict[str, Any]]:
        return [{"id": 7, "title": "自来水停水查询", "snippet": "停水通知可在…", "unit": "CZ-SW"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as f:
        yield f


@pytest.fixture
def qsim(fake: FakeAmi) -> QueueSim:
    return QueueSim(fake)


@pytest.fixture
async def tel(fake: FakeAmi, qsim: QueueSim) -> AsyncIterator[Telephony]:
    t = Telephony([AmiServerConfig(id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret",
                                   action_timeout=1.0, connect_timeout=1.0, ping_interval=30.0,
                                   backoff_initial=0.05, backoff_max=0.2)])
    await t.start()
    await t.wait_connected(3.0)
    try:
        yield t
    finally:
        await t.close()


@pytest.fixture
def orders() -> FakeOrders:
    return FakeOrders()


@pytest.fixture
def console_config() -> ConsoleConfig:
    return ConsoleConfig(wrapup={"hotline-general": 0.4}, default_wrapup=0.4, cancel_grace_s=0.1,
                         stats_interval_s=0.1, ami_timeout_s=0.4, originate_timeout_s=1.0)


@pytest.fixture
def app(settings: Settings, db_dsn: str, app_roles: frozenset[str], tel: Telephony,
        orders: FakeOrders, console_config: ConsoleConfig) -> web.Application:
    """The full application, its console wired to the fake Asterisk and workflow fakes."""
    a = build_app(settings, db_dsn, app_roles)
    a[PBX] = tel
    a[CONSOLE_CONFIG] = console_config
    a[ORDER_LOOKUP] = orders
    a[KNOWLEDGE] = FakeKnowledge()
    a[UNITS] = StaticUnits({"CZ-SW": "2001"})
    return a


@pytest.fixture
def svc(app: web.Application, client: Any) -> ConsoleService:
    return app[CONSOLE]


_HASH: list[str] = []


async def quick_client(users: Any, pool: Any, name: str, role: str, *,
                       unit_code: str | None = None, extension: str | None = None) -> Any:
    """A user and a bearer-token client without two argon2 rounds per user (the machine is
    shared; the foundation's tests cover password login). One hash is made per session."""
    if not _HASH:
        _HASH.append(hash_password(users.PASSWORD))
    row = await pool.fetchrow(
        """INSERT INTO users (username, password_hash, role, unit_code, extension)
           VALUES ($1, $2, $3, $4, $5) RETURNING *""",
        name, _HASH[0], role, unit_code, extension)
    users.passwords[name] = users.PASSWORD
    token, _ = await UserStore(pool).create_session(row["id"], "bearer", timedelta(hours=1))
    return AuthedClient(users.http, token, user_json(row))


async def make_agent(users: Any, svc: ConsoleService, pool: Any, name: str, ext: str,
                     role: str = "agent") -> Any:
    """A user with an agent row on PJSIP/agent<ext>; returns its authenticated client."""
    c = await quick_client(users, pool, name, role, extension=ext)
    row = await AgentStore(pool).create(c.user["id"], "pbx1", f"PJSIP/agent{ext}", ext,
                                        f"Agent {ext}")
    svc.register(row)
    c.agent_id = row.id
    return c


async def until(cond: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:  # noqa: ASYNC109
    """Poll ``cond`` until truthy."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.01)


class WsReader:
    """Collects messages of a client WebSocket in the background."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.msgs: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for m in self.ws:
            self.msgs.append(json.loads(m.data))

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.msgs if m["type"] == type_]

    async def wait(self, type_: str, n: int = 1, timeout: float = 5.0,  # noqa: ASYNC109
                   **match: Any) -> dict[str, Any]:
        def hit() -> list[dict[str, Any]]:
            return [m for m in self.of(type_) if all(m.get(k) == v for k, v in match.items())]
        got = await until(lambda: len(hit()) >= n, timeout, f"{type_} {match}")
        assert got
        return hit()[n - 1]

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
