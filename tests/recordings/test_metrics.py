"""Prometheus metrics of recordings (SPEC R8.3): the registry's outcomes, the outcomes the
transcription worker processes report back to the backend, and the queue gauges read from
PostgreSQL — scraped from /metrics over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from hotline.settings import SttSettings
from hotline.web.app import build_app
from kit.metrics import Metrics
from recordings.metrics import RecordingMetrics
from recordings.registry import TRANSCRIBE_KIND
from recordings.service import RECORDINGS
from recordings.worker import REPORT, WorkerPool, format_report, parse_report
from tests.recordings.helpers import make_due, mixmonitor_files, remove, write_bytes
from tests.recordings.test_workers import AGENT, CITIZEN, prepare_call, wait_for

ASTERISK = "/var/spool/asterisk/monitor"


def samples(text: str) -> dict[str, float]:
    """``series{labels}`` → value of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            out[series] = float(value)
    return out


async def scrape(client: TestClient) -> dict[str, float]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    return samples(await resp.text())


async def eventually(check: Callable[[], Awaitable[bool]], limit: float = 10.0) -> None:
    """Poll ``check`` every 20 ms until it is true; fail after ``limit`` seconds."""
    for _ in range(int(limit / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true after {limit} s")


def queued_gauge(client: TestClient, value: float) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        m = await scrape(client)
        return m['hotline_recordings_transcription_queue_jobs{state="queued"}'] == value
    return check


def files_total(m: dict[str, float], direction: str, outcome: str) -> float:
    return m[f'hotline_recordings_files_total{{direction="{direction}",outcome="{outcome}"}}']


async def test_recordings_metrics_scraped_over_http(settings, db_dsn, pool, monkeypatch) -> None:
    import hotline.features.recordings as wiring

    monkeypatch.setattr(wiring, "QUEUE_GAUGES_EVERY", 0.05)
    # Asterisk writes /var/spool/asterisk/monitor, mounted at [recordings] dir here.
    cfg = replace(settings, recordings=replace(settings.recordings, asterisk_dir=Path(ASTERISK)),
                  stt=SttSettings(model_dir=None, workers=0))
    app = build_app(cfg, db_dsn, frozenset({"web", "workers"}))
    async with TestClient(TestServer(app)) as client:
        rec = app[RECORDINGS]
        before = await scrape(client)
        assert files_total(before, "citizen", "registered") == 0
        assert before['hotline_recordings_transcription_jobs_total{outcome="done"}'] == 0
        assert before['hotline_recordings_transcription_queue_jobs{state="queued"}'] == 0

        files = mixmonitor_files(rec.root, "1795900000.2", seconds=1.5, citizen=CITIZEN,
                                 agent=AGENT)
        remove(files["mix"])  # never closed by Asterisk: missing after the retries
        await rec.registry.call_ended(
            "pbx1:1795900000.2", {d: p.replace(str(rec.root), ASTERISK) for d, p in files.items()},
            server_id="pbx1")
        await rec.registry.call_ended("pbx1:1795900000.4", {
            "mix": f"{ASTERISK}/../../../etc/passwd",        # escapes Asterisk's directory
            "agent": "/srv/elsewhere/1795900000.4-out.wav",  # outside it
        }, server_id="pbx1")
        async with asyncio.timeout(30):  # the service's own job runner, retries made due
            while await pool.fetchval("SELECT count(*) FROM recordings WHERE state = 'pending'"):
                await make_due(pool)
                await asyncio.sleep(0.1)
        states = {(r["call_id"][-1], r["direction"]): (r["state"], r["path"]) for r in
                  await pool.fetch("SELECT call_id, direction, state, path FROM recordings")}
        assert states[("2", "citizen")] == ("registered", "1795900000.2-in.wav")
        assert states[("2", "mix")][0] == "missing"
        assert states[("4", "mix")][0] == states[("4", "agent")][0] == "rejected"

        await eventually(queued_gauge(client, 1))  # the queue gauge, read from PostgreSQL
        mid = await scrape(client)
        assert mid["hotline_recordings_transcription_oldest_due_seconds"] >= 0
        assert files_total(mid, "citizen", "registered") == 1
        assert files_total(mid, "agent", "registered") == 1
        assert files_total(mid, "mix", "registered") == 0
        assert files_total(mid, "mix", "missing") == 1
        assert files_total(mid, "mix", "rejected") == 1
        assert files_total(mid, "agent", "rejected") == 1
        assert files_total(mid, "citizen", "missing") == 0

        # A transcription worker process (the scripted recognizer) reports back to this one.
        workers = WorkerPool(db_dsn, rec.root, count=1, fake=True, fake_rtf=0.1, poll=0.05,
                             on_report=rec.metrics.worker_report)
        await workers.start()
        try:
            await wait_for(pool, "SELECT id FROM transcripts")

            async def reported() -> bool:
                return workers.reports >= 1
            await eventually(reported)
        finally:
            await workers.stop()
        await eventually(queued_gauge(client, 0))
        after = await scrape(client)
    assert after['hotline_recordings_transcription_jobs_total{outcome="done"}'] == 1
    assert after['hotline_recordings_transcription_jobs_total{outcome="failed"}'] == 0
    assert after['hotline_recordings_transcription_jobs_total{outcome="dead"}'] == 0
    assert after['hotline_recordings_transcription_queue_jobs{state="running"}'] == 0
    t = await pool.fetchrow("SELECT audio_seconds, cpu_seconds FROM transcripts")
    assert t["audio_seconds"] == pytest.approx(3.0)  # citizen + agent, 1.5 s each
    assert after["hotline_recordings_transcription_rtf_count"] == 1
    assert after["hotline_recordings_transcription_rtf_sum"] == pytest.approx(
        t["cpu_seconds"] / t["audio_seconds"], abs=1e-3)
    assert after["hotline_recordings_transcription_seconds_count"] == 1
    assert after["hotline_recordings_transcription_seconds_sum"] >= 0.3  # 2 × 0.15 s "CPU"
    assert after['hotline_recordings_transcription_seconds_bucket{le="+Inf"}'] == 1
    # Counted once, where it happened: the registration outcomes did not change.
    assert files_total(after, "citizen", "registered") == 1


async def test_workers_report_done_failed_and_dead(pool, db_dsn, tmp_path: Path) -> None:
    """Real worker processes: each job outcome they record reaches the supervisor once."""
    root = tmp_path / "monitor"
    root.mkdir()
    await prepare_call(pool, root, "call-good")
    flaky = await prepare_call(pool, root, "call-flaky")
    write_bytes(flaky["citizen"] + ".words.json", b"{not json")  # a bug: retried, then dead
    corrupt = await prepare_call(pool, root, "call-corrupt")
    write_bytes(corrupt["agent"], b"RIFF\x24\x00\x00\x00WAVEfmt garbage")  # permanent
    registry = Metrics()
    metrics = RecordingMetrics(registry)
    reports: list[dict] = []

    def on_report(report: dict) -> None:
        reports.append(report)
        metrics.worker_report(report)

    pool_ = WorkerPool(db_dsn, root, count=1, fake=True, poll=0.05, on_report=on_report)
    await pool_.start()
    try:
        async with asyncio.timeout(30):
            while await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = $1 AND state"
                                      " IN ('queued', 'running')", TRANSCRIBE_KIND):
                await make_due(pool)  # skip the back-off of retried jobs
                await asyncio.sleep(0.1)

        async def all_reported() -> bool:
            return len(reports) >= 5
        await eventually(all_reported)
    finally:
        await pool_.stop()
    calls = {r["id"]: r["payload"]["call_id"] for r in
             await pool.fetch("SELECT id, payload FROM jobs WHERE kind = $1", TRANSCRIBE_KIND)}
    by_call: dict[str, list[str]] = {}
    for r in reports:
        by_call.setdefault(calls[r["job_id"]], []).append(r["outcome"])
    assert by_call == {"call-good": ["done"], "call-flaky": ["failed", "failed", "dead"],
                       "call-corrupt": ["dead"]}
    done = next(r for r in reports if r["outcome"] == "done")
    assert done["audio_seconds"] == pytest.approx(3.0) and done["cpu_seconds"] >= 0
    assert metrics.jobs.value(outcome="done") == 1
    assert metrics.jobs.value(outcome="failed") == 2
    assert metrics.jobs.value(outcome="dead") == 2
    assert pool_.reports == 5
    text = samples(registry.render())
    assert text["hotline_recordings_transcription_rtf_count"] == 1


async def test_worker_output_that_is_not_a_report_counts_nothing() -> None:
    counted: list[dict] = []
    metrics = RecordingMetrics(Metrics())

    def on_report(report: dict) -> None:
        if report.get("boom"):
            raise RuntimeError("a broken counter must not stop the reader")
        counted.append(report)
        metrics.worker_report(report)

    pool_ = WorkerPool("postgresql://unused", Path("/nonexistent"), count=1, fake=True,
                       on_report=on_report)
    stream = asyncio.StreamReader(limit=256)
    for line in [b"LOG (VoskAPI) something on stdout\n", REPORT.encode() + b"[1, 2]\n",
                 REPORT.encode() + b"{truncated\n", REPORT.encode() + b"x" * 600 + b"\n",
                 format_report({"boom": True}).encode(),
                 format_report({"outcome": "exploded"}).encode(),
                 format_report({"outcome": "done", "audio_seconds": "NaN",
                                "cpu_seconds": -1, "wall_seconds": True}).encode(),
                 format_report({"outcome": "done", "audio_seconds": 2.0, "cpu_seconds": 0.5,
                                "wall_seconds": 0.7}).encode()]:
        stream.feed_data(line)
    stream.feed_eof()
    await asyncio.wait_for(pool_.read_reports(stream), 5)
    assert [r.get("outcome") for r in counted] == ["exploded", "done", "done"]
    assert metrics.jobs.value(outcome="done") == 2
    assert metrics.rtf.render()[-1] == "hotline_recordings_transcription_rtf_sum 0.25"
    assert metrics.seconds.render()[-1] == "hotline_recordings_transcription_seconds_sum 0.7"
    assert parse_report(format_report({"outcome": "dead", "job_id": 7})) == {
        "outcome": "dead", "job_id": 7}
    assert parse_report(b"\xff\xfe") is None
    assert json.loads(format_report({"a": 1})[len(REPORT):]) == {"a": 1}


async def test_queue_gauges_from_the_jobs_table(pool, db_dsn) -> None:
    from datetime import UTC, datetime, timedelta

    from kit.db import create_pool
    from kit.jobs import JobQueue
    from recordings.metrics import refresh_loop

    q = JobQueue(pool)
    now = datetime.now(UTC)
    await q.enqueue(TRANSCRIBE_KIND, {"call_id": "a"}, run_at=now - timedelta(seconds=30))
    later = now + timedelta(minutes=5)  # backing off: not due
    await q.enqueue(TRANSCRIBE_KIND, {"call_id": "b"}, run_at=later)
    await q.enqueue(TRANSCRIBE_KIND, {"call_id": "c"}, max_attempts=1)
    await q.enqueue("recordings.register", {"call_id": "d"})  # another kind: not counted
    dead = await q.claim([TRANSCRIBE_KIND], "w", timedelta(minutes=1))
    assert dead is not None and dead.payload == {"call_id": "a"}
    assert await q.fail(dead.id, "w", "boom", retry=False) == "dead"
    running = await q.claim([TRANSCRIBE_KIND], "w")
    assert running is not None and running.payload == {"call_id": "c"}
    await q.enqueue(TRANSCRIBE_KIND, {"call_id": "e"}, run_at=now - timedelta(seconds=20))
    metrics = RecordingMetrics(Metrics())
    values = await metrics.refresh_queue(pool, TRANSCRIBE_KIND)
    assert {k: values[k] for k in ("queued", "running", "dead")} == {
        "queued": 2, "running": 1, "dead": 1}
    assert 20 <= values["oldest_due_seconds"] < 60  # "e"; "b" is not due yet
    assert metrics.queue.value(state="queued") == 2

    # A database error leaves the last values and the loop goes on.
    broken = await create_pool(db_dsn, min_size=1, max_size=1)
    await broken.close()
    sleeps: list[float] = []

    class Stop(Exception):
        pass

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise Stop

    with pytest.raises(Stop):
        await refresh_loop(metrics, broken, TRANSCRIBE_KIND, 7.0, sleep=sleep)
    assert sleeps == [7.0, 7.0] and metrics.queue.value(state="queued") == 2
