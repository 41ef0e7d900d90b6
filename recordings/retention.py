"""Retention of audio (SPEC R4.5): delete recordings older than the configured age unless a hold
or an open work order refers to the call; every deletion is recorded. Transcripts stay."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from kit.errors import NotFound
from recordings.files import PathEscapeError, absolute_path
from recordings.linking import OrderLinker

log = logging.getLogger(__name__)

RETENTION_KIND = "recordings.retention"


class Retention:
    """Deletes old audio; holds keep it."""

    def __init__(self, pool: asyncpg.Pool, root: Path, max_age: timedelta,
                 linker: OrderLinker | None = None, *, page_size: int = 1000) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.pool, self.root, self.max_age, self.linker = pool, Path(root), max_age, linker
        self.page_size = page_size

    async def add_hold(self, call_id: str, reason: str, user_id: int | None) -> dict[str, Any]:
        """Keep the call's audio regardless of age until released."""
        row = await self.pool.fetchrow(
            "INSERT INTO recording_holds (call_id, reason, created_by) VALUES ($1, $2, $3)"
            " RETURNING *", call_id, reason, user_id)
        return dict(row)

    async def release_hold(self, hold_id: int) -> dict[str, Any]:
        """End a hold."""
        row = await self.pool.fetchrow(
            "UPDATE recording_holds SET released_at = now() WHERE id = $1 AND released_at IS NULL"
            " RETURNING *", hold_id)
        if row is None:
            raise NotFound("保全记录不存在或已解除 (no such active hold)", code="hold_not_found")
        return dict(row)

    async def _kept_calls(self, call_ids: list[str]) -> dict[str, str]:
        """Calls whose audio must stay, with the reason."""
        kept: dict[str, str] = {}
        for r in await self.pool.fetch(
                "SELECT DISTINCT call_id FROM recording_holds WHERE released_at IS NULL"
                " AND call_id = ANY($1::text[])", call_ids):
            kept[r["call_id"]] = "hold"
        linked = {r["call_id"] for r in await self.pool.fetch(
            "SELECT DISTINCT call_id FROM call_orders WHERE call_id = ANY($1::text[])", call_ids)}
        if self.linker is not None:
            for call_id in await self.linker.calls_with_open_orders(call_ids):
                kept.setdefault(call_id, "open work order")
        else:
            # Without the workflow nobody can tell an order is closed: keep (the safe side).
            for call_id in linked:
                kept.setdefault(call_id, "linked work order (workflow not wired)")
        return kept

    async def run_once(self, now: datetime | None = None) -> dict[str, Any]:
        """Delete what is due; returns counts and the calls kept (with why).

        Due rows are read in pages ordered by ``(call_ended_at, id)`` and each page starts after
        the last row of the previous one (keyset paging), so recordings that must stay (holds,
        open orders) never block the deletion of newer ones however many there are."""
        cutoff_sql = "coalesce($1::timestamptz, now()) - $2::interval"
        kept: dict[str, str] = {}
        deleted = 0
        after: tuple[datetime, int] | None = None
        while True:
            due = await self.pool.fetch(
                f"""SELECT id, call_id, path, size_bytes, sha256, call_ended_at FROM recordings
                    WHERE state = 'registered' AND call_ended_at < {cutoff_sql}
                      AND ($3::timestamptz IS NULL OR (call_ended_at, id) > ($3, $4::bigint))
                    ORDER BY call_ended_at, id LIMIT $5""",
                now, self.max_age, after[0] if after else None, after[1] if after else None,
                self.page_size)
            if not due:
                break
            after = (due[-1]["call_ended_at"], due[-1]["id"])
            page_kept = await self._kept_calls(sorted({r["call_id"] for r in due}))
            kept.update(page_kept)
            for r in due:
                if r["call_id"] not in page_kept and await self._delete(r):
                    deleted += 1
            if len(due) < self.page_size:
                break
        if deleted:
            log.info("retention deleted %d recordings", deleted)
        return {"deleted": deleted, "kept": kept}

    async def _delete(self, r: asyncpg.Record) -> bool:
        """Delete one recording's file and record why; False if another instance got it."""
        async with self.pool.acquire() as conn, conn.transaction():
            changed = await conn.execute(
                "UPDATE recordings SET state = 'deleted', deleted_at = now()"
                " WHERE id = $1 AND state = 'registered'", r["id"])
            if not changed.endswith(" 1"):
                return False  # another instance got it
            reason = f"retention: older than {self.max_age.days} days"
            try:
                path = absolute_path(self.root, r["path"])
                await asyncio.to_thread(path.unlink)
            except FileNotFoundError:
                reason += " (file was already gone)"
            except PathEscapeError as exc:
                reason += f" (path not deleted: {exc})"
            await conn.execute(
                """INSERT INTO recording_deletions (recording_id, call_id, path, size_bytes,
                                                    sha256, reason)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                r["id"], r["call_id"], r["path"], r["size_bytes"], r["sha256"], reason)
        return True
