"""Prometheus metrics of the recordings feature (SPEC R8.3), kept in the application's
``kit.metrics.Metrics`` registry.

Two kinds, because the work happens in several processes:

- **Counters and histograms count events where this process sees them happen**, so each event
  is counted once in the whole deployment and Prometheus may ``sum`` over instances:
  the capture registry's outcomes (its job runs in this process's ``workers`` role) and the
  outcomes of the transcription jobs run by this process's worker processes, which report each
  one back over their stdout pipe (`recordings.worker`). The worker processes themselves have no
  metrics registry and serve nothing.
- **Gauges of the job queue are read from PostgreSQL** (`refresh_queue`, every few seconds in
  every web instance): they describe the shared queue, so every instance shows the same
  values — aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg

from kit.metrics import Metrics

log = logging.getLogger(__name__)

FILE_OUTCOMES = ("registered", "missing", "rejected")
JOB_OUTCOMES = ("done", "failed", "dead")
QUEUE_STATES = ("queued", "running", "dead")
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
SECONDS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

Sleep = Callable[[float], Awaitable[None]]


def _number(value: Any) -> float | None:
    """A finite, non-negative number from a worker's report, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


class RecordingMetrics:
    """The feature's metrics; every series exists (at 0) from the start."""

    def __init__(self, metrics: Metrics) -> None:
        self.files = metrics.counter(
            "hotline_recordings_files_total",
            "Recording files settled by this instance's capture registry: registered, missing "
            "after the retries, or rejected (path outside the recordings directory)",
            ("direction", "outcome"))
        self.jobs = metrics.counter(
            "hotline_recordings_transcription_jobs_total",
            "Transcription job attempts settled by this instance's worker processes: done, "
            "failed (retried later) or dead (dead-lettered)",
            ("outcome",))
        self.rtf = metrics.histogram(
            "hotline_recordings_transcription_rtf",
            "Real-time factor of each transcription: worker CPU seconds per second of audio",
            buckets=RTF_BUCKETS)
        self.seconds = metrics.histogram(
            "hotline_recordings_transcription_seconds",
            "Wall-clock seconds a worker took to transcribe a call (both directions)",
            buckets=SECONDS_BUCKETS)
        self.queue = metrics.gauge(
            "hotline_recordings_transcription_queue_jobs",
            "Transcription jobs in the shared PostgreSQL queue by state (same value on every "
            "instance)", ("state",))
        self.oldest = metrics.gauge(
            "hotline_recordings_transcription_oldest_due_seconds",
            "Age of the oldest transcription job waiting for a worker, 0 when none waits (same "
            "value on every instance)")
        for direction in ("citizen", "agent", "mix"):
            for outcome in FILE_OUTCOMES:
                self.files.inc(0, direction=direction, outcome=outcome)
        for outcome in JOB_OUTCOMES:
            self.jobs.inc(0, outcome=outcome)
        for state in QUEUE_STATES:
            self.queue.set(0, state=state)
        self.oldest.set(0)

    def file_settled(self, direction: str, outcome: str) -> None:
        """One recording file reached ``outcome`` (registered / missing / rejected)."""
        self.files.inc(direction=direction, outcome=outcome)

    def worker_report(self, report: Mapping[str, Any]) -> bool:
        """Count one job outcome reported by a worker process (`recordings.worker`):
        ``{"outcome": "done"|"failed"|"dead", "audio_seconds", "cpu_seconds", "wall_seconds",
        "reused"}``. A report that is not of that shape is logged and counts nothing."""
        outcome = report.get("outcome")
        if outcome not in JOB_OUTCOMES:
            log.warning("ignoring a transcription worker report without a known outcome: %r",
                        dict(report))
            return False
        self.jobs.inc(outcome=str(outcome))
        if outcome == "done" and not report.get("reused"):
            audio, cpu = _number(report.get("audio_seconds")), _number(report.get("cpu_seconds"))
            wall = _number(report.get("wall_seconds"))
            if audio and cpu is not None:
                self.rtf.observe(cpu / audio)
            if wall is not None:
                self.seconds.observe(wall)
        return True

    async def refresh_queue(self, pool: asyncpg.Pool, kind: str) -> dict[str, float]:
        """Set the queue gauges from the ``jobs`` table; returns what was set."""
        rows = await pool.fetch(
            # Two index-only parts (jobs_due, jobs_dead): the done jobs kept for the purge
            # period are never scanned.
            """SELECT state, count(*) AS n,
                      extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now()))
                        AS oldest
               FROM jobs WHERE kind = $1 AND state IN ('queued', 'running')
               GROUP BY state
               UNION ALL
               SELECT 'dead', count(*), NULL FROM jobs WHERE kind = $1 AND state = 'dead'""",
            kind)
        values = {state: 0.0 for state in QUEUE_STATES}
        oldest = 0.0
        for r in rows:
            values[r["state"]] = float(r["n"])
            if r["state"] == "queued" and r["oldest"] is not None:
                oldest = max(float(r["oldest"]), 0.0)
        for state, n in values.items():
            self.queue.set(n, state=state)
        self.oldest.set(oldest)
        return {**values, "oldest_due_seconds": oldest}


async def refresh_loop(metrics: RecordingMetrics, pool: asyncpg.Pool, kind: str, every: float,
                       *, sleep: Sleep = asyncio.sleep) -> None:
    """Refresh the queue gauges every ``every`` seconds until cancelled. A database error is
    logged and the gauges keep their last values (``hotline_database_up`` tells the rest)."""
    while True:
        try:
            await metrics.refresh_queue(pool, kind)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not refresh the transcription queue gauges: %s", exc)
        except Exception:  # the loop must outlive a surprise: the gauges are not worth a crash
            log.exception("could not refresh the transcription queue gauges")
        await sleep(every)
