"""The derivation high-water mark of the hotspots (``hotspot_resolved``, migration 0531) over a
real PostgreSQL: a report derives only the orders registered since the previous one, a report
with nothing to derive writes nothing and takes no lock, an order whose transaction commits
after a later order's is not skipped, and a catalogue change still re-derives."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from analytics import hotspots_store as store
from analytics.hotspots_store import Mark, Seen, advance
from tests.analytics.test_hotspots_api import HM, NOW, World, day, find, streetlight_and_noise
from workflow import store as orders
from workflow.handlers import event
from workflow.model import SYSTEM_ACTOR


@pytest.fixture
async def world(client: Any, users: Any) -> World:
    return World(client, users)


async def _row_versions(pool: asyncpg.Pool) -> dict[int, str]:
    """Each hotspot_orders row with the transaction that last wrote it."""
    rows = await pool.fetch("SELECT order_id, xmin::text AS x FROM hotspot_orders")
    return {r["order_id"]: r["x"] for r in rows}


async def _mark(pool: asyncpg.Pool) -> dict[str, Any]:
    rows = await pool.fetch("SELECT *, xmin::text AS x FROM hotspot_resolved")
    assert len(rows) == 1, rows
    return dict(rows[0])


async def _work_order_rows_read(pool: asyncpg.Pool, start: dt.datetime) -> int:
    """Rows of work_orders the check for underived orders reads (EXPLAIN ANALYZE), planned as
    on a table of realistic size: this test's few dozen orders are cheaper to read whole, so
    sequential scans are ruled out — the index range scans then show what the SQL bounds."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        seen = await store._look(conn)
        until, after = seen.bounds(start)
        raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + store._CHECK,
                                  start, until, after, seen.catalogue)  # fmt: skip
    todo = [(json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]]
    read = 0
    while todo:
        node = todo.pop()
        todo += node.get("Plans", [])
        if node.get("Relation Name") == "work_orders":
            read += (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node[
                "Actual Loops"]  # fmt: skip
    return read


async def test_a_report_derives_only_what_is_new_and_waits_for_nobody(
    world: World, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    await streetlight_and_noise(world)  # 41 orders from 11-11 to 11-15
    first = await world.hotspots("window=24h")
    versions = await _row_versions(pool)
    assert len(versions) == 41
    # The second report derives nothing: no row is written again.
    assert await world.hotspots("window=24h") == first
    assert await _row_versions(pool) == versions
    mark = await _mark(pool)
    assert mark["upto_id"] == await pool.fetchval("SELECT max(id) FROM work_orders")
    assert mark["since"] == NOW - dt.timedelta(days=28)  # the persistent weeks reach furthest
    assert mark["catalogue"] == await pool.fetchval(
        "SELECT DISTINCT catalogue FROM hotspot_orders")  # fmt: skip

    # Another instance is deriving (it holds the lock): a report with nothing new to derive
    # does not wait for it, and writes nothing — no row, not even the mark.
    holder = await pool.acquire()
    try:
        await holder.execute("SELECT pg_advisory_lock($1::bigint)", store._LOCK_KEY)
        third = await asyncio.wait_for(world.hotspots("window=24h"), timeout=20)
        assert third == first
        assert await _row_versions(pool) == versions
        assert await _mark(pool) == mark
        # What it read of work_orders to know it: the orders above the mark — none.
        assert await _work_order_rows_read(pool, NOW - dt.timedelta(days=28)) == 0
    finally:
        await holder.execute("SELECT pg_advisory_unlock($1::bigint)", store._LOCK_KEY)
        await pool.release(holder)

    # A new order: the next report derives it, and only it.
    new = await world.order(day(15, 23), "路灯不亮", district="天宁区", address="红梅新村5幢门口")
    assert await _work_order_rows_read(pool, NOW - dt.timedelta(days=28)) == 1
    fourth = await world.hotspots("window=24h")
    assert find(fourth["spikes"], "路灯不亮", HM)["count"] == 8  # type: ignore[index]
    after = await _row_versions(pool)
    new_id = await pool.fetchval("SELECT id FROM work_orders WHERE number = $1", new["number"])
    assert set(after) == set(versions) | {new_id}
    assert {k: v for k, v in after.items() if k != new_id} == versions  # the rest untouched
    moved = await _mark(pool)  # settled, or pending while an older transaction still runs
    assert new_id in (moved["upto_id"], moved["pending_id"])

    # A report reaching further back derives the older part of its range once, then the mark
    # covers it.
    old = await world.order(dt.datetime(2026, 9, 1, 10, tzinfo=NOW.tzinfo), "路灯不亮",
                            district="天宁区")  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM hotspot_orders") == 42
    await world.hotspots("window=30d&baseline=4")  # from 2026-06-19
    assert await pool.fetchval("SELECT count(*) FROM hotspot_orders") == 43
    assert (await _mark(pool))["since"] == NOW - dt.timedelta(days=150)
    derived = await pool.fetch(
        "SELECT o.number FROM hotspot_orders h JOIN work_orders o ON o.id = h.order_id"
    )
    assert old["number"] in {r["number"] for r in derived}


async def test_an_order_committed_after_a_later_one_is_not_skipped(
    world: World, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    """Order ids are drawn before commit: a slow transaction can commit an order whose id is
    below one a report has already derived. The mark must not pass it."""
    first = await world.order(day(15, 10), "路灯不亮", district="天宁区", address="红梅新村5幢")
    base = await orders.get(pool, first["number"])
    assert base is not None
    slow = await pool.acquire()
    tx = slow.transaction()
    await tx.start()
    try:
        # Written like the work-order service writes (workflow.store.insert), not committed yet;
        # registered on another day, so the day counter it locks is not the one the API uses.
        copy = replace(base.order, created_at=day(14, 12))
        slow_id, _ = await orders.insert(
            slow, copy, [event(copy, copy.state, "created", SYSTEM_ACTOR, copy.created_at)]
        )
        later = await world.order(day(15, 11), "路灯不亮", district="天宁区", address="红梅新村")
        later_id = await pool.fetchval("SELECT id FROM work_orders WHERE number = $1",
                                       later["number"])  # fmt: skip
        assert later_id > slow_id
        for _ in range(2):  # derived: the two committed orders; the mark stays below slow_id
            r = await world.hotspots("window=7d&min_count=100")
            assert find(r["top"], "路灯不亮", HM)["count"] == 2  # type: ignore[index]
            assert (await _mark(pool))["upto_id"] < slow_id
        await tx.commit()
    except BaseException:
        await tx.rollback()
        raise
    finally:
        await pool.release(slow)
    r = await world.hotspots("window=7d&min_count=100")
    assert find(r["top"], "路灯不亮", HM)["count"] == 3


async def test_a_catalogue_change_derives_again_and_replaces_the_mark(
    world: World, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    at = day(15, 10)
    await world.order(at, "井盖缺失", district="天宁区", address="红梅新村5幢")
    await world.order(at, "井盖缺失", district="天宁区", address="红梅新村6幢")
    r = await world.hotspots("window=24h&min_count=100")
    assert find(r["top"], "井盖缺失", HM)["count"] == 2  # type: ignore[index]
    before = await _mark(pool)
    versions = await _row_versions(pool)
    # The mark covers both orders, yet deactivating 红梅街道 changes the catalogue: the orders
    # are derived again (红梅 is also a word of 天宁区), under a new mark.
    await ok_patch(world, HM, {"active": False})
    again = await world.hotspots("window=24h&min_count=100")
    assert find(again["top"], "井盖缺失", HM) is None
    assert find(again["top"], "井盖缺失", "CZ-TN")["count"] == 2  # type: ignore[index]
    after = await _mark(pool)  # exactly one mark: the old catalogue's is gone
    assert after["catalogue"] != before["catalogue"]
    assert after["catalogue"] == await pool.fetchval(
        "SELECT DISTINCT catalogue FROM hotspot_orders")  # fmt: skip
    rewritten = await _row_versions(pool)
    assert set(rewritten) == set(versions) and all(rewritten[k] != versions[k] for k in versions)
    # Reactivated: the first catalogue again, derived again (no stale mark claims the rows).
    await ok_patch(world, HM, {"active": True})
    back = await world.hotspots("window=24h&min_count=100")
    assert find(back["top"], "井盖缺失", HM)["count"] == 2  # type: ignore[index]
    assert (await _mark(pool))["catalogue"] == before["catalogue"]


async def ok_patch(world: World, code: str, body: dict[str, Any]) -> None:
    resp = await (await world("admin")).patch(f"/api/workflow/units/{code}", json=body)
    assert resp.status == 200, await resp.text()


T0 = dt.datetime(2026, 11, 1, tzinfo=NOW.tzinfo)


def test_advance_moves_the_mark_only_past_settled_ids() -> None:
    start = T0 + dt.timedelta(days=3)
    # No mark yet, nothing was running: every id up to the highest seen is settled.
    assert advance(Seen("c", None, 100, 500), start, xmin=500) == Mark(start, 100, 100, 0)
    # ... a transaction older than the look was still running: 100 is only pending.
    assert advance(Seen("c", None, 100, 500), start, xmin=480) == Mark(start, 0, 100, 500)
    m = Mark(T0, 0, 100, 500)
    # Later, that transaction is still running: wait (keep the older pending, it settles first).
    assert advance(Seen("c", m, 130, 560), start, xmin=490) == m
    # It ended, another is running now: 100 is settled, 130 pending.
    assert advance(Seen("c", m, 130, 560), start, xmin=520) == Mark(T0, 100, 130, 560)
    # A report reaching further back moves `since`; one reaching less far does not.
    earlier = T0 - dt.timedelta(days=9)
    assert advance(Seen("c", m, 100, 600), earlier, xmin=600) == Mark(earlier, 100, 100, 0)
    settled = Mark(T0, 100, 100, 0)
    # Nothing new, busy or not: the same mark (a report then writes nothing).
    assert advance(Seen("c", settled, 100, 900), start, xmin=700) == settled
    assert advance(Seen("c", settled, 100, 900), start, xmin=900) == settled
