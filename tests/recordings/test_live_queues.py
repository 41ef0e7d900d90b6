"""Live transcript per queue (SPEC R4, "optional per queue"): `[audiosocket] live_queues` read
from the environment or TOML, and the running service forking only the calls answered in those
queues (the whole application on a fake Asterisk speaking AMI over TCP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import (
    AmiServer,
    AudioSocketSettings,
    SettingsError,
    SttSettings,
    load_settings,
)
from hotline.web.app import build_app
from recordings.service import RECORDINGS
from tests.agents.scripted import ScriptedCall
from tests.fakes.fake_ami import FakeAmi


def test_live_queues_from_env_and_toml(tmp_path: Path) -> None:
    assert load_settings({}).audiosocket.live_queues == ()  # empty: every queue
    s = load_settings({"HOTLINE_AUDIOSOCKET_LIVE_QUEUES": "hotline-complaint, hotline-report,"})
    assert s.audiosocket.live_queues == ("hotline-complaint", "hotline-report")
    cfg = tmp_path / "hotline.toml"
    cfg.write_text('[audiosocket]\nenabled = true\nlive_queues = ["hotline-bizenv"]\n')
    assert load_settings({}, cfg).audiosocket.live_queues == ("hotline-bizenv",)
    env = {"HOTLINE_AUDIOSOCKET_LIVE_QUEUES": "hotline-general"}
    assert load_settings(env, cfg).audiosocket.live_queues == ("hotline-general",)  # env wins
    cfg.write_text('[audiosocket]\nlive_queues = "hotline-help,hotline-report"\n')
    assert load_settings({}, cfg).audiosocket.live_queues == ("hotline-help", "hotline-report")


@pytest.mark.parametrize(("env", "toml", "name"), [
    ({"HOTLINE_AUDIOSOCKET_LIVE_QUEUES": "hotline-general,hotline general"}, None,
     "HOTLINE_AUDIOSOCKET_LIVE_QUEUES"),
    ({}, '[audiosocket]\nlive_queues = ["a", 3]\n', "[audiosocket] live_queues"),
    ({}, '[audiosocket]\nlive_queues = ["hotline-general;x"]\n', "[audiosocket] live_queues"),
])
def test_bad_live_queues_name_the_setting(tmp_path: Path, env: dict[str, str],
                                          toml: str | None, name: str) -> None:
    cfg = None
    if toml is not None:
        cfg = tmp_path / "hotline.toml"
        cfg.write_text(toml)
    with pytest.raises(SettingsError) as err:
        load_settings(env, cfg)
    assert err.value.setting == name


@pytest.fixture
async def fake_pbx() -> AsyncIterator[FakeAmi]:
    async with FakeAmi() as fake:
        yield fake


async def _forks_of_calls(settings, db_dsn: str, fake: FakeAmi, live_queues: tuple[str, ...],
                          calls: list[ScriptedCall]) -> list[dict[str, str]]:
    """Run the service (web + ami, AudioSocket on) with ``live_queues``, play ``calls`` up to
    the answer, then one more call in hotline-general as a marker, and return the Originate
    actions sent before the marker's."""
    from tests.recordings.conftest import korean_model_dir

    live = replace(
        settings,
        ami=(AmiServer(id="pbx1", host="127.0.0.1", port=fake.port, secret="s3cret",
                       timeout=2.0, ping_interval=30.0),),
        audiosocket=AudioSocketSettings(enabled=True, host="127.0.0.1", port=0,
                                        live_queues=live_queues),
        stt=SttSettings(model_dir=korean_model_dir(), workers=0))
    app = build_app(live, db_dsn, frozenset({"web", "ami"}))
    marker = ScriptedCall(n=99, caller="13900000099", agent_ext="1099", queue="hotline-general")
    async with TestClient(TestServer(app)):
        await fake.wait_login(timeout=5.0)
        assert app[RECORDINGS].forker is not None
        for call in [*calls, marker]:
            for fields in [*call.arrive(), *call.ring(), *call.answer()]:
                fake.send_event(fields)
        for _ in range(500):  # until the marker's fork: every earlier call was handled
            if any(a.get("Action") == "Originate" and a.get("Data", "").startswith(marker.citizen)
                   for a in fake.actions):
                break
            await asyncio.sleep(0.02)
        assert app[RECORDINGS].forker.failures == 0
    originates = [a for a in fake.actions if a.get("Action") == "Originate"]
    assert originates[-1]["Data"] == f"{marker.citizen},qoE"
    return originates[:-1]


@pytest.mark.vosk
async def test_only_calls_answered_in_live_queues_are_forked(settings, db_dsn,
                                                              fake_pbx: FakeAmi) -> None:
    complaint = ScriptedCall(n=1, caller="13800000001", agent_ext="1001",
                             queue="hotline-complaint")
    bizenv = ScriptedCall(n=2, caller="13800000002", agent_ext="1002", queue="hotline-bizenv")
    consult = ScriptedCall(n=3, caller="13800000003", agent_ext="1003", queue="hotline-consult")
    forks = await _forks_of_calls(settings, db_dsn, fake_pbx,
                                  ("hotline-general", "hotline-bizenv"),
                                  [complaint, bizenv, consult])
    assert [f["Data"] for f in forks] == [f"{bizenv.citizen},qoE"]
    fork = forks[0]
    assert fork["Application"] == "ChanSpy"
    assert fork["Channel"].startswith("AudioSocket/127.0.0.1:")
    assert fork["Variable"] == f"HOTLINE_CALLID={bizenv.linkedid}"


@pytest.mark.vosk
async def test_empty_live_queues_forks_every_answered_call(settings, db_dsn,
                                                           fake_pbx: FakeAmi) -> None:
    complaint = ScriptedCall(n=1, caller="13800000001", agent_ext="1001",
                             queue="hotline-complaint")
    consult = ScriptedCall(n=3, caller="13800000003", agent_ext="1003", queue="hotline-consult")
    forks = await _forks_of_calls(settings, db_dsn, fake_pbx, (), [complaint, consult])
    assert [f["Data"] for f in forks] == [f"{complaint.citizen},qoE", f"{consult.citizen},qoE"]
