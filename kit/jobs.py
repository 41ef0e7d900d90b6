"""Durable background jobs in PostgreSQL, shared by any number of workers on any machine.

A job is a row of ``jobs``. Workers claim one with ``FOR UPDATE SKIP LOCKED`` and hold it under a
lease; a worker that dies (even ``kill -9``) stops renewing, the lease expires and another worker
takes the job again. Failures are retried with exponential back-off up to ``max_attempts``, then
the job is ``dead``: kept, visible, with its last error. ``dedupe_key`` makes enqueueing idempotent.
Every state-changing call is fenced by the worker id, so a worker whose lease was taken over cannot
overwrite the new owner's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed (or inspected) job."""

    id: int
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    dedupe_key: str | None
    run_at: datetime
    lease_until: datetime | None
    worker: str | None
    last_error: str | None
    result: Any

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Job:
        return cls(
            r["id"],
            r["kind"],
            r["payload"],
            r["state"],
            r["attempts"],
            r["max_attempts"],
            r["dedupe_key"],
            r["run_at"],
            r["lease_until"],
            r["worker"],
            r["last_error"],
            r["result"],
        )


def default_worker_id() -> str:
    """``host:pid`` — unique enough among live workers."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobQueue:
    """Enqueue, claim and settle jobs."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        backoff_base: timedelta = timedelta(seconds=10),
        backoff_max: timedelta = timedelta(hours=1),
    ) -> None:
        self.pool = pool
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        dedupe_key: str | None = None,
        run_at: datetime | None = None,
        max_attempts: int = 5,
        conn: asyncpg.Connection | None = None,
    ) -> int:
        """Add a job (or return the id of the job already holding ``dedupe_key``).

        Pass ``conn`` to enqueue inside the caller's transaction, so the job exists if and only
        if the caller's change committed.
        """
        sql = """
            INSERT INTO jobs (kind, payload, dedupe_key, run_at, max_attempts)
            VALUES ($1, $2, $3, coalesce($4, now()), $5)
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING id"""
        runner = conn if conn is not None else self.pool
        jid = await runner.fetchval(sql, kind, payload, dedupe_key, run_at, max_attempts)
        if jid is None:  # dedupe hit
            jid = await runner.fetchval("SELECT id FROM jobs WHERE dedupe_key = $1", dedupe_key)
        return int(jid)

    async def claim(
        self, kinds: Iterable[str], worker: str, lease: timedelta = timedelta(minutes=5)
    ) -> Job | None:
        """Take the next due job of ``kinds`` (or one whose lease expired), or None."""
        kinds = list(kinds)
        while True:
            row = await self.pool.fetchrow(
                """
                UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $2,
                       lease_until = now() + $3::interval, updated_at = now()
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE kind = ANY($1::text[])
                      AND ((state = 'queued' AND run_at <= now())
                           OR (state = 'running' AND lease_until < now()))
                    ORDER BY run_at, id
                    FOR UPDATE SKIP LOCKED
                    LIMIT 1)
                RETURNING *""",
                kinds,
                worker,
                lease,
            )
            if row is None:
                return None
            job = Job.from_row(row)
            if job.attempts > job.max_attempts:
                # The previous holders all lost their lease (crashed): give up visibly.
                await self.pool.execute(
                    """UPDATE jobs SET state = 'dead', lease_until = NULL, finished_at = now(),
                              updated_at = now(),
                              last_error = coalesce(last_error || E'\\n', '') ||
                                           'worker lost the job ' || (attempts - 1) || ' times'
                       WHERE id = $1""",
                    job.id,
                )
                log.error("job dead after lost leases", extra={"job_id": job.id, "kind": job.kind})
                continue
            return job

    async def extend(self, job_id: int, worker: str, lease: timedelta) -> bool:
        """Renew the lease; False when the job is no longer ours."""
        r = await self.pool.execute(
            """UPDATE jobs SET lease_until = now() + $3::interval, updated_at = now()
               WHERE id = $1 AND worker = $2 AND state = 'running'""",
            job_id,
            worker,
            lease,
        )
        return r.endswith(" 1")

    async def complete(self, job_id: int, worker: str, result: Any = None) -> bool:
        """Mark done; False when the job is no longer ours (another worker took it over)."""
        r = await self.pool.execute(
            """UPDATE jobs SET state = 'done', result = $3, lease_until = NULL,
                      finished_at = now(), updated_at = now()
               WHERE id = $1 AND worker = $2 AND state = 'running'""",
            job_id,
            worker,
            result,
        )
        return r.endswith(" 1")

    def backoff(self, attempts: int) -> timedelta:
        """Delay before retry number ``attempts`` (exponential, capped)."""
        return min(self.backoff_base * (2 ** max(0, attempts - 1)), self.backoff_max)

    async def fail(self, job_id: int, worker: str, error: str, *, retry: bool = True) -> str | None:
        """Record a failure: back to ``queued`` with back-off, or ``dead`` when out of attempts
        (or ``retry=False`` for errors that will never succeed). Returns the new state."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT attempts, max_attempts FROM jobs WHERE id = $1 AND worker = $2"
                " AND state = 'running' FOR UPDATE",
                job_id,
                worker,
            )
            if row is None:
                return None
            dead = not retry or row["attempts"] >= row["max_attempts"]
            state = DEAD if dead else QUEUED
            await conn.execute(
                """UPDATE jobs SET state = $2, last_error = $3, lease_until = NULL,
                          run_at = CASE WHEN $2 = 'queued' THEN now() + $4::interval
                                        ELSE run_at END,
                          finished_at = CASE WHEN $2 = 'dead' THEN now() END, updated_at = now()
                   WHERE id = $1""",
                job_id,
                state,
                error[:4000],
                self.backoff(row["attempts"]),
            )
            return state

    async def release(self, job_id: int, worker: str) -> bool:
        """Give a claimed job back untouched (graceful shutdown): the attempt does not count."""
        r = await self.pool.execute(
            """UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0),
                      lease_until = NULL, worker = NULL, updated_at = now()
               WHERE id = $1 AND worker = $2 AND state = 'running'""",
            job_id,
            worker,
        )
        return r.endswith(" 1")

    async def requeue(self, job_id: int) -> bool:
        """Run a dead or done job again (an operator's re-run)."""
        r = await self.pool.execute(
            """UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), lease_until = NULL,
                      worker = NULL, finished_at = NULL, updated_at = now()
               WHERE id = $1 AND state IN ('dead', 'done')""",
            job_id,
        )
        return r.endswith(" 1")

    async def purge_done(self, older_than: timedelta) -> int:
        """Delete jobs that finished successfully longer ago than ``older_than`` (periodic jobs
        leave one row per run). Dead jobs stay: they are the visible dead-letter queue."""
        status = await self.pool.execute(
            "DELETE FROM jobs WHERE state = 'done' AND finished_at < now() - $1::interval",
            older_than,
        )
        return int(status.split()[-1])

    async def get(self, job_id: int) -> Job | None:
        """One job by id."""
        row = await self.pool.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return Job.from_row(row) if row else None

    async def counts(self) -> dict[str, dict[str, int]]:
        """Jobs per kind and state (for /readyz and /metrics)."""
        rows = await self.pool.fetch("SELECT kind, state, count(*) AS n FROM jobs GROUP BY 1, 2")
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["kind"], {})[r["state"]] = r["n"]
        return out


JobHandler = Callable[[Job], Awaitable[Any]]


class PermanentJobError(Exception):
    """Raised by a handler for input that will never succeed: the job goes dead at once."""


class JobRunner:
    """Runs job handlers in this process: ``concurrency`` loops claiming jobs of the given kinds.

    ``stop()`` lets in-flight jobs finish for ``grace`` seconds, then cancels them and releases
    their jobs so another worker takes them at once.
    """

    def __init__(
        self,
        queue: JobQueue,
        handlers: dict[str, JobHandler],
        *,
        concurrency: int = 1,
        worker: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        poll_interval: float = 0.5,
        grace: float = 10.0,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.concurrency = concurrency
        self.worker = worker or default_worker_id()
        self.lease = lease
        self.poll_interval = poll_interval
        self.grace = grace
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._busy = 0
        self.processed = 0
        self.failed = 0

    def start(self) -> None:
        """Start the claim loops."""
        for i in range(self.concurrency):
            self._tasks.append(
                asyncio.create_task(self._loop(f"{self.worker}/{i}"), name=f"jobs-{i}")
            )

    def status(self) -> dict[str, Any]:
        """For /readyz."""
        alive = sum(1 for t in self._tasks if not t.done())
        return {
            "ok": alive == self.concurrency and not self._stopping.is_set(),
            "loops": alive,
            "busy": self._busy,
            "processed": self.processed,
            "failed": self.failed,
            "kinds": sorted(self.handlers),
        }

    async def stop(self) -> None:
        """Graceful stop (see class doc)."""
        self._stopping.set()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(self._tasks, timeout=self.grace)
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()

    async def _loop(self, worker: str) -> None:
        while not self._stopping.is_set():
            try:
                job = await self.queue.claim(self.handlers, worker, self.lease)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("job claim failed: %s", exc)
                job = None
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval)
                continue
            try:
                await self._run(job, worker)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The outcome could not be written (database away for a moment): the lease runs
                # out and the job is taken again; this loop must live on for the next jobs.
                log.warning("job %s outcome not recorded: %s", job.id, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval)

    async def _run(self, job: Job, worker: str) -> None:
        self._busy += 1
        heartbeat = asyncio.create_task(self._heartbeat(job.id, worker))
        try:
            result = await self.handlers[job.kind](job)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.queue.release(job.id, worker))
            raise
        except PermanentJobError as exc:
            self.failed += 1
            log.error("job %s (%s) failed permanently: %s", job.id, job.kind, exc)
            await self.queue.fail(job.id, worker, f"{exc}", retry=False)
        except Exception as exc:
            self.failed += 1
            log.exception("job %s (%s) failed", job.id, job.kind)
            await self.queue.fail(job.id, worker, f"{type(exc).__name__}: {exc}")
        else:
            self.processed += 1
            await self.queue.complete(job.id, worker, result)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._busy -= 1

    async def _heartbeat(self, job_id: int, worker: str) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            with contextlib.suppress(Exception):
                await self.queue.extend(job_id, worker, self.lease)
