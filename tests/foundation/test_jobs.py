"""The durable job queue: claim, lease expiry, retries with back-off, dead letter, dedupe."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from kit.jobs import JobQueue, JobRunner, PermanentJobError


async def test_enqueue_is_idempotent_with_dedupe_key(pool) -> None:
    q = JobQueue(pool)
    a = await q.enqueue("t", {"n": 1}, dedupe_key="same")
    b = await q.enqueue("t", {"n": 2}, dedupe_key="same")
    assert a == b
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 1


async def test_claim_is_exclusive_and_lease_expiry_hands_over(pool) -> None:
    q = JobQueue(pool)
    jid = await q.enqueue("t", {})
    first = await q.claim(["t"], "w1", lease=timedelta(milliseconds=200))
    assert first is not None and first.id == jid
    assert await q.claim(["t"], "w2") is None  # held
    await asyncio.sleep(0.3)  # w1 "died": its lease runs out
    second = await q.claim(["t"], "w2")
    assert second is not None and second.id == jid and second.attempts == 2
    assert not await q.complete(jid, "w1")  # the old owner is fenced off
    assert await q.complete(jid, "w2", {"ok": 1})
    assert (await q.get(jid)).state == "done"


async def test_failures_back_off_then_dead_letter(pool) -> None:
    q = JobQueue(pool, backoff_base=timedelta(milliseconds=50))
    jid = await q.enqueue("t", {}, max_attempts=2)
    j = await q.claim(["t"], "w")
    assert await q.fail(j.id, "w", "boom 1") == "queued"
    assert await q.claim(["t"], "w") is None  # backing off
    await asyncio.sleep(0.1)
    j = await q.claim(["t"], "w")
    assert j is not None
    assert await q.fail(j.id, "w", "boom 2") == "dead"
    dead = await q.get(jid)
    assert dead.state == "dead" and dead.last_error == "boom 2"
    assert await q.requeue(jid)
    assert (await q.get(jid)).state == "queued"


async def test_runner_processes_and_releases_on_stop(pool) -> None:
    q = JobQueue(pool, backoff_base=timedelta(milliseconds=10))
    done: list[int] = []
    started = asyncio.Event()

    async def ok(job):  # type: ignore[no-untyped-def]
        done.append(job.payload["n"])

    async def slow(job):  # type: ignore[no-untyped-def]
        started.set()
        await asyncio.sleep(30)

    async def bad(job):  # type: ignore[no-untyped-def]
        raise PermanentJobError("corrupt input")

    for n in range(5):
        await q.enqueue("ok", {"n": n})
    bad_id = await q.enqueue("bad", {})
    slow_id = await q.enqueue("slow", {})
    r = JobRunner(
        q, {"ok": ok, "bad": bad, "slow": slow}, concurrency=2, poll_interval=0.02, grace=0.2
    )
    r.start()
    await asyncio.wait_for(started.wait(), 5)
    for _ in range(100):
        if len(done) == 5 and (await q.get(bad_id)).state == "dead":
            break
        await asyncio.sleep(0.05)
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert (await q.get(bad_id)).last_error == "corrupt input"
    await r.stop()
    slow_job = await q.get(slow_id)
    assert slow_job.state == "queued" and slow_job.attempts == 0  # released, not failed


async def test_purge_removes_old_done_jobs_only(pool) -> None:
    q = JobQueue(pool)
    done_id = await q.enqueue("t", {})
    dead_id = await q.enqueue("t", {})
    queued_id = await q.enqueue("later", {})
    first = await q.claim(["t"], "w")
    assert first is not None and first.id == done_id
    await q.complete(done_id, "w")
    second = await q.claim(["t"], "w")
    assert second is not None and second.id == dead_id
    await q.fail(dead_id, "w", "corrupt input", retry=False)
    await pool.execute("UPDATE jobs SET finished_at = now() - interval '8 days'")
    assert await q.purge_done(timedelta(days=7)) == 1
    left = {r["id"]: r["state"] for r in await pool.fetch("SELECT id, state FROM jobs")}
    assert left == {dead_id: "dead", queued_id: "queued"}  # the dead letter stays visible
