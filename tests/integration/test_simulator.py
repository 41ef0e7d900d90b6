"""The newcomer's call simulator (scripts/simulate_call.py) against the running service."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import SETTINGS, AgiSettings, AmiServer, Settings
from hotline.web.app import build_app
from kit.component import COMPONENTS
from tests.conftest import Users

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "simulate_call.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_simulated_call_reaches_agent_and_registers_recordings(
    settings: Settings, db_dsn: str, pool: Any
) -> None:
    spec = importlib.util.spec_from_file_location("simulate_call", SCRIPT)
    assert spec and spec.loader
    sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim)
    ami_port = _free_port()
    server = AmiServer(id="pbx1", host="127.0.0.1", port=ami_port, secret="simulator")
    full = replace(settings, ami=(server,), agi=AgiSettings(port=0))
    app = build_app(full, db_dsn, frozenset({"web", "ami", "agi", "workers"}))
    async with TestClient(TestServer(app)) as client:
        users = Users(pool, client)
        admin = await users.create_client("admin1", "admin")
        agent = await users.create_client("agent1001", "agent", extension="1001")
        r = await admin.post("/api/agents", json={"user_id": agent.user["id"],
                                                   "interface": "PJSIP/agent1001",
                                                   "extension": "1001"})  # fmt: skip
        assert r.status == 201
        agi = app[COMPONENTS].snapshot()["ivr.agi"]["listen"][0]
        args = argparse.Namespace(
            url=str(client.make_url("")).rstrip("/"), ami_port=ami_port, secret="simulator",
            agi=agi, caller="13800138000", key="2", agent="1001", ring=0.3, talk=0.5,
            wait_agent=30.0, recordings=str(app[SETTINGS].recordings.dir), data_dir="var",
        )  # fmt: skip
        placing = asyncio.create_task(sim.place_call(args))
        for _ in range(200):  # the backend logs in to the simulator's AMI, then the agent signs in
            r = await agent.post("/api/agents/me/login", json={"queues": ["hotline-complaint"]})
            if r.status == 200:
                break
            await asyncio.sleep(0.2)
        assert r.status == 200, await r.text()
        await asyncio.wait_for(placing, 60)
        rows = []
        for _ in range(100):
            rows = await pool.fetch("SELECT direction, state FROM recordings")
            if len(rows) == 3 and all(x["state"] == "registered" for x in rows):
                break
            await asyncio.sleep(0.2)
        assert sorted((x["direction"], x["state"]) for x in rows) == [
            ("agent", "registered"),
            ("citizen", "registered"),
            ("mix", "registered"),
        ]
        call = await pool.fetchrow("SELECT * FROM calls")
        assert call["disposition"] == "answered" and call["ivr_choices"] == ["2"]
        assert call["agent"] == "PJSIP/agent1001"
