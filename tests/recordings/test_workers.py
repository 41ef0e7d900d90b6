"""Transcription worker processes on the durable queue: SIGKILL mid-job, a corrupt recording,
the same job queued twice. Real processes, real PostgreSQL, the scripted recognizer."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from kit.jobs import JobQueue
from recordings.registry import REGISTER_KIND, TRANSCRIBE_KIND, CaptureRegistry
from recordings.worker import WorkerPool
from tests.recordings.helpers import drain, mixmonitor_files, write_bytes

CITIZEN = [("你好 我 要 投诉 小区 物业", 0.2, 1.0)]
AGENT = [("您好 请 讲", 0.0, 0.3), ("好的 记录 了", 1.1, 1.4)]


async def prepare_call(pool, root: Path, call_id: str, seconds: float = 1.5) -> dict[str, str]:
    files = mixmonitor_files(root, call_id, seconds=seconds, citizen=CITIZEN, agent=AGENT)
    reg = CaptureRegistry(pool, JobQueue(pool), root)
    await reg.call_ended(call_id, files)
    await drain(reg.queue, {REGISTER_KIND: reg.handle_register})
    return files


async def wait_for(pool, sql: str, *args, limit: float = 20.0):
    """Poll until ``sql`` returns a truthy value."""
    async with asyncio.timeout(limit):
        while True:
            value = await pool.fetchval(sql, *args)
            if value:
                return value
            await asyncio.sleep(0.05)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "monitor"
    d.mkdir()
    return d


def workers(db_dsn: str, root: Path, count: int, **kw) -> WorkerPool:
    return WorkerPool(db_dsn, root, count=count, fake=True, poll=0.05, **kw)


async def test_worker_killed_mid_job_is_redone_once_by_another(pool, db_dsn, root) -> None:
    await prepare_call(pool, root, "call-kill", seconds=1.0)
    # 1.5 s of "CPU" per direction: long enough to be killed in the middle.
    first = workers(db_dsn, root, 1, fake_rtf=1.5, lease=1.0)
    victim = await first.spawn(0)
    try:
        await wait_for(pool, "SELECT worker FROM jobs WHERE kind = $1 AND state = 'running'",
                       TRANSCRIBE_KIND)
        os.kill(victim.pid, signal.SIGKILL)
        await victim.wait()
        assert victim.returncode == -signal.SIGKILL
        assert await pool.fetchval("SELECT count(*) FROM transcripts") == 0
        second = workers(db_dsn, root, 2, fake_rtf=0.1, lease=1.0)
        await second.spawn(1)
        try:
            await wait_for(pool, "SELECT id FROM jobs WHERE kind = $1 AND state = 'done'",
                           TRANSCRIBE_KIND)
        finally:
            await second.stop()
    finally:
        await first.stop()
    job = await pool.fetchrow("SELECT * FROM jobs WHERE kind = $1", TRANSCRIBE_KIND)
    assert job["attempts"] == 2 and job["worker"].endswith("/stt1/0")
    assert await pool.fetchval("SELECT count(*) FROM transcripts") == 1
    lines = await pool.fetchval("SELECT lines FROM transcripts WHERE call_id = 'call-kill'")
    assert [(ln["speaker"], ln["text"]) for ln in lines] == [
        ("agent", "您好 请 讲"), ("citizen", "你好 我 要 投诉 小区 物业"),
        ("agent", "好的 记录 了")]
    first_word = lines[1]["words"][0]
    assert first_word == {"word": "你好", "start": 0.2,
                          "end": pytest.approx(0.333, abs=1e-3), "conf": 1.0}


async def test_corrupt_wav_goes_to_dead_letter_others_unaffected(pool, db_dsn, root) -> None:
    bad = await prepare_call(pool, root, "call-bad")
    await prepare_call(pool, root, "call-good")
    write_bytes(bad["citizen"], b"RIFF\x24\x00\x00\x00WAVEfmt garbage")  # after registration
    pool_ = workers(db_dsn, root, 1)
    await pool_.start()
    try:
        await wait_for(pool, "SELECT count(*) = 2 FROM jobs WHERE kind = $1 AND state IN"
                             " ('done', 'dead')", TRANSCRIBE_KIND)
    finally:
        await pool_.stop()
    rows = {r["payload"]["call_id"]: r for r in
            await pool.fetch("SELECT * FROM jobs WHERE kind = $1", TRANSCRIBE_KIND)}
    assert rows["call-bad"]["state"] == "dead" and rows["call-bad"]["attempts"] == 1
    assert "call-bad-in.wav" in rows["call-bad"]["last_error"]
    assert "not a readable WAV file" in rows["call-bad"]["last_error"]
    assert rows["call-good"]["state"] == "done"
    calls = [r["call_id"] for r in await pool.fetch("SELECT call_id FROM transcripts")]
    assert calls == ["call-good"]


async def test_same_job_queued_twice_gives_one_transcript(pool, db_dsn, root) -> None:
    await prepare_call(pool, root, "call-dup")
    q = JobQueue(pool)
    again = await q.enqueue(TRANSCRIBE_KIND, {"call_id": "call-dup"},
                            dedupe_key="transcribe:call-dup")
    # An operator re-queues it by hand under another key as well.
    other = await q.enqueue(TRANSCRIBE_KIND, {"call_id": "call-dup"})
    assert again != other
    pool_ = workers(db_dsn, root, 2)
    await pool_.start()
    try:
        await wait_for(pool, "SELECT count(*) = 2 FROM jobs WHERE kind = $1 AND state = 'done'",
                       TRANSCRIBE_KIND)
        assert await q.requeue(again)
        await wait_for(pool, "SELECT count(*) = 2 FROM jobs WHERE kind = $1 AND state = 'done'",
                       TRANSCRIBE_KIND)
    finally:
        await pool_.stop()
    assert await pool.fetchval("SELECT count(*) FROM transcripts") == 1
    assert await pool.fetchval("SELECT count(*) FROM order_drafts") == 1
    assert await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'recordings.attach'") == 1


async def test_pool_restarts_a_dead_worker(pool, db_dsn, root) -> None:
    pool_ = workers(db_dsn, root, 1, restart_delay=0.05)
    await pool_.start()
    try:
        pid = pool_.procs[0].pid
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            if pool_.restarts and pool_.status()["ok"]:
                break
            await asyncio.sleep(0.05)
        assert pool_.procs[0].pid != pid
    finally:
        await pool_.stop()
    assert pool_.status()["alive"] == []


async def test_worker_refuses_to_start_without_a_model(db_dsn, root, tmp_path) -> None:
    bad = WorkerPool(db_dsn, root, count=1, model_dir=tmp_path)
    with pytest.raises(RuntimeError, match="failed to start"):
        await bad.spawn(0)


@pytest.mark.vosk
async def test_real_vosk_worker_process_transcribes_both_directions(pool, db_dsn, root) -> None:
    from tests.recordings.conftest import korean_model_dir, speak

    # The citizen speaks first, the agent 2 s later (each file on the same call clock).
    citizen = speak("안녕하세요", root / "real-in.wav", pad_after=2.0)
    agent = speak("병원", root / "real-out.wav", pad_before=2.0)
    reg = CaptureRegistry(pool, JobQueue(pool), root)
    await reg.call_ended("real", {"citizen": str(citizen), "agent": str(agent)})
    await drain(reg.queue, {REGISTER_KIND: reg.handle_register})
    pool_ = WorkerPool(db_dsn, root, count=1, model_dir=korean_model_dir(), poll=0.05)
    await pool_.start()  # loads the model once, in the worker process
    try:
        await wait_for(pool, "SELECT id FROM transcripts WHERE call_id = 'real'", limit=60)
    finally:
        await pool_.stop()
    row = await pool.fetchrow("SELECT * FROM transcripts WHERE call_id = 'real'")
    assert row["engine"] == "vosk:model"
    speakers = [ln["speaker"] for ln in row["lines"]]
    assert "citizen" in speakers and "agent" in speakers
    assert speakers.index("citizen") < speakers.index("agent")  # merged by time
    starts = [ln["start"] for ln in row["lines"]]
    assert starts == sorted(starts)
    assert all(w["start"] <= w["end"] for ln in row["lines"] for w in ln["words"])
