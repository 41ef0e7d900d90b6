"""Safety net for recording registration: the ``calls`` table is the durable truth.

The live ``CallEnded`` subscriber (``recordings.call_events``) registers recordings within a
moment, but it only sees events published while it is subscribed: a call that ends while this
feature is still starting (loading a big model), after it stopped, or while ``call_ended`` hits a
database error would leave files on disk that nobody registered and no alert. The call tracker
stores every call with the ``[[direction, path], ...]`` pairs the dialplan announced, so a periodic
job registers every recently ended call whose announced recordings have no ``recordings`` row.

Safe with several instances: the job is enqueued with a per-minute dedupe key (one run a minute
across all instances), and ``CaptureRegistry.call_ended`` is idempotent per call and direction
anyway, so an overlap with the live subscriber or another run changes nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import asyncpg

from kit.jobs import Job
from recordings.call_events import TRACKER_DIRECTIONS, files_from_call_record
from recordings.registry import CaptureRegistry

log = logging.getLogger(__name__)

RECONCILE_KIND = "recordings.reconcile"
RECONCILE_WINDOW = timedelta(days=3)
"""How far back ended calls are checked (older ones were handled by earlier runs)."""
RECONCILE_BATCH = 500
RECONCILE_GRACE = timedelta(seconds=20)
"""Calls that ended this recently are left to the live subscriber (no race, no false warning)."""


def call_id_of(server: str, linkedid: str) -> str:
    """The call id shared by all features: ``server:linkedid``."""
    return f"{server}:{linkedid}"


async def unregistered_calls(pool: asyncpg.Pool, *, window: timedelta = RECONCILE_WINDOW,
                             limit: int = RECONCILE_BATCH,
                             grace: timedelta = RECONCILE_GRACE) -> list[asyncpg.Record]:
    """Ended calls (within ``window``, at least ``grace`` ago) that announced recordings of a
    known direction but have no row in ``recordings``, oldest end first."""
    # started_at bounds the scan with the calls_started index; a call lasting more than a day
    # beyond the window is not worth a sequential scan.
    return await pool.fetch(
        """SELECT c.server, c.linkedid, c.ended_at, c.recordings FROM calls c
           WHERE c.ended_at IS NOT NULL AND c.ended_at > now() - $1::interval
             AND c.ended_at <= now() - $4::interval
             AND c.started_at > now() - $1::interval - interval '1 day'
             AND EXISTS (SELECT 1 FROM jsonb_array_elements(
                             CASE WHEN jsonb_typeof(c.recordings) = 'array'
                                  THEN c.recordings ELSE '[]'::jsonb END) e
                         WHERE jsonb_typeof(e) = 'array' AND e->>0 = ANY($3::text[]))
             AND NOT EXISTS (SELECT 1 FROM recordings r
                             WHERE r.call_id = c.server || ':' || c.linkedid)
           ORDER BY c.ended_at LIMIT $2""",
        window, limit, list(TRACKER_DIRECTIONS), grace)


async def reconcile_once(pool: asyncpg.Pool, registry: CaptureRegistry, *,
                         window: timedelta = RECONCILE_WINDOW,
                         limit: int = RECONCILE_BATCH) -> dict[str, Any]:
    """Register the recordings of every ended call the live subscriber missed. Returns
    ``{"calls": n registered, "recordings": rows created, "errors": [call ids]}``."""
    registered, created, errors = 0, 0, []
    for row in await unregistered_calls(pool, window=window, limit=limit):
        call_id = call_id_of(row["server"], row["linkedid"])
        pairs = [(str(p[0]), str(p[1])) for p in row["recordings"]
                 if isinstance(p, list) and len(p) == 2]
        files = files_from_call_record(pairs)
        if not files:
            continue
        try:
            rows = await registry.call_ended(call_id, files, server_id=row["server"],
                                             ended_at=row["ended_at"])
        except Exception:
            # One bad record must not stop the others; it is retried by the next run.
            log.exception("reconciliation could not register the recordings of %s", call_id)
            errors.append(call_id)
            continue
        log.warning("registered recordings of %s missed by the live subscriber", call_id)
        registered += 1
        created += len(rows)
    return {"calls": registered, "recordings": created, "errors": errors}


class Reconciler:
    """Job handler wrapper: ``handle`` runs one reconciliation."""

    def __init__(self, pool: asyncpg.Pool, registry: CaptureRegistry, *,
                 window: timedelta = RECONCILE_WINDOW) -> None:
        self.pool, self.registry, self.window = pool, registry, window

    async def handle(self, _job: Job) -> dict[str, Any]:
        """Job handler of ``RECONCILE_KIND``."""
        return await reconcile_once(self.pool, self.registry, window=self.window)
