"""The feature's wiring: a wrong model directory stops start-up with the setting's name."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from hotline.settings import SettingsError, SttSettings
from hotline.web.app import build_app
from recordings.service import RECORDINGS


async def test_wrong_model_dir_is_a_startup_error(settings, db_dsn, tmp_path: Path) -> None:
    bad = replace(settings, stt=SttSettings(model_dir=tmp_path, workers=1))
    app = build_app(bad, db_dsn, frozenset({"web", "workers"}))
    runner = web.AppRunner(app)
    try:
        with pytest.raises(SettingsError) as err:
            await runner.setup()  # runs the features' start-up
    finally:
        await runner.cleanup()
    assert err.value.setting == "HOTLINE_STT_MODEL_DIR"
    assert "not a Vosk model directory" in str(err.value)


async def test_no_model_configured_disables_transcription_visibly(settings, db_dsn) -> None:
    from kit.component import COMPONENTS

    plain = replace(settings, stt=SttSettings(model_dir=None, workers=2))
    app = build_app(plain, db_dsn, frozenset({"web", "workers"}))
    runner = web.AppRunner(app)
    try:
        await runner.setup()  # no error: a fresh install without a model still starts
        status = app[COMPONENTS].snapshot()["recordings.stt_workers"]
        assert status["enabled"] is False and "HOTLINE_STT_MODEL_DIR" in status["reason"]
    finally:
        await runner.cleanup()


async def test_web_only_instance_needs_no_model(app, client) -> None:
    rec = app[RECORDINGS]
    assert rec.live is None and rec.root.is_dir()
    resp = await client.get("/api/openapi.json")
    paths = (await resp.json())["paths"]
    assert "/api/calls/{call_id}/transcript" in paths
    assert "/api/recordings/{recording_id}/audio" in paths


@pytest.mark.vosk
async def test_service_with_workers_role_transcribes_with_real_model(
        settings, db_dsn) -> None:
    """The whole feature as `hotline serve --role web --role workers` runs it: the registration
    runner, one real Vosk worker process, the attach job."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.recordings.conftest import korean_model_dir, speak

    good = replace(settings, stt=SttSettings(model_dir=korean_model_dir(), workers=1))
    app = build_app(good, db_dsn, frozenset({"web", "workers"}))
    async with TestClient(TestServer(app)) as client:
        rec = app[RECORDINGS]
        citizen = speak("안녕하세요", rec.root / "c1-in.wav", pad_after=1.0)
        agent = speak("병원", rec.root / "c1-out.wav", pad_before=1.0)
        await rec.registry.call_ended("c1", {"citizen": str(citizen), "agent": str(agent)})
        pool = rec.registry.pool
        tid = None
        for _ in range(600):
            tid = await pool.fetchval("SELECT id FROM transcripts WHERE call_id = 'c1'")
            attach = await pool.fetchval(
                "SELECT state FROM jobs WHERE kind = 'recordings.attach'")
            if tid and attach == "done":
                break
            await asyncio.sleep(0.1)
        assert tid is not None, await pool.fetch("SELECT kind, state, last_error FROM jobs")
        assert attach == "done"
        # The worker process reported the job back: counted in this process, on /metrics.
        done = 'hotline_recordings_transcription_jobs_total{outcome="done"} 1'
        for _ in range(100):
            metrics = await (await client.get("/metrics")).text()
            if done in metrics:
                break
            await asyncio.sleep(0.05)
        assert done in metrics.splitlines()
        assert "hotline_recordings_transcription_rtf_count 1" in metrics.splitlines()
        lines = await pool.fetchval("SELECT lines FROM transcripts WHERE id = $1", tid)
        assert {ln["speaker"] for ln in lines} <= {"citizen", "agent"} and lines


@pytest.mark.vosk
async def test_live_transcript_wired_from_audiosocket_to_websocket(settings, db_dsn,
                                                                   tmp_path: Path) -> None:
    """`[audiosocket] enabled`: the web instance runs the AudioSocket server with the real
    model; audio of an expected fork reaches an agent's WebSocket as transcript lines."""
    import uuid

    from aiohttp.test_utils import TestClient, TestServer

    from hotline.settings import AudioSocketSettings
    from kit.component import COMPONENTS
    from recordings.stt import read_pcm
    from tests.conftest import Users
    from tests.fakes.fake_audiosocket import FakeAsteriskAudioSocket
    from tests.recordings.conftest import korean_model_dir, speak

    live = replace(settings, stt=SttSettings(model_dir=korean_model_dir(), workers=0),
                   audiosocket=AudioSocketSettings(enabled=True, host="127.0.0.1", port=0))
    app = build_app(live, db_dsn, frozenset({"web"}))
    async with TestClient(TestServer(app)) as client:
        from kit.db import POOL

        users = Users(app[POOL], client)
        agent = await users.create_client("live-agent", "agent")
        # Agents see a call they answered or one on a work order (recordings.access).
        await app[RECORDINGS].links.link_order("pbx1-7.7", "CZ20261128-000007")
        port = app[COMPONENTS].snapshot()["recordings.audiosocket"]["port"]
        fork = uuid.uuid4()
        app[RECORDINGS].live.expect(fork, "pbx1-7.7")
        _, pcm = read_pcm(speak("안녕하세요", tmp_path / "a.wav", pad_after=1.0))
        async with agent.ws_connect("/api/calls/pbx1-7.7/live-transcript") as ws:
            for _ in range(100):
                if app[RECORDINGS].hub._subs.get("pbx1-7.7"):
                    break
                await asyncio.sleep(0.01)
            fake = await FakeAsteriskAudioSocket.connect("127.0.0.1", port)
            await fake.send_uuid(fork)
            await fake.send_audio(pcm)
            await fake.close()
            events = []
            while not events or events[-1]["type"] != "end":
                events.append(await ws.receive_json(timeout=30))
    finals = [e for e in events if e["type"] == "final"]
    assert finals and all(e["speaker"] == "citizen" for e in finals)
    assert all(w["start"] <= w["end"] for e in finals for w in e["words"])


async def test_workers_role_registers_calls_that_ended_before_start_up(settings, db_dsn,
                                                                       pool) -> None:
    """A call that ended while no instance listened to CallEnded is registered by the
    reconciliation job the `workers` role runs (first run right at start-up)."""
    from datetime import timedelta

    from tests.recordings.helpers import mixmonitor_files
    from tests.recordings.test_reconcile import insert_call, tracker_pairs

    plain = replace(settings, stt=SttSettings(model_dir=None, workers=0))
    files = mixmonitor_files(Path(plain.recordings.dir), "1795837999.5", seconds=0.2)
    await insert_call(pool, "pbx1", "1795837999.5", ended_ago=timedelta(minutes=3),
                      recordings=tracker_pairs(files))
    app = build_app(plain, db_dsn, frozenset({"workers"}))
    runner = web.AppRunner(app)
    try:
        await runner.setup()
        states: list[str] = []
        for _ in range(200):
            states = [r["state"] for r in await pool.fetch(
                "SELECT state FROM recordings WHERE call_id = 'pbx1:1795837999.5'")]
            if states == ["registered"] * 3:
                break
            await asyncio.sleep(0.05)
        assert states == ["registered"] * 3
    finally:
        await runner.cleanup()
