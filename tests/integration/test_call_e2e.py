"""A simulated citizen call through the whole backend, over real sockets (test layer 4).

The service runs every role (web, AMI bridge, FastAGI, workers) against a fake Asterisk that
speaks AMI over TCP, and a fake channel that answers FastAGI commands:

citizen dials 12345 → FastAGI IVR: no emergency, declines the open-order offer, presses 2 (投诉)
→ the IVR sets HOTLINE_QUEUE → the call joins the complaint queue → agent 1001 rings and its
browser socket gets the screen-pop with the IVR choice and the caller's two earlier orders →
the agent answers and registers the work order for the call → hang-up; the dialplan's hangup
handler names the three MixMonitor files → the capture registry registers them → a real Vosk
worker process transcribes both directions → the transcript is attached to the order and a
draft is made from the citizen's words; the call record carries the IVR choice and disposition.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import SETTINGS, AgiSettings, AmiServer, Settings, SttSettings
from hotline.web.app import build_app
from kit.component import COMPONENTS
from tests.agents.conftest import QueueSim, WsReader
from tests.agents.scripted import ScriptedCall
from tests.conftest import AuthedClient, Users
from tests.fakes.fake_agi import FakeCaller
from tests.fakes.fake_ami import FakeAmi
from tests.recordings.conftest import korean_model_dir, speak

CALLER = "13800138000"
ALL_ROLES = frozenset({"web", "ami", "agi", "workers"})


@pytest.fixture
async def fake_pbx() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as fake:
        QueueSim(fake)
        yield fake


@pytest.fixture
async def hotline(settings: Settings, db_dsn: str, fake_pbx: FakeAmi) -> AsyncIterator[Any]:
    """The whole service, as `hotline serve` runs it, pointed at the fake Asterisk."""
    full = replace(
        settings,
        ami=(AmiServer(id="pbx1", host="127.0.0.1", port=fake_pbx.port, secret="s3cret",
                       timeout=2.0, ping_interval=30.0),),
        agi=AgiSettings(port=0),
        stt=SttSettings(model_dir=korean_model_dir(), workers=1),
    )  # fmt: skip
    app = build_app(full, db_dsn, ALL_ROLES)
    async with TestClient(TestServer(app)) as client:
        yield app, client


def _recordings(root: Path, linkedid: str) -> dict[str, Path]:
    """What MixMonitor leaves: the citizen's side (-in), the agent's side (-out) and the mix."""
    root.mkdir(parents=True, exist_ok=True)
    base = root / linkedid
    citizen = speak("안녕하세요 병원 예약 문의", Path(f"{base}-in.wav"), pad_after=1.5)
    agent = speak("네 말씀하세요", Path(f"{base}-out.wav"), pad_before=1.2, pad_after=1.0)
    mix = Path(f"{base}.wav")
    subprocess.run(["sox", "-m", str(citizen), str(agent), str(mix)], check=True)
    return {"mix": mix, "in": citizen, "out": agent}


async def _ok(resp: Any, status: int = 200) -> Any:
    body = await resp.json()
    assert resp.status == status, body
    return body


@pytest.mark.vosk
async def test_citizen_call_to_transcribed_work_order(hotline: Any, fake_pbx: FakeAmi,
                                                      pool: Any) -> None:  # fmt: skip
    app, client = hotline
    users = Users(pool, client)
    admin = await users.create_client("admin1", "admin")
    agent: AuthedClient = await users.create_client("li.hua", "agent", display_name="李华",
                                                    extension="1001")  # fmt: skip
    await _ok(await admin.post("/api/agents", json={
        "user_id": agent.user["id"], "server": "pbx1", "interface": "PJSIP/agent1001",
        "extension": "1001"}), 201)  # fmt: skip

    # The caller has called before: two orders, one already with a unit.
    earlier = []
    for content in ("小区门口夜间施工噪音扰民", "楼下烧烤油烟很大"):
        o = await _ok(await agent.post("/api/orders", json={
            "category": "complaint", "content": content,
            "citizen": {"name": "王女士", "phone": CALLER}}), 201)  # fmt: skip
        earlier.append(o["number"])
    await _ok(await agent.post(f"/api/orders/{earlier[0]}/dispatch",
                               json={"version": 1, "lead": "CZ-ZJJ"}))  # fmt: skip

    # The agent logs in to the complaint queue and opens the console socket.
    await _ok(await agent.post("/api/agents/me/login", json={"queues": ["hotline-complaint"]}))
    ws = WsReader(await agent.ws_connect("/api/ws"))
    await ws.wait("agent.state", state="available", timeout=10)

    call = ScriptedCall(n=7, caller=CALLER, agent_ext="1001", queue="hotline-complaint",
                        choice="2")  # fmt: skip
    # --- IVR over FastAGI ---------------------------------------------------------------------
    listen = app[COMPONENTS].snapshot()["ivr.agi"]["listen"][0]
    host, port = listen.rsplit(":", 1)
    channel = await FakeCaller(keys=["", "2", "2"]).call(
        host, int(port), "ivr", args=[CALLER], agi_uniqueid=call.linkedid,
        agi_channel=call.citizen, agi_callerid=CALLER)  # fmt: skip
    assert channel.variables["HOTLINE_CHOICE"] == "2"
    assert channel.variables["HOTLINE_QUEUE"] == "hotline-complaint"
    session = await pool.fetchrow("SELECT * FROM ivr_sessions WHERE call_id = $1", call.linkedid)
    assert session["choice"] == "2" and session["category"] == "complaint"

    # --- queue, ring, screen-pop ----------------------------------------------------------------
    for event in [*call.arrive(), *call.ring()]:
        fake_pbx.send_event(event)
    pop = await ws.wait("call.ringing", timeout=10)
    assert pop["call_id"] == call.call_id and pop["caller"] == CALLER
    assert pop["ivr"]["choice"] == "2" and pop["queue"] == "hotline-complaint"
    assert {o["order_no"] for o in pop["orders"]} == set(earlier)
    assert all(o["open"] for o in pop["orders"])

    for event in call.answer(hold=2):
        fake_pbx.send_event(event)
    answered = await ws.wait("call.answered", timeout=10)
    assert answered["call_id"] == call.call_id

    # --- the agent registers the order during the call -------------------------------------------
    order = await _ok(await agent.post("/api/orders", json={
        "category": "complaint", "content": "来电反映医院预约难", "call_id": call.call_id,
        "citizen": {"name": "王女士", "phone": CALLER}}), 201)  # fmt: skip

    # --- hang-up: the hangup handler announces the recordings -------------------------------------
    files = _recordings(Path(app[SETTINGS].recordings.dir), call.linkedid)
    user_event = [*call._base("UserEvent"), *call._citizen(), ("UserEvent", "HotlineRecording"),
                  ("Mixed", str(files["mix"])), ("In", str(files["in"])),
                  ("Out", str(files["out"])), ("HangupCause", "16")]  # fmt: skip
    for event in [*call.complete(talk=6), user_event, *call.hangup()]:
        fake_pbx.send_event(event)
    ended = await ws.wait("call.ended", timeout=10)
    assert ended["call_id"] == call.call_id

    # --- recordings → transcription (real Vosk worker process) → the order ----------------------
    attached = None
    for _ in range(600):  # a worker process loads the model, then transcribes both directions
        r = await agent.get(f"/api/transcripts/by-order/{order['number']}")
        if r.status == 200:
            attached = await r.json()
            break
        await asyncio.sleep(0.2)
    assert attached is not None, "the transcript never reached the order"
    assert attached["call_id"] == call.call_id
    full = await _ok(await agent.get(f"/api/calls/{call.call_id}/transcript"))
    assert {line["speaker"] for line in full["lines"]} == {"citizen", "agent"}
    assert all(line["words"] and line["end"] >= line["start"] for line in full["lines"])
    rec = await _ok(await agent.get(f"/api/calls/{call.call_id}/recordings"))
    assert {r["direction"] for r in rec["recordings"]} == {"citizen", "agent", "mix"}
    draft = await _ok(await agent.get(f"/api/calls/{call.call_id}/draft"))
    assert draft["status"] == "draft" and draft["proposed"]["category_code"]

    # --- the call record --------------------------------------------------------------------------
    row = await pool.fetchrow("SELECT * FROM calls WHERE linkedid = $1", call.linkedid)
    assert row["disposition"] == "answered" and row["caller"] == CALLER
    assert "2" in row["ivr_choices"] and row["agent"] == "PJSIP/agent1001"
    await ws.close()
    await asyncio.sleep(0)
