"""The retention and reconciliation clocks survive database errors."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from hotline.features.recordings import _reconcile_clock, _retention_clock
from kit.jobs import JobQueue
from recordings.reconcile import RECONCILE_KIND
from recordings.retention import RETENTION_KIND


class FlakyQueue(JobQueue):
    """The real queue, whose first enqueue fails like a PostgreSQL restart does."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.calls = 0

    async def enqueue(self, kind: str, payload: dict[str, Any], **kw: Any) -> int:
        self.calls += 1
        if self.calls == 1:
            raise asyncpg.exceptions.AdminShutdownError(
                "terminating connection due to administrator command")
        return await super().enqueue(kind, payload, **kw)


class Ticks:
    """A sleep that returns at once and stops the clock after ``n`` periods."""

    def __init__(self, n: int) -> None:
        self.n, self.slept = n, []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) >= self.n:
            raise asyncio.CancelledError


@pytest.mark.parametrize(("clock", "kind", "period"), [
    (_retention_clock, RETENTION_KIND, 3600.0), (_reconcile_clock, RECONCILE_KIND, 45.0)])
async def test_clock_keeps_ticking_after_a_database_error(pool, caplog, clock, kind,
                                                          period) -> None:
    queue = FlakyQueue(pool)
    ticks = Ticks(3)
    with pytest.raises(asyncio.CancelledError):
        await clock(queue, sleep=ticks)
    assert queue.calls == 3 and ticks.slept == [period] * 3
    # One job per period across instances: the dedupe key holds the hour / minute.
    keys = [r["dedupe_key"] for r in await pool.fetch(
        "SELECT dedupe_key FROM jobs WHERE kind = $1", kind)]
    assert 1 <= len(keys) <= 2 and keys[0].startswith(kind.split(".")[1])  # minute boundary
    assert any("could not enqueue" in r.getMessage() for r in caplog.records)
