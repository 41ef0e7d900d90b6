"""Capture registry: every MixMonitor file of an ended call is registered or reported.

The hotline dialplan records ``${UNIQUEID}.wav`` (mix) with ``r(…-in.wav)`` (what the citizen
said) and ``t(…-out.wav)`` (what the agent said), and announces the three names in
``UserEvent HotlineRecording`` from a hangup handler (asterisk-traces/README.md, observation 15:
Asterisk itself sends no MixMonitorStop on hangup, and closes the files a moment later in another
thread). So a file may not be complete when the call ends: registration is a durable job that
looks again with back-off, and after the last try marks the file ``missing`` with an alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from kit.jobs import Job, JobQueue
from recordings.files import PathEscapeError, absolute_path, inspect, relative_path
from recordings.metrics import RecordingMetrics

log = logging.getLogger(__name__)

REGISTER_KIND = "recordings.register"
TRANSCRIBE_KIND = "recordings.transcribe"
DIRECTIONS = ("citizen", "agent", "mix")
# UserEvent HotlineRecording field → direction (r() = read = what the channel *sent*: the citizen).
USER_EVENT_FIELDS = {"In": "citizen", "Out": "agent", "Mixed": "mix"}


class FileNotReady(Exception):
    """Some files of the call are not there (yet): the job retries with back-off."""


def files_from_user_event(fields: Mapping[str, str]) -> dict[str, str]:
    """Direction → path from a ``UserEvent: HotlineRecording`` (``Mixed``/``In``/``Out``)."""
    return {d: fields[k].strip() for k, d in USER_EVENT_FIELDS.items() if fields.get(k, "").strip()}


def files_from_base(base: str) -> dict[str, str]:
    """Direction → path from the MixMonitor base name ``${RECDIR}/${UNIQUEID}``."""
    return {"mix": f"{base}.wav", "citizen": f"{base}-in.wav", "agent": f"{base}-out.wav"}


class CaptureRegistry:
    """Registers recordings when calls end and looks for them until found or declared missing."""

    def __init__(self, pool: asyncpg.Pool, queue: JobQueue, root: Path, *,
                 asterisk_dir: str | None = None, max_checks: int = 6,
                 transcribe: bool = True, metrics: RecordingMetrics | None = None) -> None:
        """``asterisk_dir``: Asterisk's name of ``root`` when it is mounted elsewhere here
        (see `recordings.files.relative_path`); ``metrics`` counts the files' outcomes."""
        self.pool, self.queue, self.root = pool, queue, Path(root)
        self.asterisk_dir = asterisk_dir
        self.max_checks = max_checks
        self.transcribe = transcribe
        self.metrics = metrics

    async def call_ended(self, call_id: str, files: Mapping[str, str],
                         server_id: str | None = None,
                         ended_at: datetime | None = None) -> list[dict[str, Any]]:
        """Record the call's files and schedule their registration. Idempotent per call and
        direction. A path outside the recordings directory is stored as ``rejected`` with an
        alert (never silently dropped). ``ended_at`` (default: now) is when the call ended, the
        start of the retention clock. Returns the recording rows."""
        if not call_id:
            raise ValueError("call_id is required")
        unknown = set(files) - set(DIRECTIONS)
        if unknown:
            raise ValueError(f"unknown recording directions: {sorted(unknown)}")
        rejected: list[str] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for direction, raw in files.items():
                try:
                    rel, state, error = relative_path(self.root, raw, self.asterisk_dir), \
                        "pending", None
                except PathEscapeError as exc:
                    rel, state, error = raw, "rejected", str(exc)
                rid = await conn.fetchval(
                    """INSERT INTO recordings (call_id, server_id, direction, path, state,
                                               last_error, call_ended_at)
                       VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()))
                       ON CONFLICT (call_id, direction) DO NOTHING RETURNING id""",
                    call_id, server_id, direction, rel, state, error, ended_at)
                if rid is not None and state == "rejected":
                    log.error("recording path rejected", extra={"call_id": call_id,
                                                                "path": raw})
                    rejected.append(direction)
                    await conn.execute(
                        """INSERT INTO recording_alerts (call_id, recording_id, kind, message)
                           VALUES ($1, $2, 'path_rejected', $3)""", call_id, rid, error)
            await self.queue.enqueue(REGISTER_KIND, {"call_id": call_id},
                                     dedupe_key=f"register:{call_id}",
                                     max_attempts=self.max_checks, conn=conn)
        if self.metrics is not None:  # counted once committed
            for direction in rejected:
                self.metrics.file_settled(direction, "rejected")
        return await self.files(call_id)

    async def files(self, call_id: str) -> list[dict[str, Any]]:
        """The call's recording rows."""
        rows = await self.pool.fetch(
            "SELECT * FROM recordings WHERE call_id = $1 ORDER BY direction", call_id)
        return [dict(r) for r in rows]

    async def alerts(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """Alerts for operators, newest first."""
        rows = await self.pool.fetch(
            "SELECT * FROM recording_alerts WHERE ($1 = false OR acknowledged_at IS NULL)"
            " ORDER BY id DESC LIMIT 500", open_only)
        return [dict(r) for r in rows]

    async def handle_register(self, job: Job) -> dict[str, Any]:
        """Job handler: look for each pending file; retry (raise) while some are not there,
        then mark them missing with an alert on the last attempt."""
        call_id = str(job.payload["call_id"])
        rows = await self.pool.fetch(
            "SELECT id, direction, path FROM recordings WHERE call_id = $1 AND state = 'pending'",
            call_id)
        waiting: list[str] = []
        for row in rows:
            try:
                path = absolute_path(self.root, row["path"])
                facts = await asyncio.to_thread(inspect, path)  # sha256 of a long call
            except (FileNotFoundError, ValueError, PathEscapeError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                await self.pool.execute(
                    "UPDATE recordings SET checks = checks + 1, last_error = $2 WHERE id = $1",
                    row["id"], error)
                waiting.append(f"{row['direction']}: {error}")
                continue
            status = await self.pool.execute(
                """UPDATE recordings SET state = 'registered', checks = checks + 1,
                          size_bytes = $2, duration_s = $3, sample_rate = $4, sha256 = $5,
                          last_error = NULL, registered_at = now()
                   WHERE id = $1 AND state = 'pending'""",
                row["id"], facts.size_bytes, facts.duration_s, facts.sample_rate, facts.sha256)
            if status.endswith(" 1") and self.metrics is not None:
                self.metrics.file_settled(row["direction"], "registered")
        if waiting and job.attempts < job.max_attempts:
            raise FileNotReady(f"call {call_id}: not ready: " + "; ".join(waiting))
        if waiting:
            await self._mark_missing(call_id)
        return await self._settled(call_id)

    async def _mark_missing(self, call_id: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            missing = await conn.fetch(
                """UPDATE recordings SET state = 'missing' WHERE call_id = $1 AND state = 'pending'
                   RETURNING id, direction, path, last_error""", call_id)
            for r in missing:
                message = (f"录音文件缺失: {r['direction']} {r['path']} "
                           f"(last error: {r['last_error']})")
                log.error("recording missing after retries",
                          extra={"call_id": call_id, "path": r["path"]})
                await conn.execute(
                    """INSERT INTO recording_alerts (call_id, recording_id, kind, message)
                       VALUES ($1, $2, 'missing', $3)""", call_id, r["id"], message)
        if self.metrics is not None:  # counted once committed
            for r in missing:
                self.metrics.file_settled(r["direction"], "missing")

    async def _settled(self, call_id: str) -> dict[str, Any]:
        rows = await self.files(call_id)
        states = {r["direction"]: r["state"] for r in rows}
        speech = [d for d in ("citizen", "agent") if states.get(d) == "registered"]
        if speech and self.transcribe:
            await self.queue.enqueue(TRANSCRIBE_KIND, {"call_id": call_id},
                                     dedupe_key=f"transcribe:{call_id}", max_attempts=3)
        return {"call_id": call_id, "states": states, "transcribe": bool(speech)}
