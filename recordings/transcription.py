"""The transcription job: both directions of a call through the recognizer, merged into one
dialogue, the order drafted from the citizen's words, all stored once per call.

Runs inside worker processes (`recordings.worker`); the recognizer runs in a thread so the job's
lease heartbeat keeps beating while Vosk uses the CPU.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import asyncpg

from kit.jobs import Job, JobQueue, PermanentJobError
from recordings.drafting import draft_order
from recordings.files import PathEscapeError, absolute_path
from recordings.linking import ATTACH_KIND
from recordings.stt import AudioFormatError, Segment, Transcriber, citizen_text, merge_dialogue
from recordings.units import UnitCatalogue

log = logging.getLogger(__name__)


class TranscriptionHandler:
    """Handler of ``recordings.transcribe`` jobs."""

    def __init__(self, pool: asyncpg.Pool, queue: JobQueue, root: Path,
                 transcriber: Transcriber, units: UnitCatalogue | None, engine: str) -> None:
        self.pool, self.queue, self.root = pool, queue, Path(root)
        self.transcriber, self.units, self.engine = transcriber, units, engine

    async def __call__(self, job: Job) -> dict[str, Any]:
        call_id = str(job.payload["call_id"])
        existing = await self.pool.fetchval(
            "SELECT id FROM transcripts WHERE call_id = $1", call_id)
        if existing is not None:  # a re-run: the work is done, keep the first transcript
            return {"transcript_id": existing, "reused": True}
        rows = await self.pool.fetch(
            """SELECT direction, path, duration_s FROM recordings
               WHERE call_id = $1 AND state = 'registered' AND direction IN ('citizen', 'agent')
               ORDER BY direction DESC""", call_id)
        if not rows:
            raise PermanentJobError(f"call {call_id}: no registered citizen/agent recording")
        by_speaker: dict[str, list[Segment]] = {}
        started = time.process_time()
        wall = time.monotonic()
        audio = 0.0
        for row in rows:
            try:
                path = absolute_path(self.root, row["path"])
                segments = await asyncio.to_thread(self.transcriber.transcribe, path)
            except (AudioFormatError, PathEscapeError) as exc:
                raise PermanentJobError(f"call {call_id}, {row['direction']} recording "
                                        f"{row['path']}: {exc}") from exc
            by_speaker[row["direction"]] = segments
            audio += float(row["duration_s"] or 0)
        lines = merge_dialogue(by_speaker)
        text = citizen_text(lines)
        draft = draft_order(text, self.units).to_dict() if self.units and text else None
        cpu = time.process_time() - started
        async with self.pool.acquire() as conn, conn.transaction():
            tid = await conn.fetchval(
                """INSERT INTO transcripts (call_id, lines, citizen_text, engine, audio_seconds,
                                            cpu_seconds)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id) DO NOTHING RETURNING id""",
                call_id, [ln.to_dict() for ln in lines], text, self.engine, audio, cpu)
            if tid is None:  # another worker finished first (its lease had expired): keep theirs
                tid = await conn.fetchval("SELECT id FROM transcripts WHERE call_id = $1",
                                          call_id)
                return {"transcript_id": tid, "reused": True}
            if draft is not None:
                await conn.execute(
                    """INSERT INTO order_drafts (call_id, transcript_id, proposed, current)
                       VALUES ($1, $2, $3, $3) ON CONFLICT (call_id) DO NOTHING""",
                    call_id, tid, draft)
            await self.queue.enqueue(ATTACH_KIND, {"call_id": call_id},
                                     dedupe_key=f"attach:{call_id}:t{tid}", conn=conn)
        took = time.monotonic() - wall
        log.info("transcribed call %s: %d lines, %.1f s audio in %.1f s",
                 call_id, len(lines), audio, took)
        # The timings go back to the backend in the job's result (recordings.metrics).
        return {"transcript_id": tid, "lines": len(lines), "audio_seconds": audio,
                "cpu_seconds": round(cpu, 3), "wall_seconds": round(took, 3)}
