"""End to end on the real application: a fake call leaves MixMonitor files → registered →
transcribed (scripted recognizer) → attached to the work order created during the call; the
draft is read, edited and confirmed; audio is served with Range only to allowed roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordings.fake_stt import FakeTranscriber
from recordings.linking import ATTACH_KIND
from recordings.registry import REGISTER_KIND, TRANSCRIBE_KIND
from recordings.service import RECORDINGS
from recordings.transcription import TranscriptionHandler
from recordings.units import UnitCatalogue
from tests.recordings.helpers import drain, mixmonitor_files, read_bytes, write_bytes

CALL = "pbx1-1795838069.10"
CITIZEN = [("你好 我 要 投诉", 0.5, 1.5),
           ("武进区 湖塘镇 聚湖东路 的 工地 晚上 十二点 还在 打桩", 2.5, 5.0),
           ("我 电话 13912345678", 6.0, 7.0)]
AGENT = [("您好 12345 请 讲", 0.0, 0.4), ("好的 我 给 您 登记", 5.2, 5.9)]
UNITS = UnitCatalogue.from_file(Path(__file__).parent / "data" / "member-units.json")


async def _process(app) -> None:
    rec = app[RECORDINGS]
    handler = TranscriptionHandler(rec.registry.pool, rec.queue, rec.root, FakeTranscriber(),
                                   UNITS, "fake")
    await drain(rec.queue, {REGISTER_KIND: rec.registry.handle_register,
                            TRANSCRIBE_KIND: handler, ATTACH_KIND: rec.links.handle_attach})


async def test_call_to_transcript_to_order_and_draft(app, client, users) -> None:
    from workflow.keys import WORKFLOW_API

    rec = app[RECORDINGS]
    files = mixmonitor_files(rec.root, CALL, seconds=7.5, citizen=CITIZEN, agent=AGENT)
    # During the call the agent creates the order (before any transcript exists).
    order = await app[WORKFLOW_API].create_order_from_call(
        call_id=CALL, caller_phone="13912345678", category="complaint",
        content="聚湖东路工地夜间打桩扰民")
    # The call ends: the hangup handler's UserEvent names the three files.
    await rec.registry.call_ended(CALL, files, server_id="pbx1")
    await _process(app)

    agent = await users.create_client("agent1", "agent")
    resp = await agent.get(f"/api/calls/{CALL}/transcript")
    body = await resp.json()
    assert resp.status == 200, body
    assert [(ln["speaker"], ln["start"]) for ln in body["lines"]] == [
        ("agent", 0.0), ("citizen", 0.5), ("citizen", 2.5), ("agent", 5.2), ("citizen", 6.0)]
    assert body["lines"][1]["words"][0]["word"] == "你好"
    assert body["citizen_text"].startswith("你好 我 要 投诉。")

    # The transcript is attached to the order created during the call (workflow side too).
    number = order["number"]
    resp = await agent.get(f"/api/transcripts/by-order/{number}")
    assert resp.status == 200 and (await resp.json())["call_id"] == CALL
    resp = await agent.get(f"/api/orders/{number}")
    detail = await resp.json()
    assert resp.status == 200, detail
    assert str(body["id"]) in str(detail), "workflow order does not show the transcript"

    # The draft from the citizen's words.
    resp = await agent.get(f"/api/calls/{CALL}/draft")
    draft = await resp.json()
    assert resp.status == 200, draft
    proposed = draft["proposed"]
    assert proposed["category"] == "投诉" and proposed["category_code"] == "complaint"
    assert proposed["suggested_unit"] == "CZ-ZJJ" and proposed["location_unit"] == "CZ-WJ-HT"
    assert proposed["phones"] == ["13912345678"]
    assert draft["status"] == "draft" and draft["version"] == 1

    resp = await agent.patch(f"/api/calls/{CALL}/draft",
                             json={"category": "举报", "summary": "夜间施工", "version": 1})
    edited = await resp.json()
    assert resp.status == 200, edited
    assert edited["current"]["category_code"] == "report" and edited["version"] == 2
    assert edited["proposed"]["category"] == "投诉"  # the rules' proposal is kept
    resp = await agent.patch(f"/api/calls/{CALL}/draft", json={"summary": "x", "version": 1})
    assert resp.status == 409
    resp = await agent.patch(f"/api/calls/{CALL}/draft", json={"category": "闲聊"})
    assert resp.status == 400
    resp = await agent.post(f"/api/calls/{CALL}/draft/confirm")
    assert resp.status == 200 and (await resp.json())["status"] == "confirmed"
    resp = await agent.patch(f"/api/calls/{CALL}/draft", json={"summary": "late"})
    assert resp.status == 409

    # Audio with HTTP Range, for platform roles only.
    resp = await agent.get(f"/api/calls/{CALL}/recordings")
    recs = {r["direction"]: r for r in (await resp.json())["recordings"]}
    assert {r["state"] for r in recs.values()} == {"registered"}
    rid = recs["citizen"]["id"]
    whole = read_bytes(files["citizen"])
    resp = await agent.get(f"/api/recordings/{rid}/audio", headers={"Range": "bytes=0-99"})
    assert resp.status == 206
    assert resp.headers["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert await resp.read() == whole[:100]
    resp = await agent.get(f"/api/recordings/{rid}/audio")
    assert resp.status == 200 and await resp.read() == whole
    auditor = await users.create_client("audit1", "auditor")
    assert (await auditor.get(f"/api/recordings/{rid}/audio")).status == 403
    assert (await auditor.get(f"/api/calls/{CALL}/transcript")).status == 200
    staff = await users.create_client("unit1", "unit_staff", unit_code="CZ-ZJJ")
    assert (await staff.get(f"/api/recordings/{rid}/audio")).status == 403
    assert (await staff.get(f"/api/calls/{CALL}/transcript")).status == 403
    assert (await client.get(f"/api/recordings/{rid}/audio")).status == 401


async def test_order_created_after_transcript_gets_it_too(app, client, users) -> None:
    from workflow.keys import WORKFLOW_API

    rec = app[RECORDINGS]
    files = mixmonitor_files(rec.root, CALL, citizen=CITIZEN[:2], agent=AGENT[:1])
    await rec.registry.call_ended(CALL, files)
    await _process(app)
    order = await app[WORKFLOW_API].create_order_from_call(
        call_id=CALL, caller_phone=None, category="complaint", content="夜间打桩")
    await rec.links.link_order(CALL, order["number"])
    await _process(app)
    agent = await users.create_client("agent2", "agent")
    resp = await agent.get(f"/api/transcripts/by-order/{order['number']}")
    assert resp.status == 200


async def test_transcript_not_ready_and_dead_letter_visible(app, client, users) -> None:
    rec = app[RECORDINGS]
    files = mixmonitor_files(rec.root, CALL, citizen=CITIZEN, agent=AGENT)
    other = mixmonitor_files(rec.root, "other-call", citizen=CITIZEN)
    await rec.registry.call_ended(CALL, files)
    agent = await users.create_client("agent3", "agent")
    sup = await users.create_client("sup1", "supervisor")  # an agent needs the call to be theirs
    resp = await sup.get(f"/api/calls/{CALL}/transcript")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "transcript_not_ready"
    await rec.registry.call_ended("other-call", {"citizen": other["citizen"]})
    await drain(rec.queue, {REGISTER_KIND: rec.registry.handle_register})
    write_bytes(other["citizen"], b"RIFF....WAVEjunk")  # damaged after registration
    await _process(app)
    resp = await sup.get("/api/recordings/jobs?state=dead")
    dead = (await resp.json())["jobs"]
    assert resp.status == 200
    assert [j["payload"]["call_id"] for j in dead] == ["other-call"]
    assert "not a readable WAV file" in dead[0]["last_error"]
    assert (await agent.get("/api/recordings/jobs")).status == 403
    resp = await sup.post(f"/api/recordings/jobs/{dead[0]['id']}/requeue")
    assert resp.status == 200
    resp = await sup.post("/api/recordings/jobs/999999/requeue")
    assert resp.status == 404
    assert (await sup.get(f"/api/calls/{CALL}/transcript")).status == 200
    assert (await agent.get(f"/api/calls/{CALL}/transcript")).status == 404  # not their call


@pytest.mark.parametrize("path", ["/api/recordings/abc/audio", "/api/recordings/999/audio"])
async def test_audio_bad_ids(client, users, path) -> None:
    agent = await users.create_client("agent4", "agent")
    assert (await agent.get(path)).status in (400, 404)
