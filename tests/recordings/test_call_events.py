"""Recordings registered from the telephony feature's CallEnded events (real event bus)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from kit.jobs import JobQueue
from pbx.calls.bus import EventBus
from pbx.calls.events import CallEnded, CallRecordView
from recordings.call_events import files_from_call_record, register_ended_calls
from recordings.registry import CaptureRegistry
from tests.recordings.helpers import mixmonitor_files

ENDED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def record(linkedid: str, recordings: tuple[tuple[str, str], ...]) -> CallRecordView:
    values = {f.name: None for f in dataclasses.fields(CallRecordView)
              if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    values.update(server="pbx1", linkedid=linkedid, direction="inbound", started_at=0.0,
                  ivr_choices=(), agents_rung=(), agents_no_answer=(), transfers=(),
                  participants=(), recordings=recordings, callback_requested=False,
                  channels=())
    return CallRecordView(**values)


def test_tracker_directions_map_to_ours() -> None:
    assert files_from_call_record([("mixed", "/m/a.wav"), ("in", "/m/a-in.wav"),
                                   ("out", "/m/a-out.wav"), ("video", "/m/v")]) == {
        "mix": "/m/a.wav", "citizen": "/m/a-in.wav", "agent": "/m/a-out.wav"}


async def test_call_ended_events_register_recordings(pool, tmp_path: Path) -> None:
    root = tmp_path / "monitor"
    files = mixmonitor_files(root, "pbx1-1795837952.0")
    registry = CaptureRegistry(pool, JobQueue(pool), root)
    bus = EventBus()
    sub = bus.subscribe({"CallEnded"})
    task = asyncio.create_task(register_ended_calls(sub, registry))
    try:
        # An IVR hang-up leaves no recording; a bad record must not stop the loop.
        bus.publish(CallEnded("pbx1", 1.0, "pbx1-1.1", "abandoned", record("pbx1-1.1", ())))
        bus.publish(CallEnded("pbx1", 2.0, "", "answered", record("", (("mixed", "/x.wav"),))))
        ended = dataclasses.replace(record(
            "pbx1-1795837952.0", (("mixed", files["mix"]), ("in", files["citizen"]),
                                  ("out", files["agent"]))), ended_at=ENDED.timestamp())
        bus.publish(CallEnded("pbx1", ENDED.timestamp() + 7200, "pbx1-1795837952.0", "answered",
                              ended))
        for _ in range(250):
            if await pool.fetchval("SELECT count(*) FROM recordings") == 3:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        sub.close()
    rows = await registry.files("pbx1:pbx1-1795837952.0")  # call id = server:linkedid
    assert {(r["direction"], r["server_id"]) for r in rows} == {
        ("mix", "pbx1"), ("citizen", "pbx1"), ("agent", "pbx1")}
    assert await pool.fetchval("SELECT count(DISTINCT call_id) FROM recordings") == 1
    # the retention clock starts when the call ended, not when the event was heard
    assert {r["call_ended_at"] for r in rows} == {ENDED}
